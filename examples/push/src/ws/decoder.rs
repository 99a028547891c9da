//! [`Decoder`]: the per-connection state that turns a client's frames (RFC 6455 section 5)
//! into [`Message`]s, sans I/O.
//!
//! # Where the bytes stay
//!
//! The decoder reads the connection's inbound bytes in place and owns no buffer: an idle
//! connection costs the few bytes of [`Decoder`] itself (`size_of::<Decoder>()`, checked in
//! the tests to stay at most 16). The bytes of a message stay in the engine's inbound buffer
//! (which an idle connection does not have either) until the message is whole:
//!
//! - A message in one frame (what browsers send) is reported once the whole frame is in;
//!   nothing is consumed before, the header is just parsed again when more bytes arrive.
//! - A fragmented message (section 5.4) is walked frame by frame as it arrives, remembering
//!   how far ([`Decoder`] keeps an offset, the payload length so far and the frame count);
//!   its fragments are consumed together with the final one. Control frames between the
//!   fragments are reported as they come, with [`Decoded::consumed`] 0 (the fragments before
//!   them are still unconsumed), and skipped when the message is joined.
//!
//! Unmasking (section 5.3) needs a copy, since the inbound bytes are shared: the payload is
//! copied into a scratch buffer the caller passes in, one per event-loop thread, reused by
//! all its connections, and unmasked there. So a message costs one copy of its payload and
//! no allocation once the scratch buffer has grown to the largest message seen.
//!
//! # What is refused
//!
//! Every violation ends decoding with a [`WsError`] naming the close code to send: unmasked
//! client frames, reserved bits and opcodes, fragmented or long control frames, continuation
//! frames out of place, messages over [`DecoderConfig::max_message`] or over
//! [`DecoderConfig::max_frames`] frames, text per [`TextPolicy`], bad Close bodies (section
//! 7.4). No byte sequence makes it panic (a property test feeds it arbitrary bytes).

use super::close;
use super::config::{DecoderConfig, TextPolicy};
use super::error::WsError;
use super::header::{FrameHead, OpCode, apply_mask};
use super::message::{CloseFrame, Decoded, Message};

/// The decoding state of one connection. Create it (`Decoder::default()`) once the handshake
/// is done and keep it in the connection's state.
///
/// # Contract
/// Call [`next`](Self::next) with all unread inbound bytes; after each `Ok(Some(d))`,
/// discard exactly `d.consumed` bytes from the front before calling again (with what is left
/// plus whatever arrived). `Ok(None)` consumed nothing: wait for more bytes.
///
/// # Examples
/// In an [`EventHandler::on_traffic`](loopwire::EventHandler::on_traffic) (the decoder in
/// the connection's state, `scratch` a buffer of the loop's thread):
/// ```ignore
/// loop {
///     let inbound = c.inbound();
///     match c.state_mut().ws.next(&self.ws_config, inbound, scratch) {
///         Ok(Some(d)) => {
///             c.discard(d.consumed);
///             if let Some(reply) = d.message.reply() {
///                 c.write(reply.as_bytes()); // pong, or the echo of a Close
///             }
///             match d.message {
///                 ws::Message::Binary(frame) => { /* handle one push frame */ }
///                 ws::Message::Close(_) => return Action::Close,
///                 _ => {}
///             }
///         }
///         Ok(None) => return Action::None,
///         Err(e) => {
///             c.write(e.close_frame().as_bytes());
///             return Action::Close;
///         }
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decoder {
    /// Inbound bytes already walked: the frames of the fragmented message in progress and
    /// the control frames between them. 0 when no message is in progress.
    walked: u32,
    /// Payload bytes of the message in progress so far.
    len: u32,
    /// Frames walked for the message in progress.
    frames: u16,
    /// What this decoder does now.
    phase: Phase,
}

/// Where a [`Decoder`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Phase {
    /// No message in progress.
    #[default]
    Idle,
    /// A fragmented message of this opcode (text or binary) in progress.
    Fragmented(OpCode),
    /// The peer's Close was returned: nothing more is decoded.
    Closed,
    /// An error with this close code was returned; [`WsError::Failed`] is returned now.
    Failed(u16),
}

impl Decoder {
    /// The next message from the front of `inbound`, if whole.
    ///
    /// `scratch` receives the unmasked payload (cleared first); the returned message borrows
    /// it. Its capacity is kept between calls; shrink it if a large message left it large.
    ///
    /// # Errors
    /// A [`WsError`] when the peer broke the protocol: send
    /// [`close_frame`](WsError::close_frame), then close the connection. Every later call
    /// fails as well ([`WsError::Failed`], with the same close code). After a
    /// [`Message::Close`] every call returns `Ok(None)`.
    pub fn next<'a>(
        &mut self,
        config: &DecoderConfig,
        inbound: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<Decoded<'a>>, WsError> {
        match self.phase {
            Phase::Closed => return Ok(None),
            Phase::Failed(code) => return Err(WsError::Failed(code)),
            Phase::Idle | Phase::Fragmented(_) => {}
        }
        let r = self.step(config, inbound, scratch);
        match &r {
            Err(e) => self.phase = Phase::Failed(e.close_code()),
            Ok(Some(Decoded {
                message: Message::Close(_),
                ..
            })) => self.phase = Phase::Closed,
            Ok(_) => {}
        }
        r
    }

    /// Whether a fragmented message is in progress (some of its frames walked).
    pub fn in_message(&self) -> bool {
        matches!(self.phase, Phase::Fragmented(_))
    }

    fn step<'a>(
        &mut self,
        config: &DecoderConfig,
        inbound: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<Decoded<'a>>, WsError> {
        let max = config.message_limit();
        loop {
            let at = self.walked as usize;
            let rest = inbound.get(at..).ok_or(WsError::Desync)?;
            let Some((head, head_len)) = FrameHead::parse(rest)? else {
                return Ok(None);
            };
            let key = head.mask.ok_or(WsError::Unmasked)?;
            let message_op = match self.phase {
                Phase::Fragmented(op) => Some(op),
                _ => None,
            };
            if message_op.is_some() && self.frames >= config.max_frames {
                return Err(WsError::TooManyFrames(config.max_frames));
            }
            if !head.opcode.is_control() {
                match (message_op, head.opcode) {
                    (None, OpCode::Continuation) => return Err(WsError::UnexpectedContinuation),
                    (Some(_), OpCode::Text | OpCode::Binary) => {
                        return Err(WsError::ExpectedContinuation);
                    }
                    (None, OpCode::Text) if config.text == TextPolicy::Reject => {
                        return Err(WsError::TextRejected);
                    }
                    _ => {}
                }
                let total = u64::from(self.len) + head.payload_len;
                if total > u64::from(max) {
                    return Err(WsError::MessageTooBig { len: total, max });
                }
            }
            // At most `max` (1 GiB) for data frames, 125 for control frames: fits usize.
            let payload_len = head.payload_len as usize;
            let frame_len = head_len + payload_len;
            let Some(frame) = rest.get(..frame_len) else {
                return Ok(None);
            };
            let payload = &frame[head_len..];
            if head.opcode.is_control() {
                scratch.clear();
                scratch.extend_from_slice(payload);
                apply_mask(scratch, key);
                let consumed = if message_op.is_some() {
                    self.walk(frame_len, 0);
                    0
                } else {
                    frame_len
                };
                let scratch: &'a [u8] = scratch;
                let message = control_message(head.opcode, scratch)?;
                return Ok(Some(Decoded { consumed, message }));
            }
            if !head.fin {
                if message_op.is_none() {
                    self.phase = Phase::Fragmented(head.opcode);
                }
                self.walk(frame_len, payload_len);
                continue;
            }
            // The final frame: join the message in `scratch`.
            scratch.clear();
            let op = match message_op {
                None => head.opcode,
                Some(op) => {
                    scratch.reserve(self.len as usize + payload_len);
                    join_fragments(&inbound[..at], scratch)?;
                    op
                }
            };
            let start = scratch.len();
            scratch.extend_from_slice(payload);
            apply_mask(&mut scratch[start..], key);
            *self = Self::default();
            let consumed = at + frame_len;
            let scratch: &'a [u8] = scratch;
            let message = match op {
                OpCode::Text => {
                    Message::Text(std::str::from_utf8(scratch).map_err(|_| WsError::InvalidUtf8)?)
                }
                _ => Message::Binary(scratch),
            };
            return Ok(Some(Decoded { consumed, message }));
        }
    }

    /// Records a walked frame of `frame_len` bytes carrying `payload_len` message bytes.
    fn walk(&mut self, frame_len: usize, payload_len: usize) {
        // Both stay below 4 GiB: `len` is at most the message limit (1 GiB), `walked` at most
        // that plus `max_frames` (u16) frames of at most 14 + 125 header and control bytes.
        self.walked += frame_len as u32;
        self.len += payload_len as u32;
        self.frames += 1;
    }
}

/// Appends the unmasked payloads of the data frames in `walked` (the already walked frames
/// of the message in progress) to `scratch`, skipping the control frames between them.
fn join_fragments(mut walked: &[u8], scratch: &mut Vec<u8>) -> Result<(), WsError> {
    while !walked.is_empty() {
        // These frames were checked when walked; anything else means the caller changed the
        // inbound bytes under the decoder.
        let Ok(Some((head, head_len))) = FrameHead::parse(walked) else {
            return Err(WsError::Desync);
        };
        let end = head_len
            .checked_add(usize::try_from(head.payload_len).map_err(|_| WsError::Desync)?)
            .ok_or(WsError::Desync)?;
        let (Some(frame), Some(key)) = (walked.get(..end), head.mask) else {
            return Err(WsError::Desync);
        };
        if !head.opcode.is_control() {
            let start = scratch.len();
            scratch.extend_from_slice(&frame[head_len..]);
            apply_mask(&mut scratch[start..], key);
        }
        walked = &walked[end..];
    }
    Ok(())
}

/// The message of a control frame whose unmasked payload is `payload`.
fn control_message(op: OpCode, payload: &[u8]) -> Result<Message<'_>, WsError> {
    Ok(match op {
        OpCode::Ping => Message::Ping(payload),
        OpCode::Pong => Message::Pong(payload),
        _ => Message::Close(close_frame(payload)?),
    })
}

/// The body of a Close frame, checked (section 5.5.1, 7.4).
fn close_frame(payload: &[u8]) -> Result<Option<CloseFrame<'_>>, WsError> {
    match payload {
        [] => Ok(None),
        [_] => Err(WsError::InvalidClose(0)),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !close::is_valid_received(code) {
                return Err(WsError::InvalidClose(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| WsError::InvalidUtf8)?;
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}

//! [`WsError`]: every way a peer can break the framing of RFC 6455 section 5, each with the
//! close code (section 7.4.1) this side answers with before closing.

use super::close;
use super::encode::Control;

/// A framing violation by the peer (or, for [`Desync`](WsError::Desync), a misuse of the
/// [`Decoder`](super::Decoder) by its caller). The connection cannot go on: send
/// [`close_frame`](Self::close_frame), then close it (RFC 6455 section 7.1.7, "Fail the
/// WebSocket Connection").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WsError {
    /// A client frame without the mask bit (section 5.1: the server must close).
    #[error("client frame is not masked")]
    Unmasked,
    /// RSV1, RSV2 or RSV3 set, with no extension negotiated that defines them (section 5.2).
    #[error("reserved bits set: {0:#03b}")]
    ReservedBits(u8),
    /// An opcode RFC 6455 reserves (0x3..=0x7, 0xB..=0xF).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// A control frame (close, ping, pong) without FIN (section 5.5: never fragmented).
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame with more than 125 payload bytes (section 5.5).
    #[error("control frame payload of {0} bytes (at most 125)")]
    ControlTooLong(u64),
    /// A 64-bit payload length with its most significant bit set (section 5.2).
    #[error("payload length has its most significant bit set")]
    LengthOverflow,
    /// A continuation frame with no fragmented message in progress (section 5.4).
    #[error("continuation frame outside a fragmented message")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message waits for its continuation
    /// frames (section 5.4).
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// A Close frame with a 1-byte payload, or with a status code a peer may not send
    /// (section 7.4).
    #[error("invalid close frame (status code {0})")]
    InvalidClose(u16),
    /// A message (all its fragments together) longer than the maximum.
    #[error("message of at least {len} bytes exceeds the maximum of {max}")]
    MessageTooBig {
        /// Payload bytes the message has at least, as far as its headers tell.
        len: u64,
        /// The configured maximum ([`DecoderConfig::max_message`](super::DecoderConfig)).
        max: u32,
    },
    /// A fragmented message spread over more frames (control frames between its fragments
    /// included) than [`DecoderConfig::max_frames`](super::DecoderConfig) allows.
    #[error("message spread over more than {0} frames")]
    TooManyFrames(u16),
    /// A text message, refused by [`TextPolicy::Reject`](super::TextPolicy).
    #[error("text messages are not accepted")]
    TextRejected,
    /// A text message or close reason that is not valid UTF-8 (section 8.1).
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
    /// The caller broke the decoder's contract: the inbound bytes it passed are shorter than
    /// what the decoder had already walked (it must discard exactly what `next` reported
    /// consumed, and show every byte it kept).
    #[error("decoder called with fewer inbound bytes than it had already walked")]
    Desync,
    /// The decoder already returned an error with this close code; it decodes nothing more.
    #[error("decoding already failed (close code {0})")]
    Failed(u16),
}

impl WsError {
    /// The status code to send in the Close frame.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::TextRejected => close::UNSUPPORTED_DATA,
            Self::InvalidUtf8 => close::INVALID_PAYLOAD,
            Self::MessageTooBig { .. } | Self::TooManyFrames(_) => close::MESSAGE_TOO_BIG,
            Self::Desync => close::INTERNAL_ERROR,
            Self::Failed(code) => *code,
            Self::Unmasked
            | Self::ReservedBits(_)
            | Self::ReservedOpcode(_)
            | Self::FragmentedControl
            | Self::ControlTooLong(_)
            | Self::LengthOverflow
            | Self::UnexpectedContinuation
            | Self::ExpectedContinuation
            | Self::InvalidClose(_) => close::PROTOCOL_ERROR,
        }
    }

    /// The Close frame to send before closing: [`close_code`](Self::close_code) and a short
    /// reason, built on the stack.
    pub fn close_frame(&self) -> Control {
        let reason = match self.close_code() {
            close::UNSUPPORTED_DATA => "binary messages only",
            close::INVALID_PAYLOAD => "invalid UTF-8",
            close::MESSAGE_TOO_BIG => "message too big",
            close::INTERNAL_ERROR => "internal error",
            _ => "protocol error",
        };
        Control::close(self.close_code(), reason)
    }
}

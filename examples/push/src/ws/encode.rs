//! Writing frames (RFC 6455 section 5): whole server messages (unmasked, FIN set, section 5.1),
//! control frames built on the stack ([`Control`]), and [`encode_frame`] for any frame,
//! masked ones included (what a client sends: the tests and a load client use it).
//!
//! The server never fragments: each message is one frame, so a push frame goes out as one
//! binary message. For a large payload already in memory, [`FrameHead::server`] +
//! [`encode`](FrameHead::encode) gives just the header, to be written with the payload in one
//! gathered write instead of copying it:
//! `conn.writev(&[FrameHead::server(OpCode::Binary, p.len()).encode().as_bytes(), p])`.

use super::error::WsError;
use super::header::{FrameHead, MAX_CONTROL_PAYLOAD, OpCode, apply_mask};

/// Appends a binary message (one unmasked final frame) to `out`.
pub fn encode_binary(payload: &[u8], out: &mut Vec<u8>) {
    encode_frame(
        FrameHead::server(OpCode::Binary, payload.len()),
        payload,
        out,
    );
}

/// Appends a text message (one unmasked final frame) to `out`.
pub fn encode_text(text: &str, out: &mut Vec<u8>) {
    encode_frame(
        FrameHead::server(OpCode::Text, text.len()),
        text.as_bytes(),
        out,
    );
}

/// Appends a Close frame with `code` and `reason` to `out` (see [`Control::close`]).
pub fn encode_close(code: u16, reason: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(Control::close(code, reason).as_bytes());
}

/// Appends `head` and `payload` to `out`, masking the payload with `head.mask` if set. The
/// header's length is `payload.len()` whatever `head.payload_len` says.
pub fn encode_frame(head: FrameHead, payload: &[u8], out: &mut Vec<u8>) {
    let head = FrameHead {
        payload_len: payload.len() as u64,
        ..head
    };
    out.extend_from_slice(head.encode().as_bytes());
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = head.mask {
        apply_mask(&mut out[start..], key);
    }
}

/// A whole server control frame (close, ping or pong) on the stack: at most 2 header bytes
/// and 125 payload bytes. [`as_bytes`](Self::as_bytes) is what goes on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Control {
    buf: [u8; 2 + MAX_CONTROL_PAYLOAD],
    len: u8,
}

impl Control {
    /// A ping or pong carrying `payload`.
    ///
    /// # Errors
    /// [`WsError::ControlTooLong`] when `payload` has more than 125 bytes.
    pub fn new(opcode: OpCode, payload: &[u8]) -> Result<Self, WsError> {
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(WsError::ControlTooLong(payload.len() as u64));
        }
        let mut buf = [0u8; 2 + MAX_CONTROL_PAYLOAD];
        buf[0] = 0x80 | opcode.bits();
        // At most 125: checked above.
        buf[1] = payload.len() as u8;
        buf[2..2 + payload.len()].copy_from_slice(payload);
        Ok(Self {
            buf,
            len: 2 + buf[1],
        })
    }

    /// A pong echoing a ping's `payload` (section 5.5.3).
    ///
    /// # Errors
    /// [`WsError::ControlTooLong`] when `payload` has more than 125 bytes (never for the
    /// payload of a ping the [`Decoder`](super::Decoder) returned).
    pub fn pong(payload: &[u8]) -> Result<Self, WsError> {
        Self::new(OpCode::Pong, payload)
    }

    /// A ping carrying `payload`.
    ///
    /// # Errors
    /// [`WsError::ControlTooLong`] when `payload` has more than 125 bytes.
    pub fn ping(payload: &[u8]) -> Result<Self, WsError> {
        Self::new(OpCode::Ping, payload)
    }

    /// A Close frame with status `code` and `reason`, cut to the 123 bytes that fit (at a
    /// character boundary, so it stays UTF-8).
    pub fn close(code: u16, reason: &str) -> Self {
        let mut cut = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let mut payload = [0u8; MAX_CONTROL_PAYLOAD];
        payload[..2].copy_from_slice(&code.to_be_bytes());
        payload[2..2 + cut].copy_from_slice(&reason.as_bytes()[..cut]);
        Self::close_payload(&payload[..2 + cut])
    }

    /// A Close frame without a body (no status code), the answer to such a Close.
    pub fn close_empty() -> Self {
        Self::close_payload(&[])
    }

    fn close_payload(payload: &[u8]) -> Self {
        let mut buf = [0u8; 2 + MAX_CONTROL_PAYLOAD];
        buf[0] = 0x80 | OpCode::Close.bits();
        let n = payload.len().min(MAX_CONTROL_PAYLOAD);
        // At most 125.
        buf[1] = n as u8;
        buf[2..2 + n].copy_from_slice(&payload[..n]);
        Self {
            buf,
            len: 2 + buf[1],
        }
    }

    /// The frame's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_frames_are_unmasked_and_final() {
        let mut out = Vec::new();
        encode_binary(b"abc", &mut out);
        assert_eq!(out, [0x82, 3, b'a', b'b', b'c']);
        out.clear();
        encode_binary(&[7; 126], &mut out);
        assert_eq!(out[..4], [0x82, 126, 0, 126]);
        assert_eq!(out.len(), 4 + 126);
        out.clear();
        encode_binary(&[7; 65536], &mut out);
        assert_eq!(out[..10], [0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]);
        out.clear();
        encode_text("hé", &mut out);
        assert_eq!(out, [0x81, 3, b'h', 0xC3, 0xA9]);
    }

    #[test]
    fn control_frames() {
        assert_eq!(
            Control::pong(b"hi").unwrap().as_bytes(),
            [0x8A, 2, b'h', b'i']
        );
        assert_eq!(Control::ping(&[]).unwrap().as_bytes(), [0x89, 0]);
        assert_eq!(Control::pong(&[0; 125]).unwrap().as_bytes().len(), 127);
        assert_eq!(
            Control::pong(&[0; 126]).unwrap_err(),
            WsError::ControlTooLong(126)
        );
        assert_eq!(Control::close(1000, "").as_bytes(), [0x88, 2, 0x03, 0xE8]);
        assert_eq!(Control::close_empty().as_bytes(), [0x88, 0]);
        // A reason of 200 two-byte characters is cut to 61 characters (122 bytes).
        let long = "é".repeat(200);
        let c = Control::close(4000, &long);
        assert_eq!(c.as_bytes().len(), 2 + 2 + 122);
        assert!(std::str::from_utf8(&c.as_bytes()[4..]).is_ok());
    }
}

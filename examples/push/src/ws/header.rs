//! The frame header of RFC 6455 section 5.2, both directions: [`FrameHead::parse`] reads one
//! from the front of a byte slice (without copying or allocating), [`FrameHead::encode`]
//! writes one into a 14-byte stack buffer.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               | Masking-key, if MASK set to 1 |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! Parsing checks what the header alone can show and holds for both directions: reserved
//! bits (no extension is ever negotiated here), reserved opcodes, control frames that are
//! fragmented or longer than 125 bytes (section 5.5), a 64-bit length with its top bit set.
//! The first byte is checked as soon as it is in, so a peer sending garbage is refused
//! without waiting for more. Lengths in a longer form than needed are accepted (the RFC
//! asks senders for the minimal form; refusing gains nothing). Whether the mask must be set
//! depends on the direction and is the [`Decoder`](super::Decoder)'s call.

use super::error::WsError;

/// The longest header: 2 bytes, an 8-byte extended length, a 4-byte masking key.
pub const MAX_HEAD: usize = 14;

/// Largest payload of a control frame (section 5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode (section 5.2; reserved values are refused when parsing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: a further fragment of the message in progress.
    Continuation,
    /// 0x1: the first (or only) frame of a text message.
    Text,
    /// 0x2: the first (or only) frame of a binary message.
    Binary,
    /// 0x8: the closing handshake (section 5.5.1).
    Close,
    /// 0x9: a ping, answered with a pong carrying the same payload (section 5.5.2).
    Ping,
    /// 0xA: a pong (section 5.5.3).
    Pong,
}

impl OpCode {
    /// The opcode of `bits` (the low 4 bits of a header's first byte), `None` if reserved.
    pub fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// The 4-bit value on the wire.
    pub fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Close, ping and pong: at most 125 payload bytes, never fragmented, allowed between the
    /// fragments of a message.
    pub fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A parsed frame header (RSV bits are always 0: no extension is negotiated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHead {
    /// The last frame of its message.
    pub fin: bool,
    /// What the frame carries.
    pub opcode: OpCode,
    /// The masking key (section 5.3): set on every client frame, never on a server's.
    pub mask: Option<[u8; 4]>,
    /// Payload bytes following the header.
    pub payload_len: u64,
}

/// An encoded header, on the stack: [`as_bytes`](Self::as_bytes) is what goes on the wire.
#[derive(Debug, Clone, Copy)]
pub struct HeadBytes {
    buf: [u8; MAX_HEAD],
    len: u8,
}

impl HeadBytes {
    /// The header's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

impl FrameHead {
    /// A final, unmasked frame: what a server sends for a whole message.
    pub fn server(opcode: OpCode, payload_len: usize) -> Self {
        Self {
            fin: true,
            opcode,
            mask: None,
            // usize is at most 64 bits on every target Rust supports.
            payload_len: payload_len as u64,
        }
    }

    /// Reads the header at the front of `buf`: `Ok(None)` while it is incomplete, else the
    /// header and its length in bytes (2 to 14). Never reads past the header.
    ///
    /// # Errors
    /// [`WsError::ReservedBits`], [`ReservedOpcode`](WsError::ReservedOpcode),
    /// [`FragmentedControl`](WsError::FragmentedControl) (all known from the first byte),
    /// [`ControlTooLong`](WsError::ControlTooLong),
    /// [`LengthOverflow`](WsError::LengthOverflow).
    pub fn parse(buf: &[u8]) -> Result<Option<(Self, usize)>, WsError> {
        let Some(&b0) = buf.first() else {
            return Ok(None);
        };
        let rsv = (b0 >> 4) & 0b111;
        if rsv != 0 {
            return Err(WsError::ReservedBits(rsv));
        }
        let opcode = OpCode::from_bits(b0 & 0x0F).ok_or(WsError::ReservedOpcode(b0 & 0x0F))?;
        let fin = b0 & 0x80 != 0;
        if opcode.is_control() && !fin {
            return Err(WsError::FragmentedControl);
        }
        let Some(&b1) = buf.get(1) else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if opcode.is_control() && usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(WsError::ControlTooLong(u64::from(len7)));
        }
        let ext = match len7 {
            126 => 2,
            127 => 8,
            _ => 0,
        };
        let head_len = 2 + ext + if masked { 4 } else { 0 };
        let Some(head) = buf.get(..head_len) else {
            return Ok(None);
        };
        let payload_len = match ext {
            2 => u64::from(u16::from_be_bytes([head[2], head[3]])),
            8 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&head[2..10]);
                let len = u64::from_be_bytes(be);
                if len >> 63 != 0 {
                    return Err(WsError::LengthOverflow);
                }
                len
            }
            _ => u64::from(len7),
        };
        let mask = masked.then(|| {
            let k = &head[2 + ext..];
            [k[0], k[1], k[2], k[3]]
        });
        let head = Self {
            fin,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((head, head_len)))
    }

    /// The header's bytes, in the shortest length form.
    pub fn encode(&self) -> HeadBytes {
        let mut buf = [0u8; MAX_HEAD];
        buf[0] = (u8::from(self.fin) << 7) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = match self.payload_len {
            n @ 0..=125 => {
                // In range: fits the 7-bit field.
                buf[1] = mask_bit | n as u8;
                2
            }
            n @ 126..=0xFFFF => {
                buf[1] = mask_bit | 126;
                buf[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                buf[1] = mask_bit | 127;
                buf[2..10].copy_from_slice(&n.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            buf[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        HeadBytes {
            buf,
            // At most MAX_HEAD (14).
            len: len as u8,
        }
    }
}

/// XORs `data` with the masking key, in place (section 5.3): masks and unmasks alike.
pub fn apply_mask(data: &mut [u8], key: [u8; 4]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(b: &[u8]) -> Result<Option<(FrameHead, usize)>, WsError> {
        FrameHead::parse(b)
    }

    #[test]
    fn rfc_examples() {
        // Section 5.7: a single-frame unmasked text message "Hello".
        let (h, n) = parse(&[0x81, 0x05, 0x48]).unwrap().unwrap();
        assert_eq!(
            (h.fin, h.opcode, h.mask, h.payload_len, n),
            (true, OpCode::Text, None, 5, 2)
        );
        // A single-frame masked text message "Hello".
        let b = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (h, n) = parse(&b).unwrap().unwrap();
        assert_eq!((h.mask, n), (Some([0x37, 0xfa, 0x21, 0x3d]), 6));
        let mut payload = b[6..].to_vec();
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(payload, b"Hello");
        // 256 bytes binary in one unmasked frame; 64 KiB likewise.
        let (h, n) = parse(&[0x82, 0x7E, 0x01, 0x00]).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (256, 4));
        let b = [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
        assert_eq!(parse(&b).unwrap().unwrap().0.payload_len, 65536);
    }

    #[test]
    fn incomplete_heads_need_more() {
        let h = FrameHead {
            fin: true,
            opcode: OpCode::Binary,
            mask: Some([1, 2, 3, 4]),
            payload_len: 70_000,
        };
        let e = h.encode();
        assert_eq!(e.as_bytes().len(), MAX_HEAD);
        for cut in 0..MAX_HEAD {
            assert_eq!(parse(&e.as_bytes()[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(parse(e.as_bytes()), Ok(Some((h, MAX_HEAD))));
    }

    #[test]
    fn violations_from_the_first_byte() {
        assert_eq!(parse(&[0xC2]), Err(WsError::ReservedBits(0b100)));
        assert_eq!(parse(&[0x93]), Err(WsError::ReservedBits(0b001)));
        assert_eq!(parse(&[0x83]), Err(WsError::ReservedOpcode(3)));
        assert_eq!(parse(&[0x8F]), Err(WsError::ReservedOpcode(0xF)));
        assert_eq!(parse(&[0x09]), Err(WsError::FragmentedControl));
        assert_eq!(parse(&[0x89, 0xFE]), Err(WsError::ControlTooLong(126)));
        let mut big = [0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0];
        assert_eq!(parse(&big), Err(WsError::LengthOverflow));
        big[2] = 0x7F;
        assert!(parse(&big).is_ok());
    }

    #[test]
    fn non_minimal_lengths_are_accepted() {
        let (h, n) = parse(&[0x82, 0x7E, 0x00, 0x05]).unwrap().unwrap();
        assert_eq!((h.payload_len, n), (5, 4));
    }
}

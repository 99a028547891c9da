//! [`FixedLengthCodec`]: frames of a fixed number of bytes, Netty's `FixedLengthFrameDecoder`.

use std::num::NonZeroUsize;

use super::{CodecError, Decoder, Encoder, Frame};

/// Frames of exactly `frame_length` bytes: Netty's `FixedLengthFrameDecoder`, plus an
/// encoder that writes a payload of that length as it is.
///
/// The decoder is stateless; it never fails (the frame length is its own maximum), it only
/// waits until `frame_length` bytes are there.
///
/// # Examples
///
/// ```
/// use loopwire::codec::{FixedLengthCodec, frames};
///
/// let mut codec = FixedLengthCodec::new(3).unwrap();
/// let got: Vec<_> = frames(&mut codec, b"ABCDEFGH").collect();
/// assert_eq!(got, [Ok(&b"ABC"[..]), Ok(&b"DEF"[..])]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FixedLengthCodec {
    frame_length: NonZeroUsize,
}

impl FixedLengthCodec {
    /// A codec for frames of `frame_length` bytes.
    ///
    /// # Errors
    ///
    /// [`CodecError::InvalidConfig`] if `frame_length` is 0 (as Netty).
    pub const fn new(frame_length: usize) -> Result<Self, CodecError> {
        match NonZeroUsize::new(frame_length) {
            Some(frame_length) => Ok(FixedLengthCodec { frame_length }),
            None => Err(CodecError::InvalidConfig {
                option: "frame_length",
                reason: "must be positive",
            }),
        }
    }

    /// The frame length.
    pub const fn frame_length(&self) -> usize {
        self.frame_length.get()
    }
}

impl Decoder for FixedLengthCodec {
    /// Decodes one frame once `frame_length` bytes are there.
    ///
    /// # Errors
    ///
    /// None: every byte sequence is a valid stream of fixed-length frames.
    #[inline]
    fn decode(&mut self, buf: &[u8]) -> Result<Option<Frame>, CodecError> {
        let len = self.frame_length.get();
        Ok((buf.len() >= len).then_some(Frame {
            consumed: len,
            payload: 0..len,
        }))
    }
}

impl Encoder for FixedLengthCodec {
    /// Writes `payload`, which must be one frame long.
    ///
    /// # Errors
    ///
    /// [`CodecError::WrongLength`] if `payload` is not `frame_length` bytes long.
    #[inline]
    fn encode(&self, payload: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), CodecError> {
        if payload.len() != self.frame_length.get() {
            return Err(CodecError::WrongLength {
                len: payload.len(),
                expected: self.frame_length.get(),
            });
        }
        out(payload);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_refused() {
        assert!(matches!(
            FixedLengthCodec::new(0),
            Err(CodecError::InvalidConfig {
                option: "frame_length",
                ..
            })
        ));
        assert_eq!(FixedLengthCodec::new(7).unwrap().frame_length(), 7);
    }

    #[test]
    fn waits_for_a_whole_frame_and_takes_exactly_one() {
        let mut c = FixedLengthCodec::new(3).unwrap();
        assert_eq!(c.decode(b""), Ok(None));
        assert_eq!(c.decode(b"AB"), Ok(None));
        let one = Some(Frame {
            consumed: 3,
            payload: 0..3,
        });
        assert_eq!(c.decode(b"ABC"), Ok(one.clone()));
        assert_eq!(c.decode(b"ABCDE"), Ok(one));
        let mut c = FixedLengthCodec::new(1).unwrap();
        assert_eq!(c.decode(b"\n").unwrap().map(|f| f.consumed), Some(1));
    }

    #[test]
    fn encodes_exactly_one_frame() {
        let c = FixedLengthCodec::new(2).unwrap();
        let mut out = Vec::new();
        c.encode_to_vec(b"ab", &mut out).unwrap();
        assert_eq!(out, b"ab");
        for p in [&b""[..], b"a", b"abc"] {
            assert_eq!(
                c.encode_to_vec(p, &mut out),
                Err(CodecError::WrongLength {
                    len: p.len(),
                    expected: 2
                })
            );
        }
        assert_eq!(out, b"ab");
    }
}

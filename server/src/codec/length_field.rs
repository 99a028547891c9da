//! [`LengthFieldCodec`]: frames announced by a length field in their header, Netty's
//! `LengthFieldBasedFrameDecoder` and `LengthFieldPrepender`.

use super::{CodecError, Decoder, Encoder, Frame};

/// Byte order of a length field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ByteOrder {
    /// Most significant byte first, network order (the default, as in Netty).
    #[default]
    BigEndian,
    /// Least significant byte first.
    LittleEndian,
}

/// Frames whose header holds their length: Netty's `LengthFieldBasedFrameDecoder`
/// (decoding) and `LengthFieldPrepender` (encoding), configured as in Netty.
///
/// A frame is `length_field_offset` bytes, the length field (`length_field_length` bytes,
/// 1, 2, 3, 4 or 8, unsigned, in [`ByteOrder`]), then the rest. With the field's value `L`
/// and `header = length_field_offset + length_field_length`, the whole frame is
/// `L + length_adjustment + header` bytes (`length_adjustment` says what `L` counts: 0 if
/// it counts the bytes after the field, `-header` if it counts the whole frame). The
/// payload is the frame without its first `initial_bytes_to_strip` bytes.
///
/// Netty's examples, with their settings (`offset`, `length`, `adjustment`, `strip`):
///
/// | settings | frame | payload |
/// |---|---|---|
/// | 0, 2, 0, 0 | `000C "HELLO, WORLD"` | the whole frame, 14 bytes |
/// | 0, 2, 0, 2 | `000C "HELLO, WORLD"` | `"HELLO, WORLD"` |
/// | 0, 2, −2, 0 (field counts the frame) | `000E "HELLO, WORLD"` | the whole frame |
/// | 2, 3, 0, 0 | `CAFE 00000C "HELLO, WORLD"` | the whole frame, 17 bytes |
/// | 0, 3, 2, 0 | `00000C CAFE "HELLO, WORLD"` | the whole frame, 17 bytes |
/// | 1, 2, 1, 3 | `CA 000C FE "HELLO, WORLD"` | `FE "HELLO, WORLD"` |
/// | 1, 2, −3, 3 | `CA 0010 FE "HELLO, WORLD"` | `FE "HELLO, WORLD"` |
///
/// Decoding checks, in Netty's order, with typed errors: a negative frame length
/// ([`CodecError::NegativeFrameLength`]), one that does not fit in 64 bits
/// ([`CodecError::LengthOverflow`]), a frame shorter than its header
/// ([`CodecError::FrameShorterThanHeader`]), longer than `max_frame_length`
/// ([`CodecError::FrameTooLong`]; the maximum counts the whole frame, header included, as
/// in Netty), or shorter than `initial_bytes_to_strip`
/// ([`CodecError::FrameShorterThanStrip`]). All of them as soon as the header has arrived.
///
/// Encoding writes what the same configuration decodes: the payload's first
/// `length_field_offset` bytes (the header fields before the length, which the payload
/// must start with; none usually), the length field, the rest of the payload. The field's
/// value is chosen so that the decoder reads the frame back, so `length_adjustment` works
/// both ways: −4 with a 4-byte field is Netty's `LengthFieldPrepender(4, true)` (the length
/// includes the field). With the usual settings (offset 0, strip the header) the decoded
/// payload is the encoded one.
///
/// The decoder is stateless: parsing a header is a few bytes, redone until the frame is in.
///
/// Differences from Netty: an 8-byte field is unsigned (Netty reads it as a signed `long`
/// and refuses negative values; here they are simply too long); a frame shorter than
/// `initial_bytes_to_strip` is refused once its header is in, not once the whole frame is;
/// after an error the stream ends, where Netty skips the frame (see
/// [the module docs](super#differences-from-netty)); the decoder always fails fast; the
/// encoder writes the bytes before the length field, which `LengthFieldPrepender` cannot.
///
/// # Examples
///
/// ```
/// use loopwire::codec::{ByteOrder, Decoder, Encoder, Frame, LengthFieldCodec};
///
/// // A 4-byte big-endian length, then the payload (the defaults).
/// let mut codec = LengthFieldCodec::builder().max_frame_length(1 << 20).build().unwrap();
/// let mut out = Vec::new();
/// codec.encode_to_vec(b"hello", &mut out).unwrap();
/// assert_eq!(out, b"\0\0\0\x05hello");
/// assert_eq!(codec.decode(&out[..6]), Ok(None));
/// assert_eq!(codec.decode(&out), Ok(Some(Frame { consumed: 9, payload: 4..9 })));
///
/// // A 2-byte little-endian length that counts itself, kept in the payload.
/// let mut codec = LengthFieldCodec::builder()
///     .length_field_length(2)
///     .byte_order(ByteOrder::LittleEndian)
///     .length_adjustment(-2)
///     .initial_bytes_to_strip(0)
///     .build()
///     .unwrap();
/// assert_eq!(codec.decode(b"\x05\0abc"), Ok(Some(Frame { consumed: 5, payload: 0..5 })));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LengthFieldCodec {
    max_frame_length: usize,
    length_field_offset: usize,
    length_field_length: u8,
    length_adjustment: i64,
    initial_bytes_to_strip: usize,
    byte_order: ByteOrder,
    /// `length_field_offset + length_field_length`.
    header: usize,
}

/// Configures a [`LengthFieldCodec`]; [`build`](Self::build) checks the settings.
///
/// The defaults: `max_frame_length` 8 MiB (as tokio-util's `LengthDelimitedCodec`; Netty
/// has no default), `length_field_offset` 0, `length_field_length` 4, `length_adjustment`
/// 0, big-endian, and `initial_bytes_to_strip` equal to the header
/// (`length_field_offset + length_field_length`) unless set: a 4-byte length, then the
/// payload, as Netty's `LengthFieldBasedFrameDecoder(8 MiB, 0, 4, 0, 4)` paired with
/// `LengthFieldPrepender(4)`.
#[derive(Debug, Clone)]
pub struct LengthFieldCodecBuilder {
    max_frame_length: usize,
    length_field_offset: usize,
    length_field_length: usize,
    length_adjustment: i64,
    initial_bytes_to_strip: Option<usize>,
    byte_order: ByteOrder,
}

impl Default for LengthFieldCodecBuilder {
    fn default() -> Self {
        LengthFieldCodecBuilder {
            max_frame_length: 8 * 1024 * 1024,
            length_field_offset: 0,
            length_field_length: 4,
            length_adjustment: 0,
            initial_bytes_to_strip: None,
            byte_order: ByteOrder::BigEndian,
        }
    }
}

impl LengthFieldCodecBuilder {
    /// A builder with the defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The longest frame accepted, header included (default 8 MiB).
    pub fn max_frame_length(&mut self, max: usize) -> &mut Self {
        self.max_frame_length = max;
        self
    }

    /// Bytes before the length field (default 0).
    pub fn length_field_offset(&mut self, offset: usize) -> &mut Self {
        self.length_field_offset = offset;
        self
    }

    /// Size of the length field in bytes: 1, 2, 3, 4 or 8 (default 4).
    pub fn length_field_length(&mut self, length: usize) -> &mut Self {
        self.length_field_length = length;
        self
    }

    /// Added to the field's value to get the length of what follows the header (default
    /// 0; negative when the field counts the header too).
    pub fn length_adjustment(&mut self, adjustment: i64) -> &mut Self {
        self.length_adjustment = adjustment;
        self
    }

    /// Bytes dropped from the start of each frame to get its payload (default: the header,
    /// `length_field_offset + length_field_length`).
    pub fn initial_bytes_to_strip(&mut self, strip: usize) -> &mut Self {
        self.initial_bytes_to_strip = Some(strip);
        self
    }

    /// Byte order of the length field (default big-endian).
    pub fn byte_order(&mut self, order: ByteOrder) -> &mut Self {
        self.byte_order = order;
        self
    }

    /// The codec.
    ///
    /// # Errors
    ///
    /// [`CodecError::InvalidConfig`] if `length_field_length` is not 1, 2, 3, 4 or 8, if
    /// `max_frame_length` is 0 or shorter than the header (as Netty), or if
    /// `initial_bytes_to_strip` exceeds `max_frame_length` (every frame would be refused).
    pub fn build(&self) -> Result<LengthFieldCodec, CodecError> {
        let invalid = |option, reason| Err(CodecError::InvalidConfig { option, reason });
        let length_field_length = match self.length_field_length {
            1 => 1,
            2 => 2,
            3 => 3,
            4 => 4,
            8 => 8,
            _ => return invalid("length_field_length", "must be 1, 2, 3, 4 or 8"),
        };
        if self.max_frame_length == 0 {
            return invalid("max_frame_length", "must be positive");
        }
        let header = match self
            .length_field_offset
            .checked_add(usize::from(length_field_length))
        {
            Some(h) if h <= self.max_frame_length => h,
            _ => {
                return invalid(
                    "max_frame_length",
                    "must be at least length_field_offset + length_field_length",
                );
            }
        };
        let initial_bytes_to_strip = self.initial_bytes_to_strip.unwrap_or(header);
        if initial_bytes_to_strip > self.max_frame_length {
            return invalid(
                "initial_bytes_to_strip",
                "exceeds max_frame_length, so every frame would be refused",
            );
        }
        Ok(LengthFieldCodec {
            max_frame_length: self.max_frame_length,
            length_field_offset: self.length_field_offset,
            length_field_length,
            length_adjustment: self.length_adjustment,
            initial_bytes_to_strip,
            byte_order: self.byte_order,
            header,
        })
    }
}

impl LengthFieldCodec {
    /// A builder, with the defaults listed on [`LengthFieldCodecBuilder`].
    pub fn builder() -> LengthFieldCodecBuilder {
        LengthFieldCodecBuilder::new()
    }

    /// The longest frame accepted, header included.
    pub const fn max_frame_length(&self) -> usize {
        self.max_frame_length
    }

    /// Bytes before the length field.
    pub const fn length_field_offset(&self) -> usize {
        self.length_field_offset
    }

    /// Size of the length field in bytes.
    pub const fn length_field_length(&self) -> usize {
        self.length_field_length as usize
    }

    /// Added to the field's value to get the length of what follows the header.
    pub const fn length_adjustment(&self) -> i64 {
        self.length_adjustment
    }

    /// Bytes dropped from the start of each frame to get its payload.
    pub const fn initial_bytes_to_strip(&self) -> usize {
        self.initial_bytes_to_strip
    }

    /// Byte order of the length field.
    pub const fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    /// The header's length: `length_field_offset + length_field_length`.
    pub const fn header_length(&self) -> usize {
        self.header
    }

    /// The length of the frame whose length field holds `field`, checked as Netty does.
    #[inline]
    fn frame_length(&self, field: u64) -> Result<usize, CodecError> {
        let adjustment = self.length_adjustment;
        // Exact: |field| < 2^64, |adjustment| <= 2^63, header < 2^64.
        let len = i128::from(field) + i128::from(adjustment) + self.header as i128;
        if len < 0 {
            return Err(CodecError::NegativeFrameLength {
                len: i64::try_from(len).unwrap_or(i64::MIN),
                field,
                adjustment,
            });
        }
        let len =
            u64::try_from(len).map_err(|_| CodecError::LengthOverflow { field, adjustment })?;
        if len < self.header as u64 {
            return Err(CodecError::FrameShorterThanHeader {
                len,
                header: self.header,
            });
        }
        if len > self.max_frame_length as u64 {
            return Err(CodecError::FrameTooLong {
                at_least: len,
                max: self.max_frame_length,
            });
        }
        // Lossless: at most `max_frame_length`, a `usize`.
        let len = len as usize;
        if self.initial_bytes_to_strip > len {
            return Err(CodecError::FrameShorterThanStrip {
                len: len as u64,
                strip: self.initial_bytes_to_strip,
            });
        }
        Ok(len)
    }
}

/// The unsigned integer in `bytes` (at most 8 of them).
#[inline]
fn read_uint(bytes: &[u8], order: ByteOrder) -> u64 {
    let push = |v: u64, b: &u8| (v << 8) | u64::from(*b);
    match order {
        ByteOrder::BigEndian => bytes.iter().fold(0, push),
        ByteOrder::LittleEndian => bytes.iter().rev().fold(0, push),
    }
}

impl Decoder for LengthFieldCodec {
    /// Decodes one frame once its header and all its bytes are there.
    ///
    /// # Errors
    ///
    /// Once the header is there: [`CodecError::NegativeFrameLength`],
    /// [`CodecError::LengthOverflow`], [`CodecError::FrameShorterThanHeader`],
    /// [`CodecError::FrameTooLong`] or [`CodecError::FrameShorterThanStrip`] (see the type's
    /// docs).
    #[inline]
    fn decode(&mut self, buf: &[u8]) -> Result<Option<Frame>, CodecError> {
        let Some(field) = buf.get(self.length_field_offset..self.header) else {
            return Ok(None);
        };
        let len = self.frame_length(read_uint(field, self.byte_order))?;
        if buf.len() < len {
            return Ok(None);
        }
        Ok(Some(Frame {
            consumed: len,
            payload: self.initial_bytes_to_strip..len,
        }))
    }
}

impl Encoder for LengthFieldCodec {
    /// Writes the payload's first `length_field_offset` bytes, the length field, and the
    /// rest of the payload.
    ///
    /// # Errors
    ///
    /// [`CodecError::PayloadShorterThanOffset`] if the payload does not hold the bytes
    /// before the field; [`CodecError::FrameTooLong`] or
    /// [`CodecError::FrameShorterThanStrip`] for a frame this codec would refuse to
    /// decode; [`CodecError::LengthFieldOutOfRange`] if the field's value would be negative
    /// or does not fit the field.
    #[inline]
    fn encode(&self, payload: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), CodecError> {
        let Some((before, after)) = payload.split_at_checked(self.length_field_offset) else {
            return Err(CodecError::PayloadShorterThanOffset {
                len: payload.len(),
                offset: self.length_field_offset,
            });
        };
        let field_len = usize::from(self.length_field_length);
        let too_long = |len: u64| CodecError::FrameTooLong {
            at_least: len,
            max: self.max_frame_length,
        };
        let Some(len) = payload.len().checked_add(field_len) else {
            return Err(too_long(u64::MAX));
        };
        if len > self.max_frame_length {
            return Err(too_long(len as u64));
        }
        if self.initial_bytes_to_strip > len {
            return Err(CodecError::FrameShorterThanStrip {
                len: len as u64,
                strip: self.initial_bytes_to_strip,
            });
        }
        // The decoder computes len = field + adjustment + header; solve for the field.
        let value = after.len() as i128 - i128::from(self.length_adjustment);
        let field_max = match self.length_field_length {
            8 => u64::MAX,
            n => (1 << (8 * u32::from(n))) - 1,
        };
        let out_of_range = CodecError::LengthFieldOutOfRange {
            payload_len: payload.len(),
            field_len: self.length_field_length,
        };
        let value = u64::try_from(value).map_err(|_| out_of_range.clone())?;
        if value > field_max {
            return Err(out_of_range);
        }
        let be = value.to_be_bytes();
        let le = value.to_le_bytes();
        let field = match self.byte_order {
            ByteOrder::BigEndian => be.get(be.len() - field_len..),
            ByteOrder::LittleEndian => le.get(..field_len),
        }
        .unwrap_or_default();
        if !before.is_empty() {
            out(before);
        }
        out(field);
        out(after);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::frames;

    const HELLO: &[u8] = b"HELLO, WORLD";

    fn codec(offset: usize, length: usize, adjustment: i64, strip: usize) -> LengthFieldCodec {
        LengthFieldCodec::builder()
            .max_frame_length(1024)
            .length_field_offset(offset)
            .length_field_length(length)
            .length_adjustment(adjustment)
            .initial_bytes_to_strip(strip)
            .build()
            .unwrap()
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn decode_one(c: &mut LengthFieldCodec, buf: &[u8]) -> Result<Option<Vec<u8>>, CodecError> {
        Ok(c.decode(buf)?.map(|f| buf[f.payload].to_vec()))
    }

    fn encode(c: &LengthFieldCodec, payload: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut out = Vec::new();
        c.encode_to_vec(payload, &mut out).map(|()| out)
    }

    /// Netty's javadoc examples decode as documented, byte by byte too, and encode back.
    #[test]
    fn nettys_examples() {
        let cases: [(LengthFieldCodec, Vec<u8>, Vec<u8>); 7] = [
            (
                codec(0, 2, 0, 0),
                cat(&[b"\x00\x0C", HELLO]),
                cat(&[b"\x00\x0C", HELLO]),
            ),
            (
                codec(0, 2, 0, 2),
                cat(&[b"\x00\x0C", HELLO]),
                HELLO.to_vec(),
            ),
            (
                codec(0, 2, -2, 0),
                cat(&[b"\x00\x0E", HELLO]),
                cat(&[b"\x00\x0E", HELLO]),
            ),
            (
                codec(2, 3, 0, 0),
                cat(&[b"\xCA\xFE\x00\x00\x0C", HELLO]),
                cat(&[b"\xCA\xFE\x00\x00\x0C", HELLO]),
            ),
            (
                codec(0, 3, 2, 0),
                cat(&[b"\x00\x00\x0C\xCA\xFE", HELLO]),
                cat(&[b"\x00\x00\x0C\xCA\xFE", HELLO]),
            ),
            (
                codec(1, 2, 1, 3),
                cat(&[b"\xCA\x00\x0C\xFE", HELLO]),
                cat(&[b"\xFE", HELLO]),
            ),
            (
                codec(1, 2, -3, 3),
                cat(&[b"\xCA\x00\x10\xFE", HELLO]),
                cat(&[b"\xFE", HELLO]),
            ),
        ];
        for (mut c, frame, payload) in cases {
            for n in 0..frame.len() {
                assert_eq!(decode_one(&mut c, &frame[..n]), Ok(None), "{c:?} at {n}");
            }
            let mut stream = frame.clone();
            stream.extend_from_slice(b"next");
            assert_eq!(decode_one(&mut c, &stream), Ok(Some(payload)), "{c:?}");
            assert_eq!(c.decode(&stream).unwrap().unwrap().consumed, frame.len());
            // The encoder writes the same frame from the payload minus the length field.
            let mut body = frame.clone();
            body.drain(c.length_field_offset()..c.header_length());
            assert_eq!(encode(&c, &body), Ok(frame), "{c:?}");
        }
    }

    #[test]
    fn every_field_size_in_both_byte_orders() {
        for (length, field_be, field_le) in [
            (1, &b"\x03"[..], &b"\x03"[..]),
            (2, b"\x00\x03", b"\x03\x00"),
            (3, b"\x00\x00\x03", b"\x03\x00\x00"),
            (4, b"\x00\x00\x00\x03", b"\x03\x00\x00\x00"),
            (8, b"\0\0\0\0\0\0\0\x03", b"\x03\0\0\0\0\0\0\0"),
        ] {
            for (order, field) in [
                (ByteOrder::BigEndian, field_be),
                (ByteOrder::LittleEndian, field_le),
            ] {
                let mut c = LengthFieldCodec::builder()
                    .length_field_length(length)
                    .byte_order(order)
                    .build()
                    .unwrap();
                assert_eq!((c.length_field_length(), c.byte_order()), (length, order));
                let frame = cat(&[field, b"abc"]);
                assert_eq!(decode_one(&mut c, &frame), Ok(Some(b"abc".to_vec())));
                assert_eq!(encode(&c, b"abc"), Ok(frame));
            }
        }
        // Multi-byte values are read in the right order.
        assert_eq!(read_uint(b"\x01\x02\x03", ByteOrder::BigEndian), 0x010203);
        assert_eq!(
            read_uint(b"\x01\x02\x03", ByteOrder::LittleEndian),
            0x030201
        );
        assert_eq!(read_uint(&[0xFF; 8], ByteOrder::BigEndian), u64::MAX);
        let c = LengthFieldCodec::builder()
            .length_field_length(3)
            .byte_order(ByteOrder::LittleEndian)
            .build()
            .unwrap();
        let big = vec![7u8; 0x010203];
        let out = encode(&c, &big).unwrap();
        assert_eq!(&out[..3], b"\x03\x02\x01");
    }

    #[test]
    fn strip_and_adjust_combinations() {
        // Field counts the body; strip nothing, part of the header, all of it, into the body.
        for (strip, want) in [
            (0, &b"\x00\x03abc"[..]),
            (1, b"\x03abc"),
            (2, b"abc"),
            (4, b"c"),
        ] {
            let mut c = codec(0, 2, 0, strip);
            assert_eq!(decode_one(&mut c, b"\x00\x03abc"), Ok(Some(want.to_vec())));
        }
        // Field counts the whole frame (-header) or more than the body (+/-).
        let mut c = codec(0, 2, -2, 2);
        assert_eq!(
            decode_one(&mut c, b"\x00\x05abc"),
            Ok(Some(b"abc".to_vec()))
        );
        let mut c = codec(0, 2, 2, 2); // two trailer bytes not counted by the field
        assert_eq!(
            decode_one(&mut c, b"\x00\x01abc"),
            Ok(Some(b"abc".to_vec()))
        );
        // Strip equal to the frame: an empty payload.
        let mut c = codec(0, 1, 0, 1);
        assert_eq!(decode_one(&mut c, b"\x00"), Ok(Some(Vec::new())));
        assert_eq!(encode(&c, b""), Ok(b"\x00".to_vec()));
        // The default strip is the whole header, offset included.
        let c = LengthFieldCodec::builder()
            .length_field_offset(3)
            .length_field_length(2)
            .build()
            .unwrap();
        assert_eq!((c.initial_bytes_to_strip(), c.header_length()), (5, 5));
        assert_eq!(c.length_field_offset(), 3);
        assert_eq!(c.length_adjustment(), 0);
        assert_eq!(c.max_frame_length(), 8 * 1024 * 1024);
    }

    #[test]
    fn every_decoding_error() {
        // Field + adjustment + header < 0.
        let mut c = codec(0, 1, -10, 0);
        assert_eq!(
            c.decode(b"\x02"),
            Err(CodecError::NegativeFrameLength {
                len: -7,
                field: 2,
                adjustment: -10
            })
        );
        // 0 <= length < header.
        let mut c = codec(1, 2, -2, 0);
        assert_eq!(
            c.decode(b"\xAA\x00\x01"),
            Err(CodecError::FrameShorterThanHeader { len: 2, header: 3 })
        );
        // Longer than the maximum, as soon as the header is in.
        let mut c = codec(0, 2, 0, 2);
        assert_eq!(
            c.decode(b"\x04\x00"),
            Err(CodecError::FrameTooLong {
                at_least: 1026,
                max: 1024
            })
        );
        // Exactly the maximum is fine.
        let mut c = codec(0, 2, 0, 2);
        let mut frame = b"\x03\xFE".to_vec();
        frame.resize(1024, 0);
        assert_eq!(c.decode(&frame).unwrap().unwrap().consumed, 1024);
        assert_eq!(c.decode(&frame[..1023]), Ok(None));
        let mut c = codec(0, 2, 0, 2);
        frame[1] = 0xFF;
        frame.push(0);
        assert!(matches!(
            c.decode(&frame),
            Err(CodecError::FrameTooLong { at_least: 1025, .. })
        ));
        // Shorter than the bytes to strip, without waiting for the body.
        let mut c = codec(0, 2, 0, 6);
        assert_eq!(
            c.decode(b"\x00\x03"),
            Err(CodecError::FrameShorterThanStrip { len: 5, strip: 6 })
        );
        // An 8-byte field near u64::MAX: overflow, never a panic or a wrap.
        let mut c = LengthFieldCodec::builder()
            .length_field_length(8)
            .length_adjustment(i64::MAX)
            .max_frame_length(usize::MAX)
            .build()
            .unwrap();
        assert_eq!(
            c.decode(&[0xFF; 8]),
            Err(CodecError::LengthOverflow {
                field: u64::MAX,
                adjustment: i64::MAX
            })
        );
        let mut c = LengthFieldCodec::builder()
            .length_field_length(8)
            .max_frame_length(usize::MAX)
            .build()
            .unwrap();
        assert_eq!(
            c.decode(&[0xFF; 8]),
            Err(CodecError::LengthOverflow {
                field: u64::MAX,
                adjustment: 0
            })
        );
        let mut c = LengthFieldCodec::builder()
            .length_field_length(8)
            .length_adjustment(i64::MIN)
            .build()
            .unwrap();
        assert!(matches!(
            c.decode(&[0; 8]),
            Err(CodecError::NegativeFrameLength { .. })
        ));
        assert!(matches!(
            c.decode(&[0xFF; 8]),
            Err(CodecError::FrameTooLong { .. })
        ));
    }

    #[test]
    fn errors_repeat_on_the_same_bytes() {
        let mut c = codec(0, 2, 0, 2);
        let e = c.decode(b"\xFF\xFF");
        assert!(e.is_err());
        assert_eq!(c.decode(b"\xFF\xFF"), e);
        let got: Vec<_> = frames(&mut c, b"\x00\x01a\x00\x00\xFF\xFF\x00").collect();
        assert_eq!(got.len(), 3);
        assert!(got[2].is_err());
    }

    #[test]
    fn build_refuses_what_cannot_work() {
        let refused = |b: &mut LengthFieldCodecBuilder, option: &str| {
            assert!(
                matches!(b.build(), Err(CodecError::InvalidConfig { option: o, .. }) if o == option),
                "{b:?}"
            );
        };
        for length in [0, 5, 6, 7, 9, 16] {
            refused(
                LengthFieldCodec::builder().length_field_length(length),
                "length_field_length",
            );
        }
        refused(
            LengthFieldCodec::builder().max_frame_length(0),
            "max_frame_length",
        );
        refused(
            LengthFieldCodec::builder()
                .max_frame_length(5)
                .length_field_offset(2),
            "max_frame_length",
        );
        refused(
            LengthFieldCodec::builder().length_field_offset(usize::MAX),
            "max_frame_length",
        );
        refused(
            LengthFieldCodec::builder()
                .max_frame_length(8)
                .initial_bytes_to_strip(9),
            "initial_bytes_to_strip",
        );
        assert!(
            LengthFieldCodec::builder()
                .max_frame_length(6)
                .length_field_offset(2)
                .build()
                .is_ok()
        );
    }

    #[test]
    fn every_encoding_error() {
        let c = codec(0, 1, 0, 1);
        assert!(encode(&c, &[0; 255]).is_ok());
        assert_eq!(
            encode(&c, &[0; 256]),
            Err(CodecError::LengthFieldOutOfRange {
                payload_len: 256,
                field_len: 1
            })
        );
        let c = codec(0, 2, 0, 2);
        assert_eq!(
            encode(&c, &[0; 1023]),
            Err(CodecError::FrameTooLong {
                at_least: 1025,
                max: 1024
            })
        );
        assert!(encode(&c, &[0; 1022]).is_ok());
        // A positive adjustment needs that many bytes after the field.
        let c = codec(0, 2, 2, 2);
        assert_eq!(
            encode(&c, b"a"),
            Err(CodecError::LengthFieldOutOfRange {
                payload_len: 1,
                field_len: 2
            })
        );
        assert_eq!(encode(&c, b"ab"), Ok(b"\x00\x00ab".to_vec()));
        let c = codec(2, 2, 0, 0);
        assert_eq!(
            encode(&c, b"a"),
            Err(CodecError::PayloadShorterThanOffset { len: 1, offset: 2 })
        );
        assert_eq!(encode(&c, b"ab"), Ok(b"ab\x00\x00".to_vec()));
        let c = codec(0, 1, 0, 5);
        assert_eq!(
            encode(&c, b"ab"),
            Err(CodecError::FrameShorterThanStrip { len: 3, strip: 5 })
        );
        // Nothing is written on error.
        let mut out = vec![1];
        assert!(c.encode_to_vec(b"ab", &mut out).is_err());
        assert_eq!(out, [1]);
    }
}

//! [`LineCodec`]: frames ended by `\n` or `\r\n`, Netty's `LineBasedFrameDecoder` and
//! `LineEncoder`.

use super::{CodecError, Decoder, Encoder, Frame, find_byte};

/// The line ending a [`LineCodec`] writes. Decoding accepts both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEnding {
    /// `\n`, as Netty's `LineSeparator.UNIX` (the default).
    #[default]
    Lf,
    /// `\r\n`, as Netty's `LineSeparator.WINDOWS` and most text protocols (SMTP, HTTP, RESP).
    CrLf,
}

impl LineEnding {
    /// The ending's bytes.
    pub const fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnding::Lf => b"\n",
            LineEnding::CrLf => b"\r\n",
        }
    }
}

/// Lines ended by `\n` or `\r\n`, with a maximum length: Netty's `LineBasedFrameDecoder`
/// (decoding) and `LineEncoder` (encoding).
///
/// - A frame is the bytes up to the first `\n`; the payload is the line without its ending
///   (`\n`, or `\r\n` when the `\n` follows a `\r`), or with it if
///   [`with_strip_delimiter(false)`](Self::with_strip_delimiter). A `\r` elsewhere is data.
/// - `max_length` bounds the line without its ending. A longer line is
///   [`CodecError::FrameTooLong`] as soon as that is certain, without waiting for its `\n`:
///   after `max_length + 1` bytes with no `\n`, or `max_length + 2` when the byte at
///   `max_length` is a `\r` (an exactly-`max_length` line ending in `\r\n` is always
///   accepted, however the reads split it).
/// - The decoder remembers how far it has scanned for `\n`, so a line arriving in many reads
///   is scanned once (see the [precondition](super#incremental-decoding)).
/// - Encoding appends the [`LineEnding`] ([`Lf`](LineEnding::Lf) by default) and refuses a
///   payload that contains `\n`, is longer than `max_length`, or (with `Lf`) ends with `\r`,
///   which would read back without it.
///
/// Differences from Netty: the decoder always fails fast (Netty's `failFast` defaults to
/// `false` here, and its fail-fast mode can refuse a valid line split between `\r` and `\n`);
/// after an error the stream ends instead of skipping to the next line (see
/// [the module docs](super#differences-from-netty)); `LineEncoder` checks nothing.
///
/// # Examples
///
/// ```
/// use loopwire::codec::{Decoder, Encoder, Frame, LineCodec, LineEnding};
///
/// let mut lines = LineCodec::new(80);
/// assert_eq!(lines.decode(b"GET / HTTP/1.1\r"), Ok(None)); // waits for the `\n`
/// let buf = b"GET / HTTP/1.1\r\nHost";
/// let frame = lines.decode(buf).unwrap().unwrap();
/// assert_eq!(frame, Frame { consumed: 16, payload: 0..14 });
///
/// let crlf = LineCodec::new(80).with_line_ending(LineEnding::CrLf);
/// let mut out = Vec::new();
/// crlf.encode_to_vec(b"PING", &mut out).unwrap();
/// assert_eq!(out, b"PING\r\n");
/// ```
#[derive(Debug, Clone)]
pub struct LineCodec {
    max_length: usize,
    strip_delimiter: bool,
    line_ending: LineEnding,
    /// Bytes at the start of the input already known to hold no `\n`.
    scanned: usize,
}

impl LineCodec {
    /// A codec for lines of at most `max_length` bytes (ending not counted), stripping the
    /// ending, writing `\n`. `max_length` 0 accepts only empty lines.
    pub const fn new(max_length: usize) -> Self {
        LineCodec {
            max_length,
            strip_delimiter: true,
            line_ending: LineEnding::Lf,
            scanned: 0,
        }
    }

    /// Whether payloads exclude the line ending (`true`, the default) or include it.
    pub const fn with_strip_delimiter(mut self, strip: bool) -> Self {
        self.strip_delimiter = strip;
        self
    }

    /// The line ending the encoder writes.
    pub const fn with_line_ending(mut self, ending: LineEnding) -> Self {
        self.line_ending = ending;
        self
    }

    /// The maximum line length, ending not counted.
    pub const fn max_length(&self) -> usize {
        self.max_length
    }

    /// Whether payloads exclude the line ending.
    pub const fn strip_delimiter(&self) -> bool {
        self.strip_delimiter
    }

    /// The line ending the encoder writes.
    pub const fn line_ending(&self) -> LineEnding {
        self.line_ending
    }

    /// The error for a line known to be at least `len` bytes long; forgets the scan.
    fn too_long(&mut self, len: usize) -> CodecError {
        self.scanned = 0;
        CodecError::FrameTooLong {
            at_least: len as u64,
            max: self.max_length,
        }
    }
}

impl Decoder for LineCodec {
    /// Decodes one line.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] once the line is certain to exceed `max_length`.
    #[inline]
    fn decode(&mut self, buf: &[u8]) -> Result<Option<Frame>, CodecError> {
        if self.scanned > buf.len() {
            // Not the same input grown: the precondition was broken; start over.
            self.scanned = 0;
        }
        let max = self.max_length;
        // A line within the maximum has its `\n` at index `max + 1` at the latest (after
        // `max` bytes and a `\r`); never look further.
        let limit = buf.len().min(max.saturating_add(2));
        let window = buf.get(self.scanned..limit).unwrap_or_default();
        let Some(found) = find_byte(b'\n', window) else {
            self.scanned = limit;
            // No `\n` within `buf[..limit]`. Too long for sure once `max + 1` bytes are in,
            // unless the last of them is a `\r` that a `\n` may still follow.
            return match buf.get(max) {
                None => Ok(None),
                Some(&b'\r') if buf.len() == max + 1 => Ok(None),
                Some(_) => Err(self.too_long(max + 1)),
            };
        };
        let lf = self.scanned + found;
        let cr = lf
            .checked_sub(1)
            .and_then(|i| buf.get(i))
            .is_some_and(|&b| b == b'\r');
        let len = if cr { lf - 1 } else { lf };
        if len > max {
            return Err(self.too_long(len));
        }
        self.scanned = 0;
        let end = if self.strip_delimiter { len } else { lf + 1 };
        Ok(Some(Frame {
            consumed: lf + 1,
            payload: 0..end,
        }))
    }

    fn reset(&mut self) {
        self.scanned = 0;
    }
}

impl Encoder for LineCodec {
    /// Writes `payload` and the line ending.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] for a payload longer than `max_length`;
    /// [`CodecError::DelimiterInPayload`] for one that contains `\n` or, with
    /// [`LineEnding::Lf`], ends with `\r`.
    #[inline]
    fn encode(&self, payload: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), CodecError> {
        if payload.len() > self.max_length {
            return Err(CodecError::FrameTooLong {
                at_least: payload.len() as u64,
                max: self.max_length,
            });
        }
        if let Some(at) = find_byte(b'\n', payload) {
            return Err(CodecError::DelimiterInPayload { at });
        }
        if self.line_ending == LineEnding::Lf && payload.last() == Some(&b'\r') {
            return Err(CodecError::DelimiterInPayload {
                at: payload.len() - 1,
            });
        }
        out(payload);
        out(self.line_ending.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::frames;

    /// Every payload of `buf` (decoded in one go) and the error that stopped it, if any.
    fn decode_all(codec: &mut LineCodec, buf: &[u8]) -> (Vec<Vec<u8>>, Option<CodecError>) {
        let mut payloads = Vec::new();
        for f in frames(codec, buf) {
            match f {
                Ok(p) => payloads.push(p.to_vec()),
                Err(e) => return (payloads, Some(e)),
            }
        }
        (payloads, None)
    }

    fn frame(consumed: usize, end: usize) -> Option<Frame> {
        Some(Frame {
            consumed,
            payload: 0..end,
        })
    }

    fn too_long(at_least: u64, max: usize) -> Result<Option<Frame>, CodecError> {
        Err(CodecError::FrameTooLong { at_least, max })
    }

    #[test]
    fn lf_crlf_and_empty_lines() {
        let mut c = LineCodec::new(16);
        let (p, e) = decode_all(&mut c, b"a\nbc\r\n\n\r\nd\re\n\r\r\n");
        assert_eq!(p, [&b"a"[..], b"bc", b"", b"", b"d\re", b"\r"]);
        assert_eq!(e, None);
    }

    #[test]
    fn strip_false_keeps_the_ending() {
        let mut c = LineCodec::new(16).with_strip_delimiter(false);
        assert!(!c.strip_delimiter());
        let (p, _) = decode_all(&mut c, b"a\nbc\r\n\n\r\n");
        assert_eq!(p, [&b"a\n"[..], b"bc\r\n", b"\n", b"\r\n"]);
        assert_eq!(c.decode(b"x\r\n"), Ok(frame(3, 3)));
    }

    #[test]
    fn exact_max_is_accepted_with_either_ending() {
        let mut c = LineCodec::new(4);
        assert_eq!(c.decode(b"abcd\n"), Ok(frame(5, 4)));
        assert_eq!(c.decode(b"abcd\r\n"), Ok(frame(6, 4)));
        // Byte by byte, the `\r` at index max makes it wait rather than fail.
        let line = b"abcd\r\n";
        for n in 0..line.len() {
            assert_eq!(c.decode(&line[..n]), Ok(None), "after {n} bytes");
        }
        assert_eq!(c.decode(line), Ok(frame(6, 4)));
    }

    #[test]
    fn max_plus_one_fails_fast() {
        let mut c = LineCodec::new(4);
        assert_eq!(c.decode(b"abcd"), Ok(None));
        // The fifth byte without `\n` proves the line too long; no need to wait.
        assert_eq!(c.decode(b"abcde"), too_long(5, 4));
        assert_eq!(c.decode(b"abcde\n"), too_long(5, 4));
        // A `\r` at index max, then anything but `\n`: too long at max + 2 bytes.
        assert_eq!(c.decode(b"abcd\r"), Ok(None));
        assert_eq!(c.decode(b"abcd\rx"), too_long(5, 4));
        assert_eq!(c.decode(b"abcd\r\r\n"), too_long(5, 4));
        // A `\n` right after max + 1 bytes is still too long.
        assert_eq!(c.decode(b"abcde\n"), too_long(5, 4));
        assert_eq!(c.decode(b"abcde\r\n"), too_long(5, 4));
    }

    #[test]
    fn an_error_resets_the_scan_and_repeats() {
        let mut c = LineCodec::new(4);
        assert_eq!(c.decode(b"abc"), Ok(None));
        assert_eq!(c.scanned, 3);
        assert_eq!(c.decode(b"abcdefg"), too_long(5, 4));
        assert_eq!(c.scanned, 0);
        assert_eq!(c.decode(b"abcdefg"), too_long(5, 4));
        // Fresh input after the error decodes normally.
        assert_eq!(c.decode(b"ok\n"), Ok(frame(3, 2)));
    }

    #[test]
    fn cr_at_the_end_waits_for_lf() {
        let mut c = LineCodec::new(16);
        assert_eq!(c.decode(b"ab\r"), Ok(None));
        assert_eq!(c.decode(b"ab\r\n"), Ok(frame(4, 2)));
        // The `\r` was the last byte scanned, the `\n` the first byte of the next read.
        assert_eq!(c.decode(b"\r"), Ok(None));
        assert_eq!(c.decode(b"\r\n"), Ok(frame(2, 0)));
    }

    #[test]
    fn incremental_scan_resumes_and_resets() {
        let mut c = LineCodec::new(1000);
        let mut buf = Vec::new();
        for i in 0..100u8 {
            buf.push(b'a' + i % 26);
            assert_eq!(c.decode(&buf), Ok(None));
            assert_eq!(c.scanned, buf.len());
        }
        buf.extend_from_slice(b"\r\nnext");
        assert_eq!(c.decode(&buf), Ok(frame(102, 100)));
        assert_eq!(c.scanned, 0, "a returned frame resets the scan");
        assert_eq!(c.decode(b"next"), Ok(None));
        assert_eq!(c.scanned, 4);
        // A shorter input than scanned breaks the precondition: rescanned, no panic.
        assert_eq!(c.decode(b"x\n"), Ok(frame(2, 1)));
        assert_eq!(c.decode(b"next"), Ok(None));
        c.reset();
        assert_eq!(c.scanned, 0);
        // Past the limit the scan stops: it never looks beyond max + 2 bytes.
        let mut small = LineCodec::new(3);
        assert_eq!(small.decode(b"abc\r"), Ok(None));
        assert_eq!(small.scanned, 4);
    }

    #[test]
    fn max_zero_and_max_usize() {
        let mut c = LineCodec::new(0);
        assert_eq!(c.decode(b"\n"), Ok(frame(1, 0)));
        assert_eq!(c.decode(b"\r"), Ok(None));
        assert_eq!(c.decode(b"\r\n"), Ok(frame(2, 0)));
        assert_eq!(c.decode(b"a"), too_long(1, 0));
        assert_eq!(c.decode(b"\rx"), too_long(1, 0));
        let mut c = LineCodec::new(usize::MAX);
        assert_eq!(c.decode(b"abc"), Ok(None));
        assert_eq!(c.decode(b"abc\r\n"), Ok(frame(5, 3)));
    }

    #[test]
    fn encodes_with_either_ending_and_refuses_what_would_not_read_back() {
        let lf = LineCodec::new(4);
        let crlf = LineCodec::new(4).with_line_ending(LineEnding::CrLf);
        assert_eq!(lf.line_ending(), LineEnding::Lf);
        assert_eq!(crlf.max_length(), 4);
        let enc = |c: &LineCodec, p: &[u8]| {
            let mut out = Vec::new();
            c.encode_to_vec(p, &mut out).map(|()| out)
        };
        assert_eq!(enc(&lf, b"abcd"), Ok(b"abcd\n".to_vec()));
        assert_eq!(enc(&lf, b""), Ok(b"\n".to_vec()));
        assert_eq!(enc(&crlf, b"ab"), Ok(b"ab\r\n".to_vec()));
        assert_eq!(enc(&crlf, b"ab\r"), Ok(b"ab\r\r\n".to_vec()));
        assert_eq!(enc(&lf, b"a\rb"), Ok(b"a\rb\n".to_vec()));
        assert_eq!(
            enc(&lf, b"abcde"),
            Err(CodecError::FrameTooLong {
                at_least: 5,
                max: 4
            })
        );
        assert_eq!(
            enc(&crlf, b"a\nb"),
            Err(CodecError::DelimiterInPayload { at: 1 })
        );
        assert_eq!(
            enc(&lf, b"ab\r"),
            Err(CodecError::DelimiterInPayload { at: 2 })
        );
        // What it writes reads back as the payload.
        let mut dec = LineCodec::new(4);
        for p in [&b"ab\r"[..], b"", b"\r\r", b"a\rb"] {
            let out = enc(&crlf, p).unwrap();
            let f = dec.decode(&out).unwrap().unwrap();
            assert_eq!((&out[f.payload.clone()], f.consumed), (p, out.len()));
        }
    }
}

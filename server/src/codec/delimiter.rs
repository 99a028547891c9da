//! [`DelimiterCodec`]: frames ended by one of several delimiters, Netty's
//! `DelimiterBasedFrameDecoder`.

use std::sync::Arc;

use super::{CodecError, Decoder, Encoder, Frame, find_byte};

/// Frames ended by any of one or more delimiters, with a maximum length: Netty's
/// `DelimiterBasedFrameDecoder`, plus an encoder.
///
/// - A frame ends at the earliest place in the input where a delimiter starts: the shortest
///   frame wins, as in Netty. When several delimiters start there, the one listed first
///   wins (so list a longer delimiter before a shorter one it starts with if it should take
///   precedence, as in `["\r\n", "\n"]`).
/// - The payload is the frame without its delimiter, or with it if
///   [`with_strip_delimiter(false)`](Self::with_strip_delimiter).
/// - `max_length` bounds the payload without the delimiter. A longer frame is
///   [`CodecError::FrameTooLong`] as soon as no delimiter can start within `max_length`
///   bytes: at most `max_length +` the longest delimiter's length bytes into the frame.
/// - The decoder remembers how far it has ruled out delimiters (see the
///   [precondition](super#incremental-decoding)). When all delimiters start with the same
///   byte (the usual single delimiter) it searches for that byte with a vectorized scan.
/// - Encoding appends the first delimiter, and refuses a payload longer than `max_length`
///   or that the peer would not read back as one frame: one that contains a delimiter, or
///   whose end could run into one with the appended delimiter or the bytes after it.
/// - Clones share the delimiters (an `Arc`): a clone per connection allocates nothing.
///
/// Differences from Netty: Netty picks the earliest delimiter among those it can see whole,
/// so with `["abc", "ab"]` it splits `"xabc"` after `"ab"` or after `"abc"` depending on
/// whether a read ended after the `b`; this decoder waits for the byte that decides, and its
/// result never depends on how the stream was split. It always fails fast (Netty: the
/// `failFast` argument, `true` by default), and after an error the stream ends (see
/// [the module docs](super#differences-from-netty)).
///
/// # Examples
///
/// ```
/// use loopwire::codec::{DelimiterCodec, Encoder, frames};
///
/// let mut codec = DelimiterCodec::new(64, [&b"\r\n"[..], b"\0"]).unwrap();
/// let got: Vec<_> = frames(&mut codec, b"one\0two\r\nthree").collect();
/// assert_eq!(got, [Ok(&b"one"[..]), Ok(&b"two"[..])]);
///
/// let mut out = Vec::new();
/// codec.encode_to_vec(b"four", &mut out).unwrap();
/// assert_eq!(out, b"four\r\n");
/// assert!(codec.encode_to_vec(b"fi\0ve", &mut out).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct DelimiterCodec {
    delimiters: Arc<Delimiters>,
    max_length: usize,
    strip_delimiter: bool,
    /// Start positions in the input already ruled out as the start of a delimiter.
    scanned: usize,
}

/// The delimiters and what speeds up the search for them.
#[derive(Debug)]
struct Delimiters {
    /// In the order given; none empty.
    list: Box<[Box<[u8]>]>,
    /// Bit `b` is set if some delimiter starts with byte `b`.
    first_bytes: [u64; 4],
    /// The first byte, when every delimiter starts with the same one.
    common_first: Option<u8>,
}

/// What the input shows at one position.
enum Match {
    /// The delimiter of this length starts here, and no delimiter listed before it can.
    Found(usize),
    /// A delimiter listed before any that matches might start here: more bytes decide.
    Undecided,
    /// No delimiter starts here.
    No,
}

impl Delimiters {
    #[inline]
    fn is_first_byte(&self, b: u8) -> bool {
        self.first_bytes
            .get(usize::from(b >> 6))
            .is_some_and(|w| w >> (b & 63) & 1 == 1)
    }

    /// Position of the first byte in `buf[from..to]` that starts some delimiter.
    #[inline]
    fn next_candidate(&self, buf: &[u8], from: usize, to: usize) -> Option<usize> {
        let window = buf.get(from..to)?;
        let i = match self.common_first {
            Some(b) => find_byte(b, window),
            None => window.iter().position(|&b| self.is_first_byte(b)),
        }?;
        Some(from + i)
    }

    /// What starts at the beginning of `rest`, given that more bytes may follow it.
    #[inline]
    fn match_at(&self, rest: &[u8]) -> Match {
        for d in &self.list {
            if rest.starts_with(d) {
                return Match::Found(d.len());
            }
            if rest.len() < d.len() && d.starts_with(rest) {
                return Match::Undecided;
            }
        }
        Match::No
    }

    /// Whether some delimiter starts at the beginning of `rest ++ tail ++ (any bytes)`, or
    /// might, depending on the bytes after `tail`.
    fn collides(&self, rest: &[u8], tail: &[u8]) -> bool {
        self.list.iter().any(|d| {
            let (in_rest, after) = d.split_at(d.len().min(rest.len()));
            let n = after.len().min(tail.len());
            rest.starts_with(in_rest) && after.get(..n) == tail.get(..n)
        })
    }
}

impl DelimiterCodec {
    /// A codec for frames of at most `max_length` bytes (delimiter not counted), ended by
    /// any of `delimiters`, stripping the delimiter; the encoder appends the first one.
    ///
    /// # Errors
    ///
    /// [`CodecError::InvalidConfig`] if `max_length` is 0 (as Netty), if there is no
    /// delimiter, or if a delimiter is empty.
    pub fn new<I>(max_length: usize, delimiters: I) -> Result<Self, CodecError>
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        if max_length == 0 {
            return Err(CodecError::InvalidConfig {
                option: "max_length",
                reason: "must be positive",
            });
        }
        let list: Box<[Box<[u8]>]> = delimiters
            .into_iter()
            .map(|d| Box::from(d.as_ref()))
            .collect();
        let mut first_bytes = [0u64; 4];
        for d in &list {
            let Some(&b) = d.first() else {
                return Err(CodecError::InvalidConfig {
                    option: "delimiters",
                    reason: "a delimiter must not be empty",
                });
            };
            if let Some(w) = first_bytes.get_mut(usize::from(b >> 6)) {
                *w |= 1 << (b & 63);
            }
        }
        let Some(first) = list.first().and_then(|d| d.first()).copied() else {
            return Err(CodecError::InvalidConfig {
                option: "delimiters",
                reason: "at least one delimiter is needed",
            });
        };
        let common_first = list
            .iter()
            .all(|d| d.first() == Some(&first))
            .then_some(first);
        Ok(DelimiterCodec {
            delimiters: Arc::new(Delimiters {
                list,
                first_bytes,
                common_first,
            }),
            max_length,
            strip_delimiter: true,
            scanned: 0,
        })
    }

    /// Whether payloads exclude the delimiter (`true`, the default) or include it.
    pub fn with_strip_delimiter(mut self, strip: bool) -> Self {
        self.strip_delimiter = strip;
        self
    }

    /// The maximum payload length, delimiter not counted.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Whether payloads exclude the delimiter.
    pub fn strip_delimiter(&self) -> bool {
        self.strip_delimiter
    }

    /// The delimiters, in the order given (the first is the one the encoder writes).
    pub fn delimiters(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        self.delimiters.list.iter().map(|d| &d[..])
    }
}

impl Decoder for DelimiterCodec {
    /// Decodes one delimited frame.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] once no delimiter can start within `max_length` bytes.
    #[inline]
    fn decode(&mut self, buf: &[u8]) -> Result<Option<Frame>, CodecError> {
        if self.scanned > buf.len() {
            // Not the same input grown: the precondition was broken; start over.
            self.scanned = 0;
        }
        let delimiters = &*self.delimiters;
        // A frame within the maximum has its delimiter start at index `max_length` at the
        // latest.
        let to = buf.len().min(self.max_length.saturating_add(1));
        let mut from = self.scanned;
        while let Some(at) = delimiters.next_candidate(buf, from, to) {
            match delimiters.match_at(buf.get(at..).unwrap_or_default()) {
                Match::Found(len) => {
                    self.scanned = 0;
                    let consumed = at + len;
                    let end = if self.strip_delimiter { at } else { consumed };
                    return Ok(Some(Frame {
                        consumed,
                        payload: 0..end,
                    }));
                }
                Match::Undecided => {
                    self.scanned = at;
                    return Ok(None);
                }
                Match::No => from = at + 1,
            }
        }
        if buf.len() > self.max_length {
            // Every start position up to `max_length` is ruled out.
            self.scanned = 0;
            return Err(CodecError::FrameTooLong {
                at_least: self.max_length as u64 + 1,
                max: self.max_length,
            });
        }
        self.scanned = to;
        Ok(None)
    }

    fn reset(&mut self) {
        self.scanned = 0;
    }
}

impl Encoder for DelimiterCodec {
    /// Writes `payload` and the first delimiter.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] for a payload longer than `max_length`;
    /// [`CodecError::DelimiterInPayload`] for one in which a delimiter starts, counting
    /// delimiters that run on into the appended one (and beyond).
    fn encode(&self, payload: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), CodecError> {
        if payload.len() > self.max_length {
            return Err(CodecError::FrameTooLong {
                at_least: payload.len() as u64,
                max: self.max_length,
            });
        }
        let delimiters = &*self.delimiters;
        let Some(ending) = delimiters.list.first() else {
            // `new` refuses an empty list.
            return Err(CodecError::InvalidConfig {
                option: "delimiters",
                reason: "at least one delimiter is needed",
            });
        };
        let mut from = 0;
        while let Some(at) = delimiters.next_candidate(payload, from, payload.len()) {
            if delimiters.collides(payload.get(at..).unwrap_or_default(), ending) {
                return Err(CodecError::DelimiterInPayload { at });
            }
            from = at + 1;
        }
        out(payload);
        out(ending);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::frames;

    fn codec(max: usize, delimiters: &[&str]) -> DelimiterCodec {
        DelimiterCodec::new(max, delimiters).unwrap()
    }

    fn decode_all(codec: &mut DelimiterCodec, buf: &[u8]) -> (Vec<Vec<u8>>, Option<CodecError>) {
        let mut payloads = Vec::new();
        for f in frames(codec, buf) {
            match f {
                Ok(p) => payloads.push(p.to_vec()),
                Err(e) => return (payloads, Some(e)),
            }
        }
        (payloads, None)
    }

    fn frame(consumed: usize, end: usize) -> Result<Option<Frame>, CodecError> {
        Ok(Some(Frame {
            consumed,
            payload: 0..end,
        }))
    }

    fn too_long(at_least: u64, max: usize) -> Result<Option<Frame>, CodecError> {
        Err(CodecError::FrameTooLong { at_least, max })
    }

    #[test]
    fn constructor_refuses_what_cannot_frame() {
        let invalid = |r: Result<DelimiterCodec, CodecError>| {
            matches!(r, Err(CodecError::InvalidConfig { .. }))
        };
        assert!(invalid(DelimiterCodec::new(0, ["\n"])));
        assert!(invalid(DelimiterCodec::new(8, Vec::<&[u8]>::new())));
        assert!(invalid(DelimiterCodec::new(8, ["\n", ""])));
        let c = codec(8, &["ab", "\n"]);
        assert_eq!(c.delimiters().collect::<Vec<_>>(), [&b"ab"[..], b"\n"]);
        assert_eq!((c.max_length(), c.strip_delimiter()), (8, true));
        assert_eq!(c.delimiters.common_first, None);
        assert_eq!(codec(8, &["ab", "ac"]).delimiters.common_first, Some(b'a'));
    }

    #[test]
    fn the_shortest_frame_wins() {
        // Netty's documented example: both line delimiters.
        let mut c = codec(16, &["\n", "\r\n"]);
        let (p, _) = decode_all(&mut c, b"ABC\nDEF\r\n");
        assert_eq!(p, [&b"ABC"[..], b"DEF"]);
        // With "\r\n" only, the "\n" is data.
        let mut c = codec(16, &["\r\n"]);
        let (p, _) = decode_all(&mut c, b"ABC\nDEF\r\n");
        assert_eq!(p, [&b"ABC\nDEF"[..]]);
        // Earliest position, whatever the list order.
        let mut c = codec(16, &["END", "|"]);
        let (p, _) = decode_all(&mut c, b"a|bENDc|");
        assert_eq!(p, [&b"a"[..], b"b", b"c"]);
    }

    #[test]
    fn ties_go_to_the_first_listed_and_wait_for_it() {
        let mut c = codec(16, &["ab", "abc"]);
        assert_eq!(c.decode(b"xabc"), frame(3, 1)); // "ab"; the "c" starts the next frame
        let mut c = codec(16, &["abc", "ab"]);
        assert_eq!(c.decode(b"xabc"), frame(4, 1));
        // "ab" is whole, but "abc" (listed first) might still match: wait.
        assert_eq!(c.decode(b"xab"), Ok(None));
        assert_eq!(c.scanned, 1);
        assert_eq!(c.decode(b"xabd"), frame(3, 1));
        assert_eq!(c.decode(b"xab"), Ok(None));
        assert_eq!(c.decode(b"xabc"), frame(4, 1));
    }

    #[test]
    fn delimiters_split_across_reads() {
        let mut c = codec(16, &["END"]);
        assert_eq!(c.decode(b"abE"), Ok(None));
        assert_eq!(c.scanned, 2);
        assert_eq!(c.decode(b"abEN"), Ok(None));
        assert_eq!(c.decode(b"abENX"), Ok(None));
        assert_eq!(c.scanned, 5);
        assert_eq!(c.decode(b"abENXEND"), frame(8, 5));
        assert_eq!(c.scanned, 0);
        // Byte by byte.
        let stream = b"one\r\ntwo\r\n";
        let mut c = codec(16, &["\r\n"]);
        let mut got = Vec::new();
        let mut start = 0;
        for end in 1..=stream.len() {
            if let Some(f) = c.decode(&stream[start..end]).unwrap() {
                got.push(stream[start..start + f.payload.end].to_vec());
                start += f.consumed;
            }
        }
        assert_eq!(got, [&b"one"[..], b"two"]);
    }

    #[test]
    fn strip_false_keeps_the_delimiter() {
        let mut c = codec(16, &["END", "\0"]).with_strip_delimiter(false);
        let (p, _) = decode_all(&mut c, b"aEND\0bb\0");
        assert_eq!(p, [&b"aEND"[..], b"\0", b"bb\0"]);
    }

    #[test]
    fn exact_max_is_accepted_and_max_plus_one_fails_fast() {
        let mut c = codec(3, &["END"]);
        assert_eq!(c.decode(b"abcEND"), frame(6, 3));
        assert_eq!(c.decode(b"END"), frame(3, 0));
        // Three bytes, then the start of a delimiter: undecided until max + 3 bytes.
        assert_eq!(c.decode(b"abcE"), Ok(None));
        assert_eq!(c.decode(b"abcEN"), Ok(None));
        assert_eq!(c.decode(b"abcENX"), too_long(4, 3));
        // No candidate at index max: fails at max + 1 bytes.
        assert_eq!(c.decode(b"abcd"), too_long(4, 3));
        assert_eq!(c.scanned, 0, "an error resets the scan");
        assert_eq!(c.decode(b"abcd"), too_long(4, 3));
        let mut c = codec(usize::MAX, &["\n"]);
        assert_eq!(c.decode(b"abc"), Ok(None));
        assert_eq!(c.decode(b"abc\n"), frame(4, 3));
    }

    #[test]
    fn many_delimiters_with_different_first_bytes() {
        let mut c = codec(32, &["<<", ">>", "\0"]);
        let (p, e) = decode_all(&mut c, b"a<b>c<<d>>e\0<");
        assert_eq!(p, [&b"a<b>c"[..], b"d", b"e"]);
        assert_eq!(e, None);
        assert_eq!(c.decode(b"<"), Ok(None));
        c.reset();
        assert_eq!(c.scanned, 0);
    }

    #[test]
    fn shorter_input_than_scanned_is_rescanned() {
        let mut c = codec(16, &["\n"]);
        assert_eq!(c.decode(b"abcdef"), Ok(None));
        assert_eq!(c.decode(b"a\n"), frame(2, 1));
    }

    #[test]
    fn encoder_appends_the_first_delimiter_and_refuses_collisions() {
        let enc = |c: &DelimiterCodec, p: &[u8]| {
            let mut out = Vec::new();
            c.encode_to_vec(p, &mut out).map(|()| out)
        };
        let c = codec(4, &["\r\n", "\0"]);
        assert_eq!(enc(&c, b"ab\rc"), Ok(b"ab\rc\r\n".to_vec()));
        assert_eq!(enc(&c, b""), Ok(b"\r\n".to_vec()));
        assert_eq!(
            enc(&c, b"abcde"),
            Err(CodecError::FrameTooLong {
                at_least: 5,
                max: 4
            })
        );
        assert_eq!(
            enc(&c, b"a\0"),
            Err(CodecError::DelimiterInPayload { at: 1 })
        );
        assert_eq!(
            enc(&c, b"\r\n"),
            Err(CodecError::DelimiterInPayload { at: 0 })
        );
        // The payload's end and the delimiter make an earlier delimiter.
        let c = codec(8, &["aa"]);
        assert_eq!(
            enc(&c, b"xa"),
            Err(CodecError::DelimiterInPayload { at: 1 })
        );
        assert_eq!(enc(&c, b"ax"), Ok(b"axaa".to_vec()));
        // A longer delimiter might run on into the next frame's bytes.
        let c = codec(8, &["\n", "x\nyz"]);
        assert_eq!(
            enc(&c, b"ax"),
            Err(CodecError::DelimiterInPayload { at: 1 })
        );
        assert_eq!(enc(&c, b"xa"), Ok(b"xa\n".to_vec()));
    }
}

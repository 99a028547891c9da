//! Sans-IO frame codecs, compatible with Netty's frame decoders, for use inside
//! [`EventHandler::on_traffic`](crate::EventHandler::on_traffic).
//!
//! A [`Decoder`] looks at the unread inbound bytes and says where the first frame ends and
//! which part of it is the payload; it never copies and never owns a buffer. An [`Encoder`]
//! hands the bytes of one frame, in pieces, to a sink without allocating.
//! [`Conn::next_frame`](crate::Conn::next_frame) and
//! [`Conn::next_frame_with`](crate::Conn::next_frame_with) return the payload as a slice of
//! the connection's inbound bytes and consume the frame; [`Conn::write_frame`](crate::Conn::write_frame)
//! queues an encoded frame.
//!
//! | codec | Netty | a frame is | maximum |
//! |---|---|---|---|
//! | [`LineCodec`] | `LineBasedFrameDecoder`, `LineEncoder` | bytes up to `\n` or `\r\n` | payload length |
//! | [`DelimiterCodec`] | `DelimiterBasedFrameDecoder` | bytes up to the earliest of several delimiters | payload length |
//! | [`FixedLengthCodec`] | `FixedLengthFrameDecoder` | exactly N bytes | N |
//! | [`LengthFieldCodec`] | `LengthFieldBasedFrameDecoder`, `LengthFieldPrepender` | a header with a length field, then the body | whole frame, header included |
//!
//! # Example
//!
//! A line echo server: every line comes back, ended by `\r\n`; a line longer than 1 KiB gets
//! an error reply and the connection is closed. The decoder lives in the connection's state
//! (it remembers how far it has scanned); the encoder is a constant shared by every
//! connection.
//!
//! ```no_run
//! use loopwire::codec::{CodecError, LineCodec, LineEnding};
//! use loopwire::{Action, Conn, Engine, EventHandler};
//!
//! const LINES: LineCodec = LineCodec::new(1024).with_line_ending(LineEnding::CrLf);
//!
//! struct Session {
//!     lines: LineCodec,
//! }
//!
//! impl Default for Session {
//!     fn default() -> Self {
//!         Session { lines: LINES }
//!     }
//! }
//!
//! struct LineEcho;
//!
//! impl EventHandler for LineEcho {
//!     type State = Session;
//!
//!     fn on_traffic(&self, c: &mut Conn<'_, Session>) -> Action {
//!         loop {
//!             match c.next_frame_with(|s| &mut s.lines) {
//!                 // `line` borrows the inbound bytes in place (no copy, no allocation).
//!                 Ok(Some(line)) => {
//!                     if c.write_frame(&LINES, line).is_err() {
//!                         return Action::Close;
//!                     }
//!                 }
//!                 // The rest of a line has not arrived; its bytes stay buffered.
//!                 Ok(None) => return Action::None,
//!                 Err(CodecError::FrameTooLong { .. }) => {
//!                     c.write(b"-ERR line too long\r\n");
//!                     return Action::Close;
//!                 }
//!                 Err(_) => return Action::Close,
//!             }
//!         }
//!     }
//! }
//!
//! fn main() -> Result<(), loopwire::Error> {
//!     Engine::builder().addr("tcp://127.0.0.1:9000").run(LineEcho)
//! }
//! ```
//!
//! Outside a connection (a UDP datagram carrying several frames, a client, a test),
//! [`frames`] iterates over the frames of a byte slice.
//!
//! # Incremental decoding
//!
//! A decoder is given the unconsumed bytes, starting at a frame boundary, every time more
//! arrive, until it finds a frame. The line and delimiter decoders remember how far they have
//! already scanned, so a frame arriving in many reads costs time in proportion to its length,
//! not to its length times the number of reads. That memory rests on one precondition, the
//! one the engine's inbound buffer keeps:
//!
//! > After a call that returned `Ok(None)`, the next call's `buf` starts with that call's
//! > `buf`: the same bytes, possibly followed by more.
//!
//! Returning a frame or an error resets the memory, so the next call may start anywhere, as
//! long as it is a frame boundary. If you move the read position yourself between calls (say
//! with [`Conn::discard`](crate::Conn::discard)), call [`Decoder::reset`] first. A buffer
//! shorter than what was already scanned is detected and rescanned, never a panic.
//!
//! # Errors end the stream
//!
//! A decoding error (a frame longer than the maximum, a corrupt length field) leaves the
//! offending bytes unconsumed and the decoder reset: decoding them again gives the same error.
//! The peer has broken the framing; close the connection. Every length the peer sends is
//! checked arithmetic: no byte sequence makes a decoder panic, overflow or loop.
//!
//! # Differences from Netty
//!
//! - **After an error Netty keeps going**; here the stream ends. Netty's decoders throw, then
//!   silently skip the offending bytes (up to the next delimiter, past the announced length,
//!   or past the header) and go on decoding. With a sans-IO decoder that returns frames, a
//!   skip would need a way to consume bytes without a frame, and a peer that overruns the
//!   maximum or sends a corrupt length is broken or hostile, so resynchronising on its next
//!   bytes is rarely what a server wants. tokio-util's `FramedRead` also ends the stream on
//!   the first decoding error.
//! - **Fail fast, but not too fast.** Netty's line and delimiter decoders give up as soon as
//!   more than the maximum is buffered without a whole delimiter, so a frame of exactly the
//!   maximum ending in `\r\n` is refused when a read happens to end between the `\r` and the
//!   `\n`. Here the result never depends on how the stream was split into reads: the error
//!   comes once the bytes prove the frame too long, at most `max + delimiter length` bytes
//!   into it. For the same reason [`DelimiterCodec`] waits for a longer delimiter that is
//!   listed first and might still match, where Netty takes a shorter one it can already see.
//! - **Encoders check what they send**: a line or delimited payload that contains its
//!   delimiter, or any payload longer than the codec's maximum, is refused with an error
//!   instead of being sent for the peer to misread or reject. Netty's `LineEncoder` writes
//!   whatever it is given.
//! - Other details are in each codec's docs.

mod delimiter;
mod error;
mod fixed;
mod length_field;
mod line;

use std::fmt;
use std::ops::Range;

pub use delimiter::DelimiterCodec;
pub use error::CodecError;
pub use fixed::FixedLengthCodec;
pub use length_field::{ByteOrder, LengthFieldCodec, LengthFieldCodecBuilder};
pub use line::{LineCodec, LineEnding};

/// Where a frame ends in a decoder's input, and which part of it is the payload.
///
/// `payload` lies within `0..consumed`, which lies within the input; `consumed` is at least
/// 1. [`Frame::payload_of`] checks that and slices the payload out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Frame {
    /// Bytes of the input the frame occupies, from its start: header, payload, delimiter.
    pub consumed: usize,
    /// The payload's range within the input (the frame minus what the codec strips).
    pub payload: Range<usize>,
}

impl Frame {
    /// The payload within `buf`, the input the frame was decoded from.
    ///
    /// # Errors
    ///
    /// [`CodecError::InvalidFrame`] if the frame consumes nothing, if `consumed` exceeds
    /// `buf.len()`, or if `payload` is not a range within `0..consumed`: the decoder that
    /// returned it is buggy.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire::codec::Frame;
    ///
    /// let frame = Frame { consumed: 6, payload: 0..5 };
    /// assert_eq!(frame.payload_of(b"hello\nworld").unwrap(), b"hello");
    /// assert!(frame.payload_of(b"hell").is_err());
    /// ```
    #[inline]
    pub fn payload_of<'b>(&self, buf: &'b [u8]) -> Result<&'b [u8], CodecError> {
        let Range { start, end } = self.payload;
        if self.consumed == 0 || self.consumed > buf.len() || start > end || end > self.consumed {
            return Err(CodecError::InvalidFrame {
                consumed: self.consumed,
                payload: self.payload.clone(),
                len: buf.len(),
            });
        }
        buf.get(start..end).ok_or_else(|| CodecError::InvalidFrame {
            consumed: self.consumed,
            payload: self.payload.clone(),
            len: buf.len(),
        })
    }
}

/// Finds frames in a byte stream without copying it.
///
/// # Contract
///
/// `buf` holds the unconsumed bytes of the stream and starts at a frame boundary. A decoder
/// returns:
///
/// - `Ok(Some(frame))` when `buf` starts with a whole frame: the caller consumes
///   `frame.consumed` bytes (at least 1) and uses `buf[frame.payload]`;
/// - `Ok(None)` when it does not yet: the caller consumes nothing and calls again once more
///   bytes have arrived;
/// - `Err(_)` when the bytes cannot be a valid frame: the caller consumes nothing and gives
///   up on the stream.
///
/// A decoder may remember progress between calls that return `Ok(None)`, relying on the
/// precondition in the [module docs](self#incremental-decoding): the next call's `buf`
/// starts with this call's `buf`. It forgets that progress when it returns a frame or an
/// error, and in [`reset`](Self::reset).
pub trait Decoder {
    /// Decodes the first frame of `buf`, if it is all there.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] when the bytes break the framing: a frame longer than the maximum,
    /// a length field that gives an impossible length. Nothing of `buf` is consumed then;
    /// the stream is not usable any more.
    fn decode(&mut self, buf: &[u8]) -> Result<Option<Frame>, CodecError>;

    /// Forgets any progress remembered from earlier calls, so the next call may be given
    /// any buffer that starts at a frame boundary. Does nothing for stateless decoders.
    fn reset(&mut self) {}
}

/// Writes frames: the bytes of one frame are handed to a sink, in one or more pieces.
///
/// `encode` takes `&self`: encoders hold configuration, not per-stream state, so one value
/// (a `const`, a field of the handler) serves every connection, and the connection's own
/// state stays free for the decoder.
pub trait Encoder {
    /// Hands the frame carrying `payload` to `out`, in order, in one or more pieces
    /// (typically a header, the payload itself, a delimiter). Allocates nothing.
    ///
    /// Implementations check everything before the first call to `out`, so on error
    /// nothing has been written.
    ///
    /// # Errors
    ///
    /// A [`CodecError`] when the payload cannot be framed so that the same codec decodes it
    /// back: it is longer than the maximum, contains the delimiter, does not fit the length
    /// field, has the wrong length.
    fn encode(&self, payload: &[u8], out: &mut dyn FnMut(&[u8])) -> Result<(), CodecError>;

    /// Appends the frame carrying `payload` to `out`.
    ///
    /// # Errors
    ///
    /// As [`encode`](Self::encode); `out` is left unchanged then.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire::codec::{Encoder, LengthFieldCodec};
    ///
    /// let codec = LengthFieldCodec::builder().length_field_length(2).build().unwrap();
    /// let mut out = Vec::new();
    /// codec.encode_to_vec(b"hi", &mut out).unwrap();
    /// assert_eq!(out, b"\x00\x02hi");
    /// ```
    #[inline]
    fn encode_to_vec(&self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        self.encode(payload, &mut |piece| out.extend_from_slice(piece))
    }
}

/// Iterates over the frames at the start of `buf`, for byte slices outside a connection.
///
/// The iterator yields payloads, in place, until `buf` holds no whole frame or an error
/// occurs (yielded once, then the iterator ends); [`Frames::consumed`] then says how many
/// bytes the frames took.
///
/// # Examples
///
/// ```
/// use loopwire::codec::{LineCodec, frames};
///
/// let mut lines = LineCodec::new(64);
/// let mut it = frames(&mut lines, b"one\r\ntwo\nthr");
/// assert_eq!(it.next(), Some(Ok(&b"one"[..])));
/// assert_eq!(it.next(), Some(Ok(&b"two"[..])));
/// assert_eq!(it.next(), None);
/// assert_eq!(it.remaining(), b"thr");
/// ```
pub fn frames<'a, D: Decoder + ?Sized>(decoder: &'a mut D, buf: &'a [u8]) -> Frames<'a, D> {
    Frames {
        decoder,
        buf,
        consumed: 0,
        done: false,
    }
}

/// The iterator returned by [`frames`].
pub struct Frames<'a, D: ?Sized> {
    decoder: &'a mut D,
    buf: &'a [u8],
    consumed: usize,
    done: bool,
}

impl<'a, D: ?Sized> Frames<'a, D> {
    /// Bytes taken by the frames yielded so far.
    #[inline]
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// The bytes after the frames yielded so far.
    #[inline]
    pub fn remaining(&self) -> &'a [u8] {
        self.buf.get(self.consumed..).unwrap_or_default()
    }
}

impl<D: ?Sized> fmt::Debug for Frames<'_, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Frames")
            .field("len", &self.buf.len())
            .field("consumed", &self.consumed)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'a, D: Decoder + ?Sized> Iterator for Frames<'a, D> {
    type Item = Result<&'a [u8], CodecError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = self.remaining();
        let step = self
            .decoder
            .decode(rest)
            .and_then(|f| f.map(|f| Ok((f.payload_of(rest)?, f.consumed))).transpose());
        match step {
            Ok(Some((payload, consumed))) => {
                self.consumed += consumed;
                Some(Ok(payload))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

/// Frame codecs on a connection, inside a callback.
impl<'a, S> crate::Conn<'a, S> {
    /// Decodes the next frame of the unread inbound bytes with `decoder`, consumes it and
    /// returns its payload, in place: the slice lives as long as the `Conn`, so it can be
    /// written back without a copy.
    ///
    /// Returns `Ok(None)`, consuming nothing, while the next frame has not fully arrived; the
    /// engine keeps the bytes and shows them again, with the new ones, in the next
    /// `on_traffic`. Call it in a loop until then: one read often carries several frames.
    ///
    /// For a decoder kept in the connection's state, use
    /// [`next_frame_with`](Self::next_frame_with).
    ///
    /// # Errors
    ///
    /// What the decoder reports (see [`Decoder::decode`]); nothing is consumed. Also
    /// [`CodecError::InvalidFrame`] if the decoder returned a frame outside the bytes it
    /// was given.
    #[inline]
    pub fn next_frame<D: Decoder + ?Sized>(
        &mut self,
        decoder: &mut D,
    ) -> Result<Option<&'a [u8]>, CodecError> {
        let buf = self.inbound();
        let frame = decoder.decode(buf)?;
        self.take_frame(buf, frame)
    }

    /// [`next_frame`](Self::next_frame) with the decoder found in the connection's state by
    /// `decoder`: `c.next_frame_with(|s| &mut s.lines)`, or `c.next_frame_with(|s| s)` when
    /// the state is the decoder.
    ///
    /// # Errors
    ///
    /// As [`next_frame`](Self::next_frame).
    #[inline]
    pub fn next_frame_with<D, F>(&mut self, decoder: F) -> Result<Option<&'a [u8]>, CodecError>
    where
        D: Decoder + ?Sized,
        F: FnOnce(&mut S) -> &mut D,
    {
        let buf = self.inbound();
        let frame = decoder(self.state_mut()).decode(buf)?;
        self.take_frame(buf, frame)
    }

    /// Consumes `frame`, decoded from `buf` (the unread bytes), and returns its payload.
    #[inline]
    fn take_frame(
        &mut self,
        buf: &'a [u8],
        frame: Option<Frame>,
    ) -> Result<Option<&'a [u8]>, CodecError> {
        let Some(frame) = frame else {
            return Ok(None);
        };
        let payload = frame.payload_of(buf)?;
        self.discard(frame.consumed);
        Ok(Some(payload))
    }

    /// Encodes `payload` as one frame with `encoder` and queues it, like
    /// [`write`](Self::write): it is sent with everything else written in this callback.
    ///
    /// # Errors
    ///
    /// What the encoder reports (see [`Encoder::encode`]); nothing is queued then.
    #[inline]
    pub fn write_frame<E: Encoder + ?Sized>(
        &mut self,
        encoder: &E,
        payload: &[u8],
    ) -> Result<(), CodecError> {
        encoder.encode(payload, &mut |piece| self.write(piece))
    }
}

/// Position of the first `needle` in `hay`: a `memchr` in safe code, within a small factor
/// of glibc's vectorized one.
///
/// The first 64 bytes (where short frames end) are searched a word at a time
/// ([`find_byte_swar`]). Past them, each 64-byte block is compared as a whole, with no early
/// exit inside it, which the compiler turns into SIMD compares; a block with a hit is then
/// searched a word at a time.
#[inline]
fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    const BLOCK: usize = 64;
    let (head, rest) = hay.split_at(hay.len().min(BLOCK));
    if let Some(i) = find_byte_swar(needle, head) {
        return Some(i);
    }
    let (blocks, tail) = rest.as_chunks::<BLOCK>();
    for (i, block) in blocks.iter().enumerate() {
        if block.iter().fold(false, |hit, &b| hit | (b == needle)) {
            return find_byte_swar(needle, block).map(|j| BLOCK + i * BLOCK + j);
        }
    }
    find_byte_swar(needle, tail).map(|j| BLOCK + blocks.len() * BLOCK + j)
}

/// Position of the first `needle` in `hay`, eight bytes at a time ("SWAR").
///
/// With `x` a little-endian word XOR eight copies of `needle`, a matching byte is a zero byte
/// of `x`, and `(x - 0x0101..) & !x & 0x8080..` sets the top bit of every zero byte. It may
/// also set it in bytes above a zero byte (a borrow), never below one, so the lowest bit set
/// marks the first match (Hacker's Delight, "find first zero byte").
#[inline]
fn find_byte_swar(needle: u8, hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let (words, tail) = hay.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let x = u64::from_le_bytes(*word) ^ pattern;
        let zeros = x.wrapping_sub(LO) & !x & HI;
        if zeros != 0 {
            return Some(i * 8 + (zeros.trailing_zeros() / 8) as usize);
        }
    }
    tail.iter()
        .position(|&b| b == needle)
        .map(|j| words.len() * 8 + j)
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::os::fd::AsFd;

    use super::*;
    use crate::addr::Network;
    use crate::conn::{Conn, ConnMeta, Flow};
    use crate::handle::ConnHandle;

    #[test]
    fn find_byte_finds_the_first_of_every_byte_value() {
        // Bytes one bit away from the needle after a match are where SWAR false positives
        // sit; every offset across the head, the blocks and the tail.
        let all: Vec<u8> = (0..=255u8).chain(0..=255u8).collect();
        for needle in [0u8, 1, b'\n', 0x7F, 0x80, 0xFE, 0xFF] {
            for from in 0..all.len() {
                let naive = all[from..].iter().position(|&b| b == needle);
                assert_eq!(
                    find_byte(needle, &all[from..]),
                    naive,
                    "{needle} from {from}"
                );
                assert_eq!(find_byte_swar(needle, &all[from..]), naive);
            }
        }
        let mut near = vec![b'\n' ^ 1; 300];
        near[150] = b'\n';
        assert_eq!(find_byte(b'\n', &near), Some(150));
    }

    #[test]
    fn find_byte_matches_a_naive_search() {
        let mut hay: Vec<u8> = (0..200u8).map(|i| i % 7).collect();
        for len in [0, 1, 31, 32, 33, 63, 64, 65, 100, 200] {
            for at in 0..len {
                let saved = hay[at];
                hay[at] = 0xAA;
                assert_eq!(find_byte(0xAA, &hay[..len]), Some(at), "len {len} at {at}");
                hay[at] = saved;
            }
            assert_eq!(find_byte(0xAA, &hay[..len]), None);
            let naive = hay[..len].iter().position(|&b| b == 3);
            assert_eq!(find_byte(3, &hay[..len]), naive);
        }
    }

    #[test]
    fn payload_of_refuses_frames_outside_the_input() {
        let buf = b"abcdef";
        let ok = Frame {
            consumed: 6,
            payload: 1..6,
        };
        assert_eq!(ok.payload_of(buf), Ok(&b"bcdef"[..]));
        for (consumed, start, end) in [(0, 0, 0), (7, 0, 1), (3, 0, 4), (3, 2, 1)] {
            let f = Frame {
                consumed,
                payload: start..end,
            };
            assert!(
                matches!(f.payload_of(buf), Err(CodecError::InvalidFrame { .. })),
                "{f:?}"
            );
        }
    }

    /// A decoder that returns whatever frame it is told to, to check the callers' checks.
    struct Scripted(Option<Frame>);

    impl Decoder for Scripted {
        fn decode(&mut self, _: &[u8]) -> Result<Option<Frame>, CodecError> {
            Ok(self.0.clone())
        }
    }

    #[test]
    fn frames_iterates_and_stops_at_an_error_or_a_partial_frame() {
        let mut lines = LineCodec::new(3);
        let mut it = frames(&mut lines, b"a\nbb\r\n\nlong\nx\n");
        assert_eq!(it.next(), Some(Ok(&b"a"[..])));
        assert_eq!(it.next(), Some(Ok(&b"bb"[..])));
        assert_eq!(it.next(), Some(Ok(&b""[..])));
        assert!(matches!(
            it.next(),
            Some(Err(CodecError::FrameTooLong { max: 3, .. }))
        ));
        assert_eq!(it.next(), None);
        assert_eq!(it.consumed(), 7);
        assert_eq!(it.remaining(), b"long\nx\n");

        let mut bad = Scripted(Some(Frame {
            consumed: 0,
            payload: 0..0,
        }));
        let mut it = frames(&mut bad, b"xyz");
        assert!(matches!(
            it.next(),
            Some(Err(CodecError::InvalidFrame { .. }))
        ));
        assert_eq!(it.next(), None);
    }

    /// Runs `f` on a `Conn` over `inbound`; returns what it consumed and wrote.
    fn with_conn<S>(
        inbound: &[u8],
        state: &mut S,
        f: impl FnOnce(&mut Conn<'_, S>),
    ) -> (usize, Vec<u8>) {
        let null = File::open("/dev/null").expect("open /dev/null");
        let mut out = Vec::new();
        let meta = ConnMeta {
            handle: ConnHandle::new(0, 0, 1),
            network: Network::Tcp,
            peer: None,
        };
        // Writes are taken at once, reading is not paused: a datagram's view.
        let flow = Flow::DATAGRAM;
        let mut conn = Conn::new(inbound, &mut out, 0, state, (meta, null.as_fd()), flow);
        f(&mut conn);
        let consumed = conn.consumed();
        (consumed, out)
    }

    #[test]
    fn conn_next_frame_consumes_frames_in_place_and_nothing_on_none() {
        let inbound = b"one\ntwo\r\nthr";
        let mut lines = LineCodec::new(16);
        let (consumed, out) = with_conn(inbound, &mut (), |c| {
            let one = c.next_frame(&mut lines).unwrap().unwrap();
            // The payload is the inbound bytes themselves, not a copy.
            assert!(std::ptr::eq(one.as_ptr(), inbound.as_ptr()));
            assert_eq!(one, b"one");
            assert_eq!(c.next_frame(&mut lines).unwrap(), Some(&b"two"[..]));
            assert_eq!(c.next_frame(&mut lines).unwrap(), None);
            assert_eq!(c.inbound(), b"thr");
            // Written back without a copy of our own: the slice outlives the borrow.
            c.write_frame(&LineCodec::new(16), one).unwrap();
        });
        assert_eq!(consumed, 9);
        assert_eq!(out, b"one\n");
    }

    #[test]
    fn conn_next_frame_with_uses_the_decoder_in_the_state() {
        struct Session {
            frames: FixedLengthCodec,
            seen: usize,
        }
        let mut state = Session {
            frames: FixedLengthCodec::new(2).unwrap(),
            seen: 0,
        };
        let (consumed, _) = with_conn(b"abcde", &mut state, |c| {
            while let Some(f) = c.next_frame_with(|s| &mut s.frames).unwrap() {
                assert_eq!(f.len(), 2);
                c.state_mut().seen += 1;
            }
        });
        assert_eq!((consumed, state.seen), (4, 2));

        let mut lines = LineCodec::new(8);
        let (consumed, _) = with_conn(b"a\nb\n", &mut lines, |c| {
            assert_eq!(c.next_frame_with(|s| s).unwrap(), Some(&b"a"[..]));
        });
        assert_eq!(consumed, 2);
    }

    #[test]
    fn conn_errors_consume_and_write_nothing() {
        let mut lines = LineCodec::new(2);
        let (consumed, out) = with_conn(b"ok\ntoolong", &mut (), |c| {
            assert_eq!(c.next_frame(&mut lines).unwrap(), Some(&b"ok"[..]));
            assert!(matches!(
                c.next_frame(&mut lines),
                Err(CodecError::FrameTooLong {
                    at_least: 3,
                    max: 2
                })
            ));
            assert_eq!(
                c.write_frame(&LineCodec::new(2), b"\nb"),
                Err(CodecError::DelimiterInPayload { at: 0 })
            );
            assert_eq!(
                c.write_frame(&LineCodec::new(2), b"abc"),
                Err(CodecError::FrameTooLong {
                    at_least: 3,
                    max: 2
                })
            );
            let mut bad = Scripted(Some(Frame {
                consumed: 99,
                payload: 0..1,
            }));
            assert!(matches!(
                c.next_frame(&mut bad),
                Err(CodecError::InvalidFrame { len: 7, .. })
            ));
        });
        assert_eq!((consumed, out), (3, Vec::new()));
    }

    #[test]
    fn conn_write_frame_works_through_dyn_encoders() {
        let codecs: [Box<dyn Encoder>; 2] = [
            Box::new(LineCodec::new(8).with_line_ending(LineEnding::CrLf)),
            Box::new(
                LengthFieldCodec::builder()
                    .length_field_length(1)
                    .build()
                    .unwrap(),
            ),
        ];
        let (_, out) = with_conn(b"", &mut (), |c| {
            for codec in &codecs {
                c.write_frame(codec.as_ref(), b"hi").unwrap();
            }
        });
        assert_eq!(out, b"hi\r\n\x02hi");
    }
}

//! Property tests of the frame codecs (`loopwire::codec`) against any fragmentation of the
//! byte stream.
//!
//! Every stream is fed to the decoder the way the engine feeds a connection: through
//! `loopwire::internals::deliver`, the event loop's own inbound path, in reads of random
//! sizes. Bytes the handler leaves unconsumed stay buffered and are shown again with the next
//! read's bytes appended; after each read the handler decodes frames until `Ok(None)` or an
//! error (with `codec::frames`, which is what `Conn::next_frame` in a loop does).
//!
//! For each codec (line, delimiter, fixed length, length field), with random settings:
//!
//! - **Round trip**: random payloads, each either accepted by the encoder exactly when a
//!   plain model says it can be framed, or refused; the accepted ones, encoded and
//!   concatenated, decode back to the same payloads (or, where the codec keeps delimiters or
//!   headers, to the frame minus what it strips), in order, nothing lost or repeated, and
//!   every byte consumed.
//! - **Any bytes**: streams of valid frames mixed with garbage never panic, and give exactly
//!   what a naive model of the codec's rules gives on the whole stream at once (the same
//!   payloads, bytes consumed and typed error), whatever the split into reads; an error is
//!   reported no later than the read that brings the byte which proves it.
//! - **Oversized frames**: a frame over the maximum after some good ones gives
//!   `FrameTooLong`, no later than `max + delimiter length` bytes into it (line, delimiter)
//!   or once its header is in (length field).

mod engine_support;

use engine_support::pool;
use loopwire::codec::{
    ByteOrder, CodecError, Decoder, DelimiterCodec, Encoder, FixedLengthCodec, LengthFieldCodec,
    LineCodec, LineEnding, frames,
};
use loopwire::internals::{Spill, deliver};
use proptest::prelude::*;
use proptest::sample::{Index, select};

// ---- the engine's inbound path ------------------------------------------------------------

/// What decoding a stream gave.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Outcome {
    payloads: Vec<Vec<u8>>,
    /// Bytes consumed by the frames.
    consumed: usize,
    error: Option<CodecError>,
}

/// An [`Outcome`], and for an error how many bytes had arrived before the read during which
/// it was reported.
struct Fed {
    outcome: Outcome,
    error_read_start: Option<usize>,
}

/// Feeds `stream` to `decoder` in reads of the sizes in `reads` (cycled), as the engine does.
fn feed<D: Decoder>(decoder: &mut D, stream: &[u8], reads: &[usize]) -> Fed {
    let (mut pool, mut spill) = (pool(), Spill::default());
    let mut out = Outcome::default();
    let mut received = 0;
    let mut sizes = reads.iter().copied().filter(|&n| n > 0).cycle();
    while received < stream.len() {
        let n = sizes.next().unwrap_or(1).min(stream.len() - received);
        let before = received;
        let fresh = &stream[received..received + n];
        received += n;
        let mut error = None;
        deliver(&mut spill, &mut pool, fresh, usize::MAX, |shown| {
            let mut it = frames(&mut *decoder, shown);
            for r in &mut it {
                match r {
                    Ok(p) => out.payloads.push(p.to_vec()),
                    Err(e) => error = Some(e),
                }
            }
            out.consumed += it.consumed();
            it.consumed()
        })
        .expect("no inbound limit");
        assert_eq!(
            spill.len(),
            received - out.consumed,
            "unconsumed bytes are kept"
        );
        if error.is_some() {
            out.error = error;
            return Fed {
                outcome: out,
                error_read_start: Some(before),
            };
        }
    }
    Fed {
        outcome: out,
        error_read_start: None,
    }
}

/// Read sizes: mostly small, so frames, delimiters and headers are split everywhere.
fn reads() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![4 => 1usize..8, 2 => 8usize..64, 1 => 64usize..600],
        1..12,
    )
}

/// A payload the encoder accepted, and its encoding.
type Accepted = (Vec<u8>, Vec<u8>);

/// Encodes the `candidates` the encoder accepts, checking it accepts exactly those
/// `framable` says it should; returns the stream and each accepted payload's encoding.
fn encode_checked<E: Encoder>(
    encoder: &E,
    candidates: &[Vec<u8>],
    framable: impl Fn(&[u8]) -> bool,
) -> Result<(Vec<u8>, Vec<Accepted>), TestCaseError> {
    let mut stream = Vec::new();
    let mut accepted = Vec::new();
    for p in candidates {
        let start = stream.len();
        let res = encoder.encode_to_vec(p, &mut stream);
        prop_assert_eq!(
            res.is_ok(),
            framable(p),
            "encoder and model disagree on {:?}: {:?}",
            p,
            res
        );
        if res.is_ok() {
            accepted.push((p.clone(), stream[start..].to_vec()));
        } else {
            prop_assert_eq!(stream.len(), start, "a refused payload wrote nothing");
        }
    }
    Ok((stream, accepted))
}

/// Decodes `stream` in `reads` and checks it gives `expected`, consuming every byte.
fn check_round_trip<D: Decoder>(
    decoder: &mut D,
    stream: &[u8],
    expected: Vec<Vec<u8>>,
    reads: &[usize],
) -> Result<(), TestCaseError> {
    let fed = feed(decoder, stream, reads).outcome;
    prop_assert_eq!(fed.error, None);
    prop_assert_eq!(fed.payloads, expected);
    prop_assert_eq!(fed.consumed, stream.len());
    Ok(())
}

/// Checks a split feed against the model's outcome, and that an error came in time: in the
/// read that brought the byte `bound` bytes into the failing frame, or earlier.
fn check_against_model<D: Decoder>(
    decoder: &mut D,
    stream: &[u8],
    reads: &[usize],
    model: Outcome,
    bound: impl Fn(usize) -> usize,
) -> Result<(), TestCaseError> {
    let fed = feed(decoder, stream, reads);
    if let Some(start) = fed.error_read_start {
        let frame_start = fed.outcome.consumed;
        prop_assert!(
            start < frame_start + bound(frame_start),
            "error reported late: the read from byte {} onwards, frame at {}",
            start,
            frame_start
        );
    }
    prop_assert_eq!(fed.outcome, model);
    Ok(())
}

/// A line or delimiter codec's maximum, at least `min`: mostly small, so frames hit it
/// often; sometimes past the 32-byte blocks of the vectorized search.
fn maximum(min: usize) -> impl Strategy<Value = usize> {
    prop_oneof![3 => min..24, 1 => 24usize..160]
}

/// Payload lengths: often exactly `max`, otherwise anything up to `max + 2`.
fn len_up_to(max: usize) -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(max), 1 => Just(0), 4 => 0..=max + 2]
}

fn bytes_of(alphabet: &'static [u8], len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(select(alphabet), len)
}

/// A stream piece: a payload to encode, or raw bytes.
#[derive(Debug, Clone)]
enum Piece {
    Frame(Vec<u8>),
    Raw(Vec<u8>),
}

/// Encodes the frame pieces the encoder accepts and appends the raw ones.
fn assemble<E: Encoder>(encoder: &E, pieces: &[Piece]) -> Vec<u8> {
    let mut stream = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Frame(p) => {
                let _ = encoder.encode_to_vec(p, &mut stream);
            }
            Piece::Raw(r) => stream.extend_from_slice(r),
        }
    }
    stream
}

fn too_long(at_least: u64, max: usize) -> Option<CodecError> {
    Some(CodecError::FrameTooLong { at_least, max })
}

// ---- line ---------------------------------------------------------------------------------

const LINE_BYTES: &[u8] = b"aaaaxxxx\r\r\0\xFF";
const LINE_GARBAGE: &[u8] = b"aaaaaaaxxxx\r\r\r\n\n";

fn line_codec() -> impl Strategy<Value = LineCodec> {
    (maximum(0), any::<bool>(), any::<bool>()).prop_map(|(max, crlf, strip)| {
        let ending = if crlf {
            LineEnding::CrLf
        } else {
            LineEnding::Lf
        };
        LineCodec::new(max)
            .with_line_ending(ending)
            .with_strip_delimiter(strip)
    })
}

fn line_case() -> impl Strategy<Value = (LineCodec, Vec<Vec<u8>>)> {
    line_codec().prop_flat_map(|c| {
        let payload = len_up_to(c.max_length()).prop_flat_map(
            |n| prop_oneof![9 => bytes_of(LINE_BYTES, n), 1 => bytes_of(b"ab\r\n", n)],
        );
        (Just(c), prop::collection::vec(payload, 0..16))
    })
}

/// Whether `p` can be sent as one line that reads back as `p`.
fn line_framable(c: &LineCodec, p: &[u8]) -> bool {
    p.len() <= c.max_length()
        && !p.contains(&b'\n')
        && !(c.line_ending() == LineEnding::Lf && p.last() == Some(&b'\r'))
}

/// The line rules, naively, on the whole stream.
fn line_model(c: &LineCodec, stream: &[u8]) -> Outcome {
    let max = c.max_length();
    let mut out = Outcome::default();
    loop {
        let rest = &stream[out.consumed..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            let proven = rest.len() > max + 1 || (rest.len() == max + 1 && rest[max] != b'\r');
            if proven {
                out.error = too_long(max as u64 + 1, max);
            }
            return out;
        };
        let len = if lf > 0 && rest[lf - 1] == b'\r' {
            lf - 1
        } else {
            lf
        };
        if len > max {
            out.error = too_long(max as u64 + 1, max);
            return out;
        }
        let end = if c.strip_delimiter() { len } else { lf + 1 };
        out.payloads.push(rest[..end].to_vec());
        out.consumed += lf + 1;
    }
}

/// How far into a line its error may come: `max + 1` bytes, `max + 2` if the byte at `max`
/// is a `\r`.
fn line_bound(c: &LineCodec, stream: &[u8], frame_start: usize) -> usize {
    let cr = stream.get(frame_start + c.max_length()) == Some(&b'\r');
    c.max_length() + 1 + usize::from(cr)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn line_round_trip((codec, candidates) in line_case(), reads in reads()) {
        let (stream, frames) = encode_checked(&codec, &candidates, |p| line_framable(&codec, p))?;
        let ending = codec.line_ending().as_bytes();
        let expected = frames
            .into_iter()
            .map(|(p, _)| if codec.strip_delimiter() { p } else { [&p[..], ending].concat() })
            .collect();
        check_round_trip(&mut codec.clone(), &stream, expected, &reads)?;
    }

    #[test]
    fn line_any_bytes(
        codec in line_codec(),
        pieces in prop::collection::vec(prop_oneof![
            2 => prop::collection::vec(select(LINE_BYTES), 0..80).prop_map(Piece::Frame),
            1 => prop::collection::vec(select(LINE_GARBAGE), 0..80).prop_map(Piece::Raw),
        ], 0..10),
        reads in reads(),
    ) {
        let stream = assemble(&codec, &pieces);
        let model = line_model(&codec, &stream);
        check_against_model(&mut codec.clone(), &stream, &reads, model, |start| {
            line_bound(&codec, &stream, start)
        })?;
    }

    #[test]
    fn line_oversized_fails_fast(
        (codec, good) in line_case(),
        extra in 1usize..20,
        seed in prop::collection::vec(select(b"ax\r\0".as_slice()), 40),
        newline in any::<bool>(),
        reads in reads(),
    ) {
        let max = codec.max_length();
        let (mut stream, frames) = encode_checked(&codec, &good, |p| line_framable(&codec, p))?;
        let start = stream.len();
        // A line of max + extra bytes, no `\n` in it (and not an exact-max `\r\n` line).
        let mut bad: Vec<u8> = seed.iter().cycle().take(max + extra).copied().collect();
        if bad.len() == max + 1 && bad[max] == b'\r' {
            bad[max] = b'a';
        }
        stream.extend_from_slice(&bad);
        if newline {
            stream.extend_from_slice(b"\nnext\n");
        }
        let fed = feed(&mut codec.clone(), &stream, &reads);
        prop_assert_eq!(fed.outcome.payloads.len(), frames.len());
        prop_assert_eq!(fed.outcome.consumed, start);
        prop_assert_eq!(fed.outcome.error, too_long(max as u64 + 1, max));
        let before = fed.error_read_start.expect("an error");
        let cr = usize::from(bad[max] == b'\r');
        prop_assert!(before < start + max + 1 + cr, "error from the read at {}, line at {}", before, start);
    }
}

// ---- delimiter ----------------------------------------------------------------------------

/// Delimiters are made of these; payloads mostly of others.
const DELIM_BYTES: &[u8] = b"abc";
const DELIM_PAYLOAD: &[u8] = b"xxxxyyyyzzab";

fn delimiter_codec() -> impl Strategy<Value = DelimiterCodec> {
    (
        prop::collection::vec(prop::collection::vec(select(DELIM_BYTES), 1..=3), 1..=3),
        maximum(1),
        any::<bool>(),
    )
        .prop_map(|(delimiters, max, strip)| {
            DelimiterCodec::new(max, delimiters)
                .expect("valid settings")
                .with_strip_delimiter(strip)
        })
}

fn delimiter_case() -> impl Strategy<Value = (DelimiterCodec, Vec<Vec<u8>>)> {
    delimiter_codec().prop_flat_map(|c| {
        let payload = len_up_to(c.max_length()).prop_flat_map(|n| bytes_of(DELIM_PAYLOAD, n));
        (Just(c), prop::collection::vec(payload, 0..16))
    })
}

fn delimiters(c: &DelimiterCodec) -> Vec<Vec<u8>> {
    c.delimiters().map(<[u8]>::to_vec).collect()
}

fn longest(c: &DelimiterCodec) -> usize {
    c.delimiters().map(<[u8]>::len).max().unwrap_or(0)
}

/// Whether `p` followed by the first delimiter (and then anything) reads back as `p`: no
/// delimiter starts, or could start, before the appended one.
fn delimited_framable(c: &DelimiterCodec, p: &[u8]) -> bool {
    let ds = delimiters(c);
    let s = [p, &ds[0][..]].concat();
    p.len() <= c.max_length()
        && (0..p.len()).all(|at| {
            ds.iter().all(|d| {
                let n = d.len().min(s.len() - at);
                s[at..at + n] != d[..n]
            })
        })
}

/// The delimiter rules, naively, on the whole stream: at each position in turn, the first
/// listed delimiter that starts there ends the frame; one that might, given more bytes,
/// stops decoding.
fn delimiter_model(c: &DelimiterCodec, stream: &[u8]) -> Outcome {
    let ds = delimiters(c);
    let max = c.max_length();
    let mut out = Outcome::default();
    'frames: loop {
        let rest = &stream[out.consumed..];
        for at in 0..rest.len().min(max + 1) {
            for d in &ds {
                if rest[at..].starts_with(d) {
                    let end = if c.strip_delimiter() {
                        at
                    } else {
                        at + d.len()
                    };
                    out.payloads.push(rest[..end].to_vec());
                    out.consumed += at + d.len();
                    continue 'frames;
                }
                if d.starts_with(&rest[at..]) {
                    return out;
                }
            }
        }
        if rest.len() > max {
            out.error = too_long(max as u64 + 1, max);
        }
        return out;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn delimiter_round_trip((codec, candidates) in delimiter_case(), reads in reads()) {
        let (stream, frames) =
            encode_checked(&codec, &candidates, |p| delimited_framable(&codec, p))?;
        let first = delimiters(&codec)[0].clone();
        let expected = frames
            .into_iter()
            .map(|(p, _)| if codec.strip_delimiter() { p } else { [&p[..], &first[..]].concat() })
            .collect();
        check_round_trip(&mut codec.clone(), &stream, expected, &reads)?;
    }

    #[test]
    fn delimiter_any_bytes(
        codec in delimiter_codec(),
        pieces in prop::collection::vec(prop_oneof![
            2 => prop::collection::vec(select(DELIM_PAYLOAD), 0..80).prop_map(Piece::Frame),
            1 => prop::collection::vec(select(b"abcxy".as_slice()), 0..80).prop_map(Piece::Raw),
        ], 0..10),
        reads in reads(),
    ) {
        let stream = assemble(&codec, &pieces);
        let model = delimiter_model(&codec, &stream);
        let bound = codec.max_length() + longest(&codec);
        check_against_model(&mut codec.clone(), &stream, &reads, model, |_| bound)?;
    }

    #[test]
    fn delimiter_oversized_fails_fast(
        (codec, good) in delimiter_case(),
        extra in 1usize..20,
        seed in prop::collection::vec(select(b"xyzab".as_slice()), 40),
        reads in reads(),
    ) {
        let max = codec.max_length();
        let (mut stream, frames) =
            encode_checked(&codec, &good, |p| delimited_framable(&codec, p))?;
        let start = stream.len();
        stream.extend(seed.iter().cycle().take(max + extra));
        stream.extend_from_slice(&delimiters(&codec)[0]);
        stream.extend_from_slice(b"next");
        let model = delimiter_model(&codec, &stream);
        // The seed may hold a delimiter; the model says whether the frame is too long.
        let oversized = model.error.is_some();
        let fed = feed(&mut codec.clone(), &stream, &reads);
        prop_assert_eq!(&fed.outcome, &model);
        prop_assert!(fed.outcome.payloads.len() >= frames.len());
        if oversized && fed.outcome.consumed == start {
            prop_assert_eq!(fed.outcome.error, too_long(max as u64 + 1, max));
            let before = fed.error_read_start.expect("an error");
            prop_assert!(before < start + max + longest(&codec),
                "error from the read at {}, frame at {}", before, start);
        }
    }
}

// ---- fixed length -------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn fixed_round_trip(
        len in 1usize..40,
        candidates in prop::collection::vec(
            prop_oneof![6 => Just(None), 1 => (0usize..45).prop_map(Some)], 0..16),
        seed in any::<u8>(),
        reads in reads(),
    ) {
        let codec = FixedLengthCodec::new(len).expect("positive length");
        let candidates: Vec<Vec<u8>> = candidates
            .iter()
            .enumerate()
            .map(|(i, n)| (0..n.unwrap_or(len)).map(|j| seed ^ (i * 7 + j) as u8).collect())
            .collect();
        let (stream, frames) = encode_checked(&codec, &candidates, |p| p.len() == len)?;
        let expected = frames.into_iter().map(|(p, _)| p).collect();
        check_round_trip(&mut codec.clone(), &stream, expected, &reads)?;
    }

    #[test]
    fn fixed_any_bytes(
        len in 1usize..40,
        stream in prop::collection::vec(any::<u8>(), 0..300),
        reads in reads(),
    ) {
        let mut codec = FixedLengthCodec::new(len).expect("positive length");
        let whole = stream.len() / len * len;
        let model = Outcome {
            payloads: stream[..whole].chunks(len).map(<[u8]>::to_vec).collect(),
            consumed: whole,
            error: None,
        };
        check_against_model(&mut codec, &stream, &reads, model, |_| 0)?;
    }
}

// ---- length field -------------------------------------------------------------------------

fn length_codec() -> impl Strategy<Value = LengthFieldCodec> {
    (
        0usize..4,
        select(&[1usize, 2, 3, 4, 8][..]),
        -10i64..=4,
        0usize..8,
        any::<bool>(),
        8usize..300,
    )
        .prop_map(|(offset, length, adjustment, strip, le, extra)| {
            let header = offset + length;
            let strip = match strip {
                0..=2 => header,
                3 => 0,
                4 => offset,
                n => header + n - 4,
            };
            let order = if le {
                ByteOrder::LittleEndian
            } else {
                ByteOrder::BigEndian
            };
            LengthFieldCodec::builder()
                .max_frame_length(header + extra)
                .length_field_offset(offset)
                .length_field_length(length)
                .length_adjustment(adjustment)
                .initial_bytes_to_strip(strip)
                .byte_order(order)
                .build()
                .expect("valid settings")
        })
}

fn length_case() -> impl Strategy<Value = (LengthFieldCodec, Vec<Vec<u8>>)> {
    length_codec().prop_flat_map(|c| {
        let most = c.max_frame_length() - c.length_field_length();
        let payload = len_up_to(most).prop_flat_map(|n| prop::collection::vec(any::<u8>(), n));
        (Just(c), prop::collection::vec(payload, 0..12))
    })
}

fn field_max(c: &LengthFieldCodec) -> i128 {
    (1i128 << (8 * c.length_field_length())) - 1
}

/// `value` as the codec's length field (truncated to its size).
fn field_bytes(c: &LengthFieldCodec, value: u64) -> Vec<u8> {
    let mut bytes = value.to_be_bytes()[8 - c.length_field_length()..].to_vec();
    if c.byte_order() == ByteOrder::LittleEndian {
        bytes.reverse();
    }
    bytes
}

/// Whether the codec's own decoder would accept the frame for a payload of `n` bytes.
fn length_framable(c: &LengthFieldCodec, n: usize) -> bool {
    let total = n + c.length_field_length();
    let value = n as i128 - c.length_field_offset() as i128 - i128::from(c.length_adjustment());
    n >= c.length_field_offset()
        && total <= c.max_frame_length()
        && c.initial_bytes_to_strip() <= total
        && (0..=field_max(c)).contains(&value)
}

/// Netty's rules, naively, on the whole stream.
fn length_model(c: &LengthFieldCodec, stream: &[u8]) -> Outcome {
    let (offset, header) = (c.length_field_offset(), c.header_length());
    let adjustment = c.length_adjustment();
    let mut out = Outcome::default();
    loop {
        let rest = &stream[out.consumed..];
        if rest.len() < header {
            return out;
        }
        let mut field_bytes = rest[offset..header].to_vec();
        if c.byte_order() == ByteOrder::LittleEndian {
            field_bytes.reverse();
        }
        let field = field_bytes
            .iter()
            .fold(0u64, |v, &b| (v << 8) | u64::from(b));
        let total = i128::from(field) + i128::from(adjustment) + header as i128;
        let error = if total < 0 {
            Some(CodecError::NegativeFrameLength {
                len: total as i64,
                field,
                adjustment,
            })
        } else if total > i128::from(u64::MAX) {
            Some(CodecError::LengthOverflow { field, adjustment })
        } else if total < header as i128 {
            Some(CodecError::FrameShorterThanHeader {
                len: total as u64,
                header,
            })
        } else if total > c.max_frame_length() as i128 {
            too_long(total as u64, c.max_frame_length())
        } else if (c.initial_bytes_to_strip() as i128) > total {
            Some(CodecError::FrameShorterThanStrip {
                len: total as u64,
                strip: c.initial_bytes_to_strip(),
            })
        } else {
            None
        };
        if error.is_some() {
            out.error = error;
            return out;
        }
        let total = total as usize;
        if rest.len() < total {
            return out;
        }
        out.payloads
            .push(rest[c.initial_bytes_to_strip()..total].to_vec());
        out.consumed += total;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn length_field_round_trip((codec, candidates) in length_case(), reads in reads()) {
        let (stream, frames) =
            encode_checked(&codec, &candidates, |p| length_framable(&codec, p.len()))?;
        let strip = codec.initial_bytes_to_strip();
        // Usual settings (no offset, the header stripped): the payload itself.
        if codec.length_field_offset() == 0 && strip == codec.header_length() {
            for (p, encoded) in &frames {
                prop_assert_eq!(&encoded[strip..], &p[..]);
            }
        }
        let expected = frames.into_iter().map(|(_, encoded)| encoded[strip..].to_vec()).collect();
        check_round_trip(&mut codec.clone(), &stream, expected, &reads)?;
    }

    #[test]
    fn length_field_any_bytes(
        (codec, payloads) in length_case(),
        raw in prop::collection::vec((any::<Index>(), prop::collection::vec(
            prop_oneof![4 => 0u8..4, 1 => Just(0xFF), 2 => any::<u8>()], 0..12)), 0..3),
        reads in reads(),
    ) {
        // Valid frames with runs of small numbers and 0xFF among them.
        let mut pieces: Vec<Piece> = payloads.into_iter().map(Piece::Frame).collect();
        for (at, r) in raw {
            pieces.insert(at.index(pieces.len() + 1), Piece::Raw(r));
        }
        let stream = assemble(&codec, &pieces);
        let model = length_model(&codec, &stream);
        let header = codec.header_length();
        check_against_model(&mut codec.clone(), &stream, &reads, model, |_| header)?;
    }

    #[test]
    fn length_field_random_headers(
        codec in length_codec(),
        headers in prop::collection::vec((
            prop_oneof![3 => 0u64..16, 3 => (0u64..16).prop_map(|k| u64::MAX - k), 1 => any::<u64>()],
            0usize..24,
        ), 1..5),
        reads in reads(),
    ) {
        // Headers with small, huge and random length fields, each followed by some bytes:
        // every error, none of which the encoder would write.
        let mut stream = Vec::new();
        for (value, filler) in headers {
            stream.extend(std::iter::repeat_n(0xCA, codec.length_field_offset()));
            stream.extend(field_bytes(&codec, value & field_max(&codec) as u64));
            stream.extend(std::iter::repeat_n(0, filler));
        }
        let model = length_model(&codec, &stream);
        let header = codec.header_length();
        check_against_model(&mut codec.clone(), &stream, &reads, model, |_| header)?;
    }

    #[test]
    fn length_field_oversized_fails_fast(
        (codec, good) in length_case(),
        over in 1u64..1_000_000,
        reads in reads(),
    ) {
        let (mut stream, frames) =
            encode_checked(&codec, &good, |p| length_framable(&codec, p.len()))?;
        let start = stream.len();
        // A header announcing max + over bytes (as far as the field can say so).
        let header = codec.header_length();
        let want = codec.max_frame_length() as i128 + i128::from(over)
            - i128::from(codec.length_adjustment()) - header as i128;
        let field = want.clamp(0, field_max(&codec)) as u64;
        let total = i128::from(field) + i128::from(codec.length_adjustment()) + header as i128;
        prop_assume!(total > codec.max_frame_length() as i128);
        stream.extend(std::iter::repeat_n(0xCA, codec.length_field_offset()));
        stream.extend(field_bytes(&codec, field));
        stream.extend(std::iter::repeat_n(0x55, 64));
        let fed = feed(&mut codec.clone(), &stream, &reads);
        prop_assert_eq!(fed.outcome.payloads.len(), frames.len());
        prop_assert_eq!(fed.outcome.consumed, start);
        prop_assert_eq!(fed.outcome.error, too_long(total as u64, codec.max_frame_length()));
        let before = fed.error_read_start.expect("an error");
        prop_assert!(before < start + header, "error from the read at {}, header at {}", before, start);
    }
}

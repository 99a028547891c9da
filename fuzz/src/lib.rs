//! What the fuzz targets share: how an input is cut into reads, and the frame-codec harness.
//!
//! Every target takes a few leading bytes as its configuration ([`Input`]) and the rest as
//! the bytes a peer sent, so the seeds in `corpus/<target>/` are readable protocol bytes
//! behind a short prefix (see `make_corpus.py`).

use loopwire::codec::{CodecError, Decoder, Encoder, Frame};

/// A fuzz input: configuration bytes in front, the stream behind.
#[derive(Debug)]
pub struct Input<'a> {
    cfg: &'a [u8],
    /// The bytes a peer sent.
    pub stream: &'a [u8],
}

impl<'a> Input<'a> {
    /// Splits `data` into `n` configuration bytes and the stream; `None` if too short.
    pub fn new(data: &'a [u8], n: usize) -> Option<Self> {
        let (cfg, stream) = data.split_at_checked(n)?;
        Some(Self { cfg, stream })
    }

    /// Configuration byte `i`.
    pub fn byte(&self, i: usize) -> u8 {
        self.cfg[i]
    }

    /// Configuration bytes `i` and `i + 1`, big-endian.
    pub fn u16(&self, i: usize) -> u16 {
        u16::from_be_bytes([self.cfg[i], self.cfg[i + 1]])
    }
}

/// Where reads of `len` bytes end when the stream arrives in pieces of 1 to `max_read`
/// bytes, drawn from `seed`: increasing offsets, the last one `len`.
pub fn read_ends(len: usize, seed: u8, max_read: usize) -> Vec<usize> {
    let mut x = u32::from(seed) | 0x9E37_7900;
    let mut ends = Vec::new();
    let mut at = 0;
    while at < len {
        // xorshift32: any cheap deterministic sequence will do.
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        at = (at + 1 + x as usize % max_read.max(1)).min(len);
        ends.push(at);
    }
    ends
}

/// What decoding a stream gives: the frames (bytes consumed, payload) in order, then how it
/// stopped (`None`: waiting for more bytes).
pub type Decoded = (Vec<(usize, Vec<u8>)>, Option<CodecError>);

/// Decodes `stream` whole, as [`loopwire::codec::frames`] would, checking each frame is
/// within the input and passes `frame_ok`.
pub fn decode_whole<D: Decoder>(
    mut d: D,
    stream: &[u8],
    frame_ok: &dyn Fn(&Frame, &[u8]) -> bool,
) -> Decoded {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let buf = &stream[at..];
        match d.decode(buf) {
            Ok(Some(f)) => {
                let payload = f.payload_of(buf).expect("frame outside its input");
                assert!(f.consumed >= 1, "a frame consumed nothing");
                assert!(frame_ok(&f, buf), "frame breaks the codec's limit: {f:?}");
                out.push((f.consumed, payload.to_vec()));
                at += f.consumed;
            }
            Ok(None) => return (out, None),
            Err(e) => return (out, Some(e)),
        }
    }
}

/// Decodes `stream` as the engine does, arriving in reads ending at `ends`: the decoder is
/// called with all unconsumed bytes after every read until it wants more.
pub fn decode_in_reads<D: Decoder>(mut d: D, stream: &[u8], ends: &[usize]) -> Decoded {
    let mut out = Vec::new();
    let mut at = 0;
    for &end in ends {
        loop {
            let buf = &stream[at..end];
            match d.decode(buf) {
                Ok(Some(f)) => {
                    let payload = f.payload_of(buf).expect("frame outside its input");
                    out.push((f.consumed, payload.to_vec()));
                    at += f.consumed;
                }
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
    }
    (out, None)
}

/// The codec properties, for one codec and one input:
///
/// 1. the raw stream decoded whole: every frame lies within the input, consumes at least a
///    byte and passes `frame_ok` (the codec's maximum);
/// 2. the same stream arriving in reads of random sizes gives the same frames and the same
///    end (error or waiting), whatever the split;
/// 3. round trip: the stream cut into payloads, each encoded (those the encoder refuses are
///    left out), decodes to `expect(payload, encoded frame)` each, in order, consuming all.
pub fn check_codec<C: Decoder + Encoder + Clone>(
    codec: &C,
    stream: &[u8],
    seed: u8,
    frame_ok: &dyn Fn(&Frame, &[u8]) -> bool,
    expect: &dyn Fn(&[u8], &[u8]) -> Vec<u8>,
) {
    let whole = decode_whole(codec.clone(), stream, frame_ok);
    let ends = read_ends(stream.len(), seed, 16);
    assert_eq!(
        whole,
        decode_in_reads(codec.clone(), stream, &ends),
        "split into reads ending at {ends:?}"
    );

    let mut encoded = Vec::new();
    let mut want = Vec::new();
    let mut from = 0;
    for end in read_ends(stream.len(), seed.rotate_left(3), 64) {
        let payload = &stream[from..end];
        from = end;
        let mut frame = Vec::new();
        if codec.encode_to_vec(payload, &mut frame).is_ok() {
            want.push((frame.len(), expect(payload, &frame)));
            encoded.extend_from_slice(&frame);
        }
    }
    assert_eq!(
        decode_whole(codec.clone(), &encoded, frame_ok),
        (want, None),
        "round trip"
    );
}

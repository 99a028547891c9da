//! Decode throughput of `loopwire::codec` against tokio-util's codecs, same bytes, same run.
//!
//! Each iteration decodes a 256 KiB stream of frames with 32 B or 1 KiB payloads, arriving in
//! 64 KiB reads (the engine's default read buffer). Every implementation gets each read the
//! same way, appended to its own buffer (one copy each), and decodes until it has no whole
//! frame, then the next read comes:
//!
//! - loopwire: [`codec::frames`] over the unconsumed bytes (what `Conn::next_frame` does in
//!   a loop): each payload is a `&[u8]` into the buffer; the consumed bytes are then drained
//!   from a `Vec<u8>`, leaving the partial frame at the front, as the engine keeps it.
//! - tokio-util: `Decoder::decode` on a `BytesMut`, yielding what its users get: a `String`
//!   per line from `LinesCodec` (UTF-8 checked, allocated), a `BytesMut` split off per frame
//!   from `LengthDelimitedCodec`.
//!
//! Groups: `lines/<size>` (`LineCodec` vs `LinesCodec`, both with an 8 KiB maximum) and
//! `length_field/<size>` (`LengthFieldCodec` vs `LengthDelimitedCodec`, both a 4-byte
//! big-endian length, header stripped, 8 MiB maximum). Times are the benchmark thread's CPU
//! time, so that other processes on a shared machine do not skew one side's samples.
//!
//! Run: `cargo bench -p loopwire --bench codec -- --warm-up-time 1 --measurement-time 3`

// The ring buffer's benches own the thread-CPU-time measurement; shared, not copied.
#[path = "../../../ringbuf/benches/support/mod.rs"]
mod support;

use std::hint::black_box;

use bytes::BytesMut;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use loopwire::codec::{Decoder, Encoder, LengthFieldCodec, LineCodec, frames};
use support::ThreadCpuTime;
use tokio_util::codec::{LengthDelimitedCodec, LinesCodec};

/// Stream length per iteration (rounded down to whole frames).
const VOLUME: usize = 256 * 1024;

/// Bytes per read.
const READ: usize = 64 * 1024;

/// Maximum line length for both line codecs.
const MAX_LINE: usize = 8 * 1024;

/// Payload sizes and their labels.
const SIZES: [(usize, &str); 2] = [(32, "32B"), (1024, "1KiB")];

/// Printable ASCII payloads (valid UTF-8 for `LinesCodec`, no `\n`), varied per frame.
fn payload(size: usize, i: usize) -> Vec<u8> {
    (0..size).map(|j| b' ' + ((i + j * 7) % 94) as u8).collect()
}

/// A stream of frames with `size`-byte payloads encoded by `encoder`; returns it and the
/// frame count.
fn stream<E: Encoder>(encoder: &E, size: usize) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(VOLUME + size + 8);
    let mut n = 0;
    loop {
        let mut frame = Vec::new();
        encoder
            .encode_to_vec(&payload(size, n), &mut frame)
            .expect("a valid payload");
        if out.len() + frame.len() > VOLUME {
            return (out, n);
        }
        out.extend_from_slice(&frame);
        n += 1;
    }
}

/// Decodes `stream` with a loopwire decoder; returns the number of frames.
fn loopwire<D: Decoder>(decoder: &mut D, stream: &[u8], buf: &mut Vec<u8>) -> usize {
    let mut n = 0;
    for read in stream.chunks(READ) {
        buf.extend_from_slice(read);
        let mut it = frames(decoder, buf);
        for payload in &mut it {
            black_box(payload.expect("a valid stream"));
            n += 1;
        }
        let consumed = it.consumed();
        buf.drain(..consumed);
    }
    n
}

/// Decodes `stream` with a tokio-util decoder; returns the number of frames.
fn tokio_util<D>(decoder: &mut D, stream: &[u8], buf: &mut BytesMut) -> usize
where
    D: tokio_util::codec::Decoder,
    D::Error: std::fmt::Debug,
{
    let mut n = 0;
    for read in stream.chunks(READ) {
        buf.extend_from_slice(read);
        while let Some(item) = decoder.decode(buf).expect("a valid stream") {
            black_box(item);
            n += 1;
        }
    }
    n
}

fn bench_lines(c: &mut Criterion<ThreadCpuTime>) {
    for (size, label) in SIZES {
        let ours = LineCodec::new(MAX_LINE);
        let (bytes, count) = stream(&ours, size);
        let mut group = c.benchmark_group(format!("lines/{label}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));

        let (mut dec, mut buf) = (ours.clone(), Vec::new());
        assert_eq!(loopwire(&mut dec, &bytes, &mut buf), count);
        group.bench_function(BenchmarkId::new("loopwire", label), |b| {
            b.iter(|| loopwire(&mut dec, &bytes, &mut buf));
        });

        let (mut dec, mut buf) = (LinesCodec::new_with_max_length(MAX_LINE), BytesMut::new());
        assert_eq!(tokio_util(&mut dec, &bytes, &mut buf), count);
        group.bench_function(BenchmarkId::new("tokio-util", label), |b| {
            b.iter(|| tokio_util(&mut dec, &bytes, &mut buf));
        });
        group.finish();
    }
}

fn bench_length_field(c: &mut Criterion<ThreadCpuTime>) {
    for (size, label) in SIZES {
        let ours = LengthFieldCodec::builder()
            .max_frame_length(8 * 1024 * 1024)
            .length_field_length(4)
            .build()
            .expect("valid settings");
        let (bytes, count) = stream(&ours, size);
        let mut group = c.benchmark_group(format!("length_field/{label}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));

        let (mut dec, mut buf) = (ours, Vec::new());
        assert_eq!(loopwire(&mut dec, &bytes, &mut buf), count);
        group.bench_function(BenchmarkId::new("loopwire", label), |b| {
            b.iter(|| loopwire(&mut dec, &bytes, &mut buf));
        });

        let (mut dec, mut buf) = (LengthDelimitedCodec::new(), BytesMut::new());
        assert_eq!(tokio_util(&mut dec, &bytes, &mut buf), count);
        group.bench_function(BenchmarkId::new("tokio-util", label), |b| {
            b.iter(|| tokio_util(&mut dec, &bytes, &mut buf));
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench_lines, bench_length_field
}
/// What `criterion_main!` would generate, callable from the bench's real `main`.
pub(crate) fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}

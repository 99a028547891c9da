//! `RingBuffer` against its same-run peers, `VecDeque<u8>` and `bytes::BytesMut`, on the
//! traffic shapes a connection buffer sees. Every iteration moves 256 KiB through one
//! long-lived buffer per implementation; the bytes come from a 64 KiB source buffer, like the
//! event loop's shared read buffer they would come from in the engine.
//!
//! - `write_then_read/<policy>/<chunk>`: write 256 KiB in chunks of 16 B, 1 KiB or 64 KiB,
//!   then read it all back in chunks of the same size (copying out), so the buffer drains
//!   once per iteration. Two memory policies, each applied to all three implementations:
//!   - `retain`: the buffer keeps its capacity when drained (`RingBuffer` with
//!     `initial = 256 KiB`; the peers as they are).
//!   - `release`: the buffer gives its memory back when drained, as an idle connection
//!     should (`RingBuffer`'s default config; `VecDeque::shrink_to_fit`; a fresh
//!     `BytesMut`). Every iteration then re-grows from nothing.
//! - `partial_read/<chunk>`: chunks arrive one at a time and after each arrival the consumer
//!   reads 70 % of what is buffered (a parser leaving a partial frame behind), so the buffer
//!   never drains and its data wraps around. Default config for `RingBuffer`.
//!
//! Times are the benchmark thread's CPU time (see `support`), so that other processes on a
//! shared machine do not skew one implementation's samples against its peers'.
//!
//! Run: `cargo bench -p loopwire-ringbuf --bench ringbuf -- --warm-up-time 1 --measurement-time 3`

use std::collections::VecDeque;
use std::hint::black_box;
use std::io::Read;

use bytes::{Buf, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use loopwire_ringbuf::{Config, RingBuffer};

mod support;

use support::ThreadCpuTime;

/// Bytes moved per iteration.
const VOLUME: usize = 256 * 1024;

/// Size of the buffer the bytes are copied from (the engine's default read buffer).
const SOURCE: usize = 64 * 1024;

/// Chunk sizes and their labels.
const CHUNKS: [(usize, &str); 3] = [(16, "16B"), (1024, "1KiB"), (64 * 1024, "64KiB")];

/// What each benchmark does to a buffer; implemented with each type's fastest natural calls.
trait Subject {
    /// Appends `chunk`.
    fn put(&mut self, chunk: &[u8]);
    /// Copies `out.len()` bytes (no more than buffered) out and consumes them.
    fn take(&mut self, out: &mut [u8]);
    /// Bytes buffered.
    fn buffered(&self) -> usize;
    /// Called once the buffer has drained (applies the `release` policy).
    fn drained(&mut self) {}
}

impl Subject for RingBuffer {
    fn put(&mut self, chunk: &[u8]) {
        self.push(chunk)
            .expect("the benchmark stays below the maximum");
    }
    fn take(&mut self, out: &mut [u8]) {
        self.pop_into(out);
    }
    fn buffered(&self) -> usize {
        self.len()
    }
    // Draining releases memory by itself under the default config.
}

/// `VecDeque<u8>` that keeps its capacity when drained.
struct Deque(VecDeque<u8>);

/// `VecDeque<u8>` that frees its storage when drained.
struct DequeRelease(VecDeque<u8>);

impl Subject for Deque {
    fn put(&mut self, chunk: &[u8]) {
        self.0.extend(chunk);
    }
    fn take(&mut self, out: &mut [u8]) {
        self.0.read_exact(out).expect("enough bytes buffered");
    }
    fn buffered(&self) -> usize {
        self.0.len()
    }
}

impl Subject for DequeRelease {
    fn put(&mut self, chunk: &[u8]) {
        self.0.extend(chunk);
    }
    fn take(&mut self, out: &mut [u8]) {
        self.0.read_exact(out).expect("enough bytes buffered");
    }
    fn buffered(&self) -> usize {
        self.0.len()
    }
    fn drained(&mut self) {
        self.0.shrink_to_fit();
    }
}

/// `BytesMut` that keeps (and reclaims) its capacity when drained.
struct Bytes(BytesMut);

/// `BytesMut` replaced by a fresh one when drained.
struct BytesRelease(BytesMut);

impl Subject for Bytes {
    fn put(&mut self, chunk: &[u8]) {
        self.0.extend_from_slice(chunk);
    }
    fn take(&mut self, out: &mut [u8]) {
        self.0.copy_to_slice(out);
    }
    fn buffered(&self) -> usize {
        self.0.len()
    }
}

impl Subject for BytesRelease {
    fn put(&mut self, chunk: &[u8]) {
        self.0.extend_from_slice(chunk);
    }
    fn take(&mut self, out: &mut [u8]) {
        self.0.copy_to_slice(out);
    }
    fn buffered(&self) -> usize {
        self.0.len()
    }
    fn drained(&mut self) {
        self.0 = BytesMut::new();
    }
}

/// The `VOLUME / chunk` pieces of one iteration, cycling through the source buffer.
fn pieces(source: &[u8], chunk: usize) -> impl Iterator<Item = &[u8]> {
    source.chunks(chunk).cycle().take(VOLUME / chunk)
}

/// Writes `VOLUME` bytes in `chunk`-sized pieces, then reads them back the same way.
fn write_then_read<S: Subject>(buf: &mut S, source: &[u8], out: &mut [u8]) {
    let chunk = out.len();
    for piece in pieces(source, chunk) {
        buf.put(black_box(piece));
    }
    while buf.buffered() > 0 {
        let n = chunk.min(buf.buffered());
        buf.take(&mut out[..n]);
        black_box(&out[..n]);
    }
    buf.drained();
}

/// Feeds `VOLUME` bytes in `chunk`-sized arrivals, reading 70 % of what is buffered after each.
fn partial_read<S: Subject>(buf: &mut S, source: &[u8], chunk: usize, out: &mut [u8]) {
    for piece in pieces(source, chunk) {
        buf.put(black_box(piece));
        let n = buf.buffered() * 7 / 10;
        buf.take(&mut out[..n]);
        black_box(&out[..n]);
    }
}

fn ring(initial: usize) -> RingBuffer {
    let config = Config::builder()
        .initial(initial)
        .build()
        .expect("valid benchmark config");
    RingBuffer::with_config(config)
}

fn bench_write_then_read(c: &mut Criterion<ThreadCpuTime>) {
    let source: Vec<u8> = (0..SOURCE).map(|i| (i % 251) as u8).collect();
    for policy in ["retain", "release"] {
        let mut group = c.benchmark_group(format!("write_then_read/{policy}"));
        group.throughput(Throughput::Bytes(VOLUME as u64));
        for (chunk, label) in CHUNKS {
            let mut out = vec![0; chunk];
            let retain = policy == "retain";
            let mut rb = ring(if retain { VOLUME } else { 0 });
            group.bench_function(BenchmarkId::new("ringbuf", label), |b| {
                b.iter(|| write_then_read(&mut rb, &source, &mut out));
            });
            if retain {
                let mut dq = Deque(VecDeque::new());
                group.bench_function(BenchmarkId::new("vecdeque", label), |b| {
                    b.iter(|| write_then_read(&mut dq, &source, &mut out));
                });
                let mut bm = Bytes(BytesMut::new());
                group.bench_function(BenchmarkId::new("bytesmut", label), |b| {
                    b.iter(|| write_then_read(&mut bm, &source, &mut out));
                });
            } else {
                let mut dq = DequeRelease(VecDeque::new());
                group.bench_function(BenchmarkId::new("vecdeque", label), |b| {
                    b.iter(|| write_then_read(&mut dq, &source, &mut out));
                });
                let mut bm = BytesRelease(BytesMut::new());
                group.bench_function(BenchmarkId::new("bytesmut", label), |b| {
                    b.iter(|| write_then_read(&mut bm, &source, &mut out));
                });
            }
        }
        group.finish();
    }
}

fn bench_partial_read(c: &mut Criterion<ThreadCpuTime>) {
    let source: Vec<u8> = (0..SOURCE).map(|i| (i % 251) as u8).collect();
    let mut group = c.benchmark_group("partial_read");
    group.throughput(Throughput::Bytes(VOLUME as u64));
    for (chunk, label) in CHUNKS {
        // Room for what stays behind plus one arrival.
        let mut out = vec![0; chunk * 2];
        let mut rb = ring(0);
        group.bench_function(BenchmarkId::new("ringbuf", label), |b| {
            b.iter(|| partial_read(&mut rb, &source, chunk, &mut out));
        });
        let mut dq = Deque(VecDeque::new());
        group.bench_function(BenchmarkId::new("vecdeque", label), |b| {
            b.iter(|| partial_read(&mut dq, &source, chunk, &mut out));
        });
        let mut bm = Bytes(BytesMut::new());
        group.bench_function(BenchmarkId::new("bytesmut", label), |b| {
            b.iter(|| partial_read(&mut bm, &source, chunk, &mut out));
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench_write_then_read, bench_partial_read
}
criterion_main!(benches);

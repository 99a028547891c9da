//! How much of a large copy's speed is where the bytes sit, not whose code copies them.
//!
//! The `write_then_read/retain/64KiB` benchmark row is memcpy-bound: 98 % of each
//! implementation's time is in glibc's `memmove`, with the same sizes. This program runs that
//! pattern (write 256 KiB in 64 KiB pieces, read it back in 64 KiB pieces, storage kept) for
//! `RingBuffer`, `VecDeque<u8>` and `BytesMut`, with the source placed at several offsets from a
//! page boundary, and prints the best of 5 × 2 000 iterations for each. Run:
//!
//! ```sh
//! cargo run --release -p loopwire-ringbuf --example placement
//! ```

use std::collections::VecDeque;
use std::hint::black_box;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use loopwire_ringbuf::{Config, RingBuffer};

const VOLUME: usize = 256 * 1024;
const CHUNK: usize = 64 * 1024;
const ITERS: u32 = 2_000;

/// Best time per iteration, in µs, of `f` over 5 runs of `ITERS`.
fn best_us(mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            (0..ITERS).for_each(|_| f());
            t.elapsed().as_secs_f64() * 1e6 / f64::from(ITERS)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    println!(
        "| source offset in its page | out offset | ring µs | VecDeque µs | BytesMut µs | ring ÷ best peer |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for offset in [0usize, 16, 64, 2048] {
        let backing = vec![7u8; CHUNK + 8192];
        let to_page = (4096 - backing.as_ptr() as usize % 4096) % 4096;
        let source = &backing[to_page + offset..to_page + offset + CHUNK];
        let mut out = vec![0u8; CHUNK];

        let config = Config::builder()
            .initial(VOLUME)
            .build()
            .expect("valid config");
        let mut ring = RingBuffer::with_config(config);
        let ring_us = best_us(|| {
            for _ in 0..VOLUME / CHUNK {
                ring.push(black_box(source)).expect("fits");
            }
            while !ring.is_empty() {
                ring.pop_into(&mut out);
                black_box(&out);
            }
        });

        let mut deque: VecDeque<u8> = VecDeque::new();
        let deque_us = best_us(|| {
            for _ in 0..VOLUME / CHUNK {
                deque.extend(black_box(source));
            }
            while !deque.is_empty() {
                let (a, _) = deque.as_slices();
                let n = a.len().min(CHUNK);
                out[..n].copy_from_slice(&a[..n]);
                deque.drain(..n);
                black_box(&out);
            }
        });

        let mut bytes = BytesMut::new();
        let bytes_us = best_us(|| {
            for _ in 0..VOLUME / CHUNK {
                bytes.extend_from_slice(black_box(source));
            }
            while bytes.has_remaining() {
                bytes.copy_to_slice(&mut out);
                black_box(&out);
            }
        });

        println!(
            "| {} | {} | {ring_us:.2} | {deque_us:.2} | {bytes_us:.2} | {:.2} |",
            source.as_ptr() as usize % 4096,
            out.as_ptr() as usize % 4096,
            ring_us / deque_us.min(bytes_us),
        );
    }
}

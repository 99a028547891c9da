//! The crate's fixed SipHash-1-3 against the `siphasher` crate's SipHash-1-3 (same algorithm,
//! same key) in the same run: the cost every hashing balancer and lookup pays first.

use std::hash::Hasher;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use loopwire_loadbalance::hash::{hash_bytes, hash_key};

/// The crate's documented key (`"loopwire"`, `"loadbaln"`), so both compute the same hash.
const K0: u64 = 0x6c6f_6f70_7769_7265;
const K1: u64 = 0x6c6f_6164_6261_6c6e;

fn theirs(bytes: &[u8]) -> u64 {
    let mut h = siphasher::sip::SipHasher13::new_with_keys(K0, K1);
    h.write(bytes);
    h.finish()
}

fn hash(c: &mut Criterion) {
    let mut g = c.benchmark_group("sip13_bytes");
    // 7 bytes: an IPv4 peer with port, as the hashing balancers encode it; 19: IPv6 + port.
    for len in [7usize, 19, 64] {
        let input: Vec<u8> = (0..len as u8).collect();
        assert_eq!(hash_bytes(&input), theirs(&input));
        g.bench_with_input(BenchmarkId::new("loopwire", len), &input, |b, input| {
            b.iter(|| hash_bytes(black_box(input)))
        });
        g.bench_with_input(BenchmarkId::new("siphasher", len), &input, |b, input| {
            b.iter(|| theirs(black_box(input)))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sip13_u64_key");
    g.bench_function("loopwire", |b| b.iter(|| hash_key(black_box(&42u64))));
    g.bench_function("siphasher", |b| {
        b.iter(|| {
            let mut h = siphasher::sip::SipHasher13::new_with_keys(K0, K1);
            h.write(&black_box(42u64).to_le_bytes());
            h.finish()
        })
    });
    g.finish();
}

criterion_group!(benches, hash);
criterion_main!(benches);

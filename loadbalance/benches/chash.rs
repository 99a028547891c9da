//! Lookup and build costs of the consistent-hash structures, measured in the same run as the
//! published crates implementing the same algorithms:
//!
//! - `hashring` 0.3 (jeromefroe/hashring-rs): a sorted ring of points, SipHash-2-4. It has no
//!   built-in virtual nodes, so each node is added as 256 `(node, i)` points, the same count
//!   as our default.
//! - `maglev` 0.2 (flier/rust-maglev): Maglev with std's `DefaultHasher` (SipHash-1-3), table
//!   size 65 537 as ours. Its build keeps a full N × M permutation matrix, so it is measured
//!   at 10 and 100 nodes only.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use loopwire_loadbalance::chash::{BoundedLoad, HashRing, Maglev};

const VNODES: u32 = 256;
const TABLE: usize = 65_537;

/// 4096 pseudo-random keys (SplitMix64 of 0..4096), cycled through by every lookup bench.
fn keys() -> Vec<u64> {
    (0..4096u64)
        .map(|i| {
            let mut z = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z ^ (z >> 27)
        })
        .collect()
}

fn node_name(i: usize) -> String {
    format!("10.0.{}.{}:7000", i / 256, i % 256)
}

/// A hashring-crate virtual node.
#[derive(Clone, Debug, Hash, PartialEq)]
struct VNode {
    node: usize,
    i: u32,
}

fn our_ring(n: usize) -> HashRing<String> {
    let mut ring = HashRing::with_vnodes(VNODES).unwrap();
    ring.try_extend((0..n).map(|i| (node_name(i), 1))).unwrap();
    ring
}

fn their_ring(n: usize) -> hashring::HashRing<VNode> {
    let mut ring = hashring::HashRing::new();
    ring.batch_add(
        (0..n)
            .flat_map(|node| (0..VNODES).map(move |i| VNode { node, i }))
            .collect(),
    );
    ring
}

fn our_maglev(n: usize) -> Maglev<String> {
    let mut m = Maglev::new();
    m.try_extend((0..n).map(|i| (node_name(i), 1))).unwrap();
    m
}

fn their_maglev(n: usize) -> maglev::Maglev<String> {
    maglev::Maglev::with_capacity((0..n).map(node_name), TABLE)
}

fn ring_lookup(c: &mut Criterion) {
    let keys = keys();
    let mut g = c.benchmark_group("ring_lookup");
    for n in [10usize, 100, 1000] {
        let ours = our_ring(n);
        let theirs = their_ring(n);
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("loopwire", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                black_box(ours.get(black_box(&keys[i])))
            })
        });
        g.bench_with_input(BenchmarkId::new("hashring", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                black_box(theirs.get(black_box(&keys[i])))
            })
        });
    }
    g.finish();
}

fn maglev_lookup(c: &mut Criterion) {
    let keys = keys();
    let mut g = c.benchmark_group("maglev_lookup");
    for n in [10usize, 100, 1000] {
        let ours = our_maglev(n);
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("loopwire", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 4095;
                black_box(ours.get(black_box(&keys[i])))
            })
        });
        if n <= 100 {
            use maglev::ConsistentHasher;
            let theirs = their_maglev(n);
            g.bench_with_input(BenchmarkId::new("maglev", n), &n, |b, _| {
                b.iter(|| {
                    i = (i + 1) & 4095;
                    black_box(theirs.get(black_box(&keys[i])))
                })
            });
        }
    }
    g.finish();
}

fn build(c: &mut Criterion) {
    let mut g = c.benchmark_group("build_100_nodes");
    g.sample_size(10);
    g.bench_function("ring/loopwire", |b| b.iter(|| our_ring(100)));
    g.bench_function("ring/hashring", |b| b.iter(|| their_ring(100)));
    g.bench_function("maglev/loopwire", |b| b.iter(|| our_maglev(100)));
    g.bench_function("maglev/maglev", |b| b.iter(|| their_maglev(100)));
    g.finish();
}

fn bounded(c: &mut Criterion) {
    // Steady state: 10 nodes holding 10 000 keys; each iteration assigns one key and
    // releases the oldest.
    let mut lb: BoundedLoad<String, u64> = BoundedLoad::new();
    for i in 0..10 {
        lb.add_node(node_name(i)).unwrap();
    }
    for k in 0..10_000u64 {
        lb.assign(k).unwrap();
    }
    let mut next = 10_000u64;
    c.bench_function("bounded_load/assign_release_10_nodes_10k_keys", |b| {
        b.iter(|| {
            lb.assign(next).unwrap();
            black_box(lb.release(&(next - 10_000)).unwrap());
            next += 1;
        })
    });
}

criterion_group!(benches, ring_lookup, maglev_lookup, build, bounded);
criterion_main!(benches);

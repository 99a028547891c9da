//! Balance and disruption of `HashRing` (default virtual nodes) and `Maglev` (default table)
//! on 1 M keys for N = 2..=64 nodes: the figures in the crate README.
//!
//! ```text
//! cargo run --release -p loopwire-loadbalance --example balance_report
//! ```
//!
//! For every N it builds each structure over nodes `0..N`, `0..N+1` and `0..N` without node
//! `N/2`, looks up keys `0..1_000_000` (as `u64`) in each, and prints one Markdown row:
//!
//! - `max/mean`: the most keys on one node over the mean, with N nodes;
//! - `remove: extra`: keys that moved although they were not on the removed node, as a
//!   fraction of all keys (the ring must show exactly 0);
//! - `add: moved·(N+1)`: the fraction of keys that moved when node N was added, times N+1
//!   (1.0 is the ideal `1/(N+1)`), and how many of them went elsewhere than the new node.
//!
//! Exits with status 1, naming the rows, if any bound from the issue is missed: ring max/mean
//! ≤ 1.25, Maglev max/mean ≤ 1.05, ring removal moves no other key, ring addition moves
//! ≤ 1.2/(N+1) of keys and only onto the new node.

use std::process::ExitCode;

use loopwire_loadbalance::chash::{HashRing, Maglev};
use loopwire_loadbalance::hash::hash_key;

const KEYS: u64 = 1_000_000;

/// A structure under test, reduced to "which node does this key hash go to".
trait Lookup {
    fn build(nodes: &[u32]) -> Self;
    fn lookup(&self, hash: u64) -> u32;
}

impl Lookup for HashRing<u32> {
    fn build(nodes: &[u32]) -> Self {
        let mut ring = HashRing::new();
        ring.try_extend(nodes.iter().map(|&n| (n, 1)))
            .expect("distinct nodes");
        ring
    }
    fn lookup(&self, hash: u64) -> u32 {
        *self.get_by_hash(hash).expect("non-empty")
    }
}

impl Lookup for Maglev<u32> {
    fn build(nodes: &[u32]) -> Self {
        let mut m = Maglev::new();
        m.try_extend(nodes.iter().map(|&n| (n, 1)))
            .expect("distinct nodes");
        m
    }
    fn lookup(&self, hash: u64) -> u32 {
        *self.get_by_hash(hash).expect("non-empty")
    }
}

/// One structure's figures for one N.
struct Row {
    max_over_mean: f64,
    remove_extra: f64,
    add_ratio: f64,
    add_elsewhere: usize,
}

fn assign<L: Lookup>(nodes: &[u32], hashes: &[u64]) -> Vec<u32> {
    let s = L::build(nodes);
    hashes.iter().map(|&h| s.lookup(h)).collect()
}

fn measure<L: Lookup>(n: u32, hashes: &[u64], with_n: &[u32]) -> (Row, Vec<u32>) {
    let nodes: Vec<u32> = (0..n).collect();
    let victim = n / 2;
    let grown: Vec<u32> = (0..=n).collect();
    let shrunk: Vec<u32> = nodes.iter().copied().filter(|&x| x != victim).collect();

    let mut counts = vec![0u64; n as usize];
    for &a in with_n {
        counts[a as usize] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(0);
    let max_over_mean = max as f64 / (KEYS as f64 / f64::from(n));

    let after_remove = assign::<L>(&shrunk, hashes);
    let extra = with_n
        .iter()
        .zip(&after_remove)
        .filter(|&(&b, &a)| b != victim && a != b)
        .count();

    let after_add = assign::<L>(&grown, hashes);
    let (mut moved, mut elsewhere) = (0usize, 0usize);
    for (&b, &a) in with_n.iter().zip(&after_add) {
        if a != b {
            moved += 1;
            if a != n {
                elsewhere += 1;
            }
        }
    }
    let row = Row {
        max_over_mean,
        remove_extra: extra as f64 / KEYS as f64,
        add_ratio: moved as f64 / KEYS as f64 * f64::from(n + 1),
        add_elsewhere: elsewhere,
    };
    (row, after_add)
}

fn main() -> ExitCode {
    let hashes: Vec<u64> = (0..KEYS).map(|k| hash_key(&k)).collect();
    let mut ring_now = assign::<HashRing<u32>>(&[0, 1], &hashes);
    let mut maglev_now = assign::<Maglev<u32>>(&[0, 1], &hashes);
    let mut failures = Vec::new();
    let (mut worst_ring, mut worst_maglev) = (0f64, 0f64);
    let (mut worst_ring_add, mut worst_maglev_add, mut worst_maglev_extra) = (0f64, 0f64, 0f64);

    println!(
        "| N | ring max/mean | Maglev max/mean | ring remove: extra | Maglev remove: extra \
         | ring add: moved·(N+1) | Maglev add: moved·(N+1) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for n in 2..=64u32 {
        let (ring, ring_next) = measure::<HashRing<u32>>(n, &hashes, &ring_now);
        let (maglev, maglev_next) = measure::<Maglev<u32>>(n, &hashes, &maglev_now);
        println!(
            "| {n} | {:.3} | {:.4} | {:.4} % | {:.4} % | {:.3} | {:.3} |",
            ring.max_over_mean,
            maglev.max_over_mean,
            ring.remove_extra * 100.0,
            maglev.remove_extra * 100.0,
            ring.add_ratio,
            maglev.add_ratio,
        );
        worst_ring = worst_ring.max(ring.max_over_mean);
        worst_maglev = worst_maglev.max(maglev.max_over_mean);
        worst_ring_add = worst_ring_add.max(ring.add_ratio);
        worst_maglev_add = worst_maglev_add.max(maglev.add_ratio);
        worst_maglev_extra = worst_maglev_extra.max(maglev.remove_extra);
        if ring.max_over_mean > 1.25 {
            failures.push(format!("N={n}: ring max/mean {:.3}", ring.max_over_mean));
        }
        if maglev.max_over_mean > 1.05 {
            failures.push(format!(
                "N={n}: Maglev max/mean {:.4}",
                maglev.max_over_mean
            ));
        }
        if ring.remove_extra != 0.0 {
            failures.push(format!("N={n}: ring removal moved other nodes' keys"));
        }
        if ring.add_ratio > 1.2 || ring.add_elsewhere != 0 {
            failures.push(format!(
                "N={n}: ring add moved {:.3}/(N+1), {} elsewhere",
                ring.add_ratio, ring.add_elsewhere
            ));
        }
        ring_now = ring_next;
        maglev_now = maglev_next;
    }
    println!();
    println!(
        "worst over N=2..64: ring max/mean {worst_ring:.3}, Maglev max/mean {worst_maglev:.4}, \
         ring add {worst_ring_add:.3}/(N+1), Maglev add {worst_maglev_add:.3}/(N+1), \
         Maglev remove extra {:.4} % of keys",
        worst_maglev_extra * 100.0
    );
    if failures.is_empty() {
        println!("all bounds hold");
        ExitCode::SUCCESS
    } else {
        for f in &failures {
            eprintln!("bound missed: {f}");
        }
        ExitCode::FAILURE
    }
}

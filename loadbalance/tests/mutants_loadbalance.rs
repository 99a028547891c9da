//! Behaviour checks through the public API that the unit tests left open, found by mutation
//! testing (`cargo mutants`, see `verify/README.md`): exact pick sequences through
//! `AnyBalancer`, close events reaching the counters, the size accessors, bounded-load moves
//! on node changes and releases, and Maglev's node order and weighted table.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use loopwire_loadbalance::chash::{BoundedLoad, HashRing, Maglev};
use loopwire_loadbalance::hash::hash_key;
use loopwire_loadbalance::{
    Balancer, ConnInfo, Error, LeastConnections, LoadBalance, Random, SourceHash, SourceKey,
};

fn unix() -> ConnInfo {
    ConnInfo::default()
}

#[test]
fn any_balancer_round_robin_yields_the_exact_sequence() {
    let b = LoadBalance::RoundRobin.build(3).unwrap();
    let picks: Vec<usize> = (0..7).map(|_| b.pick(&unix())).collect();
    assert_eq!(picks, [0, 1, 2, 0, 1, 2, 0]);
}

/// A custom balancer that answers whatever it is told to and counts the events it hears.
#[derive(Debug, Default)]
struct Scripted {
    answer: AtomicUsize,
    opened: AtomicUsize,
    closed: AtomicUsize,
}

impl Balancer for Scripted {
    fn pick(&self, _conn: &ConnInfo) -> usize {
        self.answer.load(Ordering::Relaxed)
    }
    fn on_open(&self, _target: usize) {
        self.opened.fetch_add(1, Ordering::Relaxed);
    }
    fn on_close(&self, _target: usize) {
        self.closed.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn custom_picks_in_range_pass_through_and_the_rest_wrap() {
    let custom = Arc::new(Scripted::default());
    let b = LoadBalance::Custom(custom.clone()).build(3).unwrap();
    for (answer, expected) in [(0, 0), (2, 2), (3, 0), (4, 1), (8, 2)] {
        custom.answer.store(answer, Ordering::Relaxed);
        assert_eq!(b.pick(&unix()), expected, "custom answered {answer}");
    }
}

#[test]
fn custom_balancers_hear_closes_too() {
    let custom = Arc::new(Scripted::default());
    let b = LoadBalance::Custom(custom.clone()).build(2).unwrap();
    b.on_open(1);
    b.on_close(1);
    b.on_close(0);
    assert_eq!(custom.opened.load(Ordering::Relaxed), 1);
    assert_eq!(custom.closed.load(Ordering::Relaxed), 2);
}

#[test]
fn closes_through_any_balancer_reach_the_least_connections_counters() {
    let b = LoadBalance::LeastConnections.build(2).unwrap();
    // Target 0 takes two connections, target 1 one: 1 is the least loaded.
    for t in [0, 0, 1] {
        b.on_open(t);
    }
    assert_eq!(b.pick(&unix()), 1);
    // Both of target 0's connections close: it is now the least loaded.
    b.on_close(0);
    b.on_close(0);
    assert_eq!(b.pick(&unix()), 0);
    assert_eq!(b.pick(&unix()), 0);
}

#[test]
fn every_balancer_reports_its_target_count() {
    assert_eq!(LeastConnections::new(5).unwrap().targets(), 5);
    assert_eq!(Random::with_seed(6, 1).unwrap().targets(), 6);
    assert_eq!(SourceHash::new(7).unwrap().targets(), 7);
    assert_eq!(SourceHash::with_key(9, SourceKey::Ip).unwrap().targets(), 9);
}

#[test]
fn ring_reports_its_virtual_node_count() {
    assert_eq!(
        HashRing::<u32>::new().vnodes(),
        HashRing::<u32>::DEFAULT_VNODES
    );
    assert_eq!(HashRing::<u32>::with_vnodes(7).unwrap().vnodes(), 7);
}

#[test]
fn a_ring_accepts_nodes_with_many_points_each() {
    // 2 × 65 536 points is far below the ring's limit of u32::MAX points.
    let mut r = HashRing::with_vnodes(1 << 16).unwrap();
    r.try_extend([(1u32, 1), (2, 1)]).unwrap();
    assert_eq!(r.points(), 2 << 16);
    r.add(3).unwrap();
    assert_eq!(r.points(), 3 << 16);
    assert_eq!(r.len(), 3);
}

#[test]
fn extending_a_non_empty_ring_keeps_its_nodes_points() {
    let mut grown = HashRing::new();
    grown.add(1u32).unwrap();
    grown.try_extend([(2, 1), (3, 2)]).unwrap();
    let mut at_once = HashRing::new();
    at_once.try_extend([(3u32, 2), (1, 1), (2, 1)]).unwrap();
    assert_eq!(grown.points(), 4 * 256);
    for k in 0..2000u64 {
        assert_eq!(grown.get(&k), at_once.get(&k), "key {k}");
    }
    // Node 1 still owns keys: its points were not dropped by the extension.
    assert!((0..2000u64).any(|k| grown.get(&k) == Some(&1)));
}

fn bounded(nodes: u32, c: f64) -> BoundedLoad<u32, u64> {
    let mut b = BoundedLoad::with_capacity_factor(c).unwrap();
    for n in 0..nodes {
        b.add_node(n).unwrap();
    }
    b
}

/// Every node within `⌈c · m / n⌉` (equal weights) and the loads adding up to `m`.
fn assert_within_bounds(b: &BoundedLoad<u32, u64>) {
    let m = b.assigned();
    let n = b.len();
    let bound = (b.capacity_factor() * m as f64 / n as f64).ceil() as usize;
    assert_eq!(b.loads().map(|(_, l)| l).sum::<usize>(), m);
    for (node, load) in b.loads() {
        assert!(load <= bound, "node {node} holds {load} > {bound}");
        assert_eq!(b.capacity(node), Some(bound));
    }
}

#[test]
fn bounded_load_exposes_its_ring_and_emptiness() {
    let mut b = BoundedLoad::<u32, u64>::new();
    assert!(b.is_empty());
    b.add_weighted_node(4, 2).unwrap();
    b.add_node(5).unwrap();
    assert!(!b.is_empty());
    let ring = b.ring();
    assert_eq!(ring.len(), 2);
    assert_eq!(ring.weight(&4), Some(2));
    assert!(ring.contains(&5));
    assert_eq!(ring.vnodes(), HashRing::<u32>::DEFAULT_VNODES);
}

#[test]
fn releasing_many_keys_from_one_node_sheds_the_others() {
    // c = 1: four nodes of exactly 100 keys each.
    let mut b = bounded(4, 1.0);
    for k in 0..400 {
        b.assign(k).unwrap();
    }
    let on_zero: Vec<u64> = (0..400).filter(|k| b.get(k) == Some(&0)).collect();
    assert_eq!(on_zero.len(), 100);
    // Emptying node 0 lowers every bound to ⌈300 / 4⌉ = 75: the others must hand keys over.
    let mut moved = 0;
    for k in &on_zero {
        for m in b.release(k).unwrap() {
            assert_ne!(m.from, m.to);
            assert_eq!(b.get(&m.key), Some(&m.to));
            moved += 1;
        }
        assert_within_bounds(&b);
    }
    assert_eq!(b.assigned(), 300);
    assert!(b.loads().all(|(_, l)| l == 75));
    assert_eq!(moved, 75);
}

#[test]
fn with_room_to_spare_keys_follow_the_ring_through_node_changes() {
    // c = 1000: no node is ever full, so every key sits on its ring node.
    let mut b = bounded(5, 1000.0);
    for k in 0..600 {
        b.assign(k).unwrap();
    }
    let before: Vec<u32> = (0..600).map(|k| *b.get(&k).unwrap()).collect();
    let moved = b.add_node(77).unwrap();
    let ring = b.ring().clone();
    for k in 0..600u64 {
        assert_eq!(b.get(&k), ring.get(&k), "key {k} after adding a node");
    }
    // Exactly the keys the ring hands to the new node moved, all onto it.
    let expected: Vec<u64> = (0..600).filter(|k| ring.get(k) == Some(&77)).collect();
    assert!(!expected.is_empty());
    let mut got: Vec<u64> = moved.iter().map(|m| m.key).collect();
    got.sort_unstable();
    assert_eq!(got, expected);
    for m in &moved {
        assert_eq!((m.from, m.to), (before[m.key as usize], 77));
    }
    b.remove_node(&77).unwrap();
    let after: Vec<u32> = (0..600).map(|k| *b.get(&k).unwrap()).collect();
    assert_eq!(after, before);
}

#[test]
fn an_added_node_takes_ring_keys_only_up_to_its_capacity() {
    // c = 1: with 500 keys over 5 nodes each may hold exactly 100.
    let mut b = bounded(4, 1.0);
    for k in 0..500 {
        b.assign(k).unwrap();
    }
    let moved = b.add_node(9).unwrap();
    assert_within_bounds(&b);
    assert_eq!(b.load(&9), Some(100));
    // Every key that moved moved at most once per call and is where the report says.
    let mut seen = HashMap::new();
    for m in &moved {
        assert_ne!(m.from, m.to);
        seen.insert(m.key, m.to);
    }
    for (k, to) in seen {
        assert_eq!(b.get(&k), Some(&to));
    }
}

#[test]
fn maglev_reports_its_table_size_and_emptiness() {
    let mut m = Maglev::<u32>::with_table_size(251).unwrap();
    assert_eq!(m.table_size(), 251);
    assert_eq!(Maglev::<u32>::new().table_size(), 65_537);
    assert!(m.is_empty());
    m.add(1).unwrap();
    assert!(!m.is_empty());
}

#[test]
fn maglev_size_limit_is_inclusive() {
    // The maximum itself passes the size check and is rejected only for not being prime;
    // one more slot is too large.
    let max = Maglev::<u8>::MAX_TABLE_SIZE;
    assert_eq!(
        Maglev::<u8>::with_table_size(max).unwrap_err(),
        Error::TableSizeNotPrime(max)
    );
    assert_eq!(
        Maglev::<u8>::with_table_size(max + 1).unwrap_err(),
        Error::TableSizeTooLarge { size: max + 1, max }
    );
}

#[test]
fn maglev_nodes_come_in_stable_hash_order() {
    let mut m = Maglev::with_table_size(1009).unwrap();
    for n in [5u32, 1, 9, 3, 7, 2, 8] {
        m.add(n).unwrap();
    }
    let hashes: Vec<u64> = m.nodes().map(|(n, _)| hash_key(n)).collect();
    let mut sorted = hashes.clone();
    sorted.sort_unstable();
    assert_eq!(hashes, sorted);
}

/// Regression vector computed once: weighted placements must not change between releases.
#[test]
fn maglev_weighted_placements_are_fixed() {
    let mut m = Maglev::with_table_size(1009).unwrap();
    m.try_extend([("a", 1), ("b", 3), ("c", 2)]).unwrap();
    let got: String = (0..40u64).map(|k| m.get(&k).unwrap().to_owned()).collect();
    assert_eq!(got, "bcccbcbbcbbbbaccacbabcbbcbabbbcacacbbbbb");
    let counts = m.slot_counts();
    assert_eq!(counts.iter().sum::<usize>(), 1009);
}

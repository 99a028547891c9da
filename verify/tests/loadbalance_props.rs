//! Property suite for `loopwire-loadbalance`: the accept-time balancers against counting
//! models, and the consistent-hash structures against their balance, disruption, bounded-load
//! and determinism guarantees.
//!
//! Balance and disruption run on 20 000 keys with bounds loose enough for sampling noise at
//! that size yet far below what a broken structure produces (a ring without virtual nodes
//! shows max/mean ≈ 3 at 16 nodes; a Maglev that rebuilt from insertion order would move most
//! keys on every change). The 1 M-key figures for N = 2..64 with the tight bounds come
//! from `cargo run --release -p loopwire-loadbalance --example balance_report`, which exits
//! non-zero if a bound is missed.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::OnceLock;

use loopwire_loadbalance::chash::{BoundedLoad, HashRing, Maglev};
use loopwire_loadbalance::hash::hash_key;
use loopwire_loadbalance::{
    Balancer, ConnInfo, ConsistentHash, LeastConnections, RoundRobin, SourceHash,
};
use proptest::prelude::*;

const KEYS: usize = 20_000;

/// Hashes of keys `0..KEYS`, computed once for the whole suite.
fn key_hashes() -> &'static [u64] {
    static HASHES: OnceLock<Vec<u64>> = OnceLock::new();
    HASHES.get_or_init(|| (0..KEYS as u64).map(|k| hash_key(&k)).collect())
}

fn ring_of(nodes: &[u64]) -> HashRing<u64> {
    let mut ring = HashRing::new();
    ring.try_extend(nodes.iter().map(|&n| (n, 1))).unwrap();
    ring
}

fn maglev_of(nodes: &[u64]) -> Maglev<u64> {
    let mut m = Maglev::new();
    m.try_extend(nodes.iter().map(|&n| (n, 1))).unwrap();
    m
}

fn ring_placements(ring: &HashRing<u64>) -> Vec<u64> {
    key_hashes()
        .iter()
        .map(|&h| *ring.get_by_hash(h).unwrap())
        .collect()
}

fn maglev_placements(m: &Maglev<u64>) -> Vec<u64> {
    key_hashes()
        .iter()
        .map(|&h| *m.get_by_hash(h).unwrap())
        .collect()
}

fn max_over_mean(placements: &[u64], nodes: usize) -> f64 {
    let mut counts: HashMap<u64, usize> = HashMap::new();
    for &p in placements {
        *counts.entry(p).or_default() += 1;
    }
    let max = counts.values().copied().max().unwrap_or(0);
    max as f64 / (placements.len() as f64 / nodes as f64)
}

/// 2 to 16 distinct random node ids.
fn node_sets() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::btree_set(any::<u64>(), 2..=16).prop_map(|s| s.into_iter().collect())
}

// ---------------------------------------------------------------------------------------------
// Accept-time balancers.

#[derive(Clone, Debug)]
enum LcOp {
    /// Pick, then open on the picked target.
    PickOpen,
    /// Pick without opening (an accept burst).
    Pick,
    Open(usize),
    Close(usize),
}

fn lc_ops(targets: usize) -> impl Strategy<Value = Vec<LcOp>> {
    let op = prop_oneof![
        3 => Just(LcOp::PickOpen),
        1 => Just(LcOp::Pick),
        1 => (0..targets + 1).prop_map(LcOp::Open),
        3 => (0..targets + 1).prop_map(LcOp::Close),
    ];
    prop::collection::vec(op, 0..300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_robin_counts_differ_by_at_most_one(targets in 1usize..64, picks in 0usize..2000) {
        let rr = RoundRobin::new(targets).unwrap();
        let mut counts = vec![0usize; targets];
        for i in 0..picks {
            counts[rr.pick(&ConnInfo::default())] += 1;
            let max = counts.iter().max().unwrap();
            let min = counts.iter().min().unwrap();
            prop_assert!(max - min <= 1, "after {} picks: {:?}", i + 1, counts);
        }
    }

    #[test]
    fn least_conn_always_picks_a_minimum(
        (targets, ops) in (1usize..12).prop_flat_map(|t| (Just(t), lc_ops(t)))
    ) {
        let lc = LeastConnections::new(targets).unwrap();
        let mut model = vec![0usize; targets];
        let conn = ConnInfo::default();
        for op in ops {
            match op {
                LcOp::PickOpen | LcOp::Pick => {
                    let t = lc.pick(&conn);
                    let min = *model.iter().min().unwrap();
                    prop_assert!(t < targets);
                    prop_assert_eq!(model[t], min, "picked {} from {:?}", t, model);
                    if matches!(op, LcOp::PickOpen) {
                        lc.on_open(t);
                        model[t] += 1;
                    }
                }
                LcOp::Open(t) => {
                    lc.on_open(t);
                    if let Some(c) = model.get_mut(t) {
                        *c += 1;
                    }
                }
                LcOp::Close(t) => {
                    lc.on_close(t);
                    if let Some(c) = model.get_mut(t) {
                        *c = c.saturating_sub(1);
                    }
                }
            }
            for (t, &c) in model.iter().enumerate() {
                prop_assert_eq!(lc.connections(t), Some(c));
            }
        }
    }

    #[test]
    fn least_conn_bursts_spread_over_tied_targets(targets in 1usize..16, base in 0usize..4) {
        let lc = LeastConnections::new(targets).unwrap();
        for t in 0..targets {
            (0..base).for_each(|_| lc.on_open(t));
        }
        // With every count equal, `targets` picks without opens hit every target once.
        let picked: BTreeSet<usize> =
            (0..targets).map(|_| lc.pick(&ConnInfo::default())).collect();
        prop_assert_eq!(picked.len(), targets);
    }

    #[test]
    fn hashing_balancers_are_sticky_and_in_range(
        targets in 1usize..40,
        peers in prop::collection::vec(any::<(u32, u16)>(), 1..50),
    ) {
        let sh = SourceHash::new(targets).unwrap();
        let ch = ConsistentHash::new(targets).unwrap();
        for (ip, port) in peers {
            let conn = ConnInfo::from_peer(SocketAddr::from((ip.to_be_bytes(), port)));
            let (a, b) = (sh.pick(&conn), ch.pick(&conn));
            prop_assert!(a < targets && b < targets);
            prop_assert_eq!(a, sh.pick(&conn));
            prop_assert_eq!(b, ch.pick(&conn));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Ring and Maglev: balance and disruption.

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn ring_and_maglev_balance(nodes in node_sets()) {
        let n = nodes.len();
        let ring = max_over_mean(&ring_placements(&ring_of(&nodes)), n);
        prop_assert!(ring <= 1.4, "ring max/mean {ring:.3} with {n} nodes");
        let maglev = maglev_of(&nodes);
        let counts = maglev.slot_counts();
        let (min, max) = (counts.iter().min().unwrap(), counts.iter().max().unwrap());
        prop_assert!(max - min <= 1, "Maglev slot counts {:?}", counts);
        let m = max_over_mean(&maglev_placements(&maglev), n);
        prop_assert!(m <= 1.15, "Maglev max/mean {m:.3} with {n} nodes");
    }

    #[test]
    fn ring_removal_moves_exactly_the_removed_nodes_keys(nodes in node_sets(), pick in any::<usize>()) {
        let victim = nodes[pick % nodes.len()];
        let mut ring = ring_of(&nodes);
        let before = ring_placements(&ring);
        ring.remove(&victim).unwrap();
        let after = ring_placements(&ring);
        for (b, a) in before.iter().zip(&after) {
            if *b == victim {
                prop_assert_ne!(*a, victim);
            } else {
                prop_assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn ring_addition_moves_about_one_share_onto_the_new_node(nodes in node_sets(), new in any::<u64>()) {
        prop_assume!(!nodes.contains(&new));
        let mut ring = ring_of(&nodes);
        let before = ring_placements(&ring);
        ring.add(new).unwrap();
        let after = ring_placements(&ring);
        let mut moved = 0;
        for (b, a) in before.iter().zip(&after) {
            if a != b {
                prop_assert_eq!(*a, new, "a key moved elsewhere than the new node");
                moved += 1;
            }
        }
        let ratio = moved as f64 / KEYS as f64 * (nodes.len() + 1) as f64;
        prop_assert!((0.5..=1.5).contains(&ratio), "moved {ratio:.3}/(N+1)");
    }

    #[test]
    fn maglev_disruption_is_small(nodes in node_sets(), pick in any::<usize>(), new in any::<u64>()) {
        prop_assume!(!nodes.contains(&new));
        let victim = nodes[pick % nodes.len()];
        let mut m = maglev_of(&nodes);
        let before = maglev_placements(&m);

        m.remove(&victim).unwrap();
        let removed = maglev_placements(&m);
        let mut extra = 0;
        for (b, a) in before.iter().zip(&removed) {
            prop_assert_ne!(*a, victim);
            if *b != victim && a != b {
                extra += 1;
            }
        }
        prop_assert!(extra as f64 / KEYS as f64 <= 0.05, "{extra} other keys moved on removal");

        m.add(victim).unwrap();
        prop_assert_eq!(maglev_placements(&m), before.clone(), "re-adding did not restore");

        m.add(new).unwrap();
        let grown = maglev_placements(&m);
        let moved = before.iter().zip(&grown).filter(|(b, a)| a != b).count();
        let ratio = moved as f64 / KEYS as f64 * (nodes.len() + 1) as f64;
        prop_assert!((0.5..=2.0).contains(&ratio), "moved {ratio:.3}/(N+1) on addition");
    }

    #[test]
    fn weights_scale_shares(weights in prop::collection::vec(1u32..=5, 2..=5)) {
        let total: u32 = weights.iter().sum();
        let mut ring = HashRing::new();
        let mut maglev = Maglev::new();
        for (node, &w) in weights.iter().enumerate() {
            ring.add_weighted(node as u64, w).unwrap();
            maglev.add_weighted(node as u64, w).unwrap();
        }
        let size = maglev.table_size() as f64;
        let slots: HashMap<u64, usize> = maglev
            .nodes()
            .map(|(n, _)| *n)
            .zip(maglev.slot_counts())
            .collect();
        let placed = ring_placements(&ring);
        for (node, &w) in weights.iter().enumerate() {
            let want = f64::from(w) / f64::from(total);
            let got = slots[&(node as u64)] as f64 / size;
            prop_assert!((got - want).abs() <= 0.001, "Maglev node {node}: {got:.4} vs {want:.4}");
            let share = placed.iter().filter(|&&p| p == node as u64).count() as f64 / KEYS as f64;
            prop_assert!((share / want - 1.0).abs() <= 0.35, "ring node {node}: {share:.3} vs {want:.3}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bounded loads.

#[derive(Clone, Debug)]
enum BlOp {
    Assign(u16),
    Release(usize),
    AddNode(u8, u32),
    RemoveNode(usize),
}

fn bl_ops() -> impl Strategy<Value = Vec<BlOp>> {
    let op = prop_oneof![
        8 => any::<u16>().prop_map(BlOp::Assign),
        5 => any::<usize>().prop_map(BlOp::Release),
        1 => (any::<u8>(), 1u32..=3).prop_map(|(n, w)| BlOp::AddNode(n, w)),
        1 => any::<usize>().prop_map(BlOp::RemoveNode),
    ];
    prop::collection::vec(op, 0..400)
}

/// `c` as an exact fraction `num/den`, so the bound is computed independently of the crate.
const FACTORS: [(u64, u64); 4] = [(1, 1), (11, 10), (5, 4), (2, 1)];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn bounded_loads_never_exceed_the_bound(
        factor in 0usize..FACTORS.len(),
        weighted in any::<bool>(),
        initial in 1u8..6,
        ops in bl_ops(),
    ) {
        let (num, den) = FACTORS[factor];
        let mut bl: BoundedLoad<u8, u16> =
            BoundedLoad::with_capacity_factor(num as f64 / den as f64).unwrap();
        let mut weights: HashMap<u8, u64> = HashMap::new();
        for node in 0..initial {
            bl.add_node(node).unwrap();
            weights.insert(node, 1);
        }
        // The model: where every assigned key is, kept up to date only from return values.
        let mut model: HashMap<u16, u8> = HashMap::new();
        let mut order: Vec<u16> = Vec::new();
        for op in ops {
            let moves = match op {
                BlOp::Assign(key) => {
                    // A new key goes to its ring node whenever that node has room.
                    let first = *bl.ring().get(&key).unwrap();
                    let m = model.len() as u64 + u64::from(!model.contains_key(&key));
                    let total_weight: u64 = weights.values().sum();
                    let room = (bl.load(&first).unwrap() as u64)
                        < (num * m * weights[&first]).div_ceil(den * total_weight);
                    let node = *bl.assign(key).unwrap();
                    if room && !model.contains_key(&key) {
                        prop_assert_eq!(node, first, "skipped a ring node with room");
                    }
                    if model.insert(key, node).is_none() {
                        order.push(key);
                    }
                    Vec::new()
                }
                BlOp::Release(i) if !order.is_empty() => {
                    let key = order.swap_remove(i % order.len());
                    model.remove(&key);
                    bl.release(&key).unwrap()
                }
                BlOp::Release(_) => {
                    prop_assert!(bl.release(&0).is_err());
                    Vec::new()
                }
                BlOp::AddNode(node, w) => {
                    let w = if weighted { w } else { 1 };
                    match weights.entry(node) {
                        Entry::Occupied(_) => {
                            prop_assert!(bl.add_weighted_node(node, w).is_err());
                            Vec::new()
                        }
                        Entry::Vacant(slot) => {
                            slot.insert(u64::from(w));
                            bl.add_weighted_node(node, w).unwrap()
                        }
                    }
                }
                BlOp::RemoveNode(i) => {
                    let mut present: Vec<u8> = weights.keys().copied().collect();
                    present.sort_unstable();
                    let node = present[i % present.len()];
                    if present.len() == 1 && !model.is_empty() {
                        prop_assert!(bl.remove_node(&node).is_err());
                        Vec::new()
                    } else {
                        weights.remove(&node);
                        let moves = bl.remove_node(&node).unwrap();
                        prop_assert!(moves.iter().all(|m| m.from == node));
                        moves
                    }
                }
            };
            for m in moves {
                prop_assert_eq!(model.get(&m.key), Some(&m.from));
                prop_assert_ne!(m.from, m.to);
                model.insert(m.key, m.to);
            }
            // Every key is where the model (built from return values) says.
            prop_assert_eq!(bl.assigned(), model.len());
            for (key, node) in &model {
                prop_assert_eq!(bl.get(key), Some(node));
            }
            // No node above ⌈c · m · w / W⌉ (⌈c · mean⌉ for equal weights).
            let m = model.len() as u64;
            let total_weight: u64 = weights.values().sum();
            let mut sum = 0;
            for (node, load) in bl.loads() {
                let w = weights[node];
                let bound = (num * m * w).div_ceil(den * total_weight);
                prop_assert!(load as u64 <= bound, "node {node}: {load} > {bound} (m={m})");
                sum += load;
            }
            prop_assert_eq!(sum, model.len());
            if weights.is_empty() {
                break;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Determinism across processes.

/// The placements this suite compares across processes: ring, Maglev and bounded loads over
/// string nodes, and both hashing balancers over a few peers.
fn placements_fingerprint() -> String {
    let gateways: Vec<String> = (0..10).map(|i| format!("gw-{i}.internal:9000")).collect();
    let mut ring = HashRing::new();
    let mut maglev = Maglev::new();
    let mut bounded: BoundedLoad<String, String> = BoundedLoad::new();
    for gw in &gateways {
        ring.add(gw.clone()).unwrap();
        maglev.add(gw.clone()).unwrap();
        bounded.add_node(gw.clone()).unwrap();
    }
    let mut out = String::new();
    for user in 0..200 {
        let key = format!("user:{user}");
        let r = ring.get(&key).unwrap();
        let m = maglev.get(&key).unwrap();
        let b = bounded.assign(key.clone()).unwrap();
        out.push_str(&format!("{key} {r} {m} {b}\n"));
    }
    let sh = SourceHash::new(7).unwrap();
    let ch = ConsistentHash::new(7).unwrap();
    for i in 0..50u16 {
        let conn = ConnInfo::from_peer(SocketAddr::from(([192, 0, 2, i as u8], 40_000 + i)));
        out.push_str(&format!("peer{i} {} {}\n", sh.pick(&conn), ch.pick(&conn)));
    }
    out
}

const CHILD_ENV: &str = "LOOPWIRE_LB_DETERMINISM_CHILD";

/// Runs this very test in a child process, which prints its placements instead of checking
/// them; the parent compares them with its own. Nothing is shared between the two processes
/// but the code, so any per-process randomness in placement would show.
#[test]
fn placements_are_identical_in_another_process() {
    if std::env::var_os(CHILD_ENV).is_some() {
        print!("BEGIN\n{}END\n", placements_fingerprint());
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "placements_are_identical_in_another_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "child failed: {out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let begin = stdout.find("BEGIN\n").expect("child printed placements") + "BEGIN\n".len();
    let end = stdout.find("END\n").expect("child finished placements");
    assert_eq!(&stdout[begin..end], placements_fingerprint());
}

/// Placements computed once with this implementation; a change here changes every deployed
/// mapping.
#[test]
fn placements_match_recorded_values() {
    let fp = placements_fingerprint();
    let lines: Vec<&str> = fp.lines().collect();
    assert_eq!(
        lines[0],
        "user:0 gw-0.internal:9000 gw-3.internal:9000 gw-0.internal:9000"
    );
    assert_eq!(
        lines[1],
        "user:1 gw-5.internal:9000 gw-3.internal:9000 gw-5.internal:9000"
    );
    assert_eq!(lines[200], "peer0 4 2");
}

//! ns per pick for each accept-time balancer, direct and through `AnyBalancer`.
//!
//! No published crate implements these exact accept-time balancers behind a comparable
//! interface, so there is no same-run peer here; see the crate README.

use std::hint::black_box;
use std::net::SocketAddr;

use criterion::{Criterion, criterion_group, criterion_main};
use loopwire_loadbalance::{
    Balancer, ConnInfo, ConsistentHash, LeastConnections, LoadBalance, Random, RoundRobin,
    SourceHash,
};

const TARGETS: usize = 8;

/// 256 distinct IPv4 peers, cycled through so hashing sees varying input.
fn peers() -> Vec<ConnInfo> {
    (0..256u32)
        .map(|i| {
            let addr = SocketAddr::from(([10, 1, (i >> 4) as u8, i as u8], 40_000 + i as u16));
            ConnInfo::from_peer(addr)
        })
        .collect()
}

fn bench_pick<B: Balancer>(c: &mut Criterion, name: &str, balancer: &B, conns: &[ConnInfo]) {
    let mut i = 0usize;
    c.bench_function(name, |b| {
        b.iter(|| {
            i = (i + 1) & (conns.len() - 1);
            black_box(balancer.pick(black_box(&conns[i])))
        })
    });
}

fn balancers(c: &mut Criterion) {
    let conns = peers();
    let unix = [ConnInfo::default()];

    bench_pick(
        c,
        "pick/round_robin",
        &RoundRobin::new(TARGETS).unwrap(),
        &unix,
    );
    bench_pick(
        c,
        "pick/random",
        &Random::with_seed(TARGETS, 1).unwrap(),
        &unix,
    );

    // Least-connections with every target busy, so each pick scans all 8 counters.
    let lc = LeastConnections::new(TARGETS).unwrap();
    for (t, n) in [5, 3, 4, 6, 3, 5, 7, 4].into_iter().enumerate() {
        (0..n).for_each(|_| lc.on_open(t));
    }
    bench_pick(c, "pick/least_conn_8_busy", &lc, &unix);
    let mut i = 0usize;
    c.bench_function("pick/least_conn_8_open_close", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let t = lc.pick(&unix[0]);
            lc.on_open(t);
            lc.on_close(black_box(i) % TARGETS);
            t
        })
    });

    bench_pick(
        c,
        "pick/source_hash",
        &SourceHash::new(TARGETS).unwrap(),
        &conns,
    );
    bench_pick(
        c,
        "pick/consistent_hash",
        &ConsistentHash::new(TARGETS).unwrap(),
        &conns,
    );

    // Static dispatch through the enum the engine holds.
    let any_rr = LoadBalance::RoundRobin.build(TARGETS).unwrap();
    bench_pick(c, "pick/any_round_robin", &any_rr, &unix);
    let any_lc = LoadBalance::LeastConnections.build(TARGETS).unwrap();
    for (t, n) in [5, 3, 4, 6, 3, 5, 7, 4].into_iter().enumerate() {
        (0..n).for_each(|_| any_lc.on_open(t));
    }
    bench_pick(c, "pick/any_least_conn_8_busy", &any_lc, &unix);
}

criterion_group!(benches, balancers);
criterion_main!(benches);

//! loom model of the least-connections balancer's counters
//! (`loopwire_loadbalance::LeastConnections`, the real code: under `--cfg loom` its counters are
//! loom's atomics, see `loadbalance/src/sync.rs`). The acceptor picks and opens, every loop
//! closes, so the counters are updated from several threads at once.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p loopwire-verify
//! --release --test loom_least_conn`. Without `--cfg loom` this file is empty.

#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use loopwire_loadbalance::{Balancer, ConnInfo, LeastConnections};

fn counts(lc: &LeastConnections) -> Vec<usize> {
    (0..lc.targets())
        .map(|t| lc.connections(t).expect("target in range"))
        .collect()
}

/// Opens and closes racing on the same target (a thread opening and closing one connection,
/// another closing an older one and opening elsewhere) lose no count and never wrap: every value
/// an observer reads is one the counter can really hold, and the totals come out exact.
#[test]
fn racing_opens_and_closes_lose_no_count() {
    loom::model(|| {
        let lc = Arc::new(LeastConnections::new(2).unwrap());
        lc.on_open(0); // an older connection on target 0

        let a = {
            let lc = Arc::clone(&lc);
            thread::spawn(move || {
                lc.on_open(0);
                lc.on_close(0);
            })
        };
        let b = {
            let lc = Arc::clone(&lc);
            thread::spawn(move || {
                lc.on_close(0); // the older connection
                lc.on_open(1);
            })
        };
        let seen = counts(&lc);
        assert!(seen[0] <= 2 && seen[1] <= 1, "impossible counts {seen:?}");
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(counts(&lc), [0, 1], "a count was lost");
    });
}

/// Two closes racing on a target with one open connection (one of them a close without an
/// open, which must saturate at 0): the count never wraps below zero, ends at 0, and the next
/// open counts.
#[test]
fn racing_closes_saturate_at_zero() {
    loom::model(|| {
        let lc = Arc::new(LeastConnections::new(2).unwrap());
        lc.on_open(1);
        let closers: Vec<_> = (0..2)
            .map(|_| {
                let lc = Arc::clone(&lc);
                thread::spawn(move || {
                    lc.on_close(1);
                    let c = lc.connections(1).unwrap();
                    assert!(c <= 1, "count wrapped to {c}");
                })
            })
            .collect();
        for c in closers {
            c.join().unwrap();
        }
        assert_eq!(lc.connections(1), Some(0));
        lc.on_open(1);
        assert_eq!(lc.connections(1), Some(1));
    });
}

/// A pick racing opens and closes returns a target that was least loaded at some moment of the
/// pick: no other target's count stayed strictly below the picked one's for the whole pick.
///
/// The picking thread reads every counter just before and just after `pick`. Read-read coherence
/// puts the value `pick` read between the two, and each counter only moves one way here (target
/// 0 falls 2 → 0, target 1 rises 1 → 2, target 2 stays at 1), so the counter of target `t` held
/// values in `lo[t]..=hi[t]` during the pick, and `pick` saw one of them.
#[test]
fn pick_returns_a_target_least_loaded_during_the_pick() {
    loom::model(|| {
        let lc = Arc::new(LeastConnections::new(3).unwrap());
        for t in [0, 0, 1, 2] {
            lc.on_open(t);
        }
        let closer = {
            let lc = Arc::clone(&lc);
            thread::spawn(move || {
                lc.on_close(0);
                lc.on_close(0);
            })
        };
        let opener = {
            let lc = Arc::clone(&lc);
            thread::spawn(move || lc.on_open(1))
        };

        let before = counts(&lc);
        let picked = lc.pick(&ConnInfo::default());
        let after = counts(&lc);
        let lo = |t: usize| before[t].min(after[t]);
        let hi = |t: usize| before[t].max(after[t]);
        for t in 0..3 {
            assert!(
                lo(picked) <= hi(t),
                "picked {picked} (counts {before:?} → {after:?}) although {t} stayed below it"
            );
        }

        closer.join().unwrap();
        opener.join().unwrap();
        assert_eq!(counts(&lc), [0, 2, 1]);
    });
}

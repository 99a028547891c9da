//! loom model of the event loop's task queue and its coalescing wake
//! (`loopwire::loom_api::TaskQueue`, the engine's real code compiled against loom's atomics and
//! mutex).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p loopwire-verify
//! --release --test loom_queue`. Without `--cfg loom` this file is empty.

#![cfg(loom)]

mod loom_support;

use loom_support::Waker;

use loom::sync::Arc;
use loom::thread;
use loopwire::loom_api::TaskQueue;

/// Every task pushed by two producers is run exactly once, in per-producer order, and the
/// consumer never sleeps through a pending task: a lost wake-up would leave it blocked in
/// `wait` forever, which loom reports as a deadlock.
#[test]
fn no_lost_wakeup_exactly_once_in_order() {
    loom::model(|| {
        const PER_PRODUCER: usize = 2;
        let waker = Waker::default();
        let q = Arc::new(TaskQueue::new(waker.clone()));
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let q = Arc::clone(&q);
                thread::spawn(move || {
                    for i in 0..PER_PRODUCER {
                        q.push((p, i)).unwrap();
                    }
                })
            })
            .collect();

        let mut next = [0usize; 2];
        let mut batch = Vec::new();
        let mut seen = 0;
        loop {
            q.drain_into(&mut batch);
            for (p, i) in batch.drain(..) {
                assert_eq!(i, next[p], "producer {p}'s tasks out of order or repeated");
                next[p] += 1;
                seen += 1;
            }
            if seen == 2 * PER_PRODUCER {
                break;
            }
            waker.0.wait();
        }
        for p in producers {
            p.join().unwrap();
        }
        assert_eq!(next, [PER_PRODUCER; 2]);
    });
}

/// Pushes between two drains cost one wake in all: the flag coalesces them.
#[test]
fn pushes_between_drains_cost_one_wake() {
    loom::model(|| {
        let waker = Waker::default();
        let q = Arc::new(TaskQueue::new(waker.clone()));
        let q2 = Arc::clone(&q);
        let t = thread::spawn(move || {
            q2.push(1).unwrap();
            q2.push(2).unwrap();
        });
        q.push(3).unwrap();
        t.join().unwrap();
        assert_eq!(waker.0.writes(), 1);
        assert!(q.is_notified());
        let mut batch = Vec::new();
        q.drain_into(&mut batch);
        batch.sort_unstable();
        assert_eq!(batch, [1, 2, 3]);
        assert!(!q.is_notified());
    });
}

/// A queue closed while a producer pushes: each task is either run before the close, handed
/// back by `close`, or refused to the producer; never lost, never both.
#[test]
fn close_races_push_without_losing_a_task() {
    loom::model(|| {
        let q = Arc::new(TaskQueue::new(Waker::default()));
        let q2 = Arc::clone(&q);
        let t = thread::spawn(move || match q2.push(7) {
            Ok(()) => 1,
            Err(7) => 0,
            Err(other) => panic!("got back {other}"),
        });
        let mut batch = Vec::new();
        q.drain_into(&mut batch);
        let leftover = q.close();
        let accepted = t.join().unwrap();
        assert_eq!(batch.len() + leftover.len(), accepted);
    });
}

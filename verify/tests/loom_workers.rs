//! loom model of the worker pool's job queue (`loopwire::loom_api::JobQueue`, the engine's
//! real code compiled against loom's mutex and condition variable).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p loopwire-verify
//! --release --test loom_workers`. Without `--cfg loom` this file is empty.

#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use loopwire::loom_api::{JobQueue, Refused};

/// Two producers race one worker on a queue of one slot, then the queue closes: every job a
/// producer got `Ok` for runs exactly once, every refused job comes back as `Full` (never
/// lost, never run), and the worker ends. A lost wake-up (a push or the close that does not
/// reach a waiting worker) leaves the worker blocked forever, which loom reports as a
/// deadlock.
#[test]
fn accepted_jobs_run_once_refused_come_back_worker_ends() {
    loom::model(|| {
        let q = Arc::new(JobQueue::new(1));
        let worker = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let mut ran = Vec::new();
                while let Some(job) = q.pop() {
                    ran.push(job);
                }
                ran
            })
        };
        let producers: Vec<_> = (0..2)
            .map(|p| {
                let q = Arc::clone(&q);
                thread::spawn(move || match q.push(p) {
                    Ok(()) => Some(p),
                    Err(refused) => {
                        assert_eq!(refused, Refused::Full(p), "open queue: only full");
                        None
                    }
                })
            })
            .collect();
        let mut accepted: Vec<_> = producers
            .into_iter()
            .filter_map(|p| p.join().unwrap())
            .collect();
        q.close();
        let mut ran = worker.join().unwrap();
        accepted.sort_unstable();
        ran.sort_unstable();
        assert_eq!(ran, accepted);
        assert!(!accepted.is_empty(), "the first push always finds room");
    });
}

/// `close_now` racing a worker and a producer: each job is run by the worker or handed back
/// by `close_now` or refused to the producer, exactly one of the three, and the worker ends.
#[test]
fn close_now_hands_back_exactly_what_did_not_run() {
    loom::model(|| {
        let q = Arc::new(JobQueue::new(2));
        q.push(0).unwrap();
        let worker = {
            let q = Arc::clone(&q);
            thread::spawn(move || {
                let mut ran = Vec::new();
                while let Some(job) = q.pop() {
                    ran.push(job);
                }
                ran
            })
        };
        let producer = {
            let q = Arc::clone(&q);
            thread::spawn(move || match q.push(1) {
                Ok(()) => None,
                Err(refused) => {
                    assert_eq!(refused, Refused::Closed(1), "room for two: only closed");
                    Some(1)
                }
            })
        };
        let handed_back = q.close_now();
        let refused = producer.join().unwrap();
        let ran = worker.join().unwrap();
        let mut all: Vec<_> = ran
            .iter()
            .chain(&handed_back)
            .chain(refused.iter())
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(
            all,
            vec![0, 1],
            "ran {ran:?}, back {handed_back:?}, refused {refused:?}"
        );
    });
}

/// A worker waiting on an empty queue wakes for a push, with no close to rescue it.
#[test]
fn a_push_wakes_a_waiting_worker() {
    loom::model(|| {
        let q = Arc::new(JobQueue::new(1));
        let worker = {
            let q = Arc::clone(&q);
            thread::spawn(move || q.pop())
        };
        q.push(7).unwrap();
        assert_eq!(worker.join().unwrap(), Some(7));
    });
}

//! The engine's stop bookkeeping, shared by all of its threads: the `stopping` flag, the number
//! of engine threads still running, and the wait for the last of them.
//!
//! [`EngineHandle`](crate::EngineHandle) is its only user (`stop`, `wait`, `is_stopping`, and
//! the crate-internal `signal_stop` and `thread_exited` the loops and the acceptor call); it is
//! a type of its own so that the loom model `loom_shutdown` in `loopwire-verify` runs this code
//! rather than a copy.

// `pub` (not `pub(crate)`) so the loom models can reach it through `loom_api`.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use crate::shared::queue::{Notify, TaskQueue};
use crate::shared::sync::{AtomicBool, Condvar, Mutex, Ordering, lock};

/// Whether an engine is stopping, and who is still running.
#[derive(Debug)]
pub struct StopState {
    stopping: AtomicBool,
    run: Mutex<RunState>,
    done: Condvar,
}

#[derive(Debug)]
struct RunState {
    live_threads: usize,
    finished: bool,
}

impl StopState {
    /// Not stopping, with `threads` engine threads (loops and acceptor) to wait for.
    pub fn new(threads: usize) -> Self {
        Self {
            stopping: AtomicBool::new(false),
            run: Mutex::new(RunState {
                live_threads: threads,
                finished: false,
            }),
            done: Condvar::new(),
        }
    }

    /// Whether [`signal`](Self::signal) has been called.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Raises the stopping flag; the first call (only) then queues `stop()` on every loop's
    /// queue (a closed queue, whose loop has exited, refuses it) and wakes the acceptor, which
    /// checks the flag after every wake. Returns whether this call raised the flag.
    pub fn signal<'q, T: 'q, W: Notify + 'q>(
        &self,
        queues: impl IntoIterator<Item = &'q TaskQueue<T, W>>,
        stop: impl Fn() -> T,
        acceptor: Option<&impl Notify>,
    ) -> bool {
        if self.stopping.swap(true, Ordering::AcqRel) {
            return false;
        }
        for q in queues {
            let _ = q.push(stop());
        }
        if let Some(w) = acceptor {
            w.notify();
        }
        true
    }

    /// An engine thread is exiting. The last one runs `on_last` (the handler's `on_shutdown`),
    /// then wakes the threads blocked in [`wait`](Self::wait).
    pub fn thread_exited(&self, on_last: impl FnOnce()) {
        let last = {
            let mut run = lock(&self.run);
            run.live_threads -= 1;
            run.live_threads == 0
        };
        if last {
            on_last();
            lock(&self.run).finished = true;
            self.done.notify_all();
        }
    }

    /// `count` of the engine threads never started, so will never report their exit.
    pub fn never_started(&self, count: usize) {
        let mut run = lock(&self.run);
        run.live_threads -= count;
        if run.live_threads == 0 {
            run.finished = true;
        }
    }

    /// Blocks until the last engine thread has exited (and `on_shutdown` has returned).
    pub fn wait(&self) {
        let mut run = lock(&self.run);
        while !run.finished {
            run = match self.done.wait(run) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::shared::queue::Count;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn only_the_first_signal_queues_stop_and_wakes_the_acceptor() {
        let q = TaskQueue::new(Count::default());
        let acceptor = Count::default();
        let s = StopState::new(1);
        assert!(!s.is_stopping());
        assert!(s.signal([&q], || 1, Some(&acceptor)));
        assert!(!s.signal([&q], || 2, Some(&acceptor)));
        assert!(s.is_stopping());
        let mut batch = Vec::new();
        q.drain_into(&mut batch);
        assert_eq!(batch, [1]);
        assert_eq!(acceptor.0.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_last_thread_out_runs_on_last_once_then_releases_wait() {
        let s = StopState::new(3);
        s.never_started(1);
        let ran = AtomicUsize::new(0);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    s.thread_exited(|| {
                        ran.fetch_add(1, Ordering::SeqCst);
                    });
                });
            }
            s.wait();
            assert_eq!(ran.load(Ordering::SeqCst), 1);
        });
    }

    #[test]
    fn no_thread_started_means_finished() {
        let s = StopState::new(2);
        s.never_started(2);
        s.wait();
    }
}

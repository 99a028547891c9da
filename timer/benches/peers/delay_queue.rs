//! `tokio_util::time::DelayQueue`, the published wheel of the tokio ecosystem.
//!
//! `DelayQueue` keeps a tokio `Sleep` for its next deadline, so it only works inside a tokio
//! runtime with time enabled. The benchmark builds one current-thread runtime with a paused
//! clock ([`runtime`]) and keeps it entered for the whole run, so insert, remove and reset run
//! as plain method calls. Expiry runs inside `block_on`: `tokio::time::advance` moves the
//! paused clock (and lets the runtime's timer driver fire the queue's `Sleep`), then
//! `poll_expired` is polled until it has nothing more, outside tokio's cooperative budget
//! (`tokio::task::unconstrained`) so that one wake-up can drain more than 128 timers. That is
//! the work a tokio task would do; the runtime's own per-wake-up cost is included, as it is in
//! real use.

use std::future::poll_fn;
use std::hint::black_box;
use std::sync::OnceLock;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

use super::Timers;

/// The process-wide paused runtime.
pub(crate) fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a current-thread runtime")
    })
}

/// A `DelayQueue` plus the mapping from the benchmark's `Instant`s to tokio's paused clock.
pub(crate) struct DelayQueueTimers {
    queue: DelayQueue<u64>,
    start: Instant,
    /// The tokio instant corresponding to `start`.
    base: tokio::time::Instant,
}

impl DelayQueueTimers {
    fn to_tokio(&self, t: Instant) -> tokio::time::Instant {
        self.base + t.saturating_duration_since(self.start)
    }

    /// Moves the paused clock to `now` and drains everything due.
    async fn drain_to(&mut self, now: tokio::time::Instant) -> usize {
        let current = tokio::time::Instant::now();
        if now > current {
            tokio::time::advance(now - current).await;
        }
        // `unconstrained`: tokio's cooperative budget would otherwise turn `poll_expired` into
        // `Pending` after 128 timers per poll; a task would be woken again, here we just go on.
        tokio::task::unconstrained(poll_fn(|cx| {
            let mut fired = 0;
            loop {
                match self.queue.poll_expired(cx) {
                    Poll::Ready(Some(expired)) => {
                        black_box(expired.into_inner());
                        fired += 1;
                    }
                    Poll::Ready(None) | Poll::Pending => return Poll::Ready(fired),
                }
            }
        }))
        .await
    }
}

impl Timers for DelayQueueTimers {
    type Key = Key;
    const NAME: &'static str = "delay_queue";

    fn new(start: Instant, capacity: usize) -> Self {
        Self {
            queue: DelayQueue::with_capacity(capacity),
            start,
            base: tokio::time::Instant::now(),
        }
    }

    fn insert(&mut self, deadline: Instant, value: u64) -> Key {
        let at = self.to_tokio(deadline);
        self.queue.insert_at(value, at)
    }

    fn cancel(&mut self, key: Key) -> Option<u64> {
        self.queue
            .try_remove(&key)
            .map(|expired| expired.into_inner())
    }

    fn reset(&mut self, key: &mut Key, deadline: Instant) {
        let at = self.to_tokio(deadline);
        self.queue.reset_at(key, at);
    }

    fn clear(&mut self) {
        self.queue.clear();
    }

    fn advance(&mut self, now: Instant) -> usize {
        let now = self.to_tokio(now);
        runtime().block_on(self.drain_to(now))
    }

    fn advance_steps(&mut self, from: Instant, steps: u32, step: Duration) -> usize {
        let from = self.to_tokio(from);
        runtime().block_on(async {
            let mut fired = 0;
            for i in 1..=steps {
                fired += self.drain_to(from + step * i).await;
            }
            fired
        })
    }
}

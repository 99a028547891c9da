//! The timer structures the benchmark compares, behind one small trait.
//!
//! - [`TimerWheel`]: this crate.
//! - [`heap::Heap`]: `std::collections::BinaryHeap` with lazy cancellation.
//! - [`btree::BTree`]: a `BTreeMap` keyed by (deadline, sequence number).
//! - [`delay_queue::DelayQueueTimers`]: `tokio_util::time::DelayQueue`, driven on a
//!   current-thread tokio runtime with a paused clock.
//!
//! The heap and the B-tree keep deadlines as exact nanoseconds since `start`; the wheel and
//! `DelayQueue` round to 1 ms ticks.

pub(crate) mod btree;
pub(crate) mod delay_queue;
pub(crate) mod heap;

use std::hint::black_box;
use std::time::{Duration, Instant};

use loopwire_timer::{TimerKey, TimerWheel};

/// What every benchmarked timer structure offers.
pub(crate) trait Timers: Sized {
    /// Names one timer; `reset` may change it.
    type Key: Copy;
    /// The name in benchmark ids.
    const NAME: &'static str;

    /// An empty structure counting from `start`, with room for `capacity` timers.
    fn new(start: Instant, capacity: usize) -> Self;
    fn insert(&mut self, deadline: Instant, value: u64) -> Self::Key;
    fn cancel(&mut self, key: Self::Key) -> Option<u64>;
    fn reset(&mut self, key: &mut Self::Key, deadline: Instant);
    /// Drops every timer, keeping storage where the structure can.
    fn clear(&mut self);
    /// Handles every timer due at `now`; returns how many.
    fn advance(&mut self, now: Instant) -> usize;

    /// Advances in `steps` steps of `step` after `from`, as an event loop waking every `step`
    /// would; returns how many timers expired.
    fn advance_steps(&mut self, from: Instant, steps: u32, step: Duration) -> usize {
        (1..=steps).map(|i| self.advance(from + step * i)).sum()
    }
}

/// Nanoseconds from `start` to `t` (0 if before), for the structures keyed by `u64`.
pub(crate) fn nanos_since(start: Instant, t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(start).as_nanos()).unwrap_or(u64::MAX)
}

impl Timers for TimerWheel<u64> {
    type Key = TimerKey;
    const NAME: &'static str = "wheel";

    fn new(start: Instant, capacity: usize) -> Self {
        TimerWheel::with_capacity(start, capacity)
    }

    fn insert(&mut self, deadline: Instant, value: u64) -> TimerKey {
        TimerWheel::insert(self, deadline, value)
    }

    fn cancel(&mut self, key: TimerKey) -> Option<u64> {
        TimerWheel::cancel(self, key)
    }

    fn reset(&mut self, key: &mut TimerKey, deadline: Instant) {
        TimerWheel::reset(self, *key, deadline);
    }

    fn clear(&mut self) {
        TimerWheel::clear(self);
    }

    fn advance(&mut self, now: Instant) -> usize {
        self.advance_with(now, |key, value| {
            black_box((key, value));
        })
    }
}

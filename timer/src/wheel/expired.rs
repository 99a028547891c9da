//! [`Expired`]: the iterator returned by [`TimerWheel::advance_to`] and [`TimerWheel::advance`].

use std::fmt;
use std::iter::FusedIterator;

use super::TimerWheel;
use crate::key::TimerKey;

/// Yields the timers that expired by the tick given to [`TimerWheel::advance_to`] (or the
/// `now` given to [`TimerWheel::advance`]), as `(key, value)` pairs.
///
/// The wheel does its work lazily as the iterator is consumed and allocates nothing. Dropping
/// the iterator early leaves the remaining due timers in the wheel, where the next `advance`
/// yields them first.
///
/// The iterator borrows the wheel mutably; to insert timers while handling expired ones (for
/// example to re-arm a heartbeat), take one at a time:
///
/// ```
/// use loopwire_timer::TimerWheel;
///
/// let mut wheel = TimerWheel::new_ticks();
/// wheel.insert_at(5, 3_u32);
///
/// let now = 5;
/// let mut fired = 0;
/// loop {
///     let Some((_, rounds_left)) = wheel.advance_to(now).next() else { break };
///     fired += 1;
///     if rounds_left > 0 {
///         wheel.insert_at(now + 5, rounds_left - 1);
///     }
/// }
/// assert_eq!((fired, wheel.len()), (1, 1));
/// ```
#[must_use = "timers only expire as the iterator is consumed"]
pub struct Expired<'a, T> {
    wheel: &'a mut TimerWheel<T>,
    /// The tick to advance to.
    now: u64,
}

impl<'a, T> Expired<'a, T> {
    pub(crate) fn new(wheel: &'a mut TimerWheel<T>, now: u64) -> Self {
        Self { wheel, now }
    }
}

impl<T> Iterator for Expired<'_, T> {
    type Item = (TimerKey, T);

    fn next(&mut self) -> Option<Self::Item> {
        self.wheel.pop_expired(self.now)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.wheel.len()))
    }
}

/// Once `next` returns `None` the wheel stands at `now` with nothing due, and stays so.
impl<T> FusedIterator for Expired<'_, T> {}

impl<T> fmt::Debug for Expired<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Expired")
            .field("now_tick", &self.now)
            .field("wheel", &self.wheel)
            .finish()
    }
}

//! Errors returned by the timer wheel.
//!
//! Configuration mistakes ([`TimerError`]) and a full wheel ([`InsertError`], which hands the
//! value back) are the only failures; everything else the wheel accepts (deadlines in the past,
//! deadlines centuries away, clocks that jump) is handled without an error.

use std::fmt;
use std::time::Duration;

/// A timer wheel could not be built with the requested configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimerError {
    /// The tick passed to [`TimerWheel::with_tick`](crate::TimerWheel::with_tick) was zero.
    ///
    /// A zero tick would make every deadline a division by zero; pick the coarsest tick the
    /// application can tolerate (1 ms is the default).
    #[error("timer tick must be longer than zero")]
    ZeroTick,
    /// The tick is longer than `u64::MAX` nanoseconds (about 584 years).
    ///
    /// Ticks are kept as a `u64` count of nanoseconds; such a tick is almost certainly a unit
    /// mistake (for example seconds passed where milliseconds were meant).
    #[error("timer tick {0:?} is longer than u64::MAX nanoseconds")]
    TickTooLong(Duration),
}

/// The wheel already holds [`MAX_TIMERS`](crate::MAX_TIMERS) timers; the value is handed back.
///
/// Returned by [`TimerWheel::try_insert`](crate::TimerWheel::try_insert). Slab indices are
/// stored as `u32` to keep an entry's overhead at 24 bytes, which bounds the number of pending
/// timers (about 4.29 billion, far beyond what fits in memory at 24 bytes each on most machines).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "timer wheel is full: at most {} timers can be pending",
    crate::MAX_TIMERS
)]
pub struct InsertError<T> {
    value: T,
}

impl<T> InsertError<T> {
    pub(crate) fn new(value: T) -> Self {
        Self { value }
    }

    /// Returns the value that could not be inserted.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> fmt::Debug for InsertError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InsertError").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_problem() {
        assert_eq!(
            TimerError::ZeroTick.to_string(),
            "timer tick must be longer than zero"
        );
        let long = TimerError::TickTooLong(Duration::MAX).to_string();
        assert!(long.contains("u64::MAX nanoseconds"), "{long}");
        let full = InsertError::new(7_u8);
        assert!(full.to_string().contains("4294967295"), "{full}");
        assert_eq!(full.into_inner(), 7);
    }
}

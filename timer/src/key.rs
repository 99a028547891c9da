//! [`TimerKey`]: the generational handle returned by an insert.

use std::num::NonZeroU64;

/// Names one pending timer of one [`TimerWheel`](crate::TimerWheel).
///
/// A key is a slab index plus the generation the wheel gave the timer when it was inserted.
/// Generations come from a 64-bit counter that never repeats, so once a timer has fired or
/// been cancelled its key is *stale* forever: even after the slab slot is reused, a stale key
/// matches nothing, and [`cancel`](crate::TimerWheel::cancel),
/// [`reset_at`](crate::TimerWheel::reset_at), [`reset`](crate::TimerWheel::reset) and
/// [`get`](crate::TimerWheel::get) do nothing with it.
///
/// Keys are only meaningful to the wheel that made them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimerKey {
    pub(crate) index: u32,
    pub(crate) generation: NonZeroU64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_by_index_and_generation() {
        let a = TimerKey {
            index: 1,
            generation: NonZeroU64::MIN,
        };
        let b = TimerKey {
            index: 1,
            generation: NonZeroU64::MIN.saturating_add(1),
        };
        assert_ne!(a, b);
        assert!(a < b);
        assert_eq!(size_of::<TimerKey>(), 16);
        assert_eq!(size_of::<Option<TimerKey>>(), 16);
    }
}

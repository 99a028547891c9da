//! Conversion between `Instant`s and the wheel's tick counts.
//!
//! The wheel counts time in ticks since its `start`. A deadline is rounded **up** to a tick
//! (so it never fires early) and the present is rounded **down** (so a tick is only reached
//! once it has fully begun). Both saturate instead of overflowing:
//!
//! - a deadline before `start` is tick 0, which is always due;
//! - a deadline more than `u64::MAX` ticks after `start` becomes [`NEVER`];
//! - the present is capped at `NEVER - 1`, so a timer at [`NEVER`] is kept but never fires.
//!
//! With the default 1 ms tick, `NEVER` is about 585 million years after `start`; with a 1 ns
//! tick it is about 584 years.

use std::time::{Duration, Instant};

use crate::error::TimerError;

/// The tick of a deadline too far away to be counted; such a timer never fires.
pub(crate) const NEVER: u64 = u64::MAX;

/// The latest tick the wheel's clock can reach (one before [`NEVER`]).
const LAST_TICK: u64 = NEVER - 1;

const NANOS_PER_SEC: u64 = 1_000_000_000;
const NANOS_PER_MILLI: u64 = 1_000_000;

/// The wheel's time base: its start and the length of one tick.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    tick: Duration,
    /// `tick` in nanoseconds; never zero.
    tick_nanos: u64,
}

impl Clock {
    /// A clock starting at `start` whose ticks last `tick`.
    pub(crate) fn new(start: Instant, tick: Duration) -> Result<Self, TimerError> {
        let tick_nanos =
            u64::try_from(tick.as_nanos()).map_err(|_| TimerError::TickTooLong(tick))?;
        if tick_nanos == 0 {
            return Err(TimerError::ZeroTick);
        }
        Ok(Self {
            start,
            tick,
            tick_nanos,
        })
    }

    /// A clock with a 1 ms tick.
    pub(crate) fn with_millisecond_tick(start: Instant) -> Self {
        Self {
            start,
            tick: Duration::from_millis(1),
            tick_nanos: NANOS_PER_MILLI,
        }
    }

    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    pub(crate) fn tick(&self) -> Duration {
        self.tick
    }

    /// The first tick at or after `deadline` (rounded up), saturating at [`NEVER`].
    #[inline]
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        match deadline.checked_duration_since(self.start) {
            None => 0,
            Some(offset) => self.ticks(offset, Round::Up),
        }
    }

    /// The last tick that has begun at `now` (rounded down), capped at `NEVER - 1`.
    #[inline]
    pub(crate) fn now_tick(&self, now: Instant) -> u64 {
        match now.checked_duration_since(self.start) {
            None => 0,
            Some(offset) => self.ticks(offset, Round::Down).min(LAST_TICK),
        }
    }

    /// The instant at which `tick` begins, or `None` if `Instant` cannot represent it.
    pub(crate) fn instant_of(&self, tick: u64) -> Option<Instant> {
        let nanos = u128::from(tick) * u128::from(self.tick_nanos);
        let secs = u64::try_from(nanos / u128::from(NANOS_PER_SEC)).ok()?;
        // The remainder is below one billion, so it fits a `u32`.
        let subsec = (nanos % u128::from(NANOS_PER_SEC)) as u32;
        self.start.checked_add(Duration::new(secs, subsec))
    }

    /// `offset` in ticks, saturating at [`NEVER`].
    #[inline]
    fn ticks(&self, offset: Duration, round: Round) -> u64 {
        if self.tick_nanos == NANOS_PER_MILLI {
            // The default tick: whole seconds are whole milliseconds, so only the sub-second
            // part is divided, in `u32` by a constant (a multiplication).
            let sub = offset.subsec_nanos();
            let sub_ms = match round {
                Round::Up => sub.div_ceil(NANOS_PER_MILLI as u32),
                Round::Down => sub / NANOS_PER_MILLI as u32,
            };
            return offset
                .as_secs()
                .checked_mul(1_000)
                .and_then(|ms| ms.checked_add(u64::from(sub_ms)))
                .unwrap_or(NEVER);
        }
        let nanos = u128::from(offset.as_secs()) * u128::from(NANOS_PER_SEC)
            + u128::from(offset.subsec_nanos());
        let tick = u128::from(self.tick_nanos);
        let ticks = match (u64::try_from(nanos), round) {
            // Offsets under 584 years fit a u64, whose division is much cheaper.
            (Ok(n), Round::Up) => u128::from(n.div_ceil(self.tick_nanos)),
            (Ok(n), Round::Down) => u128::from(n / self.tick_nanos),
            (Err(_), Round::Up) => nanos.div_ceil(tick),
            (Err(_), Round::Down) => nanos / tick,
        };
        u64::try_from(ticks).unwrap_or(NEVER)
    }
}

/// Which way a time between two ticks is rounded.
#[derive(Debug, Clone, Copy)]
enum Round {
    /// Deadlines: a timer must not fire early.
    Up,
    /// The present: a tick counts only once it has begun.
    Down,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(tick: Duration) -> (Instant, Clock) {
        let start = Instant::now();
        (start, Clock::new(start, tick).expect("valid tick"))
    }

    #[test]
    fn rejects_zero_and_overlong_ticks() {
        let start = Instant::now();
        assert_eq!(
            Clock::new(start, Duration::ZERO).unwrap_err(),
            TimerError::ZeroTick
        );
        assert_eq!(
            Clock::new(start, Duration::MAX).unwrap_err(),
            TimerError::TickTooLong(Duration::MAX)
        );
        assert!(Clock::new(start, Duration::from_nanos(u64::MAX)).is_ok());
        assert!(Clock::new(start, Duration::from_nanos(1)).is_ok());
    }

    #[test]
    fn deadlines_round_up_and_now_rounds_down() {
        let (start, c) = clock(Duration::from_millis(1));
        let at = |us: u64| start + Duration::from_micros(us);
        assert_eq!(c.deadline_tick(at(0)), 0);
        assert_eq!(c.deadline_tick(at(1)), 1);
        assert_eq!(c.deadline_tick(at(1000)), 1);
        assert_eq!(c.deadline_tick(at(1001)), 2);
        assert_eq!(c.now_tick(at(999)), 0);
        assert_eq!(c.now_tick(at(1000)), 1);
        assert_eq!(c.now_tick(at(1999)), 1);
    }

    #[test]
    fn odd_tick_lengths_round_the_same_way() {
        let (start, c) = clock(Duration::from_nanos(3));
        let at = |ns: u64| start + Duration::from_nanos(ns);
        assert_eq!(c.deadline_tick(at(7)), 3);
        assert_eq!(c.now_tick(at(7)), 2);
        assert_eq!(c.deadline_tick(at(9)), 3);
        assert_eq!(c.now_tick(at(9)), 3);
    }

    #[test]
    fn the_past_is_tick_zero() {
        let (start, c) = clock(Duration::from_millis(1));
        if let Some(before) = start.checked_sub(Duration::from_secs(5)) {
            assert_eq!(c.deadline_tick(before), 0);
            assert_eq!(c.now_tick(before), 0);
        }
    }

    #[test]
    fn far_future_saturates_without_panicking() {
        let (start, c) = clock(Duration::from_nanos(1));
        // 2^40 seconds is about 34,800 years: more than u64::MAX nanoseconds.
        if let Some(far) = start.checked_add(Duration::from_secs(1 << 40)) {
            assert_eq!(c.deadline_tick(far), NEVER);
            assert_eq!(c.now_tick(far), NEVER - 1);
        }
        // Just inside the u64 nanosecond range, the fast path still applies.
        let near_limit = Duration::from_nanos(u64::MAX - 1);
        if let Some(t) = start.checked_add(near_limit) {
            assert_eq!(c.deadline_tick(t), u64::MAX - 1);
        }
    }

    #[test]
    fn millisecond_ticks_saturate_too() {
        let (start, c) = clock(Duration::from_millis(1));
        // 2^62 seconds is more than u64::MAX milliseconds.
        if let Some(far) = start.checked_add(Duration::from_secs(1 << 62)) {
            assert_eq!(c.deadline_tick(far), NEVER);
            assert_eq!(c.now_tick(far), NEVER - 1);
        }
        let t = start + Duration::new(3, 999_999_999);
        assert_eq!((c.deadline_tick(t), c.now_tick(t)), (4_000, 3_999));
    }

    #[test]
    fn instant_of_inverts_rounding_and_reports_overflow() {
        let (start, c) = clock(Duration::from_micros(1500));
        assert_eq!(c.instant_of(0), Some(start));
        assert_eq!(c.instant_of(4), Some(start + Duration::from_millis(6)));
        let deadline = start + Duration::from_micros(4100);
        let tick = c.deadline_tick(deadline);
        let fires_at = c.instant_of(tick).expect("representable");
        assert!(fires_at >= deadline && fires_at - deadline < c.tick());

        let (_, huge) = clock(Duration::from_nanos(u64::MAX));
        // u64::MAX ticks of u64::MAX ns: about 1.08e20 years, beyond any `Instant`.
        assert_eq!(huge.instant_of(NEVER), None);
    }

    #[test]
    fn default_clock_matches_an_explicit_millisecond() {
        let start = Instant::now();
        let a = Clock::with_millisecond_tick(start);
        let b = Clock::new(start, Duration::from_millis(1)).expect("valid");
        let t = start + Duration::from_micros(123_456);
        assert_eq!(a.deadline_tick(t), b.deadline_tick(t));
        assert_eq!(a.now_tick(t), b.now_tick(t));
        assert_eq!(a.tick(), b.tick());
        assert_eq!(a.start(), start);
    }
}

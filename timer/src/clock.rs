//! Conversion between `Instant`s and the wheel's tick counts.
//!
//! The wheel itself counts time in `u64` ticks; only the `Instant` methods of
//! [`TimerWheel`](crate::TimerWheel) come through here. A [`Clock`] is a start instant and a
//! tick length, as in tokio's `runtime/time/source.rs`: an instant is turned into an offset
//! from `start` with `Instant::checked_duration_since`, and that `Duration` into ticks with
//! integer arithmetic on its public seconds and nanoseconds. Nothing reads a std type's
//! private representation.
//!
//! A deadline is rounded **up** to a tick (so it never fires early) and the present is
//! rounded **down** (so a tick is only reached once it has fully begun). Both saturate instead
//! of overflowing:
//!
//! - an instant before `start` is tick 0 (a deadline there is always due; the present there
//!   has reached nothing the wheel has not);
//! - a deadline more than `u64::MAX` ticks after `start` becomes [`NEVER`];
//! - the present is capped at [`LAST_TICK`], so a timer at [`NEVER`] is kept but never fires.
//!
//! With the default 1 ms tick, `NEVER` is about 585 million years after `start`; with a 1 ns
//! tick it is about 584 years.
//!
//! # Cost
//!
//! `checked_duration_since` is not inlined across crates: each conversion is a call into std
//! (a `timespec` subtraction returning `Option<Duration>`). What follows is inline: for the
//! default 1 ms tick, `secs * 1000` plus the sub-second nanoseconds divided by a constant,
//! with one comparison guarding the overflow; every other tick length goes through
//! [`Clock::ticks_general`], out of line. Callers that count their own ticks skip all of this
//! by using the wheel's tick methods.

use std::time::{Duration, Instant};

use crate::error::TimerError;

/// The tick of a deadline too far away to be counted; such a timer never fires.
pub(crate) use crate::NEVER;

/// The latest tick the wheel's clock can reach (one before [`NEVER`]).
pub(crate) const LAST_TICK: u64 = NEVER - 1;

const NANOS_PER_SEC: u64 = 1_000_000_000;
const NANOS_PER_MILLI: u32 = 1_000_000;

/// The most whole seconds whose milliseconds, plus up to 1 000 for the sub-second part,
/// cannot overflow a tick count (so no overflow check is needed below it).
const MAX_MILLI_SECS: u64 = u64::MAX / 1_000 - 1;

/// The wheel's time base for its `Instant` methods: its start and the length of one tick.
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
            tick_nanos: u64::from(NANOS_PER_MILLI),
        }
    }

    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    pub(crate) fn tick(&self) -> Duration {
        self.tick
    }

    /// The first tick at or after `deadline` (rounded up): 0 before `start`, saturating at
    /// [`NEVER`].
    #[inline(always)]
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        match deadline.checked_duration_since(self.start) {
            None => 0,
            Some(offset) => self.ticks(offset, Round::Up),
        }
    }

    /// The last tick that has begun at `now` (rounded down): 0 before `start`, capped at
    /// [`LAST_TICK`].
    #[inline]
    pub(crate) fn now_tick(&self, now: Instant) -> u64 {
        match now.checked_duration_since(self.start) {
            None => 0,
            Some(offset) => self.ticks(offset, Round::Down).min(LAST_TICK),
        }
    }

    /// The instant at which `tick` begins, or `None` if `Instant` cannot represent it.
    pub(crate) fn instant_of(&self, tick: u64) -> Option<Instant> {
        self.start.checked_add(self.duration_of(tick)?)
    }

    /// How long `tick` ticks last, or `None` beyond what `Duration` can hold.
    fn duration_of(&self, tick: u64) -> Option<Duration> {
        let nanos = u128::from(tick) * u128::from(self.tick_nanos);
        let secs = u64::try_from(nanos / u128::from(NANOS_PER_SEC)).ok()?;
        // The remainder is below one billion, so it fits a `u32`.
        let subsec = (nanos % u128::from(NANOS_PER_SEC)) as u32;
        Some(Duration::new(secs, subsec))
    }

    /// An offset from `start` in ticks, rounded as asked, saturating at [`NEVER`].
    ///
    /// The default 1 ms tick, for offsets below 584 million years, is inline: whole seconds
    /// are whole milliseconds, so only the sub-second nanoseconds are divided, in `u32` by a
    /// constant (a multiplication). Everything else is [`ticks_general`](Self::ticks_general).
    #[inline(always)]
    fn ticks(&self, offset: Duration, round: Round) -> u64 {
        let secs = offset.as_secs();
        if self.tick_nanos == u64::from(NANOS_PER_MILLI) && secs <= MAX_MILLI_SECS {
            let sub = offset.subsec_nanos();
            let sub_ms = match round {
                Round::Up => sub.div_ceil(NANOS_PER_MILLI),
                Round::Down => sub / NANOS_PER_MILLI,
            };
            return secs * 1_000 + u64::from(sub_ms);
        }
        self.ticks_general(offset, round)
    }

    /// [`ticks`](Self::ticks) for every tick length and offset, exactly, in `u128` where a
    /// `u64` does not suffice.
    #[cold]
    #[inline(never)]
    fn ticks_general(&self, offset: Duration, round: Round) -> u64 {
        let nanos = offset.as_nanos();
        let ticks = match (u64::try_from(nanos), round) {
            // Offsets under 584 years fit a u64, whose division is much cheaper.
            (Ok(n), Round::Up) => u128::from(n.div_ceil(self.tick_nanos)),
            (Ok(n), Round::Down) => u128::from(n / self.tick_nanos),
            (Err(_), Round::Up) => nanos.div_ceil(u128::from(self.tick_nanos)),
            (Err(_), Round::Down) => nanos / u128::from(self.tick_nanos),
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

    /// The rounding rule computed the slow, obvious way, for comparison.
    fn exact(offset: Duration, tick_nanos: u64, round: Round) -> u64 {
        let nanos = offset.as_nanos();
        let ticks = match round {
            Round::Up => nanos.div_ceil(u128::from(tick_nanos)),
            Round::Down => nanos / u128::from(tick_nanos),
        };
        u64::try_from(ticks).unwrap_or(NEVER)
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
        let just_too_long = Duration::from_nanos(u64::MAX) + Duration::from_nanos(1);
        assert_eq!(
            Clock::new(start, just_too_long).unwrap_err(),
            TimerError::TickTooLong(just_too_long)
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
        assert_eq!(c.now_tick(at(0)), 0);
        assert_eq!(c.now_tick(at(999)), 0);
        assert_eq!(c.now_tick(at(1000)), 1);
        assert_eq!(c.now_tick(at(1999)), 1);
        // Across a second: the sub-second part is what gets rounded.
        let t = start + Duration::new(3, 999_999_999);
        assert_eq!((c.deadline_tick(t), c.now_tick(t)), (4_000, 3_999));
        let t = start + Duration::new(3, 1);
        assert_eq!((c.deadline_tick(t), c.now_tick(t)), (3_001, 3_000));
    }

    #[test]
    fn odd_tick_lengths_round_the_same_way() {
        let (start, c) = clock(Duration::from_nanos(3));
        let at = |ns: u64| start + Duration::from_nanos(ns);
        assert_eq!(c.deadline_tick(at(7)), 3);
        assert_eq!(c.now_tick(at(7)), 2);
        assert_eq!(c.deadline_tick(at(9)), 3);
        assert_eq!(c.now_tick(at(9)), 3);
        // A tick longer than a second.
        let (start, c) = clock(Duration::from_millis(1_500));
        let at = |ms: u64| start + Duration::from_millis(ms);
        assert_eq!((c.deadline_tick(at(1_500)), c.now_tick(at(1_500))), (1, 1));
        assert_eq!((c.deadline_tick(at(1_501)), c.now_tick(at(1_501))), (2, 1));
        assert_eq!((c.deadline_tick(at(2_999)), c.now_tick(at(2_999))), (2, 1));
    }

    #[test]
    fn before_start_is_tick_zero() {
        for tick in [Duration::from_millis(1), Duration::from_nanos(7)] {
            let (start, c) = clock(tick);
            for back in [Duration::from_nanos(1), Duration::from_secs(5)] {
                if let Some(before) = start.checked_sub(back) {
                    assert_eq!(c.deadline_tick(before), 0, "{tick:?} {back:?}");
                    assert_eq!(c.now_tick(before), 0, "{tick:?} {back:?}");
                }
            }
        }
    }

    #[test]
    fn far_future_saturates_without_panicking() {
        let (start, c) = clock(Duration::from_nanos(1));
        // 2^40 seconds is about 34,800 years: more than u64::MAX nanoseconds.
        if let Some(far) = start.checked_add(Duration::from_secs(1 << 40)) {
            assert_eq!(c.deadline_tick(far), NEVER);
            assert_eq!(c.now_tick(far), LAST_TICK);
        }
        // Just inside the u64 nanosecond range.
        if let Some(t) = start.checked_add(Duration::from_nanos(u64::MAX - 1)) {
            assert_eq!(c.deadline_tick(t), u64::MAX - 1);
            assert_eq!(c.now_tick(t), u64::MAX - 1);
        }
        if let Some(t) = start.checked_add(Duration::from_nanos(u64::MAX)) {
            assert_eq!(c.deadline_tick(t), NEVER);
            assert_eq!(
                c.now_tick(t),
                LAST_TICK,
                "the present stops one short of NEVER"
            );
        }
    }

    #[test]
    fn millisecond_ticks_saturate_at_the_edge_of_the_fast_path() {
        let (start, c) = clock(Duration::from_millis(1));
        // 2^62 seconds is more than u64::MAX milliseconds.
        if let Some(far) = start.checked_add(Duration::from_secs(1 << 62)) {
            assert_eq!(c.deadline_tick(far), NEVER);
            assert_eq!(c.now_tick(far), LAST_TICK);
        }
        // Both sides of the inline path's limit agree with exact arithmetic, directly on the
        // offset (an `Instant` this far from `start` may not exist on this platform).
        for secs in [
            MAX_MILLI_SECS - 1,
            MAX_MILLI_SECS,
            MAX_MILLI_SECS + 1,
            u64::MAX / 1_000,
            u64::MAX / 1_000 + 1,
            u64::MAX,
        ] {
            for nanos in [0, 1, 999_999, 1_000_000, 999_999_999] {
                let d = Duration::new(secs, nanos);
                for round in [Round::Up, Round::Down] {
                    assert_eq!(
                        c.ticks(d, round),
                        exact(d, 1_000_000, round),
                        "{secs} s {nanos} ns {round:?}"
                    );
                }
            }
        }
        assert_eq!(c.ticks(Duration::MAX, Round::Up), NEVER);
        assert_eq!(c.ticks(Duration::MAX, Round::Down), NEVER);
    }

    #[test]
    fn inline_and_general_paths_agree_with_exact_arithmetic() {
        let start = Instant::now();
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15_u64);
        let rounds = if cfg!(miri) { 200 } else { 10_000 };
        for tick_nanos in [1, 7, 999_999, 1_000_000, 1_000_001, 3_000_000, u64::MAX] {
            let c = Clock::new(start, Duration::from_nanos(tick_nanos)).expect("valid tick");
            for _ in 0..rounds {
                let r = next();
                // Up to 2^(64 - r % 64) seconds, and any sub-second part.
                let d = Duration::new(next() >> (r % 64), (next() % NANOS_PER_SEC) as u32);
                for round in [Round::Up, Round::Down] {
                    assert_eq!(c.ticks(d, round), exact(d, tick_nanos, round), "{d:?}");
                    assert_eq!(c.ticks_general(d, round), exact(d, tick_nanos, round));
                }
            }
        }
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
        assert_eq!(c.now_tick(fires_at), tick);

        let (_, huge) = clock(Duration::from_nanos(u64::MAX));
        // u64::MAX ticks of u64::MAX ns: about 1.08e20 years, beyond any `Duration`.
        assert_eq!(huge.duration_of(NEVER), None);
        assert_eq!(huge.instant_of(NEVER), None);
        assert_eq!(huge.duration_of(1), Some(Duration::from_nanos(u64::MAX)));
    }

    #[test]
    fn default_clock_matches_an_explicit_millisecond() {
        let start = Instant::now();
        let a = Clock::with_millisecond_tick(start);
        let b = Clock::new(start, Duration::from_millis(1)).expect("valid");
        let t = start + Duration::from_micros(123_456);
        assert_eq!(a.deadline_tick(t), 124);
        assert_eq!(a.deadline_tick(t), b.deadline_tick(t));
        assert_eq!(a.now_tick(t), 123);
        assert_eq!(a.now_tick(t), b.now_tick(t));
        assert_eq!(a.tick(), b.tick());
        assert_eq!(a.start(), start);
    }
}

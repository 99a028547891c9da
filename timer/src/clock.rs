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
//!
//! # Reading an `Instant` without a call into `std`
//!
//! `Instant::checked_duration_since` is not inlined across crates: every conversion paid a
//! function call, a `Timespec` subtraction and an `Option<Duration>` return, about 3 ns and a
//! third of a heartbeat `reset`. `Instant` does not expose its fields, but it does implement
//! `Hash`, and on every platform std supports today that hash feeds the hasher a seconds count
//! (`write_i64` or `write_u64`) followed by the sub-second nanoseconds (`write_u32`); the
//! derive is inlinable. [`Parts`] is a `Hasher` that records those two words, so the offset
//! from `start` is computed inline, with exactly the arithmetic of std's `sub_timespec`.
//!
//! This relies on a representation std does not promise, so it is used only where it has been
//! proven on the running platform, and std's own subtraction remains the fallback:
//!
//! - [`Clock::new`] *calibrates*: the parts of `start` and of `start + d` for offsets that
//!   exercise the nanosecond borrow and carry, whole seconds and days must differ by exactly
//!   `d`. Otherwise the clock never uses parts.
//! - Every read checks the pattern again (exactly one 64-bit word, then one `u32` below one
//!   billion); anything else falls back to std for that call. After inlining this is a few
//!   predictable branches.
//!
//! The unit tests compare both paths on many instants, and the wheel's property tests run on
//! the fast path.

use std::hash::{Hash, Hasher};
use std::time::{Duration, Instant};

use crate::error::TimerError;

/// The tick of a deadline too far away to be counted; such a timer never fires.
pub(crate) const NEVER: u64 = u64::MAX;

/// The latest tick the wheel's clock can reach (one before [`NEVER`]).
const LAST_TICK: u64 = NEVER - 1;

const NANOS_PER_SEC: u64 = 1_000_000_000;
const NANOS_PER_MILLI: u64 = 1_000_000;

/// The most whole seconds whose milliseconds, plus up to 1 000 for the sub-second part,
/// cannot overflow a tick count (so no overflow check is needed below it).
const MAX_MILLI_SECS: u64 = u64::MAX / 1_000 - 1;

/// The wheel's time base: its start and the length of one tick.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    start: Instant,
    tick: Duration,
    /// `tick` in nanoseconds; never zero.
    tick_nanos: u64,
    /// `start` as (seconds, nanoseconds) read through `Hash` (see the module docs), or `None`
    /// when calibration failed and every conversion goes through std.
    start_parts: Option<(u64, u32)>,
}

/// A `Hasher` that records the two words `Instant`'s `Hash` writes: a 64-bit seconds count and
/// the sub-second nanoseconds (see the module docs). Any other sequence marks it invalid.
#[derive(Debug, Clone, Copy)]
struct Parts {
    secs: u64,
    nanos: u32,
    /// Words written so far; `u8::MAX` once something unexpected was written.
    words: u8,
}

impl Parts {
    /// `t`'s (seconds, nanoseconds), or `None` if its `Hash` did not write exactly that.
    #[inline(always)]
    fn of(t: Instant) -> Option<(u64, u32)> {
        Self::of_hash(&t)
    }

    /// What [`of`](Self::of) reads, for any `Hash`: the two words, or `None` unless it wrote
    /// exactly a 64-bit word and then a `u32` below one billion.
    #[inline(always)]
    fn of_hash(t: &impl Hash) -> Option<(u64, u32)> {
        let mut parts = Self {
            secs: 0,
            nanos: 0,
            words: 0,
        };
        t.hash(&mut parts);
        (parts.words == 2 && parts.nanos < NANOS_PER_SEC as u32)
            .then_some((parts.secs, parts.nanos))
    }

    #[inline(always)]
    fn invalid(&mut self) {
        self.words = u8::MAX;
    }
}

impl Hasher for Parts {
    fn finish(&self) -> u64 {
        0
    }

    #[inline(always)]
    fn write(&mut self, _bytes: &[u8]) {
        self.invalid();
    }

    #[inline(always)]
    fn write_u64(&mut self, secs: u64) {
        if self.words == 0 {
            self.secs = secs;
            self.words = 1;
        } else {
            self.invalid();
        }
    }

    #[inline(always)]
    fn write_i64(&mut self, secs: i64) {
        // Shifting by 2^63 keeps the order of signed seconds in an unsigned word.
        self.write_u64(secs.cast_unsigned() ^ (1 << 63));
    }

    #[inline(always)]
    fn write_u32(&mut self, nanos: u32) {
        if self.words == 1 {
            self.nanos = nanos;
            self.words = 2;
        } else {
            self.invalid();
        }
    }
}

/// Offsets at which [`Clock::new`] checks that [`Parts`] measure time exactly as std does:
/// the nanosecond borrow and carry, whole seconds, and days.
const CALIBRATION: [Duration; 6] = [
    Duration::from_nanos(1),
    Duration::from_nanos(999_999_999),
    Duration::new(1, 0),
    Duration::new(1, 1),
    Duration::new(2, 999_999_999),
    Duration::new(3 * 86_400 + 17, 123_456_789),
];

/// Reads `start`'s parts if, for every calibration offset `d`, the parts of `start + d`
/// differ from them by exactly `d` (offsets `Instant` cannot represent are skipped, but at
/// least one must be checked).
fn calibrate(start: Instant) -> Option<(u64, u32)> {
    let start_parts = Parts::of(start)?;
    let mut checked = 0;
    for d in CALIBRATION {
        let Some(t) = start.checked_add(d) else {
            continue;
        };
        let offset = offset_from(start_parts, Parts::of(t)?)?;
        if offset != split(d) || t.checked_duration_since(start) != Some(d) {
            return None;
        }
        checked += 1;
    }
    (checked > 0).then_some(start_parts)
}

/// `later - earlier` as (seconds, nanoseconds below 10^9) for instants read as parts, or
/// `None` if `later` is before `earlier`: the arithmetic of std's `Timespec::sub_timespec`.
#[inline(always)]
fn offset_from(earlier: (u64, u32), later: (u64, u32)) -> Option<(u64, u32)> {
    if later.1 >= earlier.1 {
        Some((later.0.checked_sub(earlier.0)?, later.1 - earlier.1))
    } else {
        Some((
            later.0.checked_sub(earlier.0)?.checked_sub(1)?,
            later.1 + NANOS_PER_SEC as u32 - earlier.1,
        ))
    }
}

/// A `Duration` as (seconds, nanoseconds below 10^9).
#[inline(always)]
fn split(d: Duration) -> (u64, u32) {
    (d.as_secs(), d.subsec_nanos())
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
            start_parts: calibrate(start),
        })
    }

    /// A clock with a 1 ms tick.
    pub(crate) fn with_millisecond_tick(start: Instant) -> Self {
        Self {
            start,
            tick: Duration::from_millis(1),
            tick_nanos: NANOS_PER_MILLI,
            start_parts: calibrate(start),
        }
    }

    pub(crate) fn start(&self) -> Instant {
        self.start
    }

    pub(crate) fn tick(&self) -> Duration {
        self.tick
    }

    /// The first tick at or after `deadline` (rounded up), saturating at [`NEVER`].
    ///
    /// The common case (1 ms tick, parts usable, a deadline after `start` and less than
    /// 584 million years away) is a handful of inline instructions; everything else goes
    /// through [`deadline_tick_general`](Self::deadline_tick_general), out of line, so the
    /// fast path of `insert` and `reset` carries no call and no spilled registers.
    #[inline(always)]
    pub(crate) fn deadline_tick(&self, deadline: Instant) -> u64 {
        if self.tick_nanos == NANOS_PER_MILLI
            && let Some(start) = self.start_parts
            && let Some(parts) = Parts::of(deadline)
            && let Some((secs, nanos)) = offset_from(start, parts)
            && secs <= MAX_MILLI_SECS
        {
            return secs * 1_000 + u64::from(nanos.div_ceil(NANOS_PER_MILLI as u32));
        }
        self.deadline_tick_general(deadline)
    }

    /// [`deadline_tick`](Self::deadline_tick) for every case.
    #[cold]
    #[inline(never)]
    fn deadline_tick_general(&self, deadline: Instant) -> u64 {
        match self.offset(deadline) {
            None => 0,
            Some((secs, nanos)) => self.ticks(secs, nanos, Round::Up),
        }
    }

    /// The last tick that has begun at `now` (rounded down), capped at `NEVER - 1`.
    #[inline]
    pub(crate) fn now_tick(&self, now: Instant) -> u64 {
        match self.offset(now) {
            None => 0,
            Some((secs, nanos)) => self.ticks(secs, nanos, Round::Down).min(LAST_TICK),
        }
    }

    /// `t - start` as (seconds, nanoseconds below 10^9), or `None` if `t` is before `start`:
    /// `t.checked_duration_since(start)`, computed inline from the instants' parts when
    /// calibration allowed it.
    #[inline(always)]
    fn offset(&self, t: Instant) -> Option<(u64, u32)> {
        if let Some(start) = self.start_parts
            && let Some(parts) = Parts::of(t)
        {
            return offset_from(start, parts);
        }
        self.offset_std(t)
    }

    /// [`offset`](Self::offset) through std, for platforms where the parts are not usable.
    #[inline(never)]
    fn offset_std(&self, t: Instant) -> Option<(u64, u32)> {
        t.checked_duration_since(self.start).map(split)
    }

    /// The instant at which `tick` begins, or `None` if `Instant` cannot represent it.
    pub(crate) fn instant_of(&self, tick: u64) -> Option<Instant> {
        let nanos = u128::from(tick) * u128::from(self.tick_nanos);
        let secs = u64::try_from(nanos / u128::from(NANOS_PER_SEC)).ok()?;
        // The remainder is below one billion, so it fits a `u32`.
        let subsec = (nanos % u128::from(NANOS_PER_SEC)) as u32;
        self.start.checked_add(Duration::new(secs, subsec))
    }

    /// An offset of `secs` seconds and `sub < 10^9` nanoseconds in ticks, saturating at
    /// [`NEVER`].
    #[inline]
    fn ticks(&self, secs: u64, sub: u32, round: Round) -> u64 {
        debug_assert!(sub < NANOS_PER_SEC as u32);
        if self.tick_nanos == NANOS_PER_MILLI {
            // The default tick: whole seconds are whole milliseconds, so only the sub-second
            // part is divided, in `u32` by a constant (a multiplication).
            let sub_ms = match round {
                Round::Up => sub.div_ceil(NANOS_PER_MILLI as u32),
                Round::Down => sub / NANOS_PER_MILLI as u32,
            };
            return secs
                .checked_mul(1_000)
                .and_then(|ms| ms.checked_add(u64::from(sub_ms)))
                .unwrap_or(NEVER);
        }
        let nanos = u128::from(secs) * u128::from(NANOS_PER_SEC) + u128::from(sub);
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
    use std::hash::{Hash, Hasher};

    /// Hashes as a fixed script of writes, standing in for an `Instant` whose `Hash` differs.
    enum Fake {
        Parts(u64, u32),
        SignedParts(i64, u32),
        SecsOnly(u64),
        Bytes,
        Three(u64, u32, u32),
    }

    impl Hash for Fake {
        fn hash<H: Hasher>(&self, h: &mut H) {
            match *self {
                Fake::Parts(s, n) => {
                    h.write_u64(s);
                    h.write_u32(n);
                }
                Fake::SignedParts(s, n) => {
                    h.write_i64(s);
                    h.write_u32(n);
                }
                Fake::SecsOnly(s) => h.write_u64(s),
                Fake::Bytes => h.write(&[1, 2, 3]),
                Fake::Three(s, n, m) => {
                    h.write_u64(s);
                    h.write_u32(n);
                    h.write_u32(m);
                }
            }
        }
    }

    #[test]
    fn parts_are_read_only_from_exactly_the_expected_writes() {
        assert_eq!(
            Parts::of_hash(&Fake::Parts(7, 999_999_999)),
            Some((7, 999_999_999))
        );
        assert_eq!(Parts::of_hash(&Fake::Parts(7, 1_000_000_000)), None);
        assert_eq!(Parts::of_hash(&Fake::SecsOnly(7)), None);
        assert_eq!(Parts::of_hash(&Fake::Bytes), None);
        assert_eq!(Parts::of_hash(&Fake::Three(7, 1, 2)), None);
        // Signed seconds keep their order once shifted into an unsigned word.
        let (a, _) = Parts::of_hash(&Fake::SignedParts(-1, 0)).unwrap();
        let (b, _) = Parts::of_hash(&Fake::SignedParts(0, 0)).unwrap();
        let (c, _) = Parts::of_hash(&Fake::SignedParts(1, 0)).unwrap();
        assert!(a < b && b < c && b - a == 1 && c - b == 1);
    }

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
        // Both sides of the fast path's limit agree with exact arithmetic.
        for secs in [
            MAX_MILLI_SECS - 1,
            MAX_MILLI_SECS,
            MAX_MILLI_SECS + 1,
            u64::MAX / 1_000,
        ] {
            for nanos in [0, 1, 999_999_999] {
                let Some(t) = start.checked_add(Duration::new(secs, nanos)) else {
                    continue;
                };
                let exact = u128::from(secs) * 1_000 + u128::from(nanos.div_ceil(1_000_000));
                let expected = u64::try_from(exact).unwrap_or(NEVER);
                assert_eq!(c.deadline_tick(t), expected, "{secs} s {nanos} ns");
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

        let (_, huge) = clock(Duration::from_nanos(u64::MAX));
        // u64::MAX ticks of u64::MAX ns: about 1.08e20 years, beyond any `Instant`.
        assert_eq!(huge.instant_of(NEVER), None);
    }

    /// The offset std computes, for comparison.
    fn std_offset(c: &Clock, t: Instant) -> Option<Duration> {
        t.checked_duration_since(c.start)
    }

    #[test]
    #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
    fn parts_calibrate_on_the_major_platforms() {
        // If std changes `Instant`'s representation this fails, and the clock falls back to
        // std's subtraction (correct, about 3 ns slower per conversion) until `Parts` is
        // adapted.
        let (start, c) = clock(Duration::from_millis(1));
        assert!(
            c.start_parts.is_some(),
            "Instant's Hash is no longer (secs, nanos)"
        );
        assert!(Clock::with_millisecond_tick(start).start_parts.is_some());
    }

    #[test]
    fn parts_measure_exactly_what_std_measures() {
        let (start, c) = clock(Duration::from_nanos(7));
        let mut next = crate::xorshift(0x9e37_79b9_7f4a_7c15_u64);
        for _ in 0..10_000 {
            let r = next();
            // Up to 2^(64 - r % 64) nanoseconds in either direction, plus whole seconds.
            let d = Duration::from_nanos(next() >> (r % 64)) + Duration::from_secs(r % 3);
            for t in [start.checked_add(d), start.checked_sub(d)]
                .into_iter()
                .flatten()
            {
                assert_eq!(c.offset(t), std_offset(&c, t).map(split), "offset {d:?}");
                if let Some(parts) = c.start_parts {
                    let p = Parts::of(t).expect("an Instant always reads as parts");
                    assert_eq!(offset_from(parts, p), std_offset(&c, t).map(split));
                }
            }
        }
        if let Some(far) = start.checked_add(Duration::from_secs(1 << 40)) {
            assert_eq!(c.offset(far), std_offset(&c, far).map(split));
        }
    }

    #[test]
    fn offset_from_borrows_and_refuses_the_past() {
        assert_eq!(offset_from((5, 10), (5, 10)), Some((0, 0)));
        assert_eq!(offset_from((5, 10), (6, 9)), Some((0, 999_999_999)));
        assert_eq!(offset_from((5, 10), (7, 11)), Some((2, 1)));
        assert_eq!(offset_from((5, 10), (5, 9)), None);
        assert_eq!(offset_from((5, 10), (4, 999_999_999)), None);
        assert_eq!(
            offset_from((0, 0), (u64::MAX, 999_999_999)),
            Some(split(Duration::MAX))
        );
    }

    #[test]
    fn an_unexpected_hash_is_not_read_as_parts() {
        let mut p = Parts {
            secs: 0,
            nanos: 0,
            words: 0,
        };
        p.write_u32(3); // nanoseconds before seconds
        assert_eq!(p.words, u8::MAX);
        let mut p = Parts {
            secs: 0,
            nanos: 0,
            words: 0,
        };
        p.write_u64(1);
        p.write(&[0]);
        assert_eq!(p.words, u8::MAX);
        assert_eq!(p.finish(), 0);
    }

    #[test]
    fn the_std_fallback_converts_the_same() {
        let (start, c) = clock(Duration::from_millis(1));
        let fallback = Clock {
            start_parts: None,
            ..c
        };
        for us in [0, 1, 999, 1_000, 1_001, 123_456_789] {
            let t = start + Duration::from_micros(us);
            assert_eq!(fallback.deadline_tick(t), c.deadline_tick(t));
            assert_eq!(fallback.now_tick(t), c.now_tick(t));
        }
        if let Some(before) = start.checked_sub(Duration::from_secs(1)) {
            assert_eq!(fallback.deadline_tick(before), 0);
        }
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

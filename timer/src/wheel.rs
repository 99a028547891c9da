//! [`TimerWheel`]: the wheel itself: storage, the public operations and expiry.
//!
//! Every entry sits on exactly one intrusive list: the *pending* list (due, not yet handed to
//! the caller) or one slot of one level. Which one is a function of the entry's deadline tick
//! and the wheel's current tick, computed by `list_of`; cancel and reset use it to
//! unlink an entry in O(1) without storing the list in the entry.

use std::fmt;
use std::num::NonZeroU64;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::clock::{Clock, LAST_TICK};
use crate::entry::Entry;
use crate::error::{InsertError, TimerError};
use crate::key::TimerKey;
use crate::level::{LEVELS, Level, level_for, slot_for, slot_width};
use crate::{MAX_TIMERS, NEVER, NIL};

/// A hierarchical timer wheel holding values of type `T` until their deadlines.
///
/// # Time
///
/// The wheel counts time in `u64` **ticks**. Its core API takes ticks directly
/// ([`insert_at`](Self::insert_at), [`reset_at`](Self::reset_at),
/// [`advance_to`](Self::advance_to), [`next_due_tick`](Self::next_due_tick), ...), for callers
/// that count their own time, for example an event loop that passes "milliseconds since the
/// loop's epoch". The wheel never reads a clock to decide what is due: it only learns the time
/// through `advance_to` (or `advance`).
///
/// - A timer at tick `t` fires on the first advance to a tick `>= t`.
/// - A tick at or before [`current_tick`](Self::current_tick) is due: it fires on the next
///   advance, whatever tick that advance is given.
/// - Ticks never go backwards: an advance to a tick earlier than `current_tick` moves nothing
///   back (timers already due still come out).
/// - [`NEVER`] (`u64::MAX`) means never: a timer there is kept (it can be cancelled, reset or
///   read) but never fires, and the wheel's clock stops at `u64::MAX - 1`.
///
/// The `Instant` methods ([`insert`](Self::insert), [`reset`](Self::reset),
/// [`advance`](Self::advance), [`next_deadline`](Self::next_deadline), ...) are thin wrappers
/// over the tick methods. Tick `n` begins at `start + n × tick` (see [`start`](Self::start) and
/// [`tick`](Self::tick)); an instant is converted with `Instant::checked_duration_since`:
///
/// - a deadline is rounded **up** to the next tick boundary, so it never fires early;
/// - the present (`advance(now)`) is rounded **down**, so a tick counts once it has begun;
/// - an instant before `start` is tick 0;
/// - a deadline more than `u64::MAX` ticks after `start` (585 million years at 1 ms, 584 years
///   at 1 ns) becomes [`NEVER`].
///
/// Both APIs can be mixed on one wheel: `insert(start + 5 ms)` and `insert_at(5)` are the same
/// timer on a wheel with a 1 ms tick.
///
/// # Guarantees
///
/// - Insert, cancel and reset are O(1) and do not allocate once the storage has room
///   (see [`with_capacity`](Self::with_capacity) and [`reserve`](Self::reserve)).
/// - A timer never fires before its deadline. With the `Instant` methods it fires on the first
///   `advance(now)` with `now` at or after its deadline rounded up to the next tick boundary,
///   so at most one tick late.
/// - Deadlines are never wrapped around: the eleven levels cover every `u64` tick. No tick and
///   no `Instant` makes any method panic.
/// - Keys are generational: a key whose timer fired or was cancelled matches nothing, ever.
///
/// # Threads
///
/// The wheel is plain single-owner data with no interior locking: one event loop owns one
/// wheel. Another thread that wants a timer sends a task through that loop's task queue and
/// the loop performs the insert or cancel on its own thread.
///
/// # Examples
///
/// With `Instant`s:
///
/// ```
/// use std::time::{Duration, Instant};
/// use loopwire_timer::TimerWheel;
///
/// let start = Instant::now();
/// let ms = Duration::from_millis;
/// let mut wheel = TimerWheel::with_capacity(start, 1024);
/// let write_deadline = wheel.insert(start + ms(250), "write");
/// let idle = wheel.insert(start + ms(30_000), "idle");
///
/// assert!(wheel.reset(idle, start + ms(60_000)));
/// assert!(wheel.next_deadline().is_some_and(|d| d <= start + ms(250)));
///
/// let fired: Vec<_> = wheel.advance(start + ms(300)).collect();
/// assert_eq!(fired, [(write_deadline, "write")]);
/// assert_eq!(wheel.cancel(write_deadline), None); // already fired: the key is stale
/// assert_eq!(wheel.cancel(idle), Some("idle"));
/// assert!(wheel.is_empty());
/// ```
///
/// With ticks the caller counts itself (here milliseconds since the loop started):
///
/// ```
/// use loopwire_timer::TimerWheel;
///
/// let mut wheel = TimerWheel::new_ticks();
/// let write_deadline = wheel.insert_at(50, "write");
/// let idle = wheel.insert_at(30_000, "idle");
///
/// assert!(wheel.reset_at(idle, 60_000));
/// assert_eq!(wheel.next_due_tick(), Some(50)); // exact within 64 ticks; never late
///
/// let fired: Vec<_> = wheel.advance_to(300).collect();
/// assert_eq!(fired, [(write_deadline, "write")]);
/// assert_eq!(wheel.current_tick(), 300);
/// assert_eq!(wheel.deadline_tick(idle), Some(60_000));
/// ```
pub struct TimerWheel<T> {
    /// Every pending timer; lists link entries by slab index.
    slab: Slab<Entry<T>>,
    /// The levels, boxed so moving a wheel copies a pointer rather than 2.9 KB of list heads.
    /// The geometry (slot width and range of each level) is tabulated in `level.rs`.
    levels: Box<[Level; LEVELS]>,
    /// Bit `n` is set if and only if `levels[n]` has an occupied slot.
    occupied_levels: u16,
    /// Head of the list of due entries not yet yielded; all have `when <= elapsed`.
    pending: u32,
    /// The tick the wheel has advanced to: every slot starting at or before it is processed.
    /// At most [`LAST_TICK`].
    elapsed: u64,
    /// Converts the `Instant` methods' arguments to ticks; the tick methods do not use it.
    clock: Clock,
    /// Generation for the next insert; starts at 1 and is never reused.
    next_generation: NonZeroU64,
}

/// Which intrusive list an entry is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Pending,
    Slot { level: usize, slot: usize },
}

impl<T> TimerWheel<T> {
    /// Creates an empty wheel with a 1 ms tick, counting time from `start`.
    ///
    /// `start` is usually `Instant::now()` when the event loop starts. Tick `n` begins at
    /// `start + n ms`; the tick methods can be used alongside the `Instant` ones.
    pub fn new(start: Instant) -> Self {
        Self::from_clock(Clock::with_millisecond_tick(start), 0)
    }

    /// Creates an empty wheel with a 1 ms tick and room for `capacity` timers before the
    /// storage has to grow.
    pub fn with_capacity(start: Instant, capacity: usize) -> Self {
        Self::from_clock(Clock::with_millisecond_tick(start), capacity)
    }

    /// Creates an empty wheel whose tick lasts `tick`, counting time from `start`.
    ///
    /// A coarser tick costs precision (timers fire up to one tick late) and buys fewer
    /// cascades; a finer one costs more `advance` work per unit of time. The tick length only
    /// matters to the `Instant` methods; the tick methods take whatever the caller counts.
    ///
    /// # Errors
    ///
    /// [`TimerError::ZeroTick`] if `tick` is zero, [`TimerError::TickTooLong`] if it is longer
    /// than `u64::MAX` nanoseconds.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use loopwire_timer::{TimerError, TimerWheel};
    ///
    /// let start = Instant::now();
    /// let mut wheel = TimerWheel::with_tick(start, Duration::from_micros(100))?;
    /// assert_eq!(wheel.tick(), Duration::from_micros(100));
    /// // 250 µs rounds up to the third 100 µs tick.
    /// let key = wheel.insert(start + Duration::from_micros(250), ());
    /// assert_eq!(wheel.deadline_tick(key), Some(3));
    ///
    /// let zero = TimerWheel::<()>::with_tick(start, Duration::ZERO);
    /// assert_eq!(zero.unwrap_err(), TimerError::ZeroTick);
    /// # Ok::<(), TimerError>(())
    /// ```
    pub fn with_tick(start: Instant, tick: Duration) -> Result<Self, TimerError> {
        Ok(Self::from_clock(Clock::new(start, tick)?, 0))
    }

    /// Creates an empty wheel for a caller that counts its own ticks, starting at tick 0.
    ///
    /// Use the tick methods ([`insert_at`](Self::insert_at), [`advance_to`](Self::advance_to),
    /// ...). The `Instant` methods still work and never panic: they treat the moment of
    /// construction (`Instant::now()`, read once here) as tick 0 and a tick as 1 ms, exactly as
    /// [`new(Instant::now())`](Self::new) would. That is the only clock read the crate makes,
    /// and only in this constructor, [`with_capacity_ticks`](Self::with_capacity_ticks) and
    /// [`Default`].
    ///
    /// # Examples
    ///
    /// An event loop that keeps "milliseconds since the loop's epoch":
    ///
    /// ```
    /// use loopwire_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new_ticks();
    /// let idle = wheel.insert_at(30_000, "idle timeout");
    /// let ping = wheel.insert_at(15, "ping");
    ///
    /// // Poll timeout: how far the next due tick is from the loop's present.
    /// let now_ms = 0;
    /// let timeout_ms = wheel.next_due_tick().map(|t| t.saturating_sub(now_ms));
    /// assert_eq!(timeout_ms, Some(15));
    ///
    /// let mut fired = Vec::new();
    /// wheel.advance_to_with(20, |key, what| fired.push((key, what)));
    /// assert_eq!(fired, [(ping, "ping")]);
    /// assert!(wheel.contains(idle));
    /// ```
    pub fn new_ticks() -> Self {
        Self::new(Instant::now())
    }

    /// [`new_ticks`](Self::new_ticks) with room for `capacity` timers before the storage has
    /// to grow.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_timer::TimerWheel;
    ///
    /// let wheel = TimerWheel::<u32>::with_capacity_ticks(4096);
    /// assert!(wheel.capacity() >= 4096);
    /// assert_eq!(wheel.current_tick(), 0);
    /// ```
    pub fn with_capacity_ticks(capacity: usize) -> Self {
        Self::with_capacity(Instant::now(), capacity)
    }

    fn from_clock(clock: Clock, capacity: usize) -> Self {
        Self {
            slab: Slab::with_capacity(capacity),
            levels: Box::new([Level::EMPTY; LEVELS]),
            occupied_levels: 0,
            pending: NIL,
            elapsed: 0,
            clock,
            next_generation: NonZeroU64::MIN,
        }
    }

    /// The length of one tick, as the `Instant` methods count it (1 ms unless built with
    /// [`with_tick`](Self::with_tick)).
    pub fn tick(&self) -> Duration {
        self.clock.tick()
    }

    /// The instant at which tick 0 begins, for the `Instant` methods: the `start` given at
    /// construction, or the moment of construction for [`new_ticks`](Self::new_ticks),
    /// [`with_capacity_ticks`](Self::with_capacity_ticks) and [`Default`].
    pub fn start(&self) -> Instant {
        self.clock.start()
    }

    /// The tick the wheel has advanced to; 0 for a new wheel, never more than
    /// `u64::MAX - 1`.
    ///
    /// It never decreases. After an advance whose [`Expired`] iterator was consumed it is the
    /// tick given to that advance (for [`advance`](Self::advance), `now` rounded down); if the
    /// iterator was dropped early it may stand at an earlier tick, where the timers left in it
    /// wait. A timer inserted at or before this tick is due on the next advance.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::<()>::new_ticks();
    /// assert_eq!(wheel.advance_to(40).count(), 0);
    /// assert_eq!(wheel.current_tick(), 40);
    /// assert_eq!(wheel.advance_to(10).count(), 0); // never backwards
    /// assert_eq!(wheel.current_tick(), 40);
    /// ```
    pub fn current_tick(&self) -> u64 {
        self.elapsed
    }

    /// The number of timers that have not fired or been cancelled.
    ///
    /// Timers that are due but not yet yielded by an [`Expired`] iterator still count.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether no timer is pending.
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }

    /// How many timers the wheel can hold before its storage has to grow.
    pub fn capacity(&self) -> usize {
        self.slab.capacity()
    }

    /// Makes room for at least `additional` more timers, so that many inserts do not allocate.
    ///
    /// # Panics
    ///
    /// If the new capacity overflows `usize` (as `Vec::reserve` does).
    pub fn reserve(&mut self, additional: usize) {
        self.slab.reserve(additional);
    }

    // ---- the tick API ---------------------------------------------------------------------

    /// Schedules `value` to be yielded by the first advance to tick `tick` or later.
    ///
    /// A tick at or before [`current_tick`](Self::current_tick) is due: it fires on the next
    /// advance. [`NEVER`] (`u64::MAX`) never fires. O(1); no allocation while
    /// [`len`](Self::len) is below [`capacity`](Self::capacity).
    ///
    /// # Panics
    ///
    /// If the wheel already holds [`MAX_TIMERS`] timers;
    /// [`try_insert_at`](Self::try_insert_at) reports that as an error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new_ticks();
    /// let key = wheel.insert_at(5, 42_u32);
    /// assert_eq!(wheel.get(key), Some(&42));
    /// assert_eq!(wheel.advance_to(4).count(), 0);
    /// assert_eq!(wheel.advance_to(5).next(), Some((key, 42)));
    /// ```
    #[track_caller]
    #[inline]
    pub fn insert_at(&mut self, tick: u64, value: T) -> TimerKey {
        match self.try_insert_at(tick, value) {
            Ok(key) => key,
            Err(_) => full(),
        }
    }

    /// Like [`insert_at`](Self::insert_at), but reports a full wheel instead of panicking.
    ///
    /// # Errors
    ///
    /// [`InsertError`], holding `value`, if the wheel already holds [`MAX_TIMERS`] timers.
    pub fn try_insert_at(&mut self, tick: u64, value: T) -> Result<TimerKey, InsertError<T>> {
        if self.slab.len() >= MAX_TIMERS {
            return Err(InsertError::new(value));
        }
        let generation = self.next_generation;
        // 2^64 inserts cannot happen; wrapping keeps the arithmetic total all the same.
        self.next_generation = generation.checked_add(1).unwrap_or(NonZeroU64::MIN);
        let index = self.slab.insert(Entry {
            value,
            when: tick,
            generation,
            prev: NIL,
            next: NIL,
        });
        // The slab fills holes first, so `index <= len < MAX_TIMERS == NIL`: it fits and is
        // never mistaken for NIL.
        debug_assert!(index < NIL as usize);
        let index = index as u32;
        self.link(self.list_of(tick), index);
        Ok(TimerKey { index, generation })
    }

    /// Moves the timer to tick `tick` (earlier or later) and returns `true`, or returns
    /// `false` and does nothing if `key` is stale.
    ///
    /// The key stays valid. The same rules as [`insert_at`](Self::insert_at) apply to `tick`.
    /// O(1); when the new tick falls in the same slot as the old one, as it usually does for a
    /// heartbeat pushed back by a little, only the stored tick changes.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new_ticks();
    /// let key = wheel.insert_at(30_000, ());
    /// assert!(wheel.reset_at(key, 40_000));
    /// assert_eq!(wheel.advance_to(35_000).count(), 0);
    /// assert_eq!(wheel.advance_to(40_000).count(), 1);
    /// assert!(!wheel.reset_at(key, 50_000)); // fired: stale
    /// ```
    #[inline]
    pub fn reset_at(&mut self, key: TimerKey, tick: u64) -> bool {
        let elapsed = self.elapsed;
        let Some(entry) = self.entry_mut(key) else {
            return false;
        };
        let old = entry.when;
        entry.when = tick;
        if !same_list(elapsed, old, tick) {
            self.move_entry(key.index, old, tick);
        }
        true
    }

    /// [`reset_at`](Self::reset_at)'s slow path: moves entry `index` from the list of tick
    /// `old` to the list of its new tick `when` (already stored).
    #[inline(never)]
    fn move_entry(&mut self, index: u32, old: u64, when: u64) {
        self.unlink(self.list_of(old), index);
        self.link(self.list_of(when), index);
    }

    /// The tick a pending timer is due at, as inserted or last reset (for the `Instant`
    /// methods, the deadline rounded up); `None` if `key` is stale.
    ///
    /// It is [`NEVER`] for a timer that never fires, and may lie before
    /// [`current_tick`](Self::current_tick) for a timer that is due but not yet yielded.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_timer::{NEVER, TimerWheel};
    ///
    /// let mut wheel = TimerWheel::new_ticks();
    /// let key = wheel.insert_at(NEVER, "never");
    /// assert_eq!(wheel.deadline_tick(key), Some(NEVER));
    /// wheel.cancel(key);
    /// assert_eq!(wheel.deadline_tick(key), None);
    /// ```
    pub fn deadline_tick(&self, key: TimerKey) -> Option<u64> {
        Some(self.entry(key)?.when)
    }

    /// The earliest tick at which [`advance_to`](Self::advance_to) could yield a timer, for
    /// the event loop's poll timeout; `None` if no timer is pending.
    ///
    /// When only [`NEVER`] timers remain it is `None` or the start of the slot holding them,
    /// a tick no earlier than 15 × 2^60 (over 500 million years of 1 ms ticks): never a
    /// wake-up a real clock reaches.
    ///
    /// It is never later than a pending timer's tick. It is exact when the earliest timer is
    /// within 64 ticks of [`current_tick`](Self::current_tick) (level 0); for a timer further
    /// away it is the start of the slot holding it, where an advance moves the slot's timers to
    /// finer levels, after which `next_due_tick` is more precise. A loop that sleeps until
    /// `next_due_tick` and advances reaches any timer within at most one wake-up per level. If
    /// timers are already due (an [`Expired`] iterator was dropped early, or a timer was
    /// inserted at a past tick), it is `current_tick`, which calls for a zero timeout.
    ///
    /// O(levels) bit operations; it does not scan timers.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new_ticks();
    /// assert_eq!(wheel.next_due_tick(), None);
    /// wheel.insert_at(20, ());
    /// assert_eq!(wheel.next_due_tick(), Some(20));
    /// wheel.insert_at(1_000, ());
    /// assert_eq!(wheel.next_due_tick(), Some(20));
    /// ```
    pub fn next_due_tick(&self) -> Option<u64> {
        let tick = if self.pending != NIL {
            self.elapsed
        } else {
            self.next_expiration()?.2
        };
        // Only the last level-0 slot can start at NEVER, and the clock never gets there.
        (tick != NEVER).then_some(tick)
    }

    /// Advances the wheel to tick `tick` and returns an iterator over the timers that expired,
    /// as `(key, value)` pairs in order of tick (timers due at the same tick, or already due
    /// when inserted, in no particular order).
    ///
    /// The work happens as the iterator is consumed; it allocates nothing. Timers left in the
    /// iterator when it is dropped stay due and are yielded by the next advance. A tick earlier
    /// than [`current_tick`](Self::current_tick) moves nothing backwards (timers already due
    /// still come out). `u64::MAX` advances to `u64::MAX - 1`: [`NEVER`] is never reached.
    ///
    /// The cost is O(1) per expired timer plus O(1) per non-empty slot reached and per level
    /// a timer cascades through (at most once per level per timer); it does not depend on how
    /// many timers are pending but not due.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new_ticks();
    /// for tick in [30, 10, 20] {
    ///     wheel.insert_at(tick, tick);
    /// }
    /// let due: Vec<u64> = wheel.advance_to(25).map(|(_, v)| v).collect();
    /// assert_eq!(due, [10, 20]);
    /// ```
    pub fn advance_to(&mut self, tick: u64) -> Expired<'_, T> {
        Expired::new(self, tick.min(LAST_TICK))
    }

    /// Advances the wheel to tick `tick`, calling `on_expired` for every expired timer, and
    /// returns how many expired. The same as consuming [`advance_to`](Self::advance_to).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_timer::TimerWheel;
    ///
    /// let mut wheel = TimerWheel::new_ticks();
    /// wheel.insert_at(3, "three");
    /// wheel.insert_at(9, "nine");
    /// let mut seen = Vec::new();
    /// assert_eq!(wheel.advance_to_with(5, |_, v| seen.push(v)), 1);
    /// assert_eq!(seen, ["three"]);
    /// ```
    pub fn advance_to_with(&mut self, tick: u64, mut on_expired: impl FnMut(TimerKey, T)) -> usize {
        let mut count = 0;
        for (key, value) in self.advance_to(tick) {
            on_expired(key, value);
            count += 1;
        }
        count
    }

    // ---- the Instant API ------------------------------------------------------------------

    /// Schedules `value` to be yielded by the first `advance` at or after `deadline`:
    /// [`insert_at`](Self::insert_at) at `deadline` rounded up to a tick.
    ///
    /// A deadline in the past fires on the next `advance`. O(1); no allocation while
    /// [`len`](Self::len) is below [`capacity`](Self::capacity).
    ///
    /// # Panics
    ///
    /// If the wheel already holds [`MAX_TIMERS`] timers; [`try_insert`](Self::try_insert) reports
    /// that as an error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use loopwire_timer::TimerWheel;
    ///
    /// let start = Instant::now();
    /// let mut wheel = TimerWheel::new(start);
    /// let key = wheel.insert(start + Duration::from_secs(5), 42_u32);
    /// assert_eq!(wheel.get(key), Some(&42));
    /// assert_eq!(wheel.deadline_tick(key), Some(5_000));
    /// ```
    #[track_caller]
    #[inline]
    pub fn insert(&mut self, deadline: Instant, value: T) -> TimerKey {
        self.insert_at(self.clock.deadline_tick(deadline), value)
    }

    /// Like [`insert`](Self::insert), but reports a full wheel instead of panicking.
    ///
    /// # Errors
    ///
    /// [`InsertError`], holding `value`, if the wheel already holds [`MAX_TIMERS`] timers.
    pub fn try_insert(&mut self, deadline: Instant, value: T) -> Result<TimerKey, InsertError<T>> {
        self.try_insert_at(self.clock.deadline_tick(deadline), value)
    }

    /// Moves the timer to a new deadline (earlier or later) and returns `true`, or returns
    /// `false` and does nothing if `key` is stale: [`reset_at`](Self::reset_at) at `deadline`
    /// rounded up to a tick.
    ///
    /// The key stays valid. O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use loopwire_timer::TimerWheel;
    ///
    /// let start = Instant::now();
    /// let s = Duration::from_secs;
    /// let mut wheel = TimerWheel::new(start);
    /// let key = wheel.insert(start + s(30), ());
    /// assert!(wheel.reset(key, start + s(40)));
    /// assert_eq!(wheel.advance(start + s(35)).count(), 0);
    /// assert_eq!(wheel.advance(start + s(40)).count(), 1);
    /// assert!(!wheel.reset(key, start + s(50))); // fired: stale
    /// ```
    #[inline]
    pub fn reset(&mut self, key: TimerKey, deadline: Instant) -> bool {
        self.reset_at(key, self.clock.deadline_tick(deadline))
    }

    /// When the timer can fire: the instant its [`deadline_tick`](Self::deadline_tick) begins
    /// (its deadline rounded up to a tick boundary).
    ///
    /// `None` if `key` is stale, or if that instant is beyond what `Instant` can represent
    /// (which includes every [`NEVER`] timer on a platform whose `Instant` cannot reach
    /// `u64::MAX` ticks).
    pub fn deadline(&self, key: TimerKey) -> Option<Instant> {
        self.clock.instant_of(self.deadline_tick(key)?)
    }

    /// The instant at which [`next_due_tick`](Self::next_due_tick) begins: the earliest instant
    /// at which [`advance`](Self::advance) could yield a timer, for use as the event loop's poll
    /// timeout. `None` if no timer is pending or the instant is beyond what `Instant` can
    /// represent. With only timers that never fire it is `None` or an instant centuries away
    /// (see [`next_due_tick`](Self::next_due_tick)).
    ///
    /// It is never later than a pending timer's rounded deadline, exact when the earliest
    /// timer is within 64 ticks, and otherwise the start of the slot holding it (see
    /// `next_due_tick`). If timers are already due it is the instant the wheel last advanced
    /// to, which is not later than any `now` given before: a zero poll timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use loopwire_timer::TimerWheel;
    ///
    /// let start = Instant::now();
    /// let mut wheel = TimerWheel::new(start);
    /// assert_eq!(wheel.next_deadline(), None);
    /// wheel.insert(start + Duration::from_millis(20), ());
    /// assert_eq!(wheel.next_deadline(), Some(start + Duration::from_millis(20)));
    /// ```
    pub fn next_deadline(&self) -> Option<Instant> {
        self.clock.instant_of(self.next_due_tick()?)
    }

    /// Advances the wheel to `now` and returns an iterator over the timers that expired:
    /// [`advance_to`](Self::advance_to) the last tick begun at `now` (rounded down; an instant
    /// before [`start`](Self::start) is tick 0).
    ///
    /// Timers come out in order of deadline tick. A `now` earlier than a previous one moves
    /// nothing backwards (timers already due still come out).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use loopwire_timer::TimerWheel;
    ///
    /// let start = Instant::now();
    /// let mut wheel = TimerWheel::new(start);
    /// for ms in [30, 10, 20] {
    ///     wheel.insert(start + Duration::from_millis(ms), ms);
    /// }
    /// let due: Vec<u64> = wheel.advance(start + Duration::from_millis(25)).map(|(_, v)| v).collect();
    /// assert_eq!(due, [10, 20]);
    /// ```
    pub fn advance(&mut self, now: Instant) -> Expired<'_, T> {
        let now = self.clock.now_tick(now);
        Expired::new(self, now)
    }

    /// Advances the wheel to `now`, calling `on_expired` for every expired timer, and returns
    /// how many expired. The same as consuming [`advance`](Self::advance).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use loopwire_timer::TimerWheel;
    ///
    /// let start = Instant::now();
    /// let mut wheel = TimerWheel::new(start);
    /// wheel.insert(start, "now");
    /// let mut seen = Vec::new();
    /// let n = wheel.advance_with(start, |_, v| seen.push(v));
    /// assert_eq!((n, seen), (1, vec!["now"]));
    /// ```
    pub fn advance_with(&mut self, now: Instant, on_expired: impl FnMut(TimerKey, T)) -> usize {
        let now = self.clock.now_tick(now);
        self.advance_to_with(now, on_expired)
    }

    // ---- by key, either API ---------------------------------------------------------------

    /// Cancels the timer and returns its value, or `None` if `key` is stale (the timer fired,
    /// was cancelled, or belongs to another wheel's slot that has since been reused).
    ///
    /// O(1).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use loopwire_timer::TimerWheel;
    ///
    /// let start = Instant::now();
    /// let mut wheel = TimerWheel::new(start);
    /// let key = wheel.insert(start + Duration::from_secs(1), "read deadline");
    /// assert_eq!(wheel.cancel(key), Some("read deadline"));
    /// assert_eq!(wheel.cancel(key), None);
    /// ```
    pub fn cancel(&mut self, key: TimerKey) -> Option<T> {
        let when = self.entry(key)?.when;
        self.unlink(self.list_of(when), key.index);
        Some(self.slab.remove(key.index as usize).value)
    }

    /// The value of a pending timer, or `None` if `key` is stale.
    pub fn get(&self, key: TimerKey) -> Option<&T> {
        self.entry(key).map(|entry| &entry.value)
    }

    /// The value of a pending timer, mutably, or `None` if `key` is stale.
    pub fn get_mut(&mut self, key: TimerKey) -> Option<&mut T> {
        self.entry_mut(key).map(|entry| &mut entry.value)
    }

    /// Whether `key` names a pending timer.
    pub fn contains(&self, key: TimerKey) -> bool {
        self.entry(key).is_some()
    }

    /// Drops every pending timer; their keys become stale. The clock keeps its position.
    pub fn clear(&mut self) {
        self.slab.clear();
        *self.levels = [Level::EMPTY; LEVELS];
        self.occupied_levels = 0;
        self.pending = NIL;
    }

    /// Takes the next expired timer at or before tick `now`, advancing the clock as needed.
    /// The engine of [`Expired`].
    pub(crate) fn pop_expired(&mut self, now: u64) -> Option<(TimerKey, T)> {
        loop {
            if self.pending != NIL {
                let index = self.pending;
                let next = self.slab[index as usize].next;
                self.pending = next;
                if next != NIL {
                    self.slab[next as usize].prev = NIL;
                }
                let entry = self.slab.remove(index as usize);
                return Some((
                    TimerKey {
                        index,
                        generation: entry.generation,
                    },
                    entry.value,
                ));
            }
            match self.next_expiration() {
                Some((level, slot, start)) if start <= now => {
                    self.elapsed = start;
                    self.process_slot(level, slot);
                }
                _ => {
                    // Nothing else starts by `now`, so every remaining entry is still on the
                    // list `list_of` gives for the new `elapsed` (see `level.rs`).
                    self.elapsed = self.elapsed.max(now);
                    return None;
                }
            }
        }
    }

    /// Empties a slot that the clock has just reached (`elapsed` is its start): due entries
    /// become pending, the rest cascade to lower levels.
    fn process_slot(&mut self, level: usize, slot: usize) {
        debug_assert_eq!(
            self.pending, NIL,
            "slots are processed only once pending is drained"
        );
        let head = self.levels[level].take(slot);
        if self.levels[level].is_empty() {
            self.occupied_levels &= !(1 << level);
        }
        if level == 0 {
            // A level-0 slot is one tick wide: everything in it is due now, so the whole list
            // becomes the pending list as it is.
            self.pending = head;
            return;
        }
        let mut index = head;
        while index != NIL {
            let entry = &self.slab[index as usize];
            let (next, when) = (entry.next, entry.when);
            self.link(self.list_of(when), index);
            index = next;
        }
    }

    /// The first slot to process: the first occupied slot of the lowest non-empty level, with
    /// the tick at which it starts.
    fn next_expiration(&self) -> Option<(usize, usize, u64)> {
        let mut levels = self.occupied_levels;
        while levels != 0 {
            let level = levels.trailing_zeros() as usize;
            if let Some((slot, start)) = self.levels[level].next_expiration(level, self.elapsed) {
                return Some((level, slot, start));
            }
            levels &= levels - 1;
        }
        None
    }

    fn entry(&self, key: TimerKey) -> Option<&Entry<T>> {
        self.slab
            .get(key.index as usize)
            .filter(|entry| entry.generation == key.generation)
    }

    fn entry_mut(&mut self, key: TimerKey) -> Option<&mut Entry<T>> {
        self.slab
            .get_mut(key.index as usize)
            .filter(|entry| entry.generation == key.generation)
    }

    /// The list an entry due at tick `when` is on, given the wheel's current clock.
    fn list_of(&self, when: u64) -> List {
        list_of(self.elapsed, when)
    }

    fn head(&self, list: List) -> u32 {
        match list {
            List::Pending => self.pending,
            List::Slot { level, slot } => self.levels[level].head(slot),
        }
    }

    fn set_head(&mut self, list: List, head: u32) {
        match list {
            List::Pending => self.pending = head,
            List::Slot { level, slot } => {
                self.levels[level].set_head(slot, head);
                if head == NIL && self.levels[level].is_empty() {
                    self.occupied_levels &= !(1 << level);
                } else {
                    self.occupied_levels |= 1 << level;
                }
            }
        }
    }

    /// Puts entry `index` at the front of `list`.
    fn link(&mut self, list: List, index: u32) {
        let head = self.head(list);
        let entry = &mut self.slab[index as usize];
        entry.prev = NIL;
        entry.next = head;
        if head != NIL {
            self.slab[head as usize].prev = index;
        }
        self.set_head(list, index);
    }

    /// Takes entry `index` off `list`, which it must be on.
    fn unlink(&mut self, list: List, index: u32) {
        let entry = &self.slab[index as usize];
        let (prev, next) = (entry.prev, entry.next);
        if prev == NIL {
            debug_assert_eq!(
                self.head(list),
                index,
                "an entry without prev heads its list"
            );
            self.set_head(list, next);
        } else {
            self.slab[prev as usize].next = next;
        }
        if next != NIL {
            self.slab[next as usize].prev = prev;
        }
    }
}

/// Whether deadlines `old` and `new` are on the same list while the wheel stands at `elapsed`:
/// `list_of(elapsed, old) == list_of(elapsed, new)`, with one table lookup ([`slot_width`]).
///
/// An entry at level `n` is in the slot of its digit `n`, and it agrees with `elapsed` on every
/// digit above `n` (that is what makes `n` its level). So `new` is in the same slot exactly
/// when it agrees with `old` on digit `n` and above: then it agrees with `elapsed` above `n` and
/// differs at `n` too, which puts it at level `n`, and for `n > 0` its digit `n` (the old one)
/// is later than `elapsed`'s, so `new > elapsed`. At level 0 that means `new == old`.
#[inline]
fn same_list(elapsed: u64, old: u64, new: u64) -> bool {
    let same = if old <= elapsed {
        new <= elapsed
    } else {
        // Agreeing on digit `n` and above: differing below `64^n`.
        (old ^ new) < slot_width(elapsed, old)
    };
    debug_assert_eq!(same, list_of(elapsed, old) == list_of(elapsed, new));
    same
}

/// The list an entry due at tick `when` is on while the wheel stands at `elapsed`.
#[inline]
fn list_of(elapsed: u64, when: u64) -> List {
    if when <= elapsed {
        List::Pending
    } else {
        let level = level_for(elapsed, when);
        List::Slot {
            level,
            slot: slot_for(when, level),
        }
    }
}

/// The panic of [`TimerWheel::insert_at`] and [`TimerWheel::insert`] on a full wheel, out of
/// line so the inserts stay small.
#[cold]
#[track_caller]
fn full() -> ! {
    panic!("timer wheel is full: at most {MAX_TIMERS} timers can be pending")
}

/// An empty wheel for a caller that counts its own ticks: [`TimerWheel::new_ticks`].
impl<T> Default for TimerWheel<T> {
    fn default() -> Self {
        Self::new_ticks()
    }
}

impl<T> fmt::Debug for TimerWheel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWheel")
            .field("tick", &self.clock.tick())
            .field("len", &self.len())
            .field("current_tick", &self.elapsed)
            .field("next_due_tick", &self.next_due_tick())
            .finish_non_exhaustive()
    }
}

mod expired;

pub use expired::Expired;

#[cfg(test)]
mod tests;

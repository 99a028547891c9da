//! Property tests of `loopwire_timer::TimerWheel` against a `BTreeMap` model.
//!
//! Random sequences of inserts, cancels, resets and advances (small steps, big jumps of hours
//! to centuries, and backward steps) run on a simulated clock against a model that keeps every
//! live timer's deadline in a `BTreeMap`. After every advance the set of expired timers must be
//! exactly the model's timers whose deadline, rounded up to the next tick, is at or before
//! `now`: nothing fires early, nothing fires more than one tick late, nothing is lost or
//! duplicated, and stale keys do nothing. `next_deadline` must never be later than the
//! earliest such deadline, and an event loop that sleeps until it must reach every timer.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use loopwire_timer::{TimerKey, TimerWheel};
use proptest::prelude::*;

/// The wheel's levels; an event loop needs at most one wake-up per level to reach a timer.
const LEVELS: usize = 11;

/// Offsets from the test's start, in nanoseconds, chosen to hit every level and the limits.
fn offset() -> impl Strategy<Value = u128> {
    prop_oneof![
        4 => 0..200_000_000_u128,                          // within 200 ms
        3 => 0..100_000_000_000_u128,                      // within 100 s
        2 => 0..(40 * 86_400 * 1_000_000_000_u128),        // within 40 days
        1 => 0..(200 * 365 * 86_400 * 1_000_000_000_u128), // within two centuries
        1 => Just(u128::from(u64::MAX) * 3),               // past u64 nanoseconds (1,750 years)
    ]
}

/// A step of the simulated clock, in nanoseconds; negative steps go backwards.
fn step() -> impl Strategy<Value = i128> {
    prop_oneof![
        4 => 0..3_000_000_i128,
        2 => 0..200_000_000_i128,
        1 => 0..(90 * 86_400 * 1_000_000_000_i128),
        1 => 0..(300 * 365 * 86_400 * 1_000_000_000_i128),
        1 => -5_000_000_i128..0,
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Insert(u128),
    /// Cancel the timer at this position among all keys ever issued (live or stale).
    Cancel(usize),
    Reset(usize, u128),
    Get(usize),
    Advance(i128),
    /// Sleep until `next_deadline` and advance, as an event loop does.
    Wake,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => offset().prop_map(Op::Insert),
        2 => any::<usize>().prop_map(Op::Cancel),
        3 => (any::<usize>(), offset()).prop_map(|(i, at)| Op::Reset(i, at)),
        1 => any::<usize>().prop_map(Op::Get),
        4 => step().prop_map(Op::Advance),
        2 => Just(Op::Wake),
    ]
}

/// Tick lengths in nanoseconds: 1 ns, odd ones, and the 1 ms default.
fn tick() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(1),
        Just(7),
        1..5_000_u64,
        Just(1_000_000),
        Just(3_000_000)
    ]
}

/// The simulated clock and the rounding rule the wheel promises.
struct Time {
    start: Instant,
    tick: u128,
}

impl Time {
    /// `start + nanos`, or `None` where `Instant` cannot go that far on this platform.
    fn at(&self, nanos: u128) -> Option<Instant> {
        let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
        self.start
            .checked_add(Duration::new(secs, (nanos % 1_000_000_000) as u32))
    }

    /// The tick at which a deadline fires: rounded up; beyond `u64` ticks, never.
    fn fire_tick(&self, nanos: u128) -> Option<u64> {
        u64::try_from(nanos.div_ceil(self.tick))
            .ok()
            .filter(|&t| t != u64::MAX)
    }

    /// The tick a present time has reached: rounded down, capped one below "never".
    fn now_tick(&self, nanos: u128) -> u64 {
        u64::try_from(nanos / self.tick)
            .unwrap_or(u64::MAX)
            .min(u64::MAX - 1)
    }
}

/// What the model knows of one live timer.
#[derive(Debug, Clone, Copy)]
struct Live {
    deadline: u128,
    value: u64,
}

struct Harness {
    time: Time,
    wheel: TimerWheel<u64>,
    /// Every key ever issued, so ops can pick stale ones too.
    issued: Vec<TimerKey>,
    live: BTreeMap<TimerKey, Live>,
    /// Live timers by (fire tick, key); timers that never fire are not here.
    schedule: BTreeSet<(u64, TimerKey)>,
    now: u128,
    next_value: u64,
}

impl Harness {
    fn new(tick: u64) -> Self {
        let start = Instant::now();
        let wheel = TimerWheel::with_tick(start, Duration::from_nanos(tick)).expect("non-zero");
        Self {
            time: Time {
                start,
                tick: u128::from(tick),
            },
            wheel,
            issued: Vec::new(),
            live: BTreeMap::new(),
            schedule: BTreeSet::new(),
            now: 0,
            next_value: 0,
        }
    }

    fn pick(&self, i: usize) -> Option<TimerKey> {
        (!self.issued.is_empty()).then(|| self.issued[i % self.issued.len()])
    }

    fn schedule(&mut self, key: TimerKey, deadline: u128) {
        if let Some(tick) = self.time.fire_tick(deadline) {
            self.schedule.insert((tick, key));
        }
    }

    fn unschedule(&mut self, key: TimerKey) -> Option<Live> {
        let live = self.live.remove(&key)?;
        if let Some(tick) = self.time.fire_tick(live.deadline) {
            assert!(self.schedule.remove(&(tick, key)));
        }
        Some(live)
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Insert(deadline) => {
                let Some(at) = self.time.at(deadline) else {
                    return Ok(());
                };
                let value = self.next_value;
                self.next_value += 1;
                let key = self.wheel.insert(at, value);
                prop_assert!(!self.live.contains_key(&key), "a key was issued twice");
                self.issued.push(key);
                self.live.insert(key, Live { deadline, value });
                self.schedule(key, deadline);
            }
            Op::Cancel(i) => {
                let Some(key) = self.pick(i) else {
                    return Ok(());
                };
                let expected = self.unschedule(key).map(|l| l.value);
                prop_assert_eq!(self.wheel.cancel(key), expected);
            }
            Op::Reset(i, deadline) => {
                let (Some(key), Some(at)) = (self.pick(i), self.time.at(deadline)) else {
                    return Ok(());
                };
                let was_live = self.live.contains_key(&key);
                prop_assert_eq!(self.wheel.reset(key, at), was_live);
                if let Some(live) = self.unschedule(key) {
                    self.live.insert(key, Live { deadline, ..live });
                    self.schedule(key, deadline);
                }
            }
            Op::Get(i) => {
                let Some(key) = self.pick(i) else {
                    return Ok(());
                };
                let expected = self.live.get(&key).map(|l| l.value);
                prop_assert_eq!(self.wheel.get(key).copied(), expected);
                prop_assert_eq!(self.wheel.contains(key), expected.is_some());
            }
            Op::Advance(step) => {
                let now = self.now.saturating_add_signed(step);
                self.advance_to(now)?;
            }
            Op::Wake => self.wake()?,
        }
        prop_assert_eq!(self.wheel.len(), self.live.len());
        self.check_next_deadline()
    }

    /// Advances the wheel to `now` (which may be behind the model's clock) and checks the
    /// expired set against the model.
    fn advance_to(&mut self, now: u128) -> Result<(), TestCaseError> {
        let Some(at) = self.time.at(now) else {
            return Ok(());
        };
        // Timers due before this advance (inserted or reset into the past) come out first, in
        // no particular order; after them, ticks must not decrease.
        let already_due = self.time.now_tick(self.now);
        // The model's clock never goes backwards; the wheel must ignore a step back too.
        self.now = self.now.max(now);
        let reached = self.time.now_tick(self.now);
        let mut expected = BTreeSet::new();
        while let Some(&(tick, key)) = self.schedule.first() {
            if tick > reached {
                break;
            }
            self.schedule.pop_first();
            expected.insert(key);
        }
        let mut fired = BTreeSet::new();
        let mut last_tick = 0;
        for (key, value) in self.wheel.advance(at) {
            let live = self.live.remove(&key);
            prop_assert!(live.is_some(), "fired a key that is not live: {:?}", key);
            let live = live.unwrap_or(Live {
                deadline: 0,
                value: 0,
            });
            prop_assert_eq!(value, live.value);
            prop_assert!(live.deadline <= self.now, "fired before its deadline");
            // Ticks come out in order.
            let tick = self
                .time
                .fire_tick(live.deadline)
                .unwrap_or(u64::MAX)
                .max(already_due);
            prop_assert!(
                tick >= last_tick,
                "out of order: tick {} after {}",
                tick,
                last_tick
            );
            last_tick = tick;
            prop_assert!(fired.insert(key), "fired twice");
        }
        // Expected ∖ fired would be late timers; fired ∖ expected would be early ones.
        prop_assert_eq!(fired, expected);
        Ok(())
    }

    /// Sleeps until `next_deadline` and advances, until the earliest timer fires: at most one
    /// wake-up per level.
    fn wake(&mut self) -> Result<(), TestCaseError> {
        let Some(&(target, _)) = self.schedule.first() else {
            return Ok(());
        };
        for _ in 0..=LEVELS {
            let Some(at) = self.wheel.next_deadline() else {
                prop_assert!(false, "a timer is pending but next_deadline is None");
                return Ok(());
            };
            let nanos = at.duration_since(self.time.start).as_nanos();
            self.advance_to(nanos.max(self.now))?;
            let reached = self.time.now_tick(self.now);
            if reached >= target {
                return Ok(());
            }
        }
        prop_assert!(
            false,
            "the earliest timer was not reached in {} wake-ups",
            LEVELS + 1
        );
        Ok(())
    }

    /// `next_deadline` is never after the earliest fire time, and never in the past of the
    /// wheel's clock unless something is already due.
    fn check_next_deadline(&self) -> Result<(), TestCaseError> {
        let next = self.wheel.next_deadline();
        match self.schedule.first() {
            Some(&(tick, _)) => {
                let Some(at) = next else {
                    prop_assert!(false, "pending timer but no next_deadline");
                    return Ok(());
                };
                let nanos = at.duration_since(self.time.start).as_nanos();
                if tick > self.time.now_tick(self.now) {
                    let fires_at = u128::from(tick) * self.time.tick;
                    prop_assert!(nanos <= fires_at, "next_deadline after the earliest timer");
                    prop_assert!(
                        nanos > self.now,
                        "nothing is due yet next_deadline has passed"
                    );
                } else {
                    // Something is due already: the poll timeout must be zero.
                    prop_assert!(
                        nanos <= self.now,
                        "a timer is due but next_deadline is ahead"
                    );
                }
            }
            // Only never-firing timers (or none): a far deadline or nothing is fine.
            None => {
                if let Some(at) = next {
                    let nanos = at.duration_since(self.time.start).as_nanos();
                    prop_assert!(
                        nanos > self.now,
                        "nothing is due yet next_deadline has passed"
                    );
                }
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn wheel_matches_the_model(tick in tick(), ops in prop::collection::vec(op(), 1..120)) {
        let mut harness = Harness::new(tick);
        for op in ops {
            harness.apply(op)?;
        }
        // Finally jump past the last deadline: everything that can fire does, exactly once.
        let last = harness.live.values().filter_map(|l| harness.time.fire_tick(l.deadline)).max();
        if let Some(last) = last {
            let end = u128::from(last) * harness.time.tick;
            if harness.time.at(end).is_some() {
                harness.advance_to(end)?;
                let never = harness.live.values().all(|l| harness.time.fire_tick(l.deadline).is_none());
                prop_assert!(never, "a timer that should have fired is still pending");
            }
        }
    }

    #[test]
    fn dense_small_steps_fire_every_timer_within_a_tick(
        deadlines in prop::collection::vec(0..300_000_000_u128, 1..300),
        step in 100_000..5_000_000_u128,
    ) {
        let mut harness = Harness::new(1_000_000);
        for deadline in deadlines {
            harness.apply(Op::Insert(deadline))?;
        }
        while !harness.live.is_empty() {
            let now = harness.now + step;
            harness.advance_to(now)?;
            harness.check_next_deadline()?;
        }
    }
}

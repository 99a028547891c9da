//! Property tests of `loopwire_timer::TimerWheel`'s tick API against a `BTreeMap` model.
//!
//! The engine drives the wheel in integer ticks (`insert_at`, `reset_at`, `cancel`,
//! `advance_to`, `next_due_tick`), never through `Instant`s. Random sequences of those calls,
//! with ticks that hit every level of the wheel and its limits (`NEVER`, `u64::MAX - 1`), run
//! against a model holding each live timer's tick. After every advance the timers that come out
//! must be exactly the model's timers due at or before the tick reached, in order of tick
//! (those already due first); `deadline_tick`, `get`, `len` and `current_tick` must agree with
//! the model; `next_due_tick` is never later than the earliest due tick and a loop that sleeps
//! until it reaches every timer within one wake-up per level; dropping an `Expired` iterator
//! early loses nothing.

use std::collections::{BTreeMap, BTreeSet};

use loopwire_timer::{NEVER, TimerKey, TimerWheel};
use proptest::prelude::*;

/// The wheel's levels; a loop needs at most one wake-up per level to reach a timer.
const LEVELS: usize = 11;

/// Ticks relative to the wheel's current tick, chosen to hit every level and the limits.
fn ahead() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0..64_u64,
        3 => 0..100_000_u64,
        2 => 0..(1_u64 << 40),
        1 => 0..u64::MAX,
        1 => Just(u64::MAX),
    ]
}

/// How far an advance moves, in ticks; `Back` asks for a tick behind the wheel's clock.
fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..70_u64).prop_map(Step::Forward),
        2 => (0..5_000_u64).prop_map(Step::Forward),
        1 => (0..(1_u64 << 36)).prop_map(Step::Forward),
        1 => any::<u64>().prop_map(Step::Forward),
        1 => (1..1_000_u64).prop_map(Step::Back),
    ]
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Forward(u64),
    Back(u64),
}

#[derive(Debug, Clone)]
enum Op {
    /// Insert at `current_tick + ahead` (saturating), or at an absolute past tick.
    Insert(u64),
    InsertPast(u64),
    /// Cancel the key at this position among all keys ever issued (live or stale).
    Cancel(usize),
    Reset(usize, u64),
    Advance(Step),
    /// Advance, but take only this many expired timers and drop the iterator.
    AdvancePartly(Step, usize),
    /// Sleep until `next_due_tick` and advance, as the event loop does.
    Wake,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => ahead().prop_map(Op::Insert),
        1 => any::<u64>().prop_map(Op::InsertPast),
        2 => any::<usize>().prop_map(Op::Cancel),
        3 => (any::<usize>(), ahead()).prop_map(|(i, t)| Op::Reset(i, t)),
        4 => step().prop_map(Op::Advance),
        1 => (step(), 0..4_usize).prop_map(|(s, n)| Op::AdvancePartly(s, n)),
        2 => Just(Op::Wake),
    ]
}

struct Harness {
    wheel: TimerWheel<u64>,
    /// Every key ever issued, so ops pick stale ones too.
    issued: Vec<TimerKey>,
    /// Live timers: key -> (tick, value).
    live: BTreeMap<TimerKey, (u64, u64)>,
    /// The latest tick the wheel was advanced to (never decreasing, capped below `NEVER`).
    now: u64,
    next_value: u64,
}

impl Harness {
    fn new() -> Self {
        Self {
            wheel: TimerWheel::new_ticks(),
            issued: Vec::new(),
            live: BTreeMap::new(),
            now: 0,
            next_value: 0,
        }
    }

    fn pick(&self, i: usize) -> Option<TimerKey> {
        (!self.issued.is_empty()).then(|| self.issued[i % self.issued.len()])
    }

    fn insert(&mut self, tick: u64) {
        let value = self.next_value;
        self.next_value += 1;
        let key = self.wheel.insert_at(tick, value);
        self.issued.push(key);
        self.live.insert(key, (tick, value));
    }

    fn target(&self, step: Step) -> u64 {
        match step {
            Step::Forward(n) => self.now.saturating_add(n),
            Step::Back(n) => self.now.saturating_sub(n),
        }
    }

    fn apply(&mut self, op: Op) -> Result<(), TestCaseError> {
        match op {
            Op::Insert(ahead) => self.insert(self.now.saturating_add(ahead)),
            Op::InsertPast(t) => self.insert(t % self.now.saturating_add(1)),
            Op::Cancel(i) => {
                if let Some(key) = self.pick(i) {
                    let model = self.live.remove(&key).map(|(_, v)| v);
                    prop_assert_eq!(self.wheel.cancel(key), model);
                    prop_assert!(!self.wheel.contains(key));
                }
            }
            Op::Reset(i, ahead) => {
                if let Some(key) = self.pick(i) {
                    let tick = self.now.saturating_add(ahead);
                    let is_live = self.live.contains_key(&key);
                    prop_assert_eq!(self.wheel.reset_at(key, tick), is_live);
                    if let Some(entry) = self.live.get_mut(&key) {
                        entry.0 = tick;
                    }
                }
            }
            Op::Advance(step) => self.advance(self.target(step), usize::MAX)?,
            Op::AdvancePartly(step, n) => self.advance(self.target(step), n)?,
            Op::Wake => self.wake()?,
        }
        self.check_state()
    }

    /// Advances to `tick` taking at most `take` expired timers, and checks them against the
    /// model: due, in order, each once, and (when all are taken) every due timer.
    fn advance(&mut self, tick: u64, take: usize) -> Result<(), TestCaseError> {
        let already = self.now;
        self.now = self.now.max(tick.min(NEVER - 1));
        let reached = self.now;
        let mut fired = BTreeSet::new();
        let mut last = 0;
        for (key, value) in self.wheel.advance_to(tick).take(take) {
            let Some((when, expected)) = self.live.remove(&key) else {
                prop_assert!(false, "yielded a key that is not live: {:?}", key);
                continue;
            };
            prop_assert_eq!(value, expected);
            prop_assert!(when <= reached, "tick {} yielded at {}", when, reached);
            // Timers already due before this advance come first, in any order.
            let order = when.max(already);
            prop_assert!(order >= last, "out of order: {} after {}", order, last);
            last = order;
            prop_assert!(fired.insert(key), "yielded twice");
        }
        let current = self.wheel.current_tick();
        if take == usize::MAX {
            let late: Vec<_> = self.live.values().filter(|(w, _)| *w <= reached).collect();
            prop_assert!(late.is_empty(), "due but not yielded: {:?}", late);
            prop_assert_eq!(current, reached);
        } else {
            // Dropped early: the wheel may stand short of the target, where the timers left
            // behind wait for the next advance.
            prop_assert!(
                already <= current && current <= reached,
                "current_tick {}",
                current
            );
            self.now = current;
        }
        Ok(())
    }

    /// Sleeps until `next_due_tick` and advances until the earliest timer fires.
    fn wake(&mut self) -> Result<(), TestCaseError> {
        let Some(target) = self.earliest() else {
            return Ok(());
        };
        for _ in 0..=LEVELS {
            let Some(due) = self.wheel.next_due_tick() else {
                prop_assert!(
                    false,
                    "timer at {} pending but next_due_tick is None",
                    target
                );
                return Ok(());
            };
            self.advance(due, usize::MAX)?;
            if self.now >= target {
                return Ok(());
            }
        }
        prop_assert!(
            false,
            "tick {} not reached in {} wake-ups",
            target,
            LEVELS + 1
        );
        Ok(())
    }

    /// The earliest tick of a timer that can fire.
    fn earliest(&self) -> Option<u64> {
        self.live
            .values()
            .map(|&(w, _)| w)
            .filter(|&w| w != NEVER)
            .min()
    }

    fn check_state(&self) -> Result<(), TestCaseError> {
        prop_assert_eq!(self.wheel.len(), self.live.len());
        for (&key, &(when, value)) in &self.live {
            prop_assert_eq!(self.wheel.deadline_tick(key), Some(when));
            prop_assert_eq!(self.wheel.get(key), Some(&value));
        }
        let next = self.wheel.next_due_tick();
        match self.earliest() {
            // Only NEVER timers (or none): nothing, or a tick beyond any real clock.
            None => {
                if self.live.is_empty() {
                    prop_assert_eq!(next, None);
                } else if let Some(next) = next {
                    prop_assert!(
                        next >= self.now.max(15 << 60),
                        "NEVER timers wake at {}",
                        next
                    );
                }
            }
            Some(earliest) => {
                let Some(next) = next else {
                    prop_assert!(false, "timer at {} pending, next_due_tick None", earliest);
                    return Ok(());
                };
                prop_assert!(
                    next <= earliest.max(self.now),
                    "next {} > {}",
                    next,
                    earliest
                );
                prop_assert!(next >= self.now, "next_due_tick {} behind the clock", next);
                if earliest <= self.now {
                    prop_assert_eq!(next, self.now, "a timer is due: zero timeout");
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
    fn tick_api_matches_the_model(ops in prop::collection::vec(op(), 1..150)) {
        let mut harness = Harness::new();
        for op in ops {
            harness.apply(op)?;
        }
        // Finally the end of time: everything but NEVER comes out, exactly once.
        harness.advance(u64::MAX, usize::MAX)?;
        prop_assert!(harness.live.values().all(|&(w, _)| w == NEVER));
    }

    #[test]
    fn a_heartbeat_pushed_back_fires_once_at_its_last_tick(
        resets in prop::collection::vec(1..5_000_u64, 1..200),
        timeout in 1..100_000_u64,
    ) {
        // A connection's idle timer, pushed back on every read as the engine does.
        let mut wheel = TimerWheel::new_ticks();
        let key = wheel.insert_at(timeout, ());
        let mut now = 0_u64;
        for gap in resets {
            let step = gap.min(timeout - 1);
            now += step;
            prop_assert_eq!(wheel.advance_to(now).count(), 0, "fired while still active");
            prop_assert!(wheel.reset_at(key, now + timeout));
        }
        prop_assert_eq!(wheel.advance_to(now + timeout - 1).count(), 0);
        prop_assert_eq!(wheel.advance_to(now + timeout).count(), 1);
        prop_assert!(wheel.is_empty());
    }
}

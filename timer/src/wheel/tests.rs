//! Unit tests of [`TimerWheel`]: one per edge of the contract, plus a seeded random run that
//! checks the internal list invariants after every operation.

use super::*;

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Walks every list and checks links, occupancy bits and that each entry is on the list
/// `list_of` names for it.
fn check<T>(wheel: &TimerWheel<T>) {
    let mut seen = 0;
    let mut walk = |list: List| {
        let mut prev = NIL;
        let mut index = wheel.head(list);
        while index != NIL {
            let entry = &wheel.slab[index as usize];
            assert_eq!(entry.prev, prev, "back link of {index}");
            assert_eq!(
                wheel.list_of(entry.when),
                list,
                "entry {index} is on the wrong list"
            );
            seen += 1;
            prev = index;
            index = entry.next;
        }
    };
    walk(List::Pending);
    for level in 0..LEVELS {
        for slot in 0..64 {
            walk(List::Slot { level, slot });
            let occupied = wheel.levels[level].head(slot) != NIL;
            assert_eq!(wheel.levels[level].occupied() >> slot & 1 == 1, occupied);
        }
        assert_eq!(
            wheel.occupied_levels >> level & 1 == 1,
            !wheel.levels[level].is_empty()
        );
    }
    assert_eq!(seen, wheel.len(), "every entry is on exactly one list");
}

fn drain<T>(wheel: &mut TimerWheel<T>, now: Instant) -> Vec<T> {
    let out = wheel.advance(now).map(|(_, v)| v).collect();
    check(wheel);
    out
}

#[test]
fn fires_at_the_deadline_and_not_before() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    wheel.insert(start + ms(5), "a");
    assert!(drain(&mut wheel, start + ms(5) - Duration::from_nanos(1)).is_empty());
    assert_eq!(drain(&mut wheel, start + ms(5)), ["a"]);
    assert!(wheel.is_empty());
}

#[test]
fn deadlines_between_ticks_round_up() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    let key = wheel.insert(start + Duration::from_micros(5300), ());
    assert_eq!(wheel.deadline(key), Some(start + ms(6)));
    assert_eq!(wheel.next_deadline(), Some(start + ms(6)));
    assert!(drain(&mut wheel, start + Duration::from_micros(5999)).is_empty());
    assert_eq!(drain(&mut wheel, start + ms(6)).len(), 1);
}

#[test]
fn past_deadlines_fire_on_the_next_advance() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    assert!(drain(&mut wheel, start + ms(100)).is_empty());
    wheel.insert(start + ms(40), "behind the wheel");
    if let Some(before_start) = start.checked_sub(ms(10)) {
        wheel.insert(before_start, "before start");
    }
    wheel.insert(start, "at start");
    check(&wheel);
    assert_eq!(wheel.next_deadline(), Some(start + ms(100)));
    let mut fired = drain(&mut wheel, start + ms(100));
    fired.sort_unstable();
    let expected = if start.checked_sub(ms(10)).is_some() {
        vec!["at start", "before start", "behind the wheel"]
    } else {
        vec!["at start", "behind the wheel"]
    };
    assert_eq!(fired, expected);
}

#[test]
fn every_level_fires_within_one_tick_of_its_deadline() {
    let start = Instant::now();
    for level in 0..7_u32 {
        let mut wheel = TimerWheel::new(start);
        // Digit 5 at `level` and at every level below, so it cascades through all of them.
        let ticks: u64 = (0..=level).map(|l| 5 * 64_u64.pow(l)).sum();
        let deadline = start + ms(ticks);
        wheel.insert(deadline, level);
        check(&wheel);
        // Hop from one next_deadline to the next, as an event loop does.
        let mut hops = 0;
        loop {
            let at = wheel.next_deadline().expect("timer pending");
            assert!(
                at <= deadline,
                "level {level}: next_deadline {at:?} after the deadline"
            );
            let fired = drain(&mut wheel, at);
            hops += 1;
            if !fired.is_empty() {
                assert_eq!(at, deadline, "level {level} fired at {at:?}");
                break;
            }
            assert!(hops <= LEVELS, "level {level}: too many hops");
        }
        assert_eq!(hops, level as usize + 1, "one wake-up per level");
    }
}

#[test]
fn a_big_jump_fires_everything_due_and_nothing_else() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    for secs in [1, 60, 3_600, 86_400, 40 * 86_400, 400 * 86_400] {
        wheel.insert(start + Duration::from_secs(secs), secs);
    }
    let later = wheel.insert(start + Duration::from_secs(400 * 86_400) + MS, 0);
    let mut fired = drain(&mut wheel, start + Duration::from_secs(400 * 86_400));
    fired.sort_unstable();
    assert_eq!(fired, [1, 60, 3_600, 86_400, 40 * 86_400, 400 * 86_400]);
    assert_eq!(wheel.next_deadline(), wheel.deadline(later));
    assert_eq!(
        drain(&mut wheel, start + Duration::from_secs(400 * 86_400) + MS),
        [0]
    );
}

#[test]
fn expired_timers_come_out_in_tick_order() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    for t in [700_u64, 5, 90, 64, 63, 4096, 1, 100_000] {
        wheel.insert(start + ms(t), t);
    }
    assert_eq!(
        drain(&mut wheel, start + ms(200_000)),
        [1, 5, 63, 64, 90, 700, 4096, 100_000]
    );
}

#[test]
fn far_future_deadlines_never_panic_or_fire_early() {
    let start = Instant::now();
    // With a 1 ns tick, u64::MAX ticks is about 584 years.
    let mut wheel = TimerWheel::with_tick(start, Duration::from_nanos(1)).expect("valid tick");
    let Some(far) = start.checked_add(Duration::from_secs(1 << 40)) else {
        return;
    };
    let key = wheel.insert(far, "beyond the tick range");
    assert_eq!(wheel.slab[key.index as usize].when, NEVER);
    check(&wheel);
    assert!(
        drain(&mut wheel, far).is_empty(),
        "a NEVER timer must not fire"
    );
    if let Some(further) = far.checked_add(Duration::from_secs(1 << 40)) {
        assert!(drain(&mut wheel, further).is_empty());
    }
    assert_eq!(wheel.cancel(key), Some("beyond the tick range"));

    // With the default tick the same instant is representable and fires on time.
    let mut wheel = TimerWheel::new(start);
    wheel.insert(far, "34,800 years");
    assert!(drain(&mut wheel, far - MS).is_empty());
    assert_eq!(drain(&mut wheel, far), ["34,800 years"]);
}

#[test]
fn largest_tick_and_instants_do_not_overflow() {
    let start = Instant::now();
    let mut wheel = TimerWheel::with_tick(start, Duration::from_nanos(u64::MAX)).expect("valid");
    let key = wheel.insert(start + Duration::from_secs(1), ());
    assert_eq!(
        wheel.next_deadline(),
        start.checked_add(Duration::from_nanos(u64::MAX))
    );
    assert!(drain(&mut wheel, start + Duration::from_secs(1)).is_empty());
    assert!(wheel.contains(key));
    // Probe the largest instant this platform can form from `start`.
    let mut far = start;
    let mut step = Duration::MAX;
    while step > Duration::ZERO {
        match far.checked_add(step) {
            Some(t) => far = t,
            None => step /= 2,
        }
    }
    wheel.insert(far, ());
    let _ = drain(&mut wheel, far);
    let mut fine = TimerWheel::with_tick(start, Duration::from_nanos(1)).expect("valid");
    fine.insert(far, ());
    assert!(drain(&mut fine, far).is_empty());
    let _ = fine.next_deadline();
    check(&fine);
}

#[test]
fn zero_and_overlong_ticks_are_errors() {
    let start = Instant::now();
    assert_eq!(
        TimerWheel::<()>::with_tick(start, Duration::ZERO).unwrap_err(),
        TimerError::ZeroTick
    );
    assert!(matches!(
        TimerWheel::<()>::with_tick(start, Duration::MAX),
        Err(TimerError::TickTooLong(Duration::MAX))
    ));
}

#[test]
fn stale_keys_do_nothing_even_after_slot_reuse() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    let fired = wheel.insert(start + MS, "fired");
    let cancelled = wheel.insert(start + ms(50), "cancelled");
    assert_eq!(drain(&mut wheel, start + MS), ["fired"]);
    assert_eq!(wheel.cancel(cancelled), Some("cancelled"));

    // Both slab slots are reused by new timers.
    let a = wheel.insert(start + ms(10), "a");
    let b = wheel.insert(start + ms(10), "b");
    let mut indices = [a.index, b.index];
    indices.sort_unstable();
    let mut old = [fired.index, cancelled.index];
    old.sort_unstable();
    assert_eq!(indices, old, "slots are reused");

    for stale in [fired, cancelled] {
        assert_eq!(wheel.cancel(stale), None);
        assert!(!wheel.reset(stale, start + ms(999)));
        assert_eq!(wheel.get(stale), None);
        assert_eq!(wheel.get_mut(stale), None);
        assert!(!wheel.contains(stale));
        assert_eq!(wheel.deadline(stale), None);
    }
    assert_eq!(wheel.len(), 2);
    check(&wheel);
    assert_eq!(wheel.get(a), Some(&"a"));
    *wheel.get_mut(b).expect("live") = "B";
    let mut fired = drain(&mut wheel, start + ms(10));
    fired.sort_unstable();
    assert_eq!(fired, ["B", "a"]);
}

#[test]
fn reset_moves_timers_both_ways_and_keeps_the_key() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    let key = wheel.insert(start + ms(5_000), "k");
    // Same slot (level 2 slot 1 covers 4096..8192 ms): only the deadline changes.
    assert!(wheel.reset(key, start + ms(5_001)));
    check(&wheel);
    // Earlier, to another level.
    assert!(wheel.reset(key, start + ms(30)));
    check(&wheel);
    assert_eq!(wheel.next_deadline(), Some(start + ms(30)));
    // Later, to a higher level.
    assert!(wheel.reset(key, start + ms(70_000)));
    check(&wheel);
    assert!(drain(&mut wheel, start + ms(69_999)).is_empty());
    assert!(wheel.reset(key, start + ms(80_000)));
    assert!(drain(&mut wheel, start + ms(79_999)).is_empty());
    assert_eq!(wheel.advance(start + ms(80_000)).next(), Some((key, "k")));
}

#[test]
fn reset_into_the_past_fires_on_the_next_advance_and_back_again() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    assert!(drain(&mut wheel, start + ms(10)).is_empty());
    let key = wheel.insert(start + ms(20), 1);
    assert!(wheel.reset(key, start + ms(3)));
    check(&wheel);
    assert_eq!(wheel.next_deadline(), Some(start + ms(10)));
    // A due timer pushed back into the future is no longer due.
    assert!(wheel.reset(key, start + ms(15)));
    check(&wheel);
    assert!(drain(&mut wheel, start + ms(14)).is_empty());
    assert_eq!(drain(&mut wheel, start + ms(15)), [1]);
}

#[test]
fn dropping_the_iterator_early_keeps_the_rest_due() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    for t in 1..=5 {
        wheel.insert(start + ms(t * 100), t);
    }
    let first: Vec<_> = wheel
        .advance(start + ms(1_000))
        .take(2)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(first, [1, 2]);
    check(&wheel);
    // The clock stopped at the last slot processed, so the poll timeout is already due.
    assert!(
        wheel
            .next_deadline()
            .is_some_and(|at| at <= start + ms(1_000))
    );
    // A timer inserted now, due before the old `now`, is still found in order.
    wheel.insert(start + ms(250), 25);
    check(&wheel);
    assert_eq!(drain(&mut wheel, start + ms(1_000)), [25, 3, 4, 5]);
}

#[test]
fn a_clock_going_backwards_moves_nothing() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    wheel.insert(start + ms(50), "later");
    assert!(drain(&mut wheel, start + ms(40)).is_empty());
    assert!(drain(&mut wheel, start + ms(10)).is_empty());
    if let Some(before) = start.checked_sub(ms(10)) {
        assert!(drain(&mut wheel, before).is_empty());
    }
    assert_eq!(wheel.elapsed, 40);
    assert_eq!(drain(&mut wheel, start + ms(50)), ["later"]);
}

#[test]
fn next_deadline_is_exact_at_level_zero_and_early_above() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    wheel.insert(start + ms(63), ());
    assert_eq!(wheel.next_deadline(), Some(start + ms(63)));
    wheel.clear();
    // 5000 ms is at level 2, slot 1, which starts at 4096 ms.
    wheel.insert(start + ms(5_000), ());
    assert_eq!(wheel.next_deadline(), Some(start + ms(4_096)));
    assert!(drain(&mut wheel, start + ms(4_096)).is_empty());
    // After the cascade it is exact or closer.
    let next = wheel.next_deadline().expect("pending");
    assert!(next > start + ms(4_096) && next <= start + ms(5_000));
}

#[test]
fn clear_drops_everything_and_stales_keys() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    let keys: Vec<_> = (0..100)
        .map(|i| wheel.insert(start + ms(i * 37), i))
        .collect();
    wheel.clear();
    check(&wheel);
    assert!(wheel.is_empty());
    assert_eq!(wheel.next_deadline(), None);
    assert!(keys.iter().all(|&k| !wheel.contains(k)));
    let fresh = wheel.insert(start + MS, 7);
    assert!(keys.iter().all(|&k| k != fresh));
    assert_eq!(drain(&mut wheel, start + MS), [7]);
}

#[test]
fn advance_with_reports_the_count_and_every_pair() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    let keys: Vec<_> = (1..=3).map(|i| wheel.insert(start + ms(i), i)).collect();
    let mut seen = Vec::new();
    assert_eq!(
        wheel.advance_with(start + ms(2), |k, v| seen.push((k, v))),
        2
    );
    assert_eq!(seen, [(keys[0], 1), (keys[1], 2)]);
    assert_eq!(wheel.advance_with(start + ms(2), |_, _| unreachable!()), 0);
}

#[test]
fn capacity_and_debug_are_reported() {
    let start = Instant::now();
    let mut wheel = TimerWheel::<u8>::with_capacity(start, 64);
    assert!(wheel.capacity() >= 64);
    wheel.reserve(1_000);
    assert!(wheel.capacity() >= 1_000);
    assert_eq!(wheel.tick(), MS);
    assert_eq!(wheel.start(), start);
    wheel.insert(start + MS, 1);
    let text = format!("{wheel:?}");
    assert!(
        text.contains("len: 1") && text.contains("TimerWheel"),
        "{text}"
    );
    assert!(text.contains("current_tick: 0"), "{text}");
    assert!(text.contains("next_due_tick: Some(1)"), "{text}");
    let expired = wheel.advance(start);
    assert!(format!("{expired:?}").contains("now_tick: 0"));
    let expired = wheel.advance_to(u64::MAX);
    assert!(
        format!("{expired:?}").contains(&format!("now_tick: {}", u64::MAX - 1)),
        "advance_to caps its tick"
    );
}

/// A seeded xorshift: the same sequence on every run, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

#[test]
fn random_operations_keep_the_lists_consistent() {
    let start = Instant::now();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut wheel = TimerWheel::new(start);
    let mut keys = Vec::new();
    let mut now = 0_u64;
    let iterations = if cfg!(miri) { 300 } else { 20_000 };
    for _ in 0..iterations {
        // Deadlines from the past up to about two years ahead, weighted towards near ones.
        let horizon = [64, 4_096, 1 << 20, 1 << 36][rng.below(4) as usize];
        let deadline = (now + rng.below(horizon)).saturating_sub(rng.below(3));
        match rng.below(10) {
            // The tick and `Instant` methods are interchangeable here (1 ms ticks from `start`).
            0 | 1 => keys.push(wheel.insert(start + ms(deadline), deadline)),
            2 | 3 => keys.push(wheel.insert_at(deadline, deadline)),
            4 | 5 if !keys.is_empty() => {
                let key = keys.swap_remove(rng.below(keys.len() as u64) as usize);
                let _ = wheel.cancel(key);
            }
            6 | 7 if !keys.is_empty() => {
                let key = keys[rng.below(keys.len() as u64) as usize];
                let moved = if rng.below(2) == 0 {
                    wheel.reset(key, start + ms(deadline))
                } else {
                    wheel.reset_at(key, deadline)
                };
                // The value records the deadline, for the check at expiry.
                if let Some(value) = wheel.get_mut(key) {
                    assert!(moved);
                    *value = deadline;
                }
            }
            _ => {
                now += [1, 7, 64, 5_000, 1 << 22][rng.below(5) as usize];
                let fired: Vec<_> = if rng.below(2) == 0 {
                    wheel.advance(start + ms(now)).collect()
                } else {
                    wheel.advance_to(now).collect()
                };
                for (key, when) in fired {
                    assert!(keys.contains(&key), "fired an unknown key");
                    assert!(when <= now, "fired early: {when} at {now}");
                }
                assert_eq!(wheel.current_tick(), now);
                keys.retain(|&k| wheel.contains(k));
            }
        }
        check(&wheel);
    }
}

#[test]
fn next_deadline_is_none_once_only_never_timers_remain() {
    let start = Instant::now();
    let ns = Duration::from_nanos;
    let mut wheel = TimerWheel::with_tick(start, ns(1)).expect("valid tick");
    let Some(end_of_ticks) = start.checked_add(ns(u64::MAX)) else {
        return;
    };
    let Some(beyond) = start.checked_add(Duration::from_secs(1 << 40)) else {
        return;
    };
    let never = wheel.insert(beyond, "never");
    // Far from the end, the wheel still wakes to cascade the timer closer.
    assert!(wheel.next_deadline().is_some_and(|at| at < end_of_ticks));
    assert!(drain(&mut wheel, end_of_ticks).is_empty());
    // At the end of the tick range the timer can never fire: no wake-up is due, so an event
    // loop does not spin on a zero timeout.
    assert_eq!(wheel.next_deadline(), None);
    assert!(wheel.contains(never));
}

#[test]
fn same_list_agrees_with_list_of() {
    let mut next = crate::xorshift(0x2545_f491_4f6c_dd1d_u64);
    let interesting = [
        0,
        1,
        62,
        63,
        64,
        65,
        4095,
        4096,
        1 << 40,
        u64::MAX - 1,
        u64::MAX,
    ];
    for _ in 0..20_000 {
        let r = next();
        let pick = |x: u64| match x % 4 {
            0 => interesting[(x >> 8) as usize % interesting.len()],
            1 => x >> (x % 64),
            _ => x,
        };
        let elapsed = pick(r);
        let old = pick(next()).max(elapsed.saturating_sub(3));
        // New deadlines near the old one (the heartbeat case) and anywhere.
        let new = match next() % 3 {
            0 => old.wrapping_add(next() % 128),
            1 => old.wrapping_sub(next() % 128),
            _ => pick(next()),
        };
        assert_eq!(
            same_list(elapsed, old, new),
            list_of(elapsed, old) == list_of(elapsed, new),
            "elapsed {elapsed}, old {old}, new {new}"
        );
    }
}

// ---- the tick API ----------------------------------------------------------------------------

fn drain_to<T>(wheel: &mut TimerWheel<T>, tick: u64) -> Vec<T> {
    let out = wheel.advance_to(tick).map(|(_, v)| v).collect();
    check(wheel);
    out
}

#[test]
fn a_tick_fires_on_the_first_advance_that_reaches_it() {
    let mut wheel = TimerWheel::new_ticks();
    assert_eq!(wheel.current_tick(), 0);
    let key = wheel.insert_at(5, "a");
    check(&wheel);
    assert_eq!(wheel.deadline_tick(key), Some(5));
    assert_eq!(wheel.next_due_tick(), Some(5));
    assert!(drain_to(&mut wheel, 4).is_empty());
    assert_eq!(wheel.current_tick(), 4);
    assert_eq!(drain_to(&mut wheel, 5), ["a"]);
    assert_eq!(wheel.current_tick(), 5);
    assert_eq!(wheel.deadline_tick(key), None);
    assert_eq!(wheel.next_due_tick(), None);
    // Overshooting fires it just the same.
    wheel.insert_at(70, "b");
    assert_eq!(drain_to(&mut wheel, 1_000), ["b"]);
    assert_eq!(wheel.current_tick(), 1_000);
}

#[test]
fn past_ticks_are_due_on_the_next_advance_whatever_its_tick() {
    let mut wheel = TimerWheel::new_ticks();
    assert!(drain_to(&mut wheel, 100).is_empty());
    let behind = wheel.insert_at(40, "behind");
    wheel.insert_at(0, "zero");
    wheel.insert_at(100, "current");
    check(&wheel);
    // Stored as given, due now: a zero poll timeout.
    assert_eq!(wheel.deadline_tick(behind), Some(40));
    assert_eq!(wheel.next_due_tick(), Some(100));
    // An advance to an earlier tick yields them and moves nothing backwards.
    let mut fired = drain_to(&mut wheel, 50);
    fired.sort_unstable();
    assert_eq!(fired, ["behind", "current", "zero"]);
    assert_eq!(wheel.current_tick(), 100);
    // The next tick is in the future again.
    wheel.insert_at(101, "next");
    assert!(drain_to(&mut wheel, 99).is_empty());
    assert_eq!(wheel.current_tick(), 100, "ticks never go backwards");
    assert_eq!(drain_to(&mut wheel, 101), ["next"]);
}

#[test]
fn never_is_kept_but_never_fires_and_the_clock_stops_short_of_it() {
    let mut wheel = TimerWheel::new_ticks();
    let never = wheel.insert_at(NEVER, "never");
    let last = wheel.insert_at(NEVER - 1, "last");
    check(&wheel);
    assert_eq!(wheel.deadline_tick(never), Some(NEVER));
    assert!(wheel.next_due_tick().is_some_and(|t| t < NEVER));
    let mut hops = 0;
    let mut fired = Vec::new();
    while let Some(tick) = wheel.next_due_tick() {
        fired.extend(drain_to(&mut wheel, tick));
        hops += 1;
        assert!(
            hops <= LEVELS + 1,
            "too many wake-ups to reach the last tick"
        );
    }
    assert_eq!(fired, ["last"]);
    assert_eq!(wheel.current_tick(), NEVER - 1);
    assert!(!wheel.contains(last));
    // Nothing can fire any more, so there is no wake-up to schedule.
    assert_eq!(wheel.next_due_tick(), None);
    assert!(drain_to(&mut wheel, u64::MAX).is_empty());
    assert_eq!(
        wheel.current_tick(),
        NEVER - 1,
        "advance_to(u64::MAX) stops short"
    );
    assert!(wheel.contains(never));
    // It can still be moved to a tick that fires: the past, now.
    assert!(wheel.reset_at(never, 3));
    assert_eq!(wheel.next_due_tick(), Some(NEVER - 1));
    assert_eq!(drain_to(&mut wheel, 0), ["never"]);
}

#[test]
fn advance_to_u64_max_fires_everything_but_never() {
    let mut wheel = TimerWheel::new_ticks();
    for tick in [1, 64, 1 << 20, 1 << 40, 1 << 62, NEVER - 1, NEVER] {
        wheel.insert_at(tick, tick);
    }
    let fired = drain_to(&mut wheel, u64::MAX);
    assert_eq!(fired, [1, 64, 1 << 20, 1 << 40, 1 << 62, NEVER - 1]);
    assert_eq!(wheel.len(), 1);
}

#[test]
fn reset_at_moves_timers_both_ways_and_keeps_the_key() {
    let mut wheel = TimerWheel::new_ticks();
    let key = wheel.insert_at(5_000, "k");
    assert!(wheel.reset_at(key, 5_001)); // same slot: only the tick changes
    check(&wheel);
    assert!(wheel.reset_at(key, 30)); // earlier, another level
    check(&wheel);
    assert_eq!(wheel.next_due_tick(), Some(30));
    assert!(wheel.reset_at(key, 70_000)); // later, a higher level
    check(&wheel);
    assert_eq!(wheel.deadline_tick(key), Some(70_000));
    assert!(drain_to(&mut wheel, 69_999).is_empty());
    assert!(wheel.reset_at(key, 69_999)); // into the past: due now
    check(&wheel);
    assert_eq!(wheel.next_due_tick(), Some(69_999));
    assert!(wheel.reset_at(key, 80_000)); // and back out again
    check(&wheel);
    assert!(drain_to(&mut wheel, 79_999).is_empty());
    assert_eq!(wheel.advance_to(80_000).next(), Some((key, "k")));
    assert!(!wheel.reset_at(key, 90_000), "a fired key is stale");
    assert_eq!(wheel.deadline_tick(key), None);
}

#[test]
fn next_due_tick_reaches_every_level_one_wake_up_at_a_time() {
    for level in 0..LEVELS as u32 {
        let mut wheel = TimerWheel::new_ticks();
        // Digit 5 at `level` and every level below, so it cascades through all of them.
        let tick: u64 = (0..=level).map(|l| 5 * 64_u64.pow(l)).sum();
        wheel.insert_at(tick, level);
        let mut hops = 0;
        loop {
            let at = wheel.next_due_tick().expect("timer pending");
            assert!(at <= tick, "level {level}: next_due_tick {at} after {tick}");
            let fired = drain_to(&mut wheel, at);
            hops += 1;
            if !fired.is_empty() {
                assert_eq!(at, tick, "level {level} fired at {at}");
                break;
            }
        }
        assert_eq!(hops, level as usize + 1, "one wake-up per level");
    }
}

#[test]
fn advance_to_with_counts_and_hands_over_every_pair() {
    let mut wheel = TimerWheel::new_ticks();
    let keys: Vec<_> = (1..=3).map(|i| wheel.insert_at(i, i)).collect();
    let mut seen = Vec::new();
    assert_eq!(wheel.advance_to_with(2, |k, v| seen.push((k, v))), 2);
    assert_eq!(seen, [(keys[0], 1), (keys[1], 2)]);
    assert_eq!(wheel.advance_to_with(2, |_, _| unreachable!()), 0);
    assert_eq!(wheel.advance_to_with(3, |_, v| assert_eq!(v, 3)), 1);
}

#[test]
fn try_insert_at_inserts_like_insert_at() {
    let mut wheel = TimerWheel::new_ticks();
    let key = wheel.try_insert_at(7, 'x').expect("room");
    assert_eq!(wheel.deadline_tick(key), Some(7));
    let start = wheel.start();
    let other = wheel.try_insert(start + ms(7), 'y').expect("room");
    assert_eq!(wheel.deadline_tick(other), Some(7));
    let mut fired = drain_to(&mut wheel, 7);
    fired.sort_unstable();
    assert_eq!(fired, ['x', 'y']);
}

// ---- the Instant wrappers over the tick API --------------------------------------------------

#[test]
fn instant_methods_are_the_tick_methods_on_converted_ticks() {
    let start = Instant::now();
    let us = Duration::from_micros;
    let mut wheel = TimerWheel::new(start);
    // 5.3 ms rounds up to tick 6; 5 ms is tick 5 exactly.
    let by_instant = wheel.insert(start + us(5_300), "instant");
    let by_tick = wheel.insert_at(6, "tick");
    assert_eq!(wheel.deadline_tick(by_instant), Some(6));
    assert_eq!(wheel.deadline(by_tick), Some(start + ms(6)));
    assert_eq!(wheel.next_due_tick(), Some(6));
    assert_eq!(wheel.next_deadline(), Some(start + ms(6)));
    assert!(wheel.reset(by_tick, start + ms(5)));
    assert_eq!(wheel.deadline_tick(by_tick), Some(5));
    // The present rounds down: 5.999 ms has reached tick 5 only.
    assert_eq!(drain(&mut wheel, start + us(5_999)), ["tick"]);
    assert_eq!(wheel.current_tick(), 5);
    assert!(wheel.reset_at(by_instant, 9));
    assert_eq!(wheel.deadline(by_instant), Some(start + ms(9)));
    assert_eq!(wheel.advance_with(start + ms(9), |_, _| {}), 1);
    assert_eq!(wheel.current_tick(), 9);
    // And the other way round: advancing by tick, deadlines by instant.
    wheel.insert(start + ms(12), "twelve");
    assert!(drain_to(&mut wheel, 11).is_empty());
    assert_eq!(drain_to(&mut wheel, 12), ["twelve"]);
}

#[test]
fn instants_before_start_are_tick_zero() {
    let start = Instant::now();
    let Some(before) = start.checked_sub(ms(10)) else {
        return; // this platform's clock cannot go back that far from `start`
    };
    let mut wheel = TimerWheel::new(start);
    let key = wheel.insert(before, "before");
    assert_eq!(wheel.deadline_tick(key), Some(0));
    assert_eq!(wheel.deadline(key), Some(start));
    // The present before start is tick 0 too: the timer is due there.
    assert_eq!(drain(&mut wheel, before), ["before"]);
    assert_eq!(wheel.current_tick(), 0);
    let key = wheel.insert(start + ms(1), "one");
    assert!(wheel.reset(key, before));
    assert_eq!(wheel.deadline_tick(key), Some(0));
}

#[test]
fn instants_beyond_the_tick_range_saturate_to_never() {
    let start = Instant::now();
    let mut wheel = TimerWheel::with_tick(start, Duration::from_nanos(1)).expect("valid tick");
    let Some(far) = start.checked_add(Duration::from_secs(1 << 40)) else {
        return;
    };
    let key = wheel.insert(far, "far");
    assert_eq!(wheel.deadline_tick(key), Some(NEVER));
    let other = wheel.insert(start, "now");
    assert!(wheel.reset(other, far));
    assert_eq!(wheel.deadline_tick(other), Some(NEVER));
    // The present there saturates to the last tick, which NEVER is beyond.
    assert!(drain(&mut wheel, far).is_empty());
    assert_eq!(wheel.current_tick(), NEVER - 1);
    assert_eq!(wheel.next_due_tick(), None);
    assert_eq!(wheel.next_deadline(), None);
}

#[test]
fn tick_wheels_count_instants_from_their_construction() {
    let before = Instant::now();
    let wheels: [TimerWheel<&str>; 3] = [
        TimerWheel::new_ticks(),
        TimerWheel::with_capacity_ticks(32),
        TimerWheel::default(),
    ];
    let after = Instant::now();
    assert!(wheels[1].capacity() >= 32);
    for mut wheel in wheels {
        let start = wheel.start();
        assert!(before <= start && start <= after);
        assert_eq!(wheel.tick(), MS);
        assert_eq!(wheel.current_tick(), 0);
        // The Instant methods work, without panicking, on the same 1 ms ticks.
        let key = wheel.insert(start + Duration::from_micros(4_500), "instant");
        assert_eq!(wheel.deadline_tick(key), Some(5));
        assert_eq!(wheel.next_deadline(), Some(start + ms(5)));
        wheel.insert_at(5, "tick");
        let mut fired = drain(&mut wheel, start + ms(5));
        fired.sort_unstable();
        assert_eq!(fired, ["instant", "tick"]);
        assert_eq!(wheel.current_tick(), 5);
    }
}

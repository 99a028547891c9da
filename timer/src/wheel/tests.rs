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
    let expired = wheel.advance(start);
    assert!(format!("{expired:?}").contains("now_tick: 0"));
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
            0..=3 => keys.push(wheel.insert(start + ms(deadline), deadline)),
            4 | 5 if !keys.is_empty() => {
                let key = keys.swap_remove(rng.below(keys.len() as u64) as usize);
                let _ = wheel.cancel(key);
            }
            6 | 7 if !keys.is_empty() => {
                let key = keys[rng.below(keys.len() as u64) as usize];
                let _ = wheel.reset(key, start + ms(deadline));
            }
            _ => {
                now += [1, 7, 64, 5_000, 1 << 22][rng.below(5) as usize];
                let now_at = start + ms(now);
                for (key, _) in wheel.advance(now_at) {
                    assert!(keys.contains(&key), "fired an unknown key");
                }
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

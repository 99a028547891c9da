//! Behaviour checks through the public API that the unit tests left open, found by mutation
//! testing (`cargo mutants`, see `verify/README.md`).

use std::time::{Duration, Instant};

use loopwire_timer::TimerWheel;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `Expired::size_hint` must bracket what the iterator really yields (the `Iterator`
/// contract): nothing promised when nothing may be due, and an upper bound no lower than
/// the timers that do come out.
#[test]
fn expired_size_hint_brackets_what_is_yielded() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    for i in 0..3 {
        wheel.insert(start + ms(5), i);
    }
    wheel.insert(start + ms(500), 9);

    let nothing_due = wheel.advance(start + ms(1));
    let (lo, hi) = nothing_due.size_hint();
    assert_eq!(lo, 0, "a lower bound above 0 with nothing due");
    assert!(hi.is_some_and(|hi| hi >= 4), "{hi:?}");
    assert_eq!(nothing_due.count(), 0);

    let mut due = wheel.advance(start + ms(10));
    let mut yielded = 0;
    loop {
        let (lo, hi) = due.size_hint();
        let remaining = 3 - yielded;
        assert!(
            lo <= remaining,
            "lower bound {lo} above the {remaining} still to come"
        );
        assert!(
            hi.is_some_and(|hi| hi >= remaining),
            "upper bound {hi:?} below the {remaining} still to come"
        );
        if due.next().is_none() {
            break;
        }
        yielded += 1;
    }
    assert_eq!(yielded, 3);
}

#[test]
fn a_wheel_with_a_timer_is_not_empty_until_it_fires() {
    let start = Instant::now();
    let mut wheel = TimerWheel::new(start);
    assert!(wheel.is_empty());
    let key = wheel.insert(start + ms(3), ());
    assert!(!wheel.is_empty());
    assert_eq!(wheel.advance(start + ms(2)).count(), 0);
    assert!(!wheel.is_empty(), "a timer not yet due still counts");
    assert_eq!(wheel.advance(start + ms(3)).count(), 1);
    assert!(wheel.is_empty());
    assert!(!wheel.contains(key));
}

/// The same bracket through the tick API, including an advance to `u64::MAX` (capped one short
/// of "never"), which must not promise the never-firing timer.
#[test]
fn expired_size_hint_brackets_what_advance_to_yields() {
    let mut wheel = TimerWheel::new_ticks();
    for i in 0..3 {
        wheel.insert_at(5, i);
    }
    wheel.insert_at(loopwire_timer::NEVER, 9);
    let due = wheel.advance_to(u64::MAX);
    let (lo, hi) = due.size_hint();
    assert_eq!(lo, 0);
    assert!(hi.is_some_and(|hi| hi >= 3), "{hi:?}");
    assert_eq!(due.count(), 3);
    assert_eq!(wheel.len(), 1, "the NEVER timer stays");
    assert_eq!(wheel.current_tick(), u64::MAX - 1);
}

#[test]
fn a_tick_wheel_with_a_timer_is_not_empty_until_it_fires() {
    let mut wheel = TimerWheel::default();
    assert!(wheel.is_empty());
    let key = wheel.insert_at(3, ());
    assert!(!wheel.is_empty());
    assert_eq!(wheel.advance_to(2).count(), 0);
    assert!(!wheel.is_empty(), "a timer not yet due still counts");
    assert_eq!(wheel.advance_to(3).count(), 1);
    assert!(wheel.is_empty());
    assert!(!wheel.contains(key));
}

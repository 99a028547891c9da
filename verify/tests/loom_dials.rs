//! loom model of the engine's bound on dials in flight (`EngineBuilder::max_pending_dials`):
//! the real `DialCount::try_acquire` and `DialPermit`'s drop (server/src/shared/dials.rs),
//! raced by threads that dial (take a place, hold it, give it back by dropping the permit).
//!
//! Checked in every interleaving: never more than `max` permits held at once, a thread is
//! refused only while `max` places are really taken, and every place is given back (the
//! count ends at zero).
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p loopwire-verify
//! --release --test loom_dials`. Without `--cfg loom` this file is empty.

#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::thread;
use loopwire::loom_api::DialCount;

/// `threads` dialers race for `max` places; each records how many permits were held while it
/// held one, and how often it was refused while fewer than `max` were held.
fn race(max: usize, threads: usize) {
    loom::model(move || {
        let count = DialCount::new(max);
        // Permits held right now, kept by the dialers themselves beside the real count.
        let held = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let count = count.clone();
                let held = held.clone();
                thread::spawn(move || match DialCount::try_acquire(&count) {
                    Some(permit) => {
                        let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= max, "{now} permits held, at most {max} allowed");
                        held.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                        true
                    }
                    None => false,
                })
            })
            .collect();
        let granted = handles
            .into_iter()
            .map(|h| h.join().expect("a dialer panicked"))
            .filter(|&g| g)
            .count();
        assert!(
            granted >= max.min(threads),
            "{granted} granted, at least {max} must be"
        );
        assert_eq!(count.in_flight(), 0, "every place is given back");
        // With every permit dropped, a place is free again.
        assert!(DialCount::try_acquire(&count).is_some());
    });
}

#[test]
fn one_place_two_dialers() {
    race(1, 2);
}

#[test]
fn two_places_three_dialers() {
    race(2, 3);
}

//! loom model of the generation table behind `ConnHandle` (`loopwire::loom_api::GenTable`, the
//! engine's real code): a handle to a closed connection never passes the liveness check, even
//! while its slot is reused, and a live handle is never refused.
//!
//! Run with `RUSTFLAGS="--cfg loom" LOOM_MAX_PREEMPTIONS=2 cargo test -p loopwire-verify
//! --release --test loom_handles`. Without `--cfg loom` this file is empty.

#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use loopwire::loom_api::GenTable;

/// The loop closes the connection of generation 5 in slot 0, tells the world (as `on_close`
/// would, with release semantics), and puts generation 6 there. A thread that has seen the close
/// must find generation 5 dead, whatever it sees of 6.
#[test]
fn closed_handle_never_reaches_the_slots_next_occupant() {
    loom::model(|| {
        let table = Arc::new(GenTable::new(2));
        let closed = Arc::new(AtomicBool::new(false));
        table.set(0, 5);

        let (t2, c2) = (Arc::clone(&table), Arc::clone(&closed));
        let user = thread::spawn(move || {
            if c2.load(Ordering::Acquire) {
                assert!(
                    !t2.is_live(0, 5),
                    "stale handle passed after its close was seen"
                );
            }
            // Once generation 6 is seen in the slot, 5 is gone for good (generations in a slot
            // only move forward).
            if t2.is_live(0, 6) {
                assert!(!t2.is_live(0, 5));
            }
        });

        // The loop: close, announce, reuse.
        table.set(0, 0);
        closed.store(true, Ordering::Release);
        table.set(0, 6);
        user.join().unwrap();
        assert!(table.is_live(0, 6));
        assert!(!table.is_live(0, 5));
    });
}

/// A handle whose opening the user thread has seen (published with release semantics, as a
/// handle handed over in `on_open` is) is live until the loop closes it.
#[test]
fn opened_handle_is_live_once_seen() {
    loom::model(|| {
        let table = Arc::new(GenTable::new(1));
        let opened = Arc::new(AtomicBool::new(false));
        let (t2, o2) = (Arc::clone(&table), Arc::clone(&opened));
        let user = thread::spawn(move || {
            if o2.load(Ordering::Acquire) {
                assert!(t2.is_live(0, 9));
            }
        });
        table.set(0, 9);
        opened.store(true, Ordering::Release);
        user.join().unwrap();
    });
}

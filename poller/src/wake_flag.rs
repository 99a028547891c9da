//! [`WakeFlag`]: the "already woken" bit that makes many wakes cost one kernel signal.
//!
//! Protocol (every backend's waker follows it):
//!
//! * `wake`: `if flag.raise() { signal the kernel object }` — only the first wake since the
//!   poller last cleared the flag pays a system call.
//! * `poll`, on seeing the signal: consume it if the mechanism needs that (none of the current
//!   backends does: epoll's and mio's eventfds are edge-triggered, `polling` resets its own
//!   notifier), *then* `flag.clear()`, and return.
//!
//! Why no wake-up is lost: a wake that finds the flag raised happened before the clear, and the
//! caller drains its task queue only after `poll` returns, so it sees whatever that waker
//! published. A wake that raises the flag after the clear signals the kernel again, so the next
//! poll returns. A wake that raised the flag but signals only after the clear makes the next
//! poll return once more with nothing to do: a spurious return, never a lost one. (Clearing
//! *before* consuming a level-triggered signal would be wrong: a wake slipping in between would
//! have its signal consumed and leave the flag stuck raised.) Both swaps are `AcqRel`, so the
//! clear synchronises with the raise it observes.

use std::sync::atomic::{AtomicBool, Ordering};

/// A coalescing wake-up flag shared by a poller and its wakers.
#[derive(Debug, Default)]
pub(crate) struct WakeFlag(AtomicBool);

impl WakeFlag {
    /// Marks a wake-up pending; `true` if the caller is the first since the last `clear` and so
    /// must signal the kernel.
    #[inline]
    pub(crate) fn raise(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }

    /// Marks the pending wake-up consumed; `true` if one was pending.
    #[inline]
    pub(crate) fn clear(&self) -> bool {
        self.0.swap(false, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicUsize;
    use std::thread;

    #[test]
    fn only_the_first_raise_signals() {
        let flag = WakeFlag::default();
        assert!(flag.raise());
        assert!(!flag.raise());
        assert!(!flag.raise());
        assert!(flag.clear());
        assert!(!flag.clear());
        assert!(flag.raise());
    }

    #[test]
    fn concurrent_raises_signal_exactly_once() {
        let flag = Arc::new(WakeFlag::default());
        let signals = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (flag, signals) = (Arc::clone(&flag), Arc::clone(&signals));
                thread::spawn(move || {
                    for _ in 0..1000 {
                        if flag.raise() {
                            signals.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().expect("raising thread panicked");
        }
        assert_eq!(signals.load(Ordering::Relaxed), 1);
        assert!(flag.clear());
    }
}

//! What the loom models share: a stand-in for a poller's eventfd and the waker that writes it.

use loom::sync::{Arc, Condvar, Mutex};
use loopwire::loom_api::Notify;

#[derive(Default)]
struct Counts {
    /// Writes since the last `wait` returned (the eventfd's counter).
    pending: usize,
    /// Writes ever made.
    writes: usize,
}

/// Stands in for a poller's eventfd: `notify` raises a counter, `wait` blocks until it is
/// non-zero and resets it (as `epoll_wait` returning on the eventfd would).
#[derive(Default)]
pub(crate) struct EventFd {
    counts: Mutex<Counts>,
    cond: Condvar,
}

impl EventFd {
    /// Blocks until the eventfd has been written since the last call, then resets it.
    pub(crate) fn wait(&self) {
        let mut c = self.counts.lock().unwrap();
        while c.pending == 0 {
            c = self.cond.wait(c).unwrap();
        }
        c.pending = 0;
    }

    /// How many times it was written in all.
    #[allow(dead_code)] // not every model counts writes
    pub(crate) fn writes(&self) -> usize {
        self.counts.lock().unwrap().writes
    }
}

/// The loop's waker: `notify` writes the shared eventfd.
#[derive(Clone, Default)]
pub(crate) struct Waker(pub(crate) Arc<EventFd>);

impl Notify for Waker {
    fn notify(&self) {
        let mut c = self.0.counts.lock().unwrap();
        c.pending += 1;
        c.writes += 1;
        drop(c);
        self.0.cond.notify_one();
    }
}

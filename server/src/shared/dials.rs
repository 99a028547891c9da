//! The bound on dials in flight ([`EngineBuilder::max_pending_dials`](crate::EngineBuilder::max_pending_dials)):
//! a count shared by every handle of an engine, taken by [`EngineHandle::dial`](crate::EngineHandle::dial)
//! before the socket is opened and given back when the permit drops: when the connect (and a
//! TLS dial's handshake) finishes or fails, or when the connection is dropped before a loop
//! took it on. The permit travels with the new connection ([`NewConn`](super::task::NewConn))
//! and then sits next to the dial's tag in its loop until the outcome is known, so no path
//! can forget to give it back.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Dials in flight and their bound.
#[derive(Debug)]
pub(crate) struct DialCount {
    in_flight: AtomicUsize,
    max: usize,
}

/// One dial's place in the count; dropping it gives the place back.
#[derive(Debug)]
pub(crate) struct DialPermit(Arc<DialCount>);

impl DialCount {
    /// A count allowing at most `max` dials in flight.
    pub(crate) fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            max,
        })
    }

    /// Takes a place, or `None` when `max` dials are in flight already.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<DialPermit> {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| DialPermit(Arc::clone(self)))
    }

    /// Dials in flight now.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// The bound.
    pub(crate) fn max(&self) -> usize {
        self.max
    }
}

impl Drop for DialPermit {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_permits_and_a_dropped_one_frees_its_place() {
        let c = DialCount::new(2);
        let a = c.try_acquire().expect("first");
        let b = c.try_acquire().expect("second");
        assert!(c.try_acquire().is_none(), "a third is refused");
        assert_eq!(c.in_flight(), 2);
        drop(a);
        assert_eq!(c.in_flight(), 1);
        let _c = c.try_acquire().expect("a place was freed");
        assert!(c.try_acquire().is_none());
        drop(b);
        assert_eq!(c.in_flight(), 1);
    }
}

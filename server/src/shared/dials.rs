//! The bound on dials in flight ([`EngineBuilder::max_pending_dials`](crate::EngineBuilder::max_pending_dials)):
//! a count shared by every handle of an engine, taken by [`EngineHandle::dial`](crate::EngineHandle::dial)
//! before the socket is opened and given back when the permit drops: when the connect (and a
//! TLS dial's handshake) finishes or fails, or when the connection is dropped before a loop
//! took it on. The permit travels with the new connection ([`NewConn`](super::task::NewConn))
//! and then sits next to the dial's tag in its loop until the outcome is known, so no path
//! can forget to give it back.
//!
//! Its primitives come from [`super::sync`], so the loom model `loom_dials` in
//! `loopwire-verify` checks this code: never more than `max` permits held at once, and every
//! place given back.

use super::sync::{Arc, AtomicUsize, Ordering};

/// The count as the engine holds it (loom's `Arc` in the models).
pub(crate) type Dials = Arc<DialCount>;

/// Dials in flight and their bound.
#[derive(Debug)]
#[cfg_attr(not(loom), allow(unreachable_pub))]
pub struct DialCount {
    in_flight: AtomicUsize,
    max: usize,
}

/// One dial's place in the count; dropping it gives the place back.
#[derive(Debug)]
#[cfg_attr(not(loom), allow(unreachable_pub))]
pub struct DialPermit(Arc<DialCount>);

impl DialCount {
    /// A count allowing at most `max` dials in flight.
    #[cfg_attr(not(loom), allow(unreachable_pub))]
    pub fn new(max: usize) -> Dials {
        Arc::new(Self {
            in_flight: AtomicUsize::new(0),
            max,
        })
    }

    /// Takes a place in `count`, or `None` when `max` dials are in flight already. (An
    /// associated function, not a method on `&Arc<Self>`: loom's `Arc` cannot be a receiver.)
    #[cfg_attr(not(loom), allow(unreachable_pub))]
    pub fn try_acquire(count: &Dials) -> Option<DialPermit> {
        let mut n = count.in_flight.load(Ordering::Acquire);
        loop {
            if n >= count.max {
                return None;
            }
            match count.in_flight.compare_exchange_weak(
                n,
                n + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Some(DialPermit(Arc::clone(count))),
                Err(seen) => n = seen,
            }
        }
    }

    /// Dials in flight now.
    #[cfg_attr(not(loom), allow(unreachable_pub))]
    pub fn in_flight(&self) -> usize {
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
        let a = DialCount::try_acquire(&c).expect("first");
        let b = DialCount::try_acquire(&c).expect("second");
        assert!(DialCount::try_acquire(&c).is_none(), "a third is refused");
        assert_eq!(c.in_flight(), 2);
        drop(a);
        assert_eq!(c.in_flight(), 1);
        let _c = DialCount::try_acquire(&c).expect("a place was freed");
        assert!(DialCount::try_acquire(&c).is_none());
        drop(b);
        assert_eq!(c.in_flight(), 1);
    }
}

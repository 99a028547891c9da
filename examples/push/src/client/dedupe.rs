//! [`Dedupe`]: which QoS1 ids a client has already surfaced.
//!
//! # Rule
//!
//! The server numbers each user's QoS1 messages with strictly increasing ids (with gaps)
//! and sends first deliveries in id order; a resend (after the retransmit time, or at the
//! next login when the ACK did not land) repeats an id already sent. So the client keeps:
//!
//! - `floor`: the highest id it has acknowledged. Any id at or below it is a duplicate: it
//!   was either acknowledged, or (being below an acknowledged id) already delivered.
//! - `pending`: the ids surfaced but not yet acknowledged (with automatic ACKs, at most a
//!   frame's worth), at most `cap` of them; beyond, the smallest is forgotten and the floor
//!   rises to it.
//!
//! An id is a **duplicate** iff it is in `pending` or `<= floor`. A duplicate is not surfaced;
//! one at or below the floor and not pending is ACKed again (its earlier ACK may have been lost
//! with the connection). The state lives in the client object, so it holds across reconnects
//! of that object; it assumes ids keep growing for the user (the service's store starts them
//! above the wall clock at each start).

use std::collections::BTreeSet;

/// What [`Dedupe::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Never surfaced: surface it.
    New,
    /// Surfaced before and already acknowledged: ACK it again, do not surface.
    Acked,
    /// Surfaced before and not acknowledged yet: ignore it (the ACK is still to come).
    Pending,
}

/// The set of QoS1 ids already surfaced, in constant space (see the module docs).
#[derive(Debug, Clone)]
pub struct Dedupe {
    floor: u64,
    pending: BTreeSet<u64>,
    cap: usize,
    duplicates: u64,
}

impl Dedupe {
    /// An empty set keeping at most `cap` (at least 1) unacknowledged ids.
    pub fn new(cap: usize) -> Self {
        Self {
            floor: 0,
            pending: BTreeSet::new(),
            cap: cap.max(1),
            duplicates: 0,
        }
    }

    /// Classifies a received id (not 0) and records it if it is new.
    pub fn check(&mut self, id: u64) -> Seen {
        if self.pending.contains(&id) {
            self.duplicates += 1;
            return Seen::Pending;
        }
        if id <= self.floor {
            self.duplicates += 1;
            return Seen::Acked;
        }
        self.pending.insert(id);
        if self.pending.len() > self.cap
            && let Some(oldest) = self.pending.pop_first()
        {
            self.floor = self.floor.max(oldest);
        }
        Seen::New
    }

    /// Records that `id` was acknowledged.
    pub fn acked(&mut self, id: u64) {
        self.pending.remove(&id);
        self.floor = self.floor.max(id);
    }

    /// The highest acknowledged id.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Ids surfaced and not acknowledged yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Duplicates seen so far (not surfaced).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_below_the_floor_and_pending_ones_are_told_apart() {
        let mut d = Dedupe::new(4);
        assert_eq!(d.check(5), Seen::New);
        assert_eq!(d.check(9), Seen::New);
        assert_eq!(d.check(5), Seen::Pending);
        d.acked(9);
        assert_eq!(d.check(9), Seen::Acked);
        // 5 is below the floor but still pending: not ACKed on the app's behalf.
        assert_eq!(d.check(5), Seen::Pending);
        d.acked(5);
        assert_eq!(d.check(5), Seen::Acked);
        assert_eq!(d.check(10), Seen::New);
        assert_eq!(d.duplicates(), 4);
        assert_eq!((d.floor(), d.pending()), (9, 1));
    }

    #[test]
    fn the_pending_set_is_bounded() {
        let mut d = Dedupe::new(2);
        for id in [1, 2, 3] {
            assert_eq!(d.check(id), Seen::New);
        }
        assert_eq!((d.floor(), d.pending()), (1, 2));
        assert_eq!(d.check(1), Seen::Acked);
    }
}

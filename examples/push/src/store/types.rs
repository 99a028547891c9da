//! The values that cross the [`Store`](super::Store) seam: [`MessageId`], [`Stored`],
//! [`SendVerdict`] and [`StoreStats`]. All are owned (no borrow of a store's insides), so a
//! store over the network can build them from its replies.

use std::fmt;

use loopwire::Bytes;

/// A stored message's id: unique in its store and strictly increasing per user, never 0
/// (the protocol's "no ACK wanted"). See the [module docs](super#ids) for how ids are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(pub u64);

impl MessageId {
    /// The id as the wire carries it.
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A message to deliver, as [`Store::pending`](super::Store::pending) returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its id.
    pub id: MessageId,
    /// Its payload (a reference count on the stored bytes, not a copy).
    pub payload: Bytes,
    /// When it expires, on the caller's clock (ms): it is gone once `now_ms >= expires_at`.
    pub expires_at: u64,
    /// How many times it was handed out by [`Store::mark_sent`](super::Store::mark_sent).
    pub attempts: u32,
}

/// What [`Store::mark_sent`](super::Store::mark_sent) decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendVerdict {
    /// Send it: this is attempt number `attempt` (1 for the first send).
    Send {
        /// 1-based count of sends, this one included.
        attempt: u32,
    },
    /// It was already sent [`max_attempts`](super::StoreConfig::max_attempts) times without
    /// an ACK: it has now been dropped (counted in [`StoreStats::dropped_attempts`]). Do not
    /// send it.
    Exhausted,
    /// It is not in the store (acknowledged, expired, dropped, removed, or never this user's):
    /// do not send it.
    Gone,
}

/// A store's counters. Every message put ends in exactly one of `acked`, `expired`,
/// `dropped_cap`, `dropped_attempts` or `removed`, or is still `stored`:
/// `put == stored + acked + expired + dropped_cap + dropped_attempts + removed`.
///
/// An expired message is counted in `expired` (and leaves `stored`) when the store notices:
/// lazily, on a call touching its user, or by [`Store::purge_expired`](super::Store::purge_expired).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Messages held now (expired ones not yet purged included).
    pub stored: u64,
    /// Messages accepted by `put`.
    pub put: u64,
    /// Messages removed by an ACK.
    pub acked: u64,
    /// Messages removed because their TTL ran out.
    pub expired: u64,
    /// Oldest messages dropped to make room under the per-user cap.
    pub dropped_cap: u64,
    /// Messages dropped after `max_attempts` sends without an ACK.
    pub dropped_attempts: u64,
    /// Messages removed with their user ([`Store::remove_user`](super::Store::remove_user)).
    pub removed: u64,
}

impl StoreStats {
    /// Adds `other`'s counts to these (summing shards or nodes).
    pub fn add(&mut self, other: &StoreStats) {
        self.stored += other.stored;
        self.put += other.put;
        self.acked += other.acked;
        self.expired += other.expired;
        self.dropped_cap += other.dropped_cap;
        self.dropped_attempts += other.dropped_attempts;
        self.removed += other.removed;
    }
}

//! The QoS1 message store: messages for one user (a client id) kept until the client ACKs
//! them, so a push API call can answer once the message is safe and delivery survives
//! disconnects (at least once: store, then send).
//!
//! - [`Store`] is the seam: the gateway and its HTTP API call it, an implementation keeps the
//!   messages. [`MemoryStore`] ([`memory`]) is the embedded one. In cluster mode
//!   (the `cluster` module) the queues live in Redis and the gateway's store is a
//!   `MemoryStore` mirror of its online users' queues ([`MemoryStore::insert`] takes the
//!   Redis ids), so an event loop's store call never waits on the network.
//! - [`StoreConfig`] ([`config`]): the limits, and the input checks every store shares.
//! - [`types`] holds [`MessageId`], [`Stored`], [`SendVerdict`] and [`StoreStats`].
//! - [`error`] holds [`StoreError`].
//!
//! # Semantics
//!
//! Time is the caller's: every call that can see time takes `now_ms`, milliseconds on the
//! engine's clock (any epoch, never decreasing in normal use). A store never reads a clock.
//!
//! - **Flow.** The API `put`s and answers with the id. A session's loop asks
//!   [`pending`](Store::pending) (on login, and to refill its send window after the last
//!   id it holds), calls [`mark_sent`](Store::mark_sent) before each send (also a resend)
//!   and sends only on [`SendVerdict::Send`], and calls [`ack`](Store::ack) on the client's
//!   ACK.
//! - **Ids.** <a id="ids"></a>A [`MessageId`] is unique in its store, never 0, and strictly
//!   increasing per user, also across periods when the user has no message; ids of one user
//!   may have gaps (see [`memory`] for how the memory store makes them).
//! - **Expiry.** A message put at `now` with TTL `ttl` (whole ms, 1 ms to
//!   [`StoreConfig::max_ttl`], default [`StoreConfig::default_ttl`]) has
//!   `expires_at = now + ttl` and is expired when `now_ms >= expires_at`. From then on no
//!   call returns, sends or acknowledges it: it is counted in
//!   [`StoreStats::expired`] when a call on its user meets it, or when
//!   [`purge_expired`](Store::purge_expired) (bounded work, for a loop tick) reaches it.
//! - **Cap.** A user holds at most [`StoreConfig::per_user_cap`] unexpired messages; a
//!   `put` that finds that many drops the oldest (lowest id), counted in
//!   [`StoreStats::dropped_cap`]. The put itself always succeeds.
//! - **Attempts.** `mark_sent` counts sends; a message is sent at most
//!   [`StoreConfig::max_attempts`] times. The call after that drops it and returns
//!   [`SendVerdict::Exhausted`] (counted in [`StoreStats::dropped_attempts`]), so a client
//!   that never ACKs cannot cause an endless resend loop.
//! - **ACK.** `ack` removes the message and is idempotent: an unknown, already removed,
//!   expired or other user's id gives `Ok(false)`, not an error.
//! - **Bad input** (a user name empty or over [`StoreConfig::max_user`], a payload over
//!   [`StoreConfig::max_payload`], a TTL under 1 ms or over the maximum) is a
//!   [`StoreError`], in every call that takes it.
//!
//! # Why a trait object
//!
//! [`Store`] is object-safe and used as `Arc<dyn Store>`: which store runs is a deployment
//! choice made at start-up (memory or Redis), and the gateway, handler and API types stay
//! free of a type parameter. A call costs a mutex and a hash lookup (memory) or a network
//! round trip (Redis), next to which the virtual call is nothing. Methods take `&self` (the
//! store synchronizes inside) and return owned values (no borrow of the store's data across
//! calls); every call returns `Result`, since a network store can fail any of them; the
//! `_many` variants let a network store pipeline a window's worth in one round trip.

pub mod config;
pub mod error;
pub mod memory;
pub mod types;

use std::fmt;
use std::time::Duration;

use loopwire::Bytes;

pub use config::StoreConfig;
pub use error::StoreError;
pub use memory::{MemoryOptions, MemoryStore};
pub use types::{MessageId, SendVerdict, StoreStats, Stored};

/// A QoS1 message store; see the [module docs](self) for the semantics every
/// implementation keeps. Called from every event-loop thread and the API thread at once.
pub trait Store: Send + Sync + fmt::Debug {
    /// Stores `payload` for `user`, expiring after `ttl` (`None`: the configured default);
    /// returns its id. If the user already holds [`StoreConfig::per_user_cap`] unexpired
    /// messages, its oldest is dropped first.
    ///
    /// # Errors
    ///
    /// [`StoreError::EmptyUser`], [`StoreError::UserTooLong`],
    /// [`StoreError::PayloadTooLarge`], [`StoreError::TtlTooShort`],
    /// [`StoreError::TtlTooLong`], [`StoreError::IdsExhausted`]; a network store also
    /// [`StoreError::Backend`].
    fn put(
        &self,
        user: &[u8],
        payload: Bytes,
        ttl: Option<Duration>,
        now_ms: u64,
    ) -> Result<MessageId, StoreError>;

    /// [`put`](Self::put) of one payload for each of `users`, in one call (a room's or
    /// everyone's QoS1 fan-out: the memory store takes each shard's lock once per call, a
    /// network store can pipeline); returns the ids in the order of `users`.
    ///
    /// # Errors
    ///
    /// As [`put`](Self::put), for the first user it fails on; the users before it may
    /// have the message already.
    fn put_many(
        &self,
        users: &[&[u8]],
        payload: Bytes,
        ttl: Option<Duration>,
        now_ms: u64,
    ) -> Result<Vec<MessageId>, StoreError> {
        users
            .iter()
            .map(|u| self.put(u, payload.clone(), ttl, now_ms))
            .collect()
    }

    /// Up to `limit` of `user`'s unexpired messages with ids above `after` (all when
    /// `None`), oldest first.
    ///
    /// # Errors
    ///
    /// A bad user name; a network store's [`StoreError::Backend`].
    fn pending(
        &self,
        user: &[u8],
        after: Option<MessageId>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<Stored>, StoreError>;

    /// Call before sending (or resending) message `id`: counts the attempt and says whether
    /// to send. [`SendVerdict::Exhausted`] once it was sent
    /// [`StoreConfig::max_attempts`] times (it is dropped), [`SendVerdict::Gone`] if it is
    /// not there (acknowledged, expired, dropped, another user's).
    ///
    /// # Errors
    ///
    /// A bad user name; a network store's [`StoreError::Backend`].
    fn mark_sent(&self, user: &[u8], id: MessageId, now_ms: u64)
    -> Result<SendVerdict, StoreError>;

    /// [`mark_sent`](Self::mark_sent) for each of `ids`, in order (one lock or round trip
    /// where the store can).
    ///
    /// # Errors
    ///
    /// As `mark_sent`; on an error some ids may have been counted.
    fn mark_sent_many(
        &self,
        user: &[u8],
        ids: &[MessageId],
        now_ms: u64,
    ) -> Result<Vec<SendVerdict>, StoreError> {
        ids.iter()
            .map(|&id| self.mark_sent(user, id, now_ms))
            .collect()
    }

    /// Removes message `id` of `user` as acknowledged. `Ok(false)` if it is not there
    /// (already acknowledged, unknown, another user's) or expired.
    ///
    /// # Errors
    ///
    /// A bad user name; a network store's [`StoreError::Backend`].
    fn ack(&self, user: &[u8], id: MessageId, now_ms: u64) -> Result<bool, StoreError>;

    /// [`ack`](Self::ack) for each of `ids`; returns how many were acknowledged.
    ///
    /// # Errors
    ///
    /// As `ack`; on an error some ids may have been acknowledged.
    fn ack_many(&self, user: &[u8], ids: &[MessageId], now_ms: u64) -> Result<usize, StoreError> {
        let mut acked = 0;
        for &id in ids {
            acked += usize::from(self.ack(user, id, now_ms)?);
        }
        Ok(acked)
    }

    /// Acknowledges every message of `user` with an id up to `id` (a cumulative ACK);
    /// returns how many unexpired ones it removed.
    ///
    /// # Errors
    ///
    /// A bad user name; a network store's [`StoreError::Backend`].
    fn ack_up_to(&self, user: &[u8], id: MessageId, now_ms: u64) -> Result<usize, StoreError>;

    /// Removes all of `user`'s messages (an account deleted, a device unregistered); returns
    /// how many unexpired ones it removed ([`StoreStats::removed`]).
    ///
    /// # Errors
    ///
    /// A bad user name; a network store's [`StoreError::Backend`].
    fn remove_user(&self, user: &[u8], now_ms: u64) -> Result<usize, StoreError>;

    /// Removes up to `budget` expired messages (any users); returns how many. Work is
    /// bounded by `budget`, so an event loop can call it on every tick; expired messages
    /// are never returned anyway, this only frees their memory.
    ///
    /// # Errors
    ///
    /// A network store's [`StoreError::Backend`].
    fn purge_expired(&self, now_ms: u64, budget: usize) -> Result<usize, StoreError>;

    /// The counters.
    ///
    /// # Errors
    ///
    /// A network store's [`StoreError::Backend`].
    fn stats(&self) -> Result<StoreStats, StoreError>;
}

//! [`MemoryStore`]: the embedded [`Store`]: messages in this process's memory, lost when it
//! exits.
//!
//! # Concurrency
//!
//! Users are spread over [`MemoryOptions::shards`] shards (64 by default) by a keyed hash
//! (`RandomState`: a client cannot pick ids that pile onto one shard); each shard is a
//! cache-padded `Mutex` around its users' queues, expiry index and counters. A call locks
//! one shard, except [`stats`](Store::stats) and [`purge_expired`](Store::purge_expired),
//! which visit them in turn; no call holds two locks. Event-loop threads and the API thread
//! thus contend only when their users share a shard, for the length of one queue operation.
//!
//! # Ids
//!
//! A shard's ids are `seq * shards + shard_index`, `seq` a per-shard counter that only
//! grows: ids are unique in the store, never 0, and strictly increase per user (a user
//! always hashes to the same shard), also across times when the user has no message. The
//! cost is that a user's ids have gaps. Keeping a counter per user instead would give dense
//! ids but means keeping every user ever seen (memory growing with users, not messages) or
//! restarting ids when a user empties. Ids start above [`MemoryOptions::first_id`]; pass
//! e.g. the start-up wall-clock milliseconds times 1000 so that ids also grow across
//! restarts.
//!
//! # Memory
//!
//! Measured by `memory_overhead` in `tests/store.rs` (bytes requested from the allocator,
//! 64-bit):
//!
//! - **A message** costs its payload (the `Bytes` given to `put`, kept, not copied) plus
//!   80 bytes: its 56-byte queue entry and the 24-byte header `Bytes` allocates when a
//!   `Vec`-backed payload is first shared (by `pending`). A user's queue doubles as it grows,
//!   so right after a doubling add up to 56 bytes of slack per message; it shrinks again
//!   once a quarter full.
//! - **A user with messages** adds about 175 bytes: its name once (`Arc`, 16 + length),
//!   its hash table slot (57 bytes, at the table's load factor) and its expiry index entry
//!   (24 bytes in a B-tree node, ~47 with the node's slack). The expiry index has one entry
//!   per user, not per message (see `shard`).
//! - **A user without messages** costs nothing: its slot, queue and index entry are removed
//!   with its last message (the test cycles 5000 users through put and ACK: 0 bytes kept).
//!   A shard's table keeps its capacity until [`purge_expired`](Store::purge_expired)
//!   finds it under a quarter full and shrinks it.

mod shard;

use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use loopwire::Bytes;

use self::shard::Shard;
use super::{MessageId, SendVerdict, Store, StoreConfig, StoreError, StoreStats, Stored};

/// How a [`MemoryStore`] is laid out (what the [`StoreConfig`] does not say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryOptions {
    /// Number of shards (locks), 1 to 4096. Default 64.
    pub shards: usize,
    /// Every id is above this. Default 0.
    pub first_id: u64,
}

impl Default for MemoryOptions {
    fn default() -> Self {
        Self {
            shards: 64,
            first_id: 0,
        }
    }
}

/// The in-memory [`Store`]; see the [module docs](self).
pub struct MemoryStore {
    config: StoreConfig,
    hasher: RandomState,
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    /// Where the next [`purge_expired`](Store::purge_expired) starts, so that small budgets
    /// reach every shard in turn.
    cursor: AtomicUsize,
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("config", &self.config)
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::build(StoreConfig::default(), MemoryOptions::default())
    }
}

impl MemoryStore {
    /// A store with `config` and the default [`MemoryOptions`].
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidConfig`] as [`StoreConfig::validate`].
    pub fn new(config: StoreConfig) -> Result<Self, StoreError> {
        Self::with_options(config, MemoryOptions::default())
    }

    /// A store with `config` and `options`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidConfig`] as [`StoreConfig::validate`], or when `options.shards`
    /// is 0 or over 4096.
    pub fn with_options(config: StoreConfig, options: MemoryOptions) -> Result<Self, StoreError> {
        config.validate()?;
        if !(1..=4096).contains(&options.shards) {
            return Err(StoreError::InvalidConfig("shards must be 1 to 4096"));
        }
        Ok(Self::build(config, options))
    }

    fn build(config: StoreConfig, options: MemoryOptions) -> Self {
        let n = options.shards as u64;
        Self {
            config,
            hasher: RandomState::new(),
            shards: (0..n)
                .map(|i| CachePadded::new(Mutex::new(Shard::new(i, n, options.first_id))))
                .collect(),
            cursor: AtomicUsize::new(0),
        }
    }

    /// The limits this store enforces.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    fn lock_at(&self, i: usize) -> MutexGuard<'_, Shard> {
        // Shard methods do not panic between related updates (the `Exit` counting and index
        // removal are infallible), so a poisoned shard is still consistent: keep going.
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The shard holding `user`'s messages, locked.
    fn lock(&self, user: &[u8]) -> MutexGuard<'_, Shard> {
        let n = self.shards.len() as u64;
        self.lock_at((self.hasher.hash_one(user) % n) as usize)
    }

    /// Users with at least one message (expired ones not yet purged included); for tests
    /// and diagnostics (locks every shard in turn).
    pub fn users(&self) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock_at(i).users())
            .sum()
    }

    /// Inserts message `id` of `user` made by another store (the cluster's Redis store,
    /// mirrored here for the user's sessions on this node): kept in id order with the
    /// others, skipped when that id is already held or `expires_at <= now_ms`; returns
    /// whether it was inserted. The per-user cap holds as for [`put`](Store::put).
    ///
    /// # Errors
    ///
    /// A bad user name or payload size.
    pub fn insert(
        &self,
        user: &[u8],
        id: MessageId,
        payload: Bytes,
        expires_at: u64,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        self.config.check_user(user)?;
        if payload.len() > self.config.max_payload {
            return Err(StoreError::PayloadTooLarge {
                len: payload.len(),
                max: self.config.max_payload,
            });
        }
        let cap = self.config.per_user_cap;
        Ok(self
            .lock(user)
            .insert(user, (id.get(), payload, expires_at), now_ms, cap))
    }

    /// Removes every message; returns how many unexpired ones went (counted as removed,
    /// expired ones as expired).
    pub fn clear(&self, now_ms: u64) -> usize {
        (0..self.shards.len())
            .map(|i| self.lock_at(i).clear(now_ms))
            .sum()
    }
}

impl Store for MemoryStore {
    fn put(
        &self,
        user: &[u8],
        payload: Bytes,
        ttl: Option<Duration>,
        now_ms: u64,
    ) -> Result<MessageId, StoreError> {
        let expires_at = self.config.check_put(user, payload.len(), ttl, now_ms)?;
        let cap = self.config.per_user_cap;
        self.lock(user).put(user, payload, expires_at, now_ms, cap)
    }

    fn put_many(
        &self,
        users: &[&[u8]],
        payload: Bytes,
        ttl: Option<Duration>,
        now_ms: u64,
    ) -> Result<Vec<MessageId>, StoreError> {
        let cap = self.config.per_user_cap;
        let n = self.shards.len() as u64;
        // (shard, position) sorted by shard: each shard locked once, in index order.
        // Every user is checked before anything is stored; `expires_at` is the same for all.
        let (mut order, mut expires_at) = (Vec::with_capacity(users.len()), 0);
        for (i, user) in users.iter().enumerate() {
            expires_at = self.config.check_put(user, payload.len(), ttl, now_ms)?;
            order.push(((self.hasher.hash_one(user) % n) as usize, i));
        }
        order.sort_unstable();
        let mut ids = vec![MessageId(0); users.len()];
        for group in order.chunk_by(|a, b| a.0 == b.0) {
            let mut shard = self.lock_at(group[0].0);
            for &(_, i) in group {
                ids[i] = shard.put(users[i], payload.clone(), expires_at, now_ms, cap)?;
            }
        }
        Ok(ids)
    }

    fn pending(
        &self,
        user: &[u8],
        after: Option<MessageId>,
        limit: usize,
        now_ms: u64,
    ) -> Result<Vec<Stored>, StoreError> {
        self.config.check_user(user)?;
        Ok(self.lock(user).pending(user, after, limit, now_ms))
    }

    fn mark_sent(
        &self,
        user: &[u8],
        id: MessageId,
        now_ms: u64,
    ) -> Result<SendVerdict, StoreError> {
        self.config.check_user(user)?;
        let max = self.config.max_attempts;
        Ok(self.lock(user).mark_sent(user, id, now_ms, max))
    }

    fn mark_sent_many(
        &self,
        user: &[u8],
        ids: &[MessageId],
        now_ms: u64,
    ) -> Result<Vec<SendVerdict>, StoreError> {
        self.config.check_user(user)?;
        let max = self.config.max_attempts;
        let mut shard = self.lock(user);
        Ok(ids
            .iter()
            .map(|&id| shard.mark_sent(user, id, now_ms, max))
            .collect())
    }

    fn ack(&self, user: &[u8], id: MessageId, now_ms: u64) -> Result<bool, StoreError> {
        self.config.check_user(user)?;
        Ok(self.lock(user).ack(user, id, now_ms))
    }

    fn ack_many(&self, user: &[u8], ids: &[MessageId], now_ms: u64) -> Result<usize, StoreError> {
        self.config.check_user(user)?;
        let mut shard = self.lock(user);
        Ok(ids
            .iter()
            .filter(|&&id| shard.ack(user, id, now_ms))
            .count())
    }

    fn ack_up_to(&self, user: &[u8], id: MessageId, now_ms: u64) -> Result<usize, StoreError> {
        self.config.check_user(user)?;
        Ok(self.lock(user).ack_up_to(user, id, now_ms))
    }

    fn remove_user(&self, user: &[u8], now_ms: u64) -> Result<usize, StoreError> {
        self.config.check_user(user)?;
        Ok(self.lock(user).remove_user(user, now_ms))
    }

    /// Visits the shards in turn, starting one further than the previous call, until
    /// `budget` messages are purged or `budget` users were visited (each visit scans one
    /// user's queue); one lock per shard at most.
    fn purge_expired(&self, now_ms: u64, budget: usize) -> Result<usize, StoreError> {
        let n = self.shards.len();
        let start = self.cursor.fetch_add(1, Relaxed) % n;
        let (mut purged, mut visited) = (0, 0);
        for i in 0..n {
            let left = budget - purged.max(visited);
            if left == 0 {
                break;
            }
            let (p, v) = self.lock_at((start + i) % n).purge(now_ms, left);
            purged += p;
            visited += v;
        }
        Ok(purged)
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut total = StoreStats::default();
        for i in 0..self.shards.len() {
            total.add(&self.lock_at(i).stats());
        }
        Ok(total)
    }
}

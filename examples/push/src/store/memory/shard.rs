//! [`Shard`]: the single-threaded part of a [`MemoryStore`](super::MemoryStore): the queues of
//! the users hashed to one shard, their expiry index, the shard's id counter and counters.
//! The store wraps each shard in a mutex; nothing here locks or reads a clock.
//!
//! The expiry index has one entry per user, not per message: `(bound, user)`, where `bound`
//! is at most the earliest `expires_at` in the user's queue (a lower bound, made exact when
//! [`purge`](Shard::purge) visits the user). Removing messages never touches it; only a put
//! that expires earlier than the bound, or the user's queue emptying, does. So a message costs
//! no index memory, and a purge that meets a user early (its bound stale) just rescans it.
//!
//! Invariants, kept by every method:
//! - a user is in `users` only while it has at least one message (an empty queue is removed);
//! - each queue is in strictly increasing id order (ids only grow, messages are appended);
//! - `expiry` holds exactly one entry `(queue.bound, user)` per user in `users`, and
//!   `queue.bound <= expires_at` of each of its messages;
//! - `stats.stored` is the number of messages in all queues.

use std::collections::hash_map::Entry as Slot;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use loopwire::Bytes;

use crate::store::{MessageId, SendVerdict, StoreError, StoreStats, Stored};

/// A user name as the shard holds it: one allocation, shared by the user's table entry and
/// its expiry index entry.
type User = Arc<[u8]>;

/// One stored message (56 bytes on 64-bit targets).
#[derive(Debug)]
struct Msg {
    id: u64,
    expires_at: u64,
    attempts: u32,
    payload: Bytes,
}

/// The expiry rule, the only place it is written: gone once `now >= expires_at`.
fn expired(expires_at: u64, now: u64) -> bool {
    now >= expires_at
}

impl Msg {
    fn expired(&self, now: u64) -> bool {
        expired(self.expires_at, now)
    }

    fn to_stored(&self) -> Stored {
        Stored {
            id: MessageId(self.id),
            payload: self.payload.clone(),
            expires_at: self.expires_at,
            attempts: self.attempts,
        }
    }
}

/// One user's messages.
#[derive(Debug)]
struct Queue {
    /// Oldest (lowest id) first.
    msgs: VecDeque<Msg>,
    /// At most the earliest `expires_at` in `msgs`; the user's key in the expiry index.
    bound: u64,
}

/// Why a message leaves its queue (which counter it ends in).
#[derive(Debug, Clone, Copy)]
enum Exit {
    Acked,
    Expired,
    DroppedCap,
    DroppedAttempts,
    Removed,
}

fn count(stats: &mut StoreStats, exit: Exit) {
    stats.stored -= 1;
    match exit {
        Exit::Acked => stats.acked += 1,
        Exit::Expired => stats.expired += 1,
        Exit::DroppedCap => stats.dropped_cap += 1,
        Exit::DroppedAttempts => stats.dropped_attempts += 1,
        Exit::Removed => stats.removed += 1,
    }
}

/// Frees most of a queue's buffer once it is at most a quarter full (amortized O(1)).
fn shrink(msgs: &mut VecDeque<Msg>) {
    if msgs.capacity() > 8 && msgs.len() * 4 <= msgs.capacity() {
        msgs.shrink_to(msgs.len() * 2);
    }
}

/// Removes the message at `pos`, counting it as `exit`.
fn take(msgs: &mut VecDeque<Msg>, pos: usize, stats: &mut StoreStats, exit: Exit) {
    if msgs.remove(pos).is_some() {
        count(stats, exit);
        shrink(msgs);
    }
}

/// Removes up to `limit` expired messages; returns how many.
fn purge_msgs(msgs: &mut VecDeque<Msg>, stats: &mut StoreStats, now: u64, limit: usize) -> usize {
    let mut n = 0;
    msgs.retain(|m| {
        if n < limit && m.expired(now) {
            count(stats, Exit::Expired);
            n += 1;
            false
        } else {
            true
        }
    });
    shrink(msgs);
    n
}

/// Removes `user`'s (empty) queue and its index entry.
fn forget(users: &mut HashMap<User, Queue>, expiry: &mut BTreeSet<(u64, User)>, user: &[u8]) {
    if let Some((key, queue)) = users.remove_entry(user) {
        expiry.remove(&(queue.bound, key));
    }
}

/// The users hashed to one shard; see the [module docs](self) for the invariants.
#[derive(Debug)]
pub(super) struct Shard {
    users: HashMap<User, Queue>,
    /// `(bound, user)` for every user, earliest first, for [`purge`](Self::purge).
    expiry: BTreeSet<(u64, User)>,
    /// The next id is `next_seq * stride + index`; `u64::MAX` means exhausted.
    next_seq: u64,
    /// This shard's position among the store's shards.
    index: u64,
    /// The number of shards: ids of different shards never collide.
    stride: u64,
    stats: StoreStats,
}

impl Shard {
    /// Shard `index` of `stride`, whose ids are all above `first_id` (and so never 0).
    pub(super) fn new(index: u64, stride: u64, first_id: u64) -> Self {
        debug_assert!(index < stride);
        Self {
            users: HashMap::new(),
            expiry: BTreeSet::new(),
            // (first_id / stride + 1) * stride > first_id.
            next_seq: (first_id / stride).saturating_add(1),
            index,
            stride,
            stats: StoreStats::default(),
        }
    }

    fn next_id(&mut self) -> Result<u64, StoreError> {
        if self.next_seq == u64::MAX {
            return Err(StoreError::IdsExhausted);
        }
        let id = self
            .next_seq
            .checked_mul(self.stride)
            .and_then(|v| v.checked_add(self.index))
            .ok_or(StoreError::IdsExhausted)?;
        self.next_seq += 1;
        Ok(id)
    }

    /// Appends a message (arguments already checked), first making room under `cap`: the
    /// user's expired messages go, then its oldest ones.
    pub(super) fn put(
        &mut self,
        user: &[u8],
        payload: Bytes,
        expires_at: u64,
        now: u64,
        cap: usize,
    ) -> Result<MessageId, StoreError> {
        let id = self.next_id()?;
        let Self {
            users,
            expiry,
            stats,
            ..
        } = self;
        let key: User = match users.get_key_value(user) {
            Some((k, _)) => Arc::clone(k),
            None => Arc::from(user),
        };
        let queue = match users.entry(Arc::clone(&key)) {
            Slot::Occupied(o) => o.into_mut(),
            Slot::Vacant(v) => {
                expiry.insert((expires_at, Arc::clone(&key)));
                v.insert(Queue {
                    // Most users have a message or two waiting: start small (not 4).
                    msgs: VecDeque::with_capacity(1),
                    bound: expires_at,
                })
            }
        };
        if expires_at < queue.bound {
            expiry.remove(&(queue.bound, Arc::clone(&key)));
            expiry.insert((expires_at, key));
            queue.bound = expires_at;
        }
        if queue.msgs.len() >= cap {
            purge_msgs(&mut queue.msgs, stats, now, usize::MAX);
            while queue.msgs.len() >= cap {
                take(&mut queue.msgs, 0, stats, Exit::DroppedCap);
            }
        }
        queue.msgs.push_back(Msg {
            id,
            expires_at,
            attempts: 0,
            payload,
        });
        stats.put += 1;
        stats.stored += 1;
        Ok(MessageId(id))
    }

    /// Inserts a message whose id was made elsewhere (a cluster's Redis store, mirrored on the
    /// node of the user's sessions), keeping the queue in id order; a message already there
    /// (same id) or already expired is skipped (returns false). Makes room under `cap` like
    /// [`put`](Self::put).
    pub(super) fn insert(
        &mut self,
        user: &[u8],
        m: (u64, Bytes, u64),
        now: u64,
        cap: usize,
    ) -> bool {
        let (id, payload, expires_at) = m;
        if expired(expires_at, now) {
            return false;
        }
        let Self {
            users,
            expiry,
            stats,
            ..
        } = self;
        let key: User = match users.get_key_value(user) {
            Some((k, _)) => Arc::clone(k),
            None => Arc::from(user),
        };
        let queue = match users.entry(Arc::clone(&key)) {
            Slot::Occupied(o) => o.into_mut(),
            Slot::Vacant(v) => {
                expiry.insert((expires_at, Arc::clone(&key)));
                v.insert(Queue {
                    msgs: VecDeque::with_capacity(1),
                    bound: expires_at,
                })
            }
        };
        let pos = match queue.msgs.binary_search_by_key(&id, |m| m.id) {
            Ok(_) => return false,
            Err(pos) => pos,
        };
        if expires_at < queue.bound {
            expiry.remove(&(queue.bound, Arc::clone(&key)));
            expiry.insert((expires_at, key));
            queue.bound = expires_at;
        }
        queue.msgs.insert(
            pos,
            Msg {
                id,
                expires_at,
                attempts: 0,
                payload,
            },
        );
        stats.put += 1;
        stats.stored += 1;
        if queue.msgs.len() > cap {
            purge_msgs(&mut queue.msgs, stats, now, usize::MAX);
            while queue.msgs.len() > cap {
                take(&mut queue.msgs, 0, stats, Exit::DroppedCap);
            }
        }
        true
    }

    /// Up to `limit` unexpired messages of `user` with ids above `after`, oldest first. If it
    /// met expired ones, purges all of the user's expired messages.
    pub(super) fn pending(
        &mut self,
        user: &[u8],
        after: Option<MessageId>,
        limit: usize,
        now: u64,
    ) -> Vec<Stored> {
        let Self {
            users,
            expiry,
            stats,
            ..
        } = self;
        let Some(queue) = users.get_mut(user) else {
            return Vec::new();
        };
        let msgs = &mut queue.msgs;
        let start = after.map_or(0, |a| msgs.partition_point(|m| m.id <= a.0));
        let mut out = Vec::with_capacity(limit.min(msgs.len() - start));
        let mut saw_expired = false;
        for m in msgs.range(start..) {
            if out.len() >= limit {
                break;
            }
            if m.expired(now) {
                saw_expired = true;
            } else {
                out.push(m.to_stored());
            }
        }
        if saw_expired {
            purge_msgs(msgs, stats, now, usize::MAX);
            if msgs.is_empty() {
                forget(users, expiry, user);
            }
        }
        out
    }

    /// Counts a send of `id`, or drops it (expired, or out of attempts).
    pub(super) fn mark_sent(
        &mut self,
        user: &[u8],
        id: MessageId,
        now: u64,
        max_attempts: u32,
    ) -> SendVerdict {
        let Self {
            users,
            expiry,
            stats,
            ..
        } = self;
        let Some(queue) = users.get_mut(user) else {
            return SendVerdict::Gone;
        };
        let msgs = &mut queue.msgs;
        let Ok(pos) = msgs.binary_search_by_key(&id.0, |m| m.id) else {
            return SendVerdict::Gone;
        };
        let Some(m) = msgs.get_mut(pos) else {
            return SendVerdict::Gone;
        };
        let (exit, verdict) = if m.expired(now) {
            (Exit::Expired, SendVerdict::Gone)
        } else if m.attempts >= max_attempts {
            (Exit::DroppedAttempts, SendVerdict::Exhausted)
        } else {
            m.attempts += 1;
            return SendVerdict::Send {
                attempt: m.attempts,
            };
        };
        take(msgs, pos, stats, exit);
        if msgs.is_empty() {
            forget(users, expiry, user);
        }
        verdict
    }

    /// Removes `id` as acknowledged; false if absent or expired (then purged as expired).
    pub(super) fn ack(&mut self, user: &[u8], id: MessageId, now: u64) -> bool {
        let Self {
            users,
            expiry,
            stats,
            ..
        } = self;
        let Some(queue) = users.get_mut(user) else {
            return false;
        };
        let msgs = &mut queue.msgs;
        let Ok(pos) = msgs.binary_search_by_key(&id.0, |m| m.id) else {
            return false;
        };
        let live = msgs.get(pos).is_some_and(|m| !m.expired(now));
        let exit = if live { Exit::Acked } else { Exit::Expired };
        take(msgs, pos, stats, exit);
        if msgs.is_empty() {
            forget(users, expiry, user);
        }
        live
    }

    /// Removes every message of `user` with an id up to `id`; returns how many were
    /// acknowledged (expired ones are counted as expired, not returned).
    pub(super) fn ack_up_to(&mut self, user: &[u8], id: MessageId, now: u64) -> usize {
        let Self {
            users,
            expiry,
            stats,
            ..
        } = self;
        let Some(queue) = users.get_mut(user) else {
            return 0;
        };
        let msgs = &mut queue.msgs;
        let mut acked = 0;
        while let Some(m) = msgs.front() {
            if m.id > id.0 {
                break;
            }
            let exit = if m.expired(now) {
                Exit::Expired
            } else {
                acked += 1;
                Exit::Acked
            };
            take(msgs, 0, stats, exit);
        }
        if msgs.is_empty() {
            forget(users, expiry, user);
        }
        acked
    }

    /// Removes all of `user`'s messages; returns how many unexpired ones went (counted as
    /// removed; expired ones as expired).
    pub(super) fn remove_user(&mut self, user: &[u8], now: u64) -> usize {
        let Some((key, queue)) = self.users.remove_entry(user) else {
            return 0;
        };
        self.expiry.remove(&(queue.bound, key));
        self.drop_msgs(queue.msgs, now)
    }

    /// Removes every user; returns how many unexpired messages went.
    pub(super) fn clear(&mut self, now: u64) -> usize {
        self.expiry.clear();
        let users = std::mem::take(&mut self.users);
        users
            .into_values()
            .map(|q| self.drop_msgs(q.msgs, now))
            .sum()
    }

    fn drop_msgs(&mut self, msgs: VecDeque<Msg>, now: u64) -> usize {
        let mut removed = 0;
        for m in msgs {
            if m.expired(now) {
                count(&mut self.stats, Exit::Expired);
            } else {
                count(&mut self.stats, Exit::Removed);
                removed += 1;
            }
        }
        removed
    }

    /// Removes up to `budget` expired messages, visiting at most `budget` users (earliest
    /// bound first; each visit scans that user's queue, at most `cap` messages); returns
    /// `(removed, visited)`. Also gives back the user table's memory once it is under a
    /// quarter full.
    pub(super) fn purge(&mut self, now: u64, budget: usize) -> (usize, usize) {
        let Self {
            users,
            expiry,
            stats,
            ..
        } = self;
        let (mut purged, mut visited) = (0, 0);
        while purged < budget && visited < budget {
            match expiry.first() {
                Some(&(bound, _)) if expired(bound, now) => {}
                _ => break,
            }
            let Some((_, user)) = expiry.pop_first() else {
                break;
            };
            visited += 1;
            let Some(queue) = users.get_mut(&*user) else {
                debug_assert!(false, "expiry entry without a queue");
                continue;
            };
            purged += purge_msgs(&mut queue.msgs, stats, now, budget - purged);
            if queue.msgs.is_empty() {
                users.remove(&*user);
            } else {
                queue.bound = queue
                    .msgs
                    .iter()
                    .map(|m| m.expires_at)
                    .min()
                    .unwrap_or(u64::MAX);
                expiry.insert((queue.bound, user));
            }
        }
        if users.capacity() > 64 && users.len() * 4 < users.capacity() {
            users.shrink_to(users.len() * 2);
        }
        (purged, visited)
    }

    /// Users with at least one message (expired ones not yet purged included).
    pub(super) fn users(&self) -> usize {
        self.users.len()
    }

    /// This shard's counters.
    pub(super) fn stats(&self) -> StoreStats {
        self.stats
    }
}

//! [`Users`]: user id → its open sessions, shared by every event loop (logins, closes) and
//! the API (pushes, kicks, presence).
//!
//! 64 shards by a keyed hash of the user id, each a cache-padded `Mutex` around a map from
//! user to that user's sessions in login order (a short `Vec`: at most
//! [`Policy::max`](super::config::Policy::max) entries, sized exactly: one for most users). Every operation locks one shard for
//! O(sessions of one user) work, except walking everyone (a push to all), which visits the
//! shards in turn and holds one at a time. A login decides the policy under its shard's lock,
//! so two logins of one user racing on two loops cannot both keep their place beyond the
//! maximum: the later one displaces the earlier.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crossbeam_utils::CachePadded;
use loopwire::ConnHandle;

use super::config::Policy;
use super::mailbox::{Mailbox, UserName};

/// Number of shards.
const SHARDS: usize = 64;

/// One open session as others reach it.
#[derive(Debug, Clone)]
pub struct SessionRef {
    /// Its connection.
    pub handle: ConnHandle,
    /// Its mailbox (which also names its user).
    pub mailbox: Arc<Mailbox>,
}

type Shard = HashMap<UserName, Vec<SessionRef>>;

/// Every authenticated session, by user.
#[derive(Debug)]
pub struct Users {
    shards: Box<[CachePadded<Mutex<Shard>>]>,
    hasher: RandomState,
}

impl Default for Users {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS)
                .map(|_| CachePadded::new(Mutex::default()))
                .collect(),
            hasher: RandomState::new(),
        }
    }
}

impl Users {
    fn shard(&self, user: &str) -> MutexGuard<'_, Shard> {
        let i = self.hasher.hash_one(user) as usize % SHARDS;
        self.shards[i]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a session of `user` and returns the sessions it displaces under `policy`
    /// (removed here; the caller KICKs them): all others under [`Policy::Single`], the
    /// oldest beyond the maximum under [`Policy::Multi`].
    pub fn login(&self, user: &UserName, session: SessionRef, policy: Policy) -> Vec<SessionRef> {
        let mut shard = self.shard(user);
        let list = shard.entry(Arc::clone(user)).or_default();
        let keep = policy.max().saturating_sub(1);
        let displaced = list.len().saturating_sub(keep);
        let out: Vec<SessionRef> = list.drain(..displaced).collect();
        // Exact size: most users have one session, and `push` alone would reserve four.
        list.reserve_exact(1);
        list.push(session);
        out
    }

    /// Removes the session `handle` of `user`; false if it was not there (displaced or
    /// kicked before it closed).
    pub fn logout(&self, user: &str, handle: ConnHandle) -> bool {
        let mut shard = self.shard(user);
        let Some(list) = shard.get_mut(user) else {
            return false;
        };
        let before = list.len();
        list.retain(|s| s.handle != handle);
        let removed = list.len() != before;
        if list.is_empty() {
            shard.remove(user);
        }
        removed
    }

    /// A copy of `user`'s sessions, oldest first.
    pub fn sessions(&self, user: &str) -> Vec<SessionRef> {
        self.shard(user).get(user).cloned().unwrap_or_default()
    }

    /// Calls `f` with each of `user`'s sessions, oldest first, under the shard's lock (keep
    /// `f` short): [`sessions`](Self::sessions) without the copy, for fan-outs.
    pub fn for_sessions(&self, user: &str, mut f: impl FnMut(&SessionRef)) {
        if let Some(list) = self.shard(user).get(user) {
            list.iter().for_each(&mut f);
        }
    }

    /// Removes and returns every session of `user` (a kick).
    pub fn take_all(&self, user: &str) -> Vec<SessionRef> {
        self.shard(user).remove(user).unwrap_or_default()
    }

    /// How many sessions `user` has open.
    pub fn count(&self, user: &str) -> usize {
        self.shard(user).get(user).map_or(0, Vec::len)
    }

    /// Calls `f` with each user and its sessions, one shard locked at a time (keep `f`
    /// short: the shard's logins wait for it).
    pub fn for_each(&self, mut f: impl FnMut(&UserName, &[SessionRef])) {
        for s in self.shards.iter() {
            let shard = s.lock().unwrap_or_else(PoisonError::into_inner);
            for (user, list) in shard.iter() {
                f(user, list);
            }
        }
    }
}

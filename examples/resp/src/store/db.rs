//! [`Db`]: one shard's keys, their values and their expiry times.
//!
//! Expiry times are absolute, in milliseconds of the engine's clock. A key is gone once the
//! clock reaches its time (`now >= at`). Two mechanisms remove expired keys, as in Redis:
//!
//! - lazily: every access to a key first drops it if it is due, so no command ever sees an
//!   expired key. The check costs nothing in a shard without keys with a time to live
//!   (`volatile == 0`), which is the case `redis-benchmark` measures.
//! - actively: [`Db::sweep`] removes keys whose time came without anyone touching them. Instead
//!   of Redis's random sampling of the keys with a time to live (a hash table lets Redis pick
//!   random slots; std's `HashMap` does not), each shard keeps an index of (time, key) ordered by
//!   time, and a sweep pops its front: it only ever looks at keys that are due, and a bounded
//!   number of them per call.
//!
//! The index is lazy: changing or removing a key's time leaves its old index entry in place,
//! and a sweep skips entries that no longer match their key. So that a peer repeating `EXPIRE`
//! cannot grow it without bound, it is rebuilt from the map once it holds more than twice the
//! keys with a time plus 1024.

use std::collections::{BTreeSet, HashMap};

use super::value::Value;

/// Stale index entries tolerated beyond twice the live ones before a rebuild.
const INDEX_SLACK: usize = 1024;

/// A key's value and expiry time.
#[derive(Debug)]
struct Entry {
    value: Value,
    /// Expiry time (engine milliseconds), if any.
    at: Option<u64>,
}

/// One shard's keys. See the [module docs](self).
#[derive(Debug, Default)]
pub struct Db {
    map: HashMap<Vec<u8>, Entry>,
    /// (expiry time, key), ordered by time; may hold stale entries.
    index: BTreeSet<(u64, Vec<u8>)>,
    /// Keys with an expiry time.
    volatile: usize,
}

impl Db {
    /// Removes `key` if its time has come (free in a shard without keys with a time).
    pub fn expire_if_due(&mut self, key: &[u8], now: u64) {
        if self.volatile == 0 {
            return;
        }
        if self
            .map
            .get(key)
            .and_then(|e| e.at)
            .is_some_and(|at| at <= now)
        {
            self.remove(key);
        }
    }

    /// The value of `key`, if it exists and has not expired.
    pub fn get(&mut self, key: &[u8], now: u64) -> Option<&Value> {
        self.expire_if_due(key, now);
        self.map.get(key).map(|e| &e.value)
    }

    /// Whether `key` exists (and has not expired).
    pub fn contains(&mut self, key: &[u8], now: u64) -> bool {
        self.get(key, now).is_some()
    }

    /// Calls `f` with the value of `key`, if it exists; deletes the key if `f` left an empty
    /// collection. `None` if there is no such key.
    pub fn modify<R>(
        &mut self,
        key: &[u8],
        now: u64,
        f: impl FnOnce(&mut Value) -> R,
    ) -> Option<R> {
        self.expire_if_due(key, now);
        let e = self.map.get_mut(key)?;
        let r = f(&mut e.value);
        if e.value.is_empty_collection() {
            self.remove(key);
        }
        Some(r)
    }

    /// Calls `f` with the value of `key`, or with `make()` when there is none; stores the new
    /// value unless `f` left it an empty collection (a failed command creates nothing).
    pub fn upsert<R>(
        &mut self,
        key: &[u8],
        now: u64,
        make: impl FnOnce() -> Value,
        f: impl FnOnce(&mut Value) -> R,
    ) -> R {
        self.expire_if_due(key, now);
        if let Some(e) = self.map.get_mut(key) {
            let r = f(&mut e.value);
            if e.value.is_empty_collection() {
                self.remove(key);
            }
            return r;
        }
        let mut value = make();
        let r = f(&mut value);
        if !value.is_empty_collection() {
            self.map.insert(key.to_vec(), Entry { value, at: None });
        }
        r
    }

    /// Stores the string `value` under `key`, reusing the old buffer when there is one. Its
    /// expiry time becomes `at`, or stays what it was if `keep_ttl`. One map lookup (and one
    /// key hash) for an existing key, two for a new one; the caller drops a due key first
    /// ([`Db::expire_if_due`], or any read of it) so that `keep_ttl` never keeps a past time.
    pub fn set_str(&mut self, key: &[u8], value: &[u8], at: Option<u64>, keep_ttl: bool) {
        if let Some(e) = self.map.get_mut(key) {
            match &mut e.value {
                Value::Str(v) => {
                    v.clear();
                    v.extend_from_slice(value);
                }
                other => *other = Value::Str(value.to_vec()),
            }
            if !keep_ttl {
                let old = std::mem::replace(&mut e.at, at);
                self.retimed(key, old, at);
            }
            return;
        }
        self.map.insert(
            key.to_vec(),
            Entry {
                value: Value::Str(value.to_vec()),
                at: None,
            },
        );
        // A new key starts without a time.
        if !keep_ttl && at.is_some() {
            self.set_expiry(key, at);
        }
    }

    /// Replaces whatever `key` held with `value`, without expiry time.
    pub fn put(&mut self, key: &[u8], value: Value) {
        self.remove(key);
        self.map.insert(key.to_vec(), Entry { value, at: None });
    }

    /// Removes `key` (expired or not); returns whether it was there.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        match self.map.remove(key) {
            Some(e) => {
                if e.at.is_some() {
                    self.volatile -= 1;
                }
                true
            }
            None => false,
        }
    }

    /// `key`'s expiry time: `None` if there is no such key, `Some(None)` if it has no time.
    pub fn expiry(&mut self, key: &[u8], now: u64) -> Option<Option<u64>> {
        self.expire_if_due(key, now);
        self.map.get(key).map(|e| e.at)
    }

    /// Sets (or with `None` clears) `key`'s expiry time; returns whether the key exists.
    pub fn set_expiry(&mut self, key: &[u8], at: Option<u64>) -> bool {
        let Some(e) = self.map.get_mut(key) else {
            return false;
        };
        let old = std::mem::replace(&mut e.at, at);
        self.retimed(key, old, at);
        true
    }

    /// Bookkeeping after `key`'s time changed from `old` to `at`: the count of keys with a
    /// time, and the index (rebuilt when stale entries pile up).
    fn retimed(&mut self, key: &[u8], old: Option<u64>, at: Option<u64>) {
        match (old, at) {
            (None, Some(_)) => self.volatile += 1,
            (Some(_), None) => self.volatile -= 1,
            _ => {}
        }
        if let Some(at) = at {
            self.index.insert((at, key.to_vec()));
            if self.index.len() > 2 * self.volatile + INDEX_SLACK {
                self.index = self
                    .map
                    .iter()
                    .filter_map(|(k, e)| Some((e.at?, k.clone())))
                    .collect();
            }
        }
    }

    /// Removes up to `budget` keys whose time has come, without anyone asking for them;
    /// returns how many it removed and whether due keys may remain.
    pub fn sweep(&mut self, now: u64, budget: usize) -> (usize, bool) {
        let mut removed = 0;
        for _ in 0..budget {
            match self.index.first() {
                Some((at, _)) if *at <= now => {}
                _ => return (removed, false),
            }
            let Some((at, key)) = self.index.pop_first() else {
                return (removed, false);
            };
            // Stale entries (the key's time changed, or it is gone) are dropped.
            if self.map.get(&key).is_some_and(|e| e.at == Some(at)) {
                self.remove(&key);
                removed += 1;
            }
        }
        let more = self.index.first().is_some_and(|(at, _)| *at <= now);
        (removed, more)
    }

    /// Number of keys (expired ones not yet removed included, as Redis counts).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of keys with an expiry time.
    pub fn volatile(&self) -> usize {
        self.volatile
    }
}

#[cfg(test)]
impl Db {
    /// Index entries, stale ones included.
    pub(crate) fn index_len(&self) -> usize {
        self.index.len()
    }
}

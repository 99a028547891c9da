//! The key-value store every event loop shares: [`SHARDS`] hash maps, each behind its own
//! mutex, a key's shard chosen by a hash of the key.
//!
//! Why this shape: the loops run commands on their own threads, so the map must be shared;
//! one mutex would make every command of every loop queue on one lock (and one cache line),
//! while 64 independent shards make two loops meet on the same lock only when their keys
//! share a shard, and then for the few hundred nanoseconds of a lookup. No lock is held across
//! anything but the map operation and copying its result into the reply. A lock-free map
//! would add a dependency and unsafe code for a gain that two loops cannot show.
//!
//! The shard is picked with FNV-1a (fast, no state), the slot inside the shard by std's
//! `HashMap` with its randomly keyed SipHash, so a peer choosing keys can crowd one shard's
//! lock but cannot degrade a map into long probe chains.
//!
//! Multi-key commands (`MGET`, `MSET`, `DEL`, `EXISTS`) lock every shard their keys touch,
//! in ascending shard order (so two of them cannot deadlock), and are atomic like Redis's.
//! Single-key commands lock one shard and never hold two.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Number of shards; a power of two, and at most 64 so a set of shards fits a `u64` mask.
pub const SHARDS: usize = 64;

/// One shard's map: keys and values are byte strings.
pub type Map = HashMap<Vec<u8>, Vec<u8>>;

/// A shard on its own cache line, so loops locking neighbouring shards do not share one.
#[repr(align(64))]
#[derive(Default)]
struct Shard(Mutex<Map>);

/// The shared store. See the [module docs](self).
pub struct Store {
    shards: Box<[Shard]>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("shards", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

/// When `SET` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetIf {
    /// Always.
    Always,
    /// Only if the key does not exist (`NX`).
    Absent,
    /// Only if the key exists (`XX`).
    Present,
}

/// Why `INCR` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrError {
    /// The value is not a decimal `i64`.
    NotAnInteger,
    /// The result would not fit an `i64`.
    Overflow,
}

fn lock(m: &Mutex<Map>) -> MutexGuard<'_, Map> {
    // A panic while a shard was locked leaves a map that is still a valid map.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The shard `key` lives in.
pub fn shard_of(key: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Fold the high bits in: FNV's low bits mix poorly. `SHARDS - 1` fits: no truncation.
    ((h ^ (h >> 32)) as usize) & (SHARDS - 1)
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }

    fn shard(&self, key: &[u8]) -> MutexGuard<'_, Map> {
        lock(&self.shards[shard_of(key)].0)
    }

    /// Calls `f` with the value of `key` (or `None`) while its shard is locked, so the value
    /// can be copied into a reply without an intermediate copy.
    pub fn get<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> R {
        let map = self.shard(key);
        f(map.get(key).map(Vec::as_slice))
    }

    /// Stores `value` under `key` if `cond` holds; returns whether it did. An existing
    /// value's buffer is reused when it is large enough.
    pub fn set(&self, key: &[u8], value: &[u8], cond: SetIf) -> bool {
        let mut map = self.shard(key);
        set_in(&mut map, key, value, cond)
    }

    /// Adds 1 to the decimal number stored at `key` (0 if absent); returns the new value.
    ///
    /// # Errors
    /// [`IncrError`] when the stored value is not a number or the sum overflows.
    pub fn incr(&self, key: &[u8]) -> Result<i64, IncrError> {
        let mut map = self.shard(key);
        let current = match map.get(key) {
            None => 0,
            Some(v) => super::parse::parse_int(v).ok_or(IncrError::NotAnInteger)?,
        };
        let next = current.checked_add(1).ok_or(IncrError::Overflow)?;
        let mut digits = [0u8; 20];
        set_in(
            &mut map,
            key,
            super::reply::decimal(next, &mut digits),
            SetIf::Always,
        );
        Ok(next)
    }

    /// Locks the shards of every key in `keys`, in ascending order, for a multi-key command.
    pub fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'_> {
        let mut mask: u64 = 0;
        for k in keys {
            mask |= 1 << shard_of(k);
        }
        let mut guards: [Option<MutexGuard<'_, Map>>; SHARDS] = std::array::from_fn(|_| None);
        for (i, g) in guards.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *g = Some(lock(&self.shards[i].0));
            }
        }
        Locked { guards }
    }

    /// Removes every key.
    pub fn clear(&self) {
        for s in self.shards.iter() {
            // Drop the old map outside the lock: freeing many values takes a while.
            let old = std::mem::take(&mut *lock(&s.0));
            drop(old);
        }
    }

    /// Number of keys (shards counted one after another, not atomically).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(&s.0).len()).sum()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn set_in(map: &mut Map, key: &[u8], value: &[u8], cond: SetIf) -> bool {
    match (map.get_mut(key), cond) {
        (Some(_), SetIf::Absent) | (None, SetIf::Present) => false,
        (Some(v), _) => {
            v.clear();
            v.extend_from_slice(value);
            true
        }
        (None, _) => {
            map.insert(key.to_vec(), value.to_vec());
            true
        }
    }
}

/// The shards a multi-key command locked ([`Store::lock_keys`]); released on drop.
pub struct Locked<'s> {
    guards: [Option<MutexGuard<'s, Map>>; SHARDS],
}

impl fmt::Debug for Locked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.guards.iter().filter(|g| g.is_some()).count();
        f.debug_struct("Locked").field("shards", &held).finish()
    }
}

impl Locked<'_> {
    /// The locked map holding `key`; `None` if `key` was not among the keys locked.
    fn map(&mut self, key: &[u8]) -> Option<&mut Map> {
        self.guards[shard_of(key)].as_deref_mut()
    }

    /// The value of `key`.
    pub fn get(&mut self, key: &[u8]) -> Option<&[u8]> {
        self.map(key)?.get(key).map(Vec::as_slice)
    }

    /// Stores `value` under `key` (a key that was locked; others are ignored).
    pub fn set(&mut self, key: &[u8], value: &[u8]) {
        if let Some(map) = self.map(key) {
            set_in(map, key, value, SetIf::Always);
        }
    }

    /// Removes `key`; returns whether it existed.
    pub fn remove(&mut self, key: &[u8]) -> bool {
        self.map(key).is_some_and(|m| m.remove(key).is_some())
    }

    /// Whether `key` exists.
    pub fn contains(&mut self, key: &[u8]) -> bool {
        self.map(key).is_some_and(|m| m.contains_key(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_get_conditions() {
        let s = Store::new();
        assert!(s.set(b"k", b"v", SetIf::Always));
        assert!(!s.set(b"k", b"w", SetIf::Absent));
        assert!(s.set(b"k", b"longer", SetIf::Present));
        assert!(!s.set(b"j", b"x", SetIf::Present));
        assert_eq!(
            s.get(b"k", |v| v.map(<[u8]>::to_vec)),
            Some(b"longer".to_vec())
        );
        assert!(s.get(b"j", |v| v.is_none()));
        assert_eq!(s.len(), 1);
        s.clear();
        assert!(s.is_empty());
    }

    #[test]
    fn incr() {
        let s = Store::new();
        assert_eq!(s.incr(b"n"), Ok(1));
        assert_eq!(s.incr(b"n"), Ok(2));
        s.set(b"n", b"-1", SetIf::Always);
        assert_eq!(s.incr(b"n"), Ok(0));
        s.set(b"n", b"x", SetIf::Always);
        assert_eq!(s.incr(b"n"), Err(IncrError::NotAnInteger));
        s.set(b"n", i64::MAX.to_string().as_bytes(), SetIf::Always);
        assert_eq!(s.incr(b"n"), Err(IncrError::Overflow));
    }

    #[test]
    fn multi_key() {
        let s = Store::new();
        let keys: Vec<Vec<u8>> = (0..200).map(|i| format!("key:{i}").into_bytes()).collect();
        {
            let mut l = s.lock_keys(keys.iter().map(Vec::as_slice));
            for k in &keys {
                l.set(k, k);
            }
            assert!(l.contains(b"key:7"));
            assert_eq!(l.get(b"key:7"), Some(&b"key:7"[..]));
        }
        // A key that was not locked is neither read nor written.
        if shard_of(b"other") != shard_of(b"key:7") {
            let mut one = s.lock_keys([&b"key:7"[..]]);
            one.set(b"other", b"x");
            assert!(!one.contains(b"other"));
        }
        assert_eq!(s.len(), 200);
        let mut l = s.lock_keys([&b"key:1"[..], b"key:1", b"nope"]);
        assert!(l.remove(b"key:1"));
        assert!(!l.remove(b"key:1"));
        assert!(!l.remove(b"nope"));
    }
}

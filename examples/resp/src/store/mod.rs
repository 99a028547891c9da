//! The key space every event loop shares: [`SHARDS`] databases ([`Db`]), each behind its own
//! mutex, a key's shard chosen by a hash of the key.
//!
//! Why this shape: the loops run commands on their own threads, so the key space must be
//! shared; one mutex would make every command of every loop queue on one lock (and one cache
//! line), while 64 independent shards make two loops meet on the same lock only when their
//! keys share a shard, and then for the few hundred nanoseconds of a lookup. No lock is held
//! across anything but the map operation and copying its result into the reply. A lock-free
//! map would add a dependency and unsafe code for a gain that two loops cannot show.
//!
//! The shard is picked with FNV-1a (fast, no state), the slot inside the shard by std's
//! `HashMap` with its randomly keyed SipHash-1-3, so a peer choosing keys can crowd one shard's
//! lock but cannot degrade a map into long probe chains. The hasher stays SipHash on purpose:
//! keys and members are chosen by peers, and the faster unkeyed or weakly keyed hashes
//! (FxHash, FNV, foldhash's `fast`, which does not claim HashDoS resistance) would let one
//! peer turn every lookup into a scan. Its cost is measured, not guessed: under
//! `examples/bench/resp_instr.sh` SipHash is about 12 % of `SADD`'s user-space instructions,
//! and the whole request costs 0.33–0.53× redis-server's instructions. What was cut instead is
//! the number of hashes: a plain `SET` looks its key up once (it was three times).
//!
//! Multi-key commands (`MGET`, `MSET`, `DEL`, `EXISTS`) lock every shard their keys touch,
//! in ascending shard order (so two of them cannot deadlock), and are atomic like Redis's.
//! Single-key commands lock one shard and never hold two.
//!
//! Expiry (see [`db`]): each access drops a due key first; [`Store::sweep`], called from the
//! engine's ticker, removes due keys nobody touches, a bounded number per call, walking the
//! shards round-robin from where the last call stopped.

pub mod db;
pub mod value;
pub mod zset;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

pub use db::Db;
pub use value::{Value, WrongType};
pub use zset::ZSet;

/// Number of shards; a power of two, and at most 64 so a set of shards fits a `u64` mask.
pub const SHARDS: usize = 64;

/// Most keys one [`Store::sweep`] looks at in one shard before moving on (bounds how long it
/// holds a shard's lock).
pub const SWEEP_PER_SHARD: usize = 256;

/// A shard on its own cache line, so loops locking neighbouring shards do not share one.
#[repr(align(64))]
#[derive(Default)]
struct Shard(Mutex<Db>);

/// The shared key space. See the [module docs](self).
pub struct Store {
    shards: Box<[Shard]>,
    /// The shard the next sweep starts at.
    sweep_from: AtomicUsize,
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

/// What a [`Store::sweep`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Expired keys removed.
    pub removed: usize,
    /// Whether due keys may remain (the budget ran out): sweep again soon.
    pub more: bool,
}

fn lock(m: &Mutex<Db>) -> MutexGuard<'_, Db> {
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
            sweep_from: AtomicUsize::new(0),
        }
    }

    /// Locks the shard holding `key`.
    pub fn db(&self, key: &[u8]) -> MutexGuard<'_, Db> {
        lock(&self.shards[shard_of(key)].0)
    }

    /// Locks the shards of every key in `keys`, in ascending order, for a multi-key command.
    pub fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'_> {
        let mut mask: u64 = 0;
        for k in keys {
            mask |= 1 << shard_of(k);
        }
        let mut guards: [Option<MutexGuard<'_, Db>>; SHARDS] = std::array::from_fn(|_| None);
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

    /// Number of keys with an expiry time.
    pub fn volatile(&self) -> usize {
        self.shards.iter().map(|s| lock(&s.0).volatile()).sum()
    }

    /// Removes keys whose time (engine milliseconds) is at or before `now`: at most `budget`
    /// in all and [`SWEEP_PER_SHARD`] per shard, shards visited round-robin from where the
    /// previous sweep stopped.
    pub fn sweep(&self, now: u64, budget: usize) -> Sweep {
        let from = self.sweep_from.load(Ordering::Relaxed);
        let mut left = budget;
        let mut removed = 0;
        let mut more = false;
        let mut visited = 0;
        while visited < SHARDS && left > 0 {
            let i = (from + visited) % SHARDS;
            let (n, rest) = lock(&self.shards[i].0).sweep(now, left.min(SWEEP_PER_SHARD));
            removed += n;
            left = left.saturating_sub(n.max(1));
            more |= rest;
            visited += 1;
        }
        self.sweep_from
            .store((from + visited) % SHARDS, Ordering::Relaxed);
        Sweep {
            removed,
            more: more || visited < SHARDS,
        }
    }
}

/// The shards a multi-key command locked ([`Store::lock_keys`]); released on drop.
pub struct Locked<'s> {
    guards: [Option<MutexGuard<'s, Db>>; SHARDS],
}

impl fmt::Debug for Locked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let held = self.guards.iter().filter(|g| g.is_some()).count();
        f.debug_struct("Locked").field("shards", &held).finish()
    }
}

impl Locked<'_> {
    /// The locked shard holding `key`; `None` if `key` was not among the keys locked.
    pub fn db(&mut self, key: &[u8]) -> Option<&mut Db> {
        self.guards[shard_of(key)].as_deref_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_lazy_and_swept() {
        let s = Store::new();
        s.db(b"k").set_str(b"k", b"v", Some(100), false);
        s.db(b"p").set_str(b"p", b"v", None, false);
        assert!(s.db(b"k").contains(b"k", 99));
        assert!(!s.db(b"k").contains(b"k", 100));
        assert_eq!(s.len(), 1);
        for i in 0..1000 {
            let k = format!("t{i}");
            let mut db = s.db(k.as_bytes());
            db.set_str(k.as_bytes(), b"v", Some(10), false);
        }
        assert_eq!(s.volatile(), 1000);
        // Not due yet: nothing goes.
        assert_eq!(s.sweep(9, 10_000).removed, 0);
        // Due: a small budget takes several sweeps.
        let first = s.sweep(10, 100);
        assert!(first.more && first.removed <= 100);
        let mut total = first.removed;
        while total < 1000 {
            total += s.sweep(10, 100).removed;
        }
        assert_eq!(s.len(), 1);
        assert_eq!(s.volatile(), 0);
    }

    #[test]
    fn stale_index_entries_are_skipped_and_bounded() {
        let s = Store::new();
        let mut db = s.db(b"k");
        db.set_str(b"k", b"v", Some(5), false);
        for t in 6..5000 {
            db.set_expiry(b"k", Some(t));
        }
        assert!(db.index_len() <= 2 + INDEX_SLACK_FOR_TESTS);
        assert_eq!(db.sweep(4000, 10_000), (0, false));
        assert!(db.contains(b"k", 4998));
        assert_eq!(db.sweep(4999, 10), (0, true));
        assert_eq!(db.sweep(4999, 10_000), (1, false));
        assert!(db.is_empty());
    }

    const INDEX_SLACK_FOR_TESTS: usize = 1024;

    #[test]
    fn multi_key() {
        let s = Store::new();
        let keys: Vec<Vec<u8>> = (0..200).map(|i| format!("key:{i}").into_bytes()).collect();
        {
            let mut l = s.lock_keys(keys.iter().map(Vec::as_slice));
            for k in &keys {
                if let Some(db) = l.db(k) {
                    db.set_str(k, k, None, false);
                }
            }
        }
        // A key that was not locked is not reachable.
        if shard_of(b"other") != shard_of(b"key:7") {
            let mut one = s.lock_keys([&b"key:7"[..]]);
            assert!(one.db(b"other").is_none());
        }
        assert_eq!(s.len(), 200);
    }
}

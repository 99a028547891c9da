//! `BTreeMap` timers: keyed by (deadline in nanoseconds, sequence number), so cancel and reset
//! are an O(log n) remove (and insert) and expiry pops the first entries.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Instant;

use super::{Timers, nanos_since};

/// Timers in an ordered map.
pub(crate) struct BTree {
    start: Instant,
    map: BTreeMap<(u64, u64), u64>,
    sequence: u64,
}

impl Timers for BTree {
    type Key = (u64, u64);
    const NAME: &'static str = "btree_map";

    fn new(start: Instant, _capacity: usize) -> Self {
        Self {
            start,
            map: BTreeMap::new(),
            sequence: 0,
        }
    }

    fn insert(&mut self, deadline: Instant, value: u64) -> (u64, u64) {
        self.sequence += 1;
        let key = (nanos_since(self.start, deadline), self.sequence);
        self.map.insert(key, value);
        key
    }

    fn cancel(&mut self, key: (u64, u64)) -> Option<u64> {
        self.map.remove(&key)
    }

    fn reset(&mut self, key: &mut (u64, u64), deadline: Instant) {
        if let Some(value) = self.map.remove(key) {
            key.0 = nanos_since(self.start, deadline);
            self.map.insert(*key, value);
        }
    }

    fn clear(&mut self) {
        self.map.clear();
    }

    fn advance(&mut self, now: Instant) -> usize {
        let now = nanos_since(self.start, now);
        let mut fired = 0;
        while let Some(entry) = self.map.first_entry() {
            if entry.key().0 > now {
                break;
            }
            black_box(entry.remove());
            fired += 1;
        }
        fired
    }
}

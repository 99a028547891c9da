//! Per-loop table of connection generations, readable from any thread.
//!
//! Each connection slot of a loop has an entry holding the generation of the connection that
//! occupies it (0 when vacant). Only the loop writes it; any thread holding a
//! [`ConnHandle`](crate::ConnHandle) reads it to refuse calls for a connection that has closed,
//! so a handle to a closed connection never reaches the slot's next occupant.

// `pub` (not `pub(crate)`) so the loom models can reach it through `loom_api`.
#![cfg_attr(not(loom), allow(unreachable_pub))]

use crate::shared::sync::{AtomicU64, Ordering};

/// Generations of a loop's connection slots.
#[derive(Debug)]
pub struct GenTable {
    gens: Box<[AtomicU64]>,
}

impl GenTable {
    /// A table for `slots` connection slots, all vacant.
    ///
    /// Outside loom the table comes from zeroed memory, so untouched pages cost no RAM: a table
    /// for a million slots reserves 8 MiB of address space and uses a page per 512 slots in use.
    pub fn new(slots: usize) -> Self {
        #[cfg(not(loom))]
        let gens = {
            let zeroed = Box::<[AtomicU64]>::new_zeroed_slice(slots);
            // SAFETY: an all-zero bit pattern is a valid `AtomicU64` (it has the same in-memory
            // representation as `u64`), so every element is initialised.
            unsafe { zeroed.assume_init() }
        };
        #[cfg(loom)]
        let gens = (0..slots).map(|_| AtomicU64::new(0)).collect();
        Self { gens }
    }

    /// Number of slots.
    pub fn slots(&self) -> usize {
        self.gens.len()
    }

    /// Whether `slot` currently holds the connection of generation `generation`.
    pub fn is_live(&self, slot: usize, generation: u64) -> bool {
        generation != 0
            && self
                .gens
                .get(slot)
                .is_some_and(|g| g.load(Ordering::Acquire) == generation)
    }

    /// Marks `slot` as holding `generation` (0 marks it vacant). Loop thread only.
    pub fn set(&self, slot: usize, generation: u64) {
        if let Some(g) = self.gens.get(slot) {
            g.store(generation, Ordering::Release);
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn stale_generation_is_not_live() {
        let t = GenTable::new(4);
        assert!(!t.is_live(1, 0));
        assert!(!t.is_live(1, 5));
        t.set(1, 5);
        assert!(t.is_live(1, 5));
        t.set(1, 0);
        t.set(1, 6);
        assert!(!t.is_live(1, 5));
        assert!(t.is_live(1, 6));
        assert!(!t.is_live(99, 6));
    }
}

//! `BinaryHeap` timers with lazy cancellation: the textbook alternative to a wheel.
//!
//! Each timer owns a slot holding its value and a stamp. The heap holds
//! `(deadline, slot, stamp)`; cancel and reset bump the slot's stamp, which turns the old heap
//! entry into garbage that `advance` skips. Reset pushes a fresh entry (O(log n)). When
//! garbage outnumbers live timers the heap is compacted with `retain`, so memory stays
//! bounded and the cost is amortized O(1) per operation.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;
use std::time::Instant;

use super::{Timers, nanos_since};

struct Slot {
    stamp: u32,
    value: Option<u64>,
}

/// Timers in a min-heap by deadline.
pub(crate) struct Heap {
    start: Instant,
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    live: usize,
}

impl Heap {
    fn push(&mut self, deadline: u64, index: u32, stamp: u32) {
        if self.heap.len() >= 2 * self.live + 1024 {
            let slots = &self.slots;
            self.heap
                .retain(|Reverse((_, i, s))| slots[*i as usize].stamp == *s);
        }
        self.heap.push(Reverse((deadline, index, stamp)));
    }
}

impl Timers for Heap {
    type Key = (u32, u32);
    const NAME: &'static str = "binary_heap";

    fn new(start: Instant, capacity: usize) -> Self {
        Self {
            start,
            heap: BinaryHeap::with_capacity(2 * capacity + 1024),
            slots: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            live: 0,
        }
    }

    fn insert(&mut self, deadline: Instant, value: u64) -> (u32, u32) {
        let index = match self.free.pop() {
            Some(index) => index,
            None => {
                self.slots.push(Slot {
                    stamp: 0,
                    value: None,
                });
                (self.slots.len() - 1) as u32
            }
        };
        let slot = &mut self.slots[index as usize];
        slot.value = Some(value);
        let stamp = slot.stamp;
        self.live += 1;
        self.push(nanos_since(self.start, deadline), index, stamp);
        (index, stamp)
    }

    fn cancel(&mut self, (index, stamp): (u32, u32)) -> Option<u64> {
        let slot = self
            .slots
            .get_mut(index as usize)
            .filter(|s| s.stamp == stamp)?;
        let value = slot.value.take();
        slot.stamp = slot.stamp.wrapping_add(1);
        self.free.push(index);
        self.live -= 1;
        value
    }

    fn reset(&mut self, key: &mut (u32, u32), deadline: Instant) {
        let Some(slot) = self
            .slots
            .get_mut(key.0 as usize)
            .filter(|s| s.stamp == key.1)
        else {
            return;
        };
        slot.stamp = slot.stamp.wrapping_add(1);
        key.1 = slot.stamp;
        self.push(nanos_since(self.start, deadline), key.0, key.1);
    }

    fn clear(&mut self) {
        self.heap.clear();
        self.slots.clear();
        self.free.clear();
        self.live = 0;
    }

    fn advance(&mut self, now: Instant) -> usize {
        let now = nanos_since(self.start, now);
        let mut fired = 0;
        while let Some(&Reverse((deadline, index, stamp))) = self.heap.peek() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            let slot = &mut self.slots[index as usize];
            if slot.stamp == stamp {
                black_box(slot.value.take());
                slot.stamp = slot.stamp.wrapping_add(1);
                self.free.push(index);
                self.live -= 1;
                fired += 1;
            }
        }
        fired
    }
}

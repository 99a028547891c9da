//! The slab entry of one timer: the user's value, its deadline tick and its intrusive links.
//!
//! Links are slab indices (`u32`, [`NIL`](crate::NIL) for none), so one slab holds every list
//! of the wheel and moving an entry between lists never allocates. The entry does not record
//! which list it is on: that follows from its deadline and the wheel's clock (see
//! `TimerWheel::list_of`), which keeps the overhead at 24 bytes.

use std::num::NonZeroU64;

/// One pending timer.
#[derive(Debug)]
pub(crate) struct Entry<T> {
    pub(crate) value: T,
    /// The deadline, in ticks since the wheel's start (rounded up).
    pub(crate) when: u64,
    /// Must match the key's generation; `NonZero` also lets the slab hide its vacant/occupied
    /// tag in this field, so a slab slot is no larger than the entry.
    pub(crate) generation: NonZeroU64,
    pub(crate) prev: u32,
    pub(crate) next: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// slab 0.4 stores `enum Entry<T> { Vacant(usize), Occupied(T) }`; this mirrors it to
    /// measure what one slot costs.
    #[allow(dead_code)]
    enum SlabSlot<T> {
        Vacant(usize),
        Occupied(T),
    }

    #[test]
    fn overhead_is_24_bytes_besides_the_value() {
        assert_eq!(size_of::<Entry<()>>(), 24);
        assert_eq!(size_of::<SlabSlot<Entry<()>>>(), 24);
        assert_eq!(size_of::<SlabSlot<Entry<u64>>>(), 32);
        assert_eq!(size_of::<SlabSlot<Entry<u32>>>(), 32); // 28, padded to 8
        assert_eq!(size_of::<SlabSlot<Entry<[u64; 2]>>>(), 40);
    }
}

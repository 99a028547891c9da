//! One level of the wheel: 64 slot list heads and the bitmask of which slots are occupied.
//!
//! # Geometry
//!
//! A tick count is read as base-64 digits; level `n` is indexed by digit `n`. A slot of level
//! `n` covers `64^n` ticks and the whole level covers `64^(n+1)`. Eleven levels cover every
//! `u64` tick count (`6 × 11 = 66 ≥ 64` bits; the top level uses only 16 of its slots), so no
//! deadline ever needs an overflow list or wraps around. Levels that hold nothing cost one bit
//! test, because the wheel keeps a bitmask of non-empty levels too.
//!
//! | level | slot width (ticks) | level range (ticks) | slot width at 1 ms | range at 1 ms |
//! |------:|-------------------:|--------------------:|-------------------:|--------------:|
//! | 0     | 1                  | 2^6                 | 1 ms               | 64 ms         |
//! | 1     | 2^6                | 2^12                | 64 ms              | 4.1 s         |
//! | 2     | 2^12               | 2^18                | 4.1 s              | 4.4 min       |
//! | 3     | 2^18               | 2^24                | 4.4 min            | 4.7 h         |
//! | 4     | 2^24               | 2^30                | 4.7 h              | 12.4 days     |
//! | 5     | 2^30               | 2^36                | 12.4 days          | 2.2 years     |
//! | 6     | 2^36               | 2^42                | 2.2 years          | 139 years     |
//! | 7     | 2^42               | 2^48                | 139 years          | 8.9 k years   |
//! | 8     | 2^48               | 2^54                | 8.9 k years        | 571 k years   |
//! | 9     | 2^54               | 2^60                | 571 k years        | 36.5 M years  |
//! | 10    | 2^60               | 2^64 (16 slots)     | 36.5 M years       | 585 M years   |
//!
//! # Where an entry lives
//!
//! As in tokio's `runtime/time/wheel`, an entry with deadline tick `when > elapsed` lives at
//! the level of the most significant base-64 digit in which `when` and `elapsed` differ (see
//! [`level_for`]), in the slot given by `when`'s digit at that level. Every occupied slot of a
//! level therefore lies strictly after `elapsed`'s own slot in that level, inside the same
//! enclosing window, and a lower level's slots all come before a higher level's: the earliest
//! thing to do is the first occupied slot of the lowest non-empty level. When the wheel reaches
//! the start of a slot at level `n > 0`, its entries move to lower levels (they "cascade"),
//! so each entry moves at most once per level.

use crate::NIL;

/// Bits of a tick count that index one level.
pub(crate) const SLOT_BITS: u32 = 6;

/// Slots per level: one `u64` occupancy bitmask covers them.
pub(crate) const SLOTS: usize = 1 << SLOT_BITS;

/// Levels needed to cover all of `u64` (`ceil(64 / 6)`).
pub(crate) const LEVELS: usize = 64_usize.div_ceil(SLOT_BITS as usize);

const SLOT_MASK: u64 = (SLOTS as u64) - 1;

/// The level an entry due at tick `when` belongs to while the wheel stands at `elapsed`.
///
/// `when` must be later than `elapsed`.
#[inline]
pub(crate) fn level_for(elapsed: u64, when: u64) -> usize {
    debug_assert!(when > elapsed, "only future ticks have a level");
    // `| SLOT_MASK` makes any difference confined to digit 0 land on level 0.
    let masked = (elapsed ^ when) | SLOT_MASK;
    let significant = u64::BITS - 1 - masked.leading_zeros();
    (significant / SLOT_BITS) as usize
}

/// How many ticks one slot spans (`64^level`), by the leading zeros of
/// `(elapsed ^ when) | SLOT_MASK`: [`slot_width`]'s table, so the hot path needs no division.
const SLOT_WIDTH: [u64; 65] = {
    let mut table = [0; 65];
    let mut zeros = 0;
    while zeros < 65 {
        // As in `level_for`; entries past 58 zeros cannot be reached (the mask sets bit 5).
        let significant = 63_u32.saturating_sub(zeros);
        table[zeros as usize] = 1 << (significant / SLOT_BITS * SLOT_BITS);
        zeros += 1;
    }
    table
};

/// How many ticks one slot of the level of `when` spans while the wheel stands at `elapsed`:
/// `64^level_for(elapsed, when)`, read from a table.
///
/// `when` must be later than `elapsed`.
#[inline]
pub(crate) fn slot_width(elapsed: u64, when: u64) -> u64 {
    debug_assert!(when > elapsed, "only future ticks have a level");
    let zeros = ((elapsed ^ when) | SLOT_MASK).leading_zeros();
    SLOT_WIDTH[zeros as usize]
}

/// The slot of tick `when` within `level`.
#[inline]
pub(crate) fn slot_for(when: u64, level: usize) -> usize {
    ((when >> (level as u32 * SLOT_BITS)) & SLOT_MASK) as usize
}

/// The first tick of the slot `slot` of `level` in the window that contains `elapsed`.
#[inline]
fn slot_start(elapsed: u64, level: usize, slot: usize) -> u64 {
    let slot_shift = level as u32 * SLOT_BITS;
    let level_shift = slot_shift + SLOT_BITS;
    // The top level's window is all of u64, so it starts at tick 0.
    let window_start = if level_shift >= u64::BITS {
        0
    } else {
        elapsed >> level_shift << level_shift
    };
    window_start + ((slot as u64) << slot_shift)
}

/// The list heads of one level and which of them are non-empty.
#[derive(Debug, Clone)]
pub(crate) struct Level {
    /// Bit `s` is set if and only if `heads[s]` is not [`NIL`].
    occupied: u64,
    /// Slab index of the first entry of each slot's doubly linked list, or [`NIL`].
    heads: [u32; SLOTS],
}

impl Level {
    pub(crate) const EMPTY: Self = Self {
        occupied: 0,
        heads: [NIL; SLOTS],
    };

    pub(crate) fn is_empty(&self) -> bool {
        self.occupied == 0
    }

    /// The occupancy bitmask, for invariant checks in tests.
    #[cfg(test)]
    pub(crate) fn occupied(&self) -> u64 {
        self.occupied
    }

    pub(crate) fn head(&self, slot: usize) -> u32 {
        self.heads[slot]
    }

    /// Sets the head of `slot`, keeping the occupancy bit in step.
    pub(crate) fn set_head(&mut self, slot: usize, head: u32) {
        self.heads[slot] = head;
        if head == NIL {
            self.occupied &= !(1 << slot);
        } else {
            self.occupied |= 1 << slot;
        }
    }

    /// Empties `slot` and returns its former head.
    pub(crate) fn take(&mut self, slot: usize) -> u32 {
        let head = self.heads[slot];
        self.set_head(slot, NIL);
        head
    }

    /// The first occupied slot of this level (which is `level`) after `elapsed`, with the tick
    /// at which it starts.
    #[inline]
    pub(crate) fn next_expiration(&self, level: usize, elapsed: u64) -> Option<(usize, u64)> {
        let current = slot_for(elapsed, level);
        // Slots at or before the current one were processed already (see the module docs).
        let after_current = u64::MAX.checked_shl(current as u32 + 1).unwrap_or(0);
        debug_assert_eq!(
            self.occupied & !after_current,
            0,
            "level {level} has a stale slot"
        );
        let ahead = self.occupied & after_current;
        if ahead == 0 {
            return None;
        }
        let slot = ahead.trailing_zeros() as usize;
        Some((slot, slot_start(elapsed, level, slot)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometry_covers_all_of_u64() {
        assert_eq!(SLOTS, 64);
        assert_eq!(LEVELS, 11);
        assert_eq!(level_for(0, u64::MAX), LEVELS - 1);
        assert_eq!(slot_for(u64::MAX, LEVELS - 1), 15);
    }

    #[test]
    fn level_is_the_highest_differing_digit() {
        assert_eq!(level_for(0, 1), 0);
        assert_eq!(level_for(0, 63), 0);
        assert_eq!(level_for(0, 64), 1);
        assert_eq!(level_for(0, 4095), 1);
        assert_eq!(level_for(0, 4096), 2);
        // Same upper digits: level 0 even though the values are large.
        assert_eq!(level_for(64 * 1000 + 3, 64 * 1000 + 60), 0);
        // Crossing a level-0 window boundary needs level 1.
        assert_eq!(level_for(63, 64), 1);
        assert_eq!(level_for(1 << 40, (1 << 40) + (1 << 36)), 6);
    }

    #[test]
    fn slot_width_is_64_to_the_level() {
        let width = |elapsed, when| 1_u64 << (level_for(elapsed, when) as u32 * SLOT_BITS);
        // Every highest differing bit, with elapsed at zero and at all ones below it.
        for bit in 0..64 {
            let when = 1_u64 << bit;
            assert_eq!(slot_width(0, when), width(0, when), "bit {bit}");
            assert_eq!(
                slot_width(when - 1, when),
                width(when - 1, when),
                "bit {bit}"
            );
        }
        assert_eq!(slot_width(0, 63), 1);
        assert_eq!(slot_width(0, 64), 64);
        assert_eq!(slot_width(0, u64::MAX), 1 << 60);
        assert_eq!(slot_width(64 * 1000 + 3, 64 * 1000 + 60), 1);
    }

    #[test]
    fn slots_read_the_right_digit() {
        let when = (5 << 12) | (9 << 6) | 17;
        assert_eq!(slot_for(when, 0), 17);
        assert_eq!(slot_for(when, 1), 9);
        assert_eq!(slot_for(when, 2), 5);
        assert_eq!(slot_for(when, 3), 0);
    }

    #[test]
    fn slot_start_is_inside_the_current_window() {
        assert_eq!(slot_start(70, 0, 10), 74);
        assert_eq!(slot_start(70, 1, 3), 192);
        assert_eq!(slot_start(5000, 1, 63), 4096 + 63 * 64);
        assert_eq!(slot_start(u64::MAX - 1, LEVELS - 1, 15), 15 << 60);
        assert_eq!(
            slot_start(u64::MAX - 1, LEVELS - 2, 63),
            u64::MAX - ((1 << 54) - 1)
        );
    }

    #[test]
    fn next_expiration_finds_the_first_occupied_slot_ahead() {
        let mut level = Level::EMPTY;
        assert!(level.is_empty());
        assert_eq!(level.next_expiration(1, 70), None);
        level.set_head(40, 7);
        level.set_head(5, 9);
        assert!(!level.is_empty());
        // elapsed 70 is in level-1 slot 1, so slot 5 (start 320) comes first.
        assert_eq!(level.next_expiration(1, 70), Some((5, 320)));
        assert_eq!(level.take(5), 9);
        assert_eq!(level.head(5), NIL);
        assert_eq!(level.next_expiration(1, 70), Some((40, 40 * 64)));
        assert_eq!(level.take(40), 7);
        assert!(level.is_empty());
    }

    #[test]
    fn top_slot_of_level_zero_is_reachable() {
        let mut level = Level::EMPTY;
        level.set_head(63, 1);
        assert_eq!(level.next_expiration(0, 62), Some((63, 63)));
        assert_eq!(
            level.next_expiration(0, 64 * 7 + 1),
            Some((63, 64 * 7 + 63))
        );
    }
}

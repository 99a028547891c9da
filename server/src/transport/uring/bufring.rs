//! A loop's provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19): one block of
//! receive buffers per loop, not per connection. The kernel picks a buffer for each completed
//! multishot receive and names it in the completion; the loop shows those bytes to the handler
//! in place and gives the buffer back on its next call.
//!
//! Which buffers the kernel gets: it takes them from the ring's head in the order they were
//! put at its tail, so with every free buffer in the ring each receive would land in the
//! least recently used one, out of cache. So only a *window* of buffers is in the ring at a
//! time ([`refill`](BufRing::refill), at each poll); the others wait in a stack, the most
//! recently given back on top, and that is the one that goes into the ring next. The kernel
//! thus cycles through the window's few buffers, still warm from the last receives: the
//! receive copy's working set is the window, so the window follows what the loop's polls
//! actually take.
//!
//! - A poll's *demand* is the buffers its receives took plus the receives that found the ring
//!   empty (`ENOBUFS`, [`starved`](BufRing::starved): such a receive ends and is armed again
//!   at the next poll, after the refill).
//! - A poll whose demand passes the window widens it at once to that demand and half again
//!   (at most every buffer), so a burst is served by the next poll.
//! - Every [`PERIOD`] polls the window is set to the period's highest demand and a quarter
//!   again (at least [`WINDOW_MIN`]): after a burst it narrows within a period instead of
//!   staying wide.
//!
//! This replaced a window that doubled on each `ENOBUFS` and shrank by a quarter only after
//! 1 024 polls without one: under the echo load at 16 in flight (about 1.5 receives of 8 KiB
//! per poll, bursts of up to 25 after the loop was descheduled) it sat at 41–96 buffers, a
//! receive working set of 330–770 KiB, and the receive copy (`_copy_to_iter`) took 73–99 ns
//! per message against 43–62 with the window held at 8 (three alternating profiles each, 2
//! loops, shared machine).
//!
//! The buffers not in the window are a reserve for connections that hold buffers (received
//! while paused, or not taken yet), so they never starve the others sooner than a ring of all
//! the buffers would.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;

/// The smallest window: buffers in the ring at the start of a poll.
pub(super) const WINDOW_MIN: u16 = 8;
/// Polls per demand period: the window is set from the highest demand of each.
pub(super) const PERIOD: u32 = 256;

/// The buffers and the ring of entries the kernel takes them from.
#[derive(Debug)]
pub(super) struct BufRing {
    /// `entries` entries of 16 bytes, page-aligned, shared with the kernel.
    ring: *mut BufRingEntry,
    layout: Layout,
    /// `entries * size` bytes of buffer memory.
    data: Box<[u8]>,
    entries: u16,
    size: usize,
    /// The tail the loop publishes (its own copy; the shared one is written with release).
    tail: u16,
    /// Buffers given back and not in the ring: the last given back on top.
    free: Vec<u16>,
    /// Buffers in the ring that no completion has named yet.
    posted: u16,
    /// How many buffers [`refill`](Self::refill) keeps in the ring.
    window: u16,
    /// This poll's demand: buffers taken and receives that found the ring empty since the
    /// last refill.
    demand: u16,
    /// The highest demand of this period's polls.
    peak: u16,
    /// Polls in this period so far.
    polls: u32,
}

// SAFETY: the ring memory is owned by this value and touched only by the loop's thread (and
// the kernel, through the registration); nothing else aliases it.
unsafe impl Send for BufRing {}

impl BufRing {
    /// `entries` (a power of two, at most 32768) buffers of `size` bytes, a window of them
    /// (`window`, at least 1) handed to the kernel. Register it with [`addr`](Self::addr)
    /// before use.
    pub(super) fn new(entries: u16, size: usize, window: u16) -> io::Result<Self> {
        if !entries.is_power_of_two() || size == 0 || size > u32::MAX as usize {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let bytes = usize::from(entries) * size_of::<BufRingEntry>();
        let layout = Layout::from_size_align(bytes, 4096)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: the layout has a non-zero size (entries >= 1).
        let ring = unsafe { alloc_zeroed(layout) }.cast::<BufRingEntry>();
        if ring.is_null() {
            return Err(io::Error::from(io::ErrorKind::OutOfMemory));
        }
        let mut r = Self {
            ring,
            layout,
            data: vec![0; usize::from(entries) * size].into_boxed_slice(),
            entries,
            size,
            tail: 0,
            // Buffer 0 on top: the first in the ring.
            free: (0..entries).rev().collect(),
            posted: 0,
            window: window.clamp(1, entries),
            demand: 0,
            peak: 0,
            polls: 0,
        };
        r.top_up();
        Ok(r)
    }

    /// The ring's address and entry count, for `register_buf_ring_with_flags`.
    pub(super) fn addr(&self) -> (u64, u16) {
        (self.ring as u64, self.entries)
    }

    /// The `len` bytes the kernel put into buffer `bid`.
    pub(super) fn bytes(&self, bid: u16, len: usize) -> &[u8] {
        let start = usize::from(bid) * self.size;
        let end = start + len.min(self.size);
        self.data.get(start..end).unwrap_or(&[])
    }

    /// Gives buffer `bid` back: it goes into the ring at the next [`refill`](Self::refill)
    /// before any buffer given back earlier.
    pub(super) fn give_back(&mut self, bid: u16) {
        if bid < self.entries {
            self.free.push(bid);
        }
    }

    /// A completion named a buffer: the kernel took it from the ring.
    #[inline]
    pub(super) fn taken(&mut self) {
        self.posted = self.posted.saturating_sub(1);
        self.demand = self.demand.saturating_add(1);
    }

    /// A receive found the ring empty (`ENOBUFS`): it counts in this poll's demand.
    pub(super) fn starved(&mut self) {
        self.demand = self.demand.saturating_add(1);
        // The kernel found no buffer, so it had taken every one posted (and named each in a
        // completion before this one): the count starts again from there. Were it ever off,
        // the refill would post a few buffers too many, never one already in the ring.
        self.posted = 0;
    }

    /// The window after a poll with demand `demand` (see the module docs).
    fn follow_demand(&mut self) {
        let floor = WINDOW_MIN.min(self.entries);
        let demand = std::mem::take(&mut self.demand);
        if demand > self.window {
            self.window = demand.saturating_add(demand / 2).min(self.entries);
        }
        self.peak = self.peak.max(demand);
        self.polls += 1;
        if self.polls >= PERIOD {
            let peak = std::mem::take(&mut self.peak);
            self.polls = 0;
            self.window = peak
                .saturating_add(peak.div_ceil(4))
                .clamp(floor, self.entries);
        }
    }

    /// At the start of a poll: sets the window from the last poll's demand, tops the ring up
    /// to it, the buffers given back last first, and publishes the new tail once.
    pub(super) fn refill(&mut self) {
        self.follow_demand();
        self.top_up();
    }

    /// Tops the ring up to the window and publishes the new tail.
    fn top_up(&mut self) {
        if self.posted >= self.window || self.free.is_empty() {
            return;
        }
        while self.posted < self.window
            && let Some(bid) = self.free.pop()
        {
            self.post(bid);
        }
        // SAFETY: the tail overlays the first entry's reserved field (the kernel's layout of
        // `io_uring_buf_ring`); it is 2-aligned and only ever written here, with release, so
        // the kernel sees the entries before the tail that covers them.
        unsafe {
            let tail = BufRingEntry::tail(self.ring).cast_mut().cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
    }

    /// Writes buffer `bid` into the ring's next entry (published by the caller).
    fn post(&mut self, bid: u16) {
        let idx = usize::from(self.tail & (self.entries - 1));
        let addr = self.data.as_mut_ptr() as u64 + (usize::from(bid) * self.size) as u64;
        // SAFETY: `idx` < `entries`, inside the allocation; the kernel reads an entry only
        // once the published tail covers it, and this one is past the tail it last saw (at
        // most `entries` buffers exist, so the ring never holds more than `entries`).
        let entry = unsafe { &mut *self.ring.add(idx) };
        entry.set_addr(addr);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        self.posted += 1;
    }

    /// The buffer ids in the ring that the kernel has not taken, oldest first (the order it
    /// takes them), for tests.
    #[cfg(test)]
    fn in_ring(&self) -> Vec<u16> {
        (0..self.posted)
            .map(|i| {
                let idx = usize::from(self.tail.wrapping_sub(self.posted - i) & (self.entries - 1));
                // SAFETY: `idx` < `entries`, inside the allocation.
                unsafe { (*self.ring.add(idx)).bid() }
            })
            .collect()
    }
}

impl BufRing {
    /// Gives up the memory without freeing it: the kernel may still write into it (a receive
    /// that outlived the transport's drop, see `quiesce`).
    pub(super) fn leak(&mut self) {
        std::mem::forget(std::mem::take(&mut self.data));
        self.ring = std::ptr::null_mut();
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        if self.ring.is_null() {
            return;
        }
        // SAFETY: allocated in `new` with this layout (and not leaked); the ring is dropped
        // with (after) the io_uring instance it was registered with (field order in the
        // transport), after its operations finished (`quiesce`).
        unsafe { dealloc(self.ring.cast(), self.layout) };
    }
}

impl super::super::completion::Provided for BufRing {
    #[inline]
    fn give_back(&mut self, bid: u16) {
        BufRing::give_back(self, bid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_buffer_given_back_goes_into_the_ring_first() {
        let mut r = BufRing::new(8, 64, 2).unwrap();
        assert_eq!(r.in_ring(), [0, 1]);
        // The kernel takes 0 and 1; the loop gives 1 back, then 0.
        r.taken();
        r.taken();
        r.give_back(1);
        r.give_back(0);
        r.refill();
        assert_eq!(r.in_ring(), [0, 1], "the hottest first, the window kept");
        // Only 0 taken: the ring tops up with the one given back last.
        r.taken();
        r.give_back(0);
        r.refill();
        assert_eq!(r.in_ring(), [1, 0]);
        assert_eq!(r.free.len(), 6, "the rest wait outside the ring");
    }

    /// One poll: the kernel takes `take` buffers from the ring (and `starve` receives find it
    /// empty), the loop gives them all back, and the next poll refills.
    fn poll(r: &mut BufRing, take: usize, starve: usize) {
        for bid in r.in_ring().into_iter().take(take) {
            r.taken();
            r.give_back(bid);
        }
        for _ in 0..starve {
            r.starved();
        }
        r.refill();
    }

    #[test]
    fn a_burst_widens_the_window_at_once_and_a_period_narrows_it() {
        let mut r = BufRing::new(128, 64, WINDOW_MIN).unwrap();
        assert_eq!(r.in_ring().len(), usize::from(WINDOW_MIN));
        // A burst: all 8 buffers taken and 12 receives more found the ring empty.
        poll(&mut r, 8, 12);
        assert_eq!(r.window, 30, "demand 20 and half again");
        assert_eq!(r.in_ring().len(), 30, "the next poll serves the burst");
        // Quiet polls taking 2 each: the window stays until the period ends...
        for _ in 0..PERIOD - 2 {
            poll(&mut r, 2, 0);
        }
        assert_eq!(r.window, 30);
        // ...then follows the period's peak (20) and a quarter.
        poll(&mut r, 2, 0);
        assert_eq!(r.window, 25);
        for _ in 0..PERIOD {
            poll(&mut r, 2, 0);
        }
        assert_eq!(r.window, WINDOW_MIN, "never below the floor");
        // Buffers already in the ring stay there (the kernel may be taking them): the ring
        // narrows as the receives take them.
        assert_eq!(r.in_ring().len(), 23);
        for _ in 0..10 {
            poll(&mut r, 2, 0);
        }
        assert_eq!(r.in_ring().len(), usize::from(WINDOW_MIN));
    }

    #[test]
    fn the_window_stays_within_the_buffers_there_are() {
        let mut r = BufRing::new(16, 64, 4).unwrap();
        poll(&mut r, 4, 100);
        assert_eq!(r.window, 16);
        assert_eq!(r.in_ring().len(), 16);
        // The burst's period ends at the buffers there are, the next one at the floor.
        for _ in 0..2 * PERIOD {
            poll(&mut r, 0, 0);
        }
        assert_eq!(r.window, WINDOW_MIN);
    }
}

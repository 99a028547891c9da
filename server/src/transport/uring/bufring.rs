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
//! thus cycles through the window's few buffers, still warm from the last receives. The
//! window starts at [`WINDOW_MIN`] and doubles each time a receive finds the ring empty
//! ([`starved`](BufRing::starved), `ENOBUFS`: that receive is armed again at the next poll,
//! after the refill); it shrinks back by a quarter after [`CALM_POLLS`] polls without one.
//! The buffers not in the window are a reserve for connections that hold buffers (received
//! while paused, or not taken yet), so they never starve the others sooner than a ring of all
//! the buffers would.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;

/// The smallest window: buffers in the ring at the start of a poll.
pub(super) const WINDOW_MIN: u16 = 16;
/// Polls without a receive finding the ring empty before the window shrinks.
pub(super) const CALM_POLLS: u32 = 1024;

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
    /// Polls since a receive last found the ring empty.
    calm: u32,
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
            calm: 0,
        };
        r.refill();
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
    }

    /// A receive found the ring empty (`ENOBUFS`): the window doubles.
    pub(super) fn starved(&mut self) {
        self.window = self.window.saturating_mul(2).min(self.entries);
        self.calm = 0;
        // The kernel found no buffer, so it had taken every one posted (and named each in a
        // completion before this one): the count starts again from there. Were it ever off,
        // the refill would post a few buffers too many, never one already in the ring.
        self.posted = 0;
    }

    /// At the start of a poll: tops the ring up to the window, the buffers given back last
    /// first, and publishes the new tail once.
    pub(super) fn refill(&mut self) {
        self.calm += 1;
        if self.calm >= CALM_POLLS {
            self.calm = 0;
            self.window = (self.window - self.window / 4).max(WINDOW_MIN.min(self.entries));
        }
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

    #[test]
    fn the_window_grows_when_starved_and_shrinks_when_calm() {
        let mut r = BufRing::new(64, 64, WINDOW_MIN).unwrap();
        assert_eq!(r.in_ring().len(), usize::from(WINDOW_MIN));
        for bid in r.in_ring() {
            r.taken();
            r.give_back(bid);
        }
        r.starved();
        r.starved();
        r.refill();
        assert_eq!(r.in_ring().len(), 64, "doubled twice, up to every buffer");
        r.starved();
        assert_eq!(r.window, 64, "never past the buffers there are");
        for _ in 0..CALM_POLLS {
            r.refill();
        }
        assert_eq!(r.window, 48, "a quarter less after a calm stretch");
        for _ in 0..20 * CALM_POLLS {
            r.refill();
        }
        assert_eq!(r.window, WINDOW_MIN);
    }
}

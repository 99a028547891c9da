//! A loop's provided-buffer ring (`IORING_REGISTER_PBUF_RING`, Linux 5.19): one block of
//! receive buffers per loop, not per connection. The kernel picks a buffer for each completed
//! multishot receive and names it in the completion; the loop shows those bytes to the handler
//! in place and gives the buffer back (by advancing the ring's tail) on its next call.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;

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
}

// SAFETY: the ring memory is owned by this value and touched only by the loop's thread (and
// the kernel, through the registration); nothing else aliases it.
unsafe impl Send for BufRing {}

impl BufRing {
    /// `entries` (a power of two, at most 32768) buffers of `size` bytes, all handed to the
    /// kernel. Register it with [`addr`](Self::addr) before use.
    pub(super) fn new(entries: u16, size: usize) -> io::Result<Self> {
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
        };
        for bid in 0..entries {
            r.give_back(bid);
        }
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

    /// Gives buffer `bid` back to the kernel.
    pub(super) fn give_back(&mut self, bid: u16) {
        if bid >= self.entries {
            return;
        }
        let idx = usize::from(self.tail & (self.entries - 1));
        let addr = self.data.as_mut_ptr() as u64 + (usize::from(bid) * self.size) as u64;
        // SAFETY: `idx` < `entries`, inside the allocation; the kernel reads an entry only
        // once the tail below covers it, and this one is past the tail it last saw.
        let entry = unsafe { &mut *self.ring.add(idx) };
        entry.set_addr(addr);
        entry.set_len(self.size as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        // SAFETY: the tail overlays the first entry's reserved field (the kernel's layout of
        // `io_uring_buf_ring`); it is 2-aligned and only ever written here, with release, so
        // the kernel sees the entries before the tail that covers them.
        unsafe {
            let tail = BufRingEntry::tail(self.ring).cast_mut().cast::<AtomicU16>();
            (*tail).store(self.tail, Ordering::Release);
        }
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

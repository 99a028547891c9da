//! Per-connection overflow buffers that cost one pointer while empty.
//!
//! Most of the time a connection has nothing left unread and nothing left unsent, so its two
//! buffers hold no bytes. A [`Spill`] is then a null pointer (8 bytes in the connection slot, no
//! heap memory). When bytes must be kept, it takes a boxed [`RingBuffer`] (with storage) from
//! the loop's [`BufferPool`] (`loopwire-ringbuf`'s, the one pool of the engine) and gives it
//! back as soon as it drains, so memory follows load and a steady stream of partial frames
//! allocates neither storage nor boxes.

#![cfg_attr(not(feature = "internals"), allow(unreachable_pub))]

use std::io;

use loopwire_ringbuf::{BufferPool, RingBuffer};

/// A connection's inbound leftovers or outbound backlog.
#[derive(Debug, Default)]
pub struct Spill(Option<Box<RingBuffer>>);

impl Spill {
    /// Bytes held.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |r| r.len())
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes held, as one slice; call [`make_contiguous`](Self::make_contiguous) first.
    pub(crate) fn contiguous(&self) -> &[u8] {
        match &self.0 {
            Some(r) => {
                let (a, b) = r.as_slices();
                debug_assert!(b.is_empty(), "make_contiguous must come first");
                a
            }
            None => &[],
        }
    }

    /// Moves the bytes held into one slice (in place; nothing moves unless they wrap).
    pub(crate) fn make_contiguous(&mut self) {
        if let Some(r) = &mut self.0 {
            r.make_contiguous();
        }
    }

    /// Appends all of `data`, or nothing when that would pass the ring's maximum.
    pub(crate) fn push(&mut self, pool: &mut BufferPool, data: &[u8]) -> bool {
        let ring = self.0.get_or_insert_with(|| pool.get_boxed());
        ring.push(data).is_ok()
    }

    /// Consumes `n` bytes; a drained buffer goes back to the pool.
    pub(crate) fn discard(&mut self, pool: &mut BufferPool, n: usize) {
        if let Some(r) = &mut self.0 {
            r.discard(n);
        }
        self.recycle(pool);
    }

    /// Writes what it can to `w` (vectored when the bytes wrap); a drained buffer goes back to
    /// the pool.
    pub(crate) fn write_to(
        &mut self,
        pool: &mut BufferPool,
        w: &mut impl io::Write,
    ) -> io::Result<usize> {
        let res = match &mut self.0 {
            Some(r) => r.write_to(w),
            None => Ok(0),
        };
        self.recycle(pool);
        res
    }

    /// Gives the buffer back to the pool, dropping whatever it held.
    pub(crate) fn release(&mut self, pool: &mut BufferPool) {
        if let Some(r) = self.0.take() {
            pool.put_boxed(r);
        }
    }

    fn recycle(&mut self, pool: &mut BufferPool) {
        if self.0.as_ref().is_some_and(|r| r.is_empty()) {
            self.release(pool);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use loopwire_ringbuf::Config;

    fn pool() -> BufferPool {
        BufferPool::new(Config::builder().initial(64).max(256).build().unwrap(), 128)
    }

    #[test]
    fn empty_spill_owns_nothing_and_drained_rings_are_reused() {
        let mut pool = pool();
        let mut s = Spill::default();
        assert!(s.is_empty() && s.0.is_none());
        assert!(s.push(&mut pool, b"hello"));
        assert_eq!(s.len(), 5);
        s.make_contiguous();
        assert_eq!(s.contiguous(), b"hello");
        s.discard(&mut pool, 2);
        assert_eq!(s.contiguous(), b"llo");
        s.discard(&mut pool, 3);
        assert!(s.0.is_none(), "drained spill gave its ring back");
        assert_eq!(pool.pooled_buffers(), 1);
        assert!(s.push(&mut pool, b"x"));
        assert_eq!(pool.pooled_buffers(), 0, "reused the pooled ring");
    }

    #[test]
    fn push_past_the_maximum_is_refused_whole() {
        let mut pool = pool();
        let mut s = Spill::default();
        assert!(s.push(&mut pool, &[1; 200]));
        assert!(!s.push(&mut pool, &[2; 100]));
        assert_eq!(s.len(), 200);
    }

    #[test]
    fn write_to_drains_and_recycles() {
        let mut pool = pool();
        let mut s = Spill::default();
        assert!(s.push(&mut pool, b"abc"));
        let mut out = Vec::new();
        assert_eq!(s.write_to(&mut pool, &mut out).unwrap(), 3);
        assert_eq!(out, b"abc");
        assert!(s.0.is_none());
        s.release(&mut pool);
        assert_eq!(pool.pooled_buffers(), 1);
    }
}

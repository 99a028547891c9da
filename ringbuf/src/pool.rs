//! [`BufferPool`]: a free list of buffer storage owned by one event loop.
//!
//! The pool is plain single-threaded data behind `&mut self`: one per event-loop thread, no
//! lock, no atomics. It recycles the storage of buffers handed back, so a loop that
//! repeatedly buffers short-lived leftovers does not go to the allocator for each of them,
//! while a cap on pooled bytes bounds what it keeps.

use crate::{Config, RingBuffer};

/// A per-event-loop free list of ring-buffer storage with a cap on pooled bytes.
///
/// [`get`](Self::get) returns a buffer built with the pool's [`Config`], holding recycled
/// storage when there is some (most recently returned first, as it is the warmest in cache),
/// otherwise none. [`put`](Self::put) takes a buffer back, discards its contents and keeps its
/// storage while the pool stays within `max_pooled_bytes`.
///
/// # How an event loop uses it
///
/// Give the pool a config with a non-zero [`Config::initial`], say 4 KiB. A connection keeps
/// `Option<RingBuffer>`: `None` while it has nothing buffered, so an idle connection owns no
/// buffer memory. When a handler leaves bytes unread, take a buffer from the pool; once the
/// connection has consumed them (the buffer has drained, shrinking itself back to `initial`)
/// or the connection closes, put it back. In steady state, buffering leftovers then costs two
/// pushes and pops on a `Vec` instead of an allocation and a free.
///
/// # Examples
///
/// ```
/// use loopwire_ringbuf::{BufferPool, Config};
///
/// let config = Config::builder().initial(4096).max(1 << 20).build()?;
/// let mut pool = BufferPool::new(config, 64 * 4096);
///
/// // on_traffic left 3 bytes unread:
/// let mut pending = None;
/// pending.get_or_insert_with(|| pool.get()).push(b"GET").unwrap();
///
/// // later, the handler consumed them:
/// if let Some(buf) = pending.as_mut() {
///     buf.discard(3);
/// }
/// if let Some(buf) = pending.take_if(|buf| buf.is_empty()) {
///     pool.put(buf);
/// }
/// assert_eq!(pool.pooled_bytes(), 4096);
///
/// // the next leftover reuses that storage without allocating:
/// assert_eq!(pool.get().capacity(), 4096);
/// # Ok::<(), loopwire_ringbuf::ConfigError>(())
/// ```
pub struct BufferPool {
    config: Config,
    /// Recycled storage and the ring capacity it provides (a power of two, `<= config.max()`).
    free: Vec<(Vec<u8>, usize)>,
    /// Boxes that held buffers given back through [`put_boxed`](Self::put_boxed), emptied
    /// (no storage), for [`get_boxed`](Self::get_boxed) to fill again.
    #[allow(clippy::vec_box)] // the boxes themselves are what is recycled
    shells: Vec<Box<RingBuffer>>,
    /// Sum of the capacities in `free`.
    pooled_bytes: usize,
    max_pooled_bytes: usize,
}

impl BufferPool {
    /// Creates an empty pool whose buffers use `config` and which keeps at most
    /// `max_pooled_bytes` of storage (0 makes it keep nothing).
    pub const fn new(config: Config, max_pooled_bytes: usize) -> Self {
        Self {
            config,
            free: Vec::new(),
            shells: Vec::new(),
            pooled_bytes: 0,
            max_pooled_bytes,
        }
    }

    /// The config of the buffers [`get`](Self::get) returns.
    pub const fn config(&self) -> Config {
        self.config
    }

    /// Bytes of storage currently pooled.
    pub const fn pooled_bytes(&self) -> usize {
        self.pooled_bytes
    }

    /// Number of storage blocks currently pooled.
    pub fn pooled_buffers(&self) -> usize {
        self.free.len()
    }

    /// The cap on pooled bytes.
    pub const fn max_pooled_bytes(&self) -> usize {
        self.max_pooled_bytes
    }

    /// Returns an empty buffer with the pool's config, holding the most recently pooled
    /// storage if there is any (then `capacity() > 0` before the first write).
    pub fn get(&mut self) -> RingBuffer {
        match self.free.pop() {
            Some((storage, cap)) => {
                self.pooled_bytes -= cap;
                RingBuffer::from_storage(storage, cap, self.config)
            }
            None => RingBuffer::with_config(self.config),
        }
    }

    /// Takes a buffer back: its contents are discarded and its storage kept for the next
    /// [`get`](Self::get), unless it has none, exceeds the pool config's maximum, or would
    /// take the pool over `max_pooled_bytes` (then it is freed). Storage larger than the
    /// config's non-zero `initial` is first shrunk to it, so the pool holds uniform blocks.
    pub fn put(&mut self, mut buf: RingBuffer) {
        let (mut storage, mut cap) = buf.take_storage();
        let initial = self.config.initial();
        if initial != 0 && cap > initial {
            storage.truncate(initial);
            storage.shrink_to(initial);
            cap = initial;
        }
        if cap == 0 || cap > self.config.max() || cap > self.max_pooled_bytes - self.pooled_bytes {
            return;
        }
        self.pooled_bytes += cap;
        self.free.push((storage, cap));
    }

    /// [`get`](Self::get), behind one pointer: for owners that keep a buffer as
    /// `Option<Box<RingBuffer>>` so that having none costs a null pointer (an event loop's
    /// connection slots). The box is recycled too: once buffers have come back through
    /// [`put_boxed`](Self::put_boxed), this neither allocates storage nor a box.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_ringbuf::{BufferPool, Config};
    ///
    /// let mut pool = BufferPool::new(Config::builder().initial(4096).build()?, 1 << 20);
    /// let mut spill: Option<Box<_>> = None;
    /// spill.get_or_insert_with(|| pool.get_boxed()).push(b"partial frame").unwrap();
    /// if let Some(buf) = spill.take() {
    ///     pool.put_boxed(buf);
    /// }
    /// let again = pool.get_boxed();
    /// assert_eq!(again.capacity(), 4096, "storage and box came back");
    /// # Ok::<(), loopwire_ringbuf::ConfigError>(())
    /// ```
    pub fn get_boxed(&mut self) -> Box<RingBuffer> {
        match self.shells.pop() {
            Some(mut shell) => {
                *shell = self.get();
                shell
            }
            None => Box::new(self.get()),
        }
    }

    /// [`put`](Self::put) for a buffer from [`get_boxed`](Self::get_boxed): its storage is
    /// pooled by the same rules, and its box kept for the next `get_boxed` (at most as many
    /// boxes as pooled storage blocks could fill).
    pub fn put_boxed(&mut self, mut buf: Box<RingBuffer>) {
        let emptied = std::mem::replace(&mut *buf, RingBuffer::with_config(self.config));
        self.put(emptied);
        if self.shells.len() < self.max_shells() {
            self.shells.push(buf);
        }
    }

    /// How many empty boxes the pool keeps: one per storage block it could pool.
    fn max_shells(&self) -> usize {
        self.max_pooled_bytes / self.config.initial().max(1)
    }

    /// Frees all pooled storage (and pooled boxes).
    pub fn clear(&mut self) {
        self.free.clear();
        self.shells.clear();
        self.pooled_bytes = 0;
    }
}

/// Shows the pool's sizes, not the pooled bytes.
impl std::fmt::Debug for BufferPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufferPool")
            .field("config", &self.config)
            .field("pooled_buffers", &self.free.len())
            .field("pooled_boxes", &self.shells.len())
            .field("pooled_bytes", &self.pooled_bytes)
            .field("max_pooled_bytes", &self.max_pooled_bytes)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(initial: usize, max: usize) -> Config {
        Config::builder().initial(initial).max(max).build().unwrap()
    }

    #[test]
    fn empty_pool_hands_out_unallocated_buffers() {
        let mut pool = BufferPool::new(config(256, 4096), 1024);
        let buf = pool.get();
        assert_eq!(buf.capacity(), 0);
        assert_eq!(buf.config(), pool.config());
    }

    #[test]
    fn recycles_storage_lifo() {
        let mut pool = BufferPool::new(config(256, 4096), 1024);
        let mut a = pool.get();
        a.push(b"a").unwrap();
        let mut b = pool.get();
        b.push(&[0; 300]).unwrap(); // grows to 512
        pool.put(a);
        pool.put(b); // shrunk to 256 on the way in
        assert_eq!(pool.pooled_buffers(), 2);
        assert_eq!(pool.pooled_bytes(), 512);

        let mut c = pool.get();
        assert_eq!(c.capacity(), 256);
        assert!(c.is_empty(), "contents were discarded");
        c.push(b"xyz").unwrap();
        assert_eq!(c.as_slices(), (&b"xyz"[..], &b""[..]));
        assert_eq!(pool.pooled_bytes(), 256);
        let _d = pool.get();
        assert_eq!(pool.pooled_bytes(), 0);
        assert_eq!(pool.get().capacity(), 0);
    }

    #[test]
    fn respects_the_byte_cap() {
        let mut pool = BufferPool::new(config(256, 4096), 600);
        let bufs: Vec<RingBuffer> = (0..3)
            .map(|_| {
                let mut buf = RingBuffer::with_config(config(256, 4096));
                buf.push(b"x").unwrap();
                buf
            })
            .collect();
        for buf in bufs {
            pool.put(buf);
        }
        assert_eq!(pool.pooled_buffers(), 2);
        assert_eq!(pool.pooled_bytes(), 512);
        pool.clear();
        assert_eq!(pool.pooled_bytes(), 0);
        assert_eq!(pool.pooled_buffers(), 0);
    }

    #[test]
    fn drops_storage_that_cannot_be_used() {
        let mut pool = BufferPool::new(config(0, 256), 1 << 20);
        // Never allocated.
        pool.put(RingBuffer::new());
        // Larger than the pool config's maximum.
        let mut big = RingBuffer::new();
        big.push(&[0; 1000]).unwrap();
        pool.put(big);
        assert_eq!(pool.pooled_buffers(), 0);
        // Fits: kept at its size since `initial` is 0.
        let mut ok = RingBuffer::new();
        ok.push(&[0; 100]).unwrap();
        pool.put(ok);
        assert_eq!(pool.pooled_bytes(), 128);
        // A zero cap keeps nothing.
        let mut none = BufferPool::new(config(0, 256), 0);
        let mut buf = RingBuffer::new();
        buf.push(b"x").unwrap();
        none.put(buf);
        assert_eq!(none.pooled_buffers(), 0);
    }

    #[test]
    fn debug_shows_sizes_only() {
        let mut pool = BufferPool::new(config(64, 1024), 1024);
        let mut buf = pool.get();
        buf.push(b"secret").unwrap();
        pool.put(buf);
        let text = format!("{pool:?}");
        assert!(text.contains("pooled_buffers: 1") && text.contains("pooled_bytes: 64"));
        assert!(!text.contains("115")); // b's'
    }

    #[test]
    fn boxed_buffers_recycle_their_storage_and_their_box() {
        let mut pool = BufferPool::new(config(64, 1024), 128);
        let mut a = pool.get_boxed();
        a.push(b"abc").unwrap();
        let addr = &*a as *const RingBuffer;
        pool.put_boxed(a);
        assert_eq!(pool.pooled_bytes(), 64);
        let b = pool.get_boxed();
        assert_eq!(&*b as *const RingBuffer, addr, "the same box");
        assert!(b.is_empty(), "contents were discarded");
        assert_eq!(b.capacity(), 64, "with the pooled storage");
        assert_eq!(pool.pooled_bytes(), 0);
        // Boxes are capped like storage: 128 bytes of 64-byte blocks keep two.
        let bufs: Vec<_> = (0..3)
            .map(|_| {
                let mut buf = pool.get_boxed();
                buf.push(b"x").unwrap();
                buf
            })
            .collect();
        for buf in bufs {
            pool.put_boxed(buf);
        }
        assert_eq!(pool.shells.len(), 2);
        assert_eq!(pool.pooled_buffers(), 2);
        pool.put_boxed(b);
        assert_eq!(pool.shells.len(), 2, "no more boxes than blocks");
        pool.clear();
        assert!(pool.shells.is_empty());
    }

    #[test]
    fn recycled_storage_keeps_ring_semantics() {
        let mut pool = BufferPool::new(config(64, 1024), 1024);
        let mut buf = pool.get();
        buf.push(&[1; 64]).unwrap();
        buf.discard(60);
        buf.push(&[2; 30]).unwrap(); // wraps
        pool.put(buf);
        let mut buf = pool.get();
        assert_eq!(buf.capacity(), 64);
        let data: Vec<u8> = (0..100).collect();
        buf.push(&data).unwrap();
        let (a, b) = buf.as_slices();
        assert_eq!([a, b].concat(), data);
        assert_eq!(buf.capacity(), 128);
    }
}

//! [`RingBuffer`]: the storage layout, growth and shrinking, and the zero-copy slice API.
//!
//! # Layout
//!
//! The bytes live in one `Vec<u8>` used as raw storage, not as a list:
//!
//! - `cap` is the ring's capacity: 0 or a power of two, never above `config.max()`, never
//!   above `buf.capacity()`. Positions wrap with `& (cap - 1)`.
//! - The readable bytes are `len` bytes starting at `head`, wrapping at `cap`.
//! - `buf.len()` is the *initialized prefix* of the storage, not the amount of data: every
//!   byte below it has been written at least once (or zero-filled), so it may be handed out
//!   as `&[u8]` / `&mut [u8]`. The write position (`head + len`, wrapped) never lies beyond it,
//!   and wrapping only happens once the whole ring is initialized. That is what lets this
//!   module be entirely safe code: new bytes go in through `extend_from_slice`, and free space
//!   handed to `read(2)`-style callers is zero-filled once per allocation, as `tokio`'s
//!   `ReadBuf` does.
//!
//! # Growth and shrinking
//!
//! Growth asks the allocator to extend the storage in place (`reserve_exact`, i.e. `realloc`,
//! which for large blocks often avoids the copy) and then, if the data wrapped, moves the
//! wrapped part behind the old end, so the data is contiguous again (the same fix-up `VecDeque`
//! does; see `alloc::collections::VecDeque::handle_capacity_increase`). Capacity at least
//! doubles, so growth costs O(1) amortized per byte.
//!
//! When the last byte is consumed the buffer is *drained*: the read position resets to 0 and,
//! if the capacity exceeds `config.initial()`, the storage is shrunk to it (released entirely
//! when it is 0). Memory follows the load, not its history.

use std::io::{IoSlice, IoSliceMut};
use std::ops::Range;

use crate::copy::copy;
use crate::{CapacityError, CommitError, Config, MIN_CAPACITY};

/// An elastic byte ring buffer for network I/O.
///
/// Owns no memory until the first write, grows by powers of two up to [`Config::max`] and
/// shrinks back to [`Config::initial`] whenever it is drained. See the [crate docs](crate) for
/// an overview and an example.
///
/// Writes come in through [`push`](Self::push) (all or nothing),
/// [`push_some`](Self::push_some) / [`io::Write`](std::io::Write) (what fits),
/// [`read_from`](Self::read_from) (straight from a reader), or
/// [`free_slices_mut`](Self::free_slices_mut) + [`commit`](Self::commit) (`readv`).
/// Reads go out through [`peek`](Self::peek) / [`as_slices`](Self::as_slices) /
/// [`io_slices`](Self::io_slices) + [`discard`](Self::discard) (zero-copy),
/// [`pop_into`](Self::pop_into) / [`io::Read`](std::io::Read) (copying), or
/// [`write_to`](Self::write_to) (straight to a writer).
pub struct RingBuffer {
    /// Storage; `buf.len()` is the initialized prefix (see the module docs).
    buf: Vec<u8>,
    /// Ring capacity: 0 or a power of two; `cap <= config.max()`, `cap <= buf.capacity()`.
    cap: usize,
    /// Position of the first readable byte; `head < cap`, or 0 when `cap == 0`.
    head: usize,
    /// Readable bytes; `len <= cap`.
    len: usize,
    config: Config,
}

impl RingBuffer {
    /// Creates an empty buffer with the default [`Config`]: no memory until the first write,
    /// growth up to [`DEFAULT_MAX_CAPACITY`](crate::DEFAULT_MAX_CAPACITY) (64 MiB), all memory
    /// released whenever it is drained.
    pub const fn new() -> Self {
        Self::with_config(Config::new())
    }

    /// Creates an empty buffer with the given sizing policy. Allocates nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_ringbuf::{Config, RingBuffer};
    ///
    /// let config = Config::builder().initial(1024).max(64 * 1024).build()?;
    /// let buf = RingBuffer::with_config(config);
    /// assert_eq!(buf.capacity(), 0);
    /// assert_eq!(buf.max_capacity(), 64 * 1024);
    /// # Ok::<(), loopwire_ringbuf::ConfigError>(())
    /// ```
    pub const fn with_config(config: Config) -> Self {
        Self {
            buf: Vec::new(),
            cap: 0,
            head: 0,
            len: 0,
            config,
        }
    }

    /// Rebuilds an empty buffer around storage recycled by the pool, as returned by
    /// [`take_storage`](Self::take_storage). `cap` must be a power of two within
    /// `config.max()` and `buf.capacity()`; `buf.len()` (the initialized prefix) is kept.
    pub(crate) fn from_storage(mut buf: Vec<u8>, cap: usize, config: Config) -> Self {
        debug_assert!(cap.is_power_of_two() && cap <= config.max() && cap <= buf.capacity());
        buf.truncate(cap);
        Self {
            buf,
            cap,
            head: 0,
            len: 0,
            config,
        }
    }

    /// Takes the storage out (for the pool), leaving an empty buffer with no memory.
    /// Returns the storage and the ring capacity it provided.
    pub(crate) fn take_storage(&mut self) -> (Vec<u8>, usize) {
        let cap = self.cap;
        self.head = 0;
        self.len = 0;
        self.cap = 0;
        (std::mem::take(&mut self.buf), cap)
    }

    /// The sizing policy.
    pub const fn config(&self) -> Config {
        self.config
    }

    /// Bytes buffered (readable).
    #[inline]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are buffered.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Current capacity: 0 or a power of two. Bytes up to it fit without allocating.
    #[inline]
    pub const fn capacity(&self) -> usize {
        self.cap
    }

    /// The hard cap on capacity ([`Config::max`]).
    #[inline]
    pub const fn max_capacity(&self) -> usize {
        self.config.max()
    }

    /// Bytes that may still be written before the maximum is reached: `max_capacity() - len()`.
    #[inline]
    pub const fn free(&self) -> usize {
        self.config.max() - self.len
    }

    /// Bytes that may be written without allocating: `capacity() - len()`.
    #[inline]
    pub const fn spare_capacity(&self) -> usize {
        self.cap - self.len
    }

    /// `cap - 1` as a wrap mask (all ones when `cap == 0`, where every position is 0 anyway).
    #[inline]
    const fn mask(&self) -> usize {
        self.cap.wrapping_sub(1)
    }

    /// Physical position of the next byte to write.
    #[inline]
    const fn tail(&self) -> usize {
        (self.head + self.len) & self.mask()
    }

    /// Physical ranges of the first `n <= len` readable bytes.
    #[inline]
    fn readable_ranges(&self, n: usize) -> (Range<usize>, Range<usize>) {
        debug_assert!(n <= self.len);
        let first = n.min(self.cap - self.head);
        (self.head..self.head + first, 0..n - first)
    }

    /// Physical ranges of the spare capacity, in write order.
    fn spare_ranges(&self) -> (Range<usize>, Range<usize>) {
        let end = self.head + self.len;
        if end >= self.cap {
            // The data wraps (or ends exactly at `cap`): the gap is before `head`.
            (end - self.cap..self.head, 0..0)
        } else {
            (end..self.cap, 0..self.head)
        }
    }

    /// Returns up to `n` readable bytes, oldest first, as at most two slices (the second is
    /// non-empty only when the data wraps). Consumes nothing; follow with
    /// [`discard`](Self::discard).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_ringbuf::RingBuffer;
    ///
    /// let mut buf = RingBuffer::new();
    /// buf.push(b"hello world")?;
    /// let (a, b) = buf.peek(5);
    /// assert_eq!([a, b].concat(), b"hello");
    /// assert_eq!(buf.len(), 11);
    /// # Ok::<(), loopwire_ringbuf::CapacityError>(())
    /// ```
    #[inline]
    pub fn peek(&self, n: usize) -> (&[u8], &[u8]) {
        let (a, b) = self.readable_ranges(n.min(self.len));
        (&self.buf[a], &self.buf[b])
    }

    /// Returns all readable bytes as at most two slices; same as `peek(len())`.
    #[inline]
    pub fn as_slices(&self) -> (&[u8], &[u8]) {
        self.peek(self.len)
    }

    /// Fills `out` with the readable bytes for `writev` and returns how many entries are
    /// used (0 when empty, 2 only when the data wraps). Allocates nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{IoSlice, Write};
    /// use loopwire_ringbuf::RingBuffer;
    ///
    /// let mut buf = RingBuffer::new();
    /// buf.push(b"ping")?;
    /// let mut iov = [IoSlice::new(&[]); 2];
    /// let n = buf.io_slices(&mut iov);
    /// let mut sink = Vec::new();
    /// let written = sink.write_vectored(&iov[..n]).unwrap();
    /// buf.discard(written);
    /// assert_eq!(sink, b"ping");
    /// # Ok::<(), loopwire_ringbuf::CapacityError>(())
    /// ```
    #[inline]
    pub fn io_slices<'a>(&'a self, out: &mut [IoSlice<'a>; 2]) -> usize {
        let (a, b) = self.as_slices();
        out[0] = IoSlice::new(a);
        out[1] = IoSlice::new(b);
        usize::from(!a.is_empty()) + usize::from(!b.is_empty())
    }

    /// Consumes up to `n` bytes without copying them and returns how many were consumed
    /// (`min(n, len())`). When this drains the buffer, it shrinks to [`Config::initial`].
    #[inline]
    pub fn discard(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        self.head = (self.head + n) & self.mask();
        self.len -= n;
        if self.len == 0 {
            self.drained();
        }
        n
    }

    /// Discards everything buffered and shrinks to [`Config::initial`].
    pub fn clear(&mut self) {
        self.discard(self.len);
    }

    /// Copies up to `dst.len()` bytes into `dst`, consumes them and returns how many
    /// (`min(dst.len(), len())`); 0 means the buffer is empty (or `dst` is).
    #[inline]
    pub fn pop_into(&mut self, dst: &mut [u8]) -> usize {
        let n = dst.len().min(self.len);
        let head = self.head;
        if head + n <= self.cap {
            // Contiguous (the common case): one copy.
            copy(&mut dst[..n], &self.buf[head..head + n]);
        } else {
            self.copy_out_wrapped(&mut dst[..n]);
        }
        self.discard(n)
    }

    /// [`pop_into`](Self::pop_into)'s copy when the bytes wrap: fills all of `dst`.
    #[inline(never)]
    fn copy_out_wrapped(&self, dst: &mut [u8]) {
        let (a, b) = self.readable_ranges(dst.len());
        let (first, second) = dst.split_at_mut(a.len());
        copy(first, &self.buf[a]);
        copy(second, &self.buf[b]);
    }

    /// Appends all of `data`, growing as needed, or nothing at all.
    ///
    /// # Errors
    ///
    /// [`CapacityError::WouldExceedMax`] when `len() + data.len()` exceeds the maximum;
    /// the buffer is then unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_ringbuf::{CapacityError, Config, RingBuffer};
    ///
    /// let mut buf = RingBuffer::with_config(Config::builder().max(8).build().unwrap());
    /// buf.push(b"12345")?;
    /// assert!(matches!(buf.push(b"6789"), Err(CapacityError::WouldExceedMax { .. })));
    /// assert_eq!(buf.len(), 5);
    /// # Ok::<(), CapacityError>(())
    /// ```
    #[inline]
    pub fn push(&mut self, data: &[u8]) -> Result<(), CapacityError> {
        if data.len() > self.spare_capacity() {
            self.try_reserve(data.len())?;
        }
        self.copy_in(data);
        Ok(())
    }

    /// Appends as much of `data` as fits below the maximum, growing as needed, and returns how
    /// many bytes were taken (the first `n` of `data`); 0 when the buffer is full.
    #[inline]
    pub fn push_some(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.free());
        self.reserve_within_max(n);
        self.copy_in(&data[..n]);
        n
    }

    /// Makes room for at least `additional` more bytes without further allocation: afterwards
    /// `spare_capacity() >= additional`. Grows to the next power of two that fits.
    ///
    /// # Errors
    ///
    /// [`CapacityError::WouldExceedMax`] when `len() + additional` exceeds the maximum;
    /// the buffer is then unchanged.
    pub fn try_reserve(&mut self, additional: usize) -> Result<(), CapacityError> {
        if additional > self.free() {
            return Err(CapacityError::WouldExceedMax {
                requested: additional,
                len: self.len,
                max: self.config.max(),
            });
        }
        self.reserve_within_max(additional);
        Ok(())
    }

    /// Shrinks the capacity to the smallest power of two that holds the data and is at least
    /// [`Config::initial`] (0 for an empty buffer with `initial == 0`), releasing memory. The
    /// data is moved to the front when that is needed; nothing happens when no smaller
    /// capacity would do.
    pub fn shrink(&mut self) {
        if self.len == 0 {
            self.drained();
            return;
        }
        let target = self.grown_capacity(self.len);
        if target >= self.cap {
            return;
        }
        let mut fresh = Vec::with_capacity(target);
        let (a, b) = self.readable_ranges(self.len);
        fresh.extend_from_slice(&self.buf[a]);
        fresh.extend_from_slice(&self.buf[b]);
        self.buf = fresh;
        self.cap = target;
        self.head = 0;
    }

    /// Returns the spare capacity, in write order, as at most two slices for `readv`-style
    /// filling; follow with [`commit`](Self::commit). Does not grow: call
    /// [`try_reserve`](Self::try_reserve) first to get room.
    ///
    /// Bytes of a fresh allocation are zero-filled the first time they are handed out (once
    /// per allocation), so the slices are always initialized and safe to give to
    /// [`io::Read`](std::io::Read).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_ringbuf::RingBuffer;
    ///
    /// let mut buf = RingBuffer::new();
    /// buf.try_reserve(3)?;
    /// let (a, _) = buf.free_slices_mut();
    /// a[..3].copy_from_slice(b"abc");
    /// buf.commit(3).unwrap();
    /// assert_eq!(buf.as_slices().0, b"abc");
    /// # Ok::<(), loopwire_ringbuf::CapacityError>(())
    /// ```
    pub fn free_slices_mut(&mut self) -> (&mut [u8], &mut [u8]) {
        let (a, b) = self.spare_ranges();
        if self.buf.len() < a.end {
            // Never-written bytes of this allocation: initialize them once.
            self.buf.resize(a.end, 0);
        }
        // `b` (before `head`) is below the initialized prefix; `a` starts at or after `b.end`.
        let (low, high) = self.buf.split_at_mut(a.start);
        (&mut high[..a.len()], &mut low[b])
    }

    /// [`free_slices_mut`](Self::free_slices_mut) as `readv` entries; returns how many of the
    /// two are used (0 when there is no spare capacity). Follow with [`commit`](Self::commit).
    pub fn free_io_slices_mut<'a>(&'a mut self, out: &mut [IoSliceMut<'a>; 2]) -> usize {
        let (a, b) = self.free_slices_mut();
        let used = usize::from(!a.is_empty()) + usize::from(!b.is_empty());
        out[0] = IoSliceMut::new(a);
        out[1] = IoSliceMut::new(b);
        used
    }

    /// Makes the first `n` bytes of the spare capacity (in the order
    /// [`free_slices_mut`](Self::free_slices_mut) returns it) readable, after a
    /// `readv`-style fill.
    ///
    /// Committing bytes that were not filled exposes whatever the storage held there (zeros,
    /// or bytes consumed earlier), never uninitialized memory.
    ///
    /// # Errors
    ///
    /// [`CommitError::ExceedsSpareCapacity`] when `n > spare_capacity()`; nothing is
    /// committed.
    pub fn commit(&mut self, n: usize) -> Result<(), CommitError> {
        let spare = self.spare_capacity();
        if n > spare {
            return Err(CommitError::ExceedsSpareCapacity {
                requested: n,
                spare,
            });
        }
        let end = (self.tail() + n).min(self.cap);
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.len += n;
        Ok(())
    }

    /// Copies `data` in at the write position. Requires `data.len() <= spare_capacity()`.
    #[inline]
    fn copy_in(&mut self, data: &[u8]) {
        debug_assert!(data.len() <= self.spare_capacity());
        let tail = self.tail();
        let end = tail + data.len();
        let init = self.buf.len();
        if end <= init {
            // Within the initialized prefix, hence below `cap`: no wrap, one copy.
            copy(&mut self.buf[tail..end], data);
        } else if tail == init && end <= self.cap {
            // Appending to the initialized prefix (a fresh allocation's first pass).
            self.append(data);
        } else {
            self.copy_in_slow(data);
            return;
        }
        self.len += data.len();
    }

    /// Appends `data` at the end of the initialized prefix, which is the write position;
    /// requires `buf.len() + data.len() <= cap`.
    ///
    /// `extend_from_slice` is a `memmove` call whatever the length, which costs more than the
    /// copy itself for a few bytes. So a small write first zero-fills a block ahead (one
    /// `memset` per [`FILL_AHEAD`] bytes, the zero-filling `free_slices_mut` would do anyway)
    /// and then takes the inline small-copy path of the initialized prefix.
    #[inline]
    fn append(&mut self, data: &[u8]) {
        let init = self.buf.len();
        let end = init + data.len();
        debug_assert!(end <= self.cap);
        if data.len() <= SMALL_WRITE {
            self.buf.resize((init + FILL_AHEAD).min(self.cap), 0);
            copy(&mut self.buf[init..end], data);
        } else {
            self.buf.extend_from_slice(data);
        }
    }

    /// [`copy_in`](Self::copy_in) when the write wraps or reaches fresh storage.
    #[inline(never)]
    fn copy_in_slow(&mut self, data: &[u8]) {
        let tail = self.tail();
        let first = data.len().min(self.cap - tail);
        write_at(&mut self.buf, tail, &data[..first]);
        if first < data.len() {
            // Wrapped: the rest goes before `head`, which is initialized.
            copy(&mut self.buf[..data.len() - first], &data[first..]);
        }
        self.len += data.len();
    }

    /// The capacity growth picks for `needed <= max` bytes: the next power of two, at least
    /// `initial` and the minimum allocation.
    fn grown_capacity(&self, needed: usize) -> usize {
        let floor = MIN_CAPACITY.min(self.config.max());
        needed
            .next_power_of_two()
            .max(floor)
            .max(self.config.initial())
    }

    /// `try_reserve` without the check; requires `len + additional <= max`.
    pub(crate) fn reserve_within_max(&mut self, additional: usize) {
        debug_assert!(additional <= self.free());
        if additional > self.spare_capacity() {
            self.grow(self.grown_capacity(self.len + additional));
        }
    }

    /// Grows the ring to `new_cap` (a power of two above `cap`, within `max`), leaving the
    /// data contiguous.
    fn grow(&mut self, new_cap: usize) {
        debug_assert!(new_cap > self.cap && new_cap.is_power_of_two());
        debug_assert!(new_cap <= self.config.max());
        let old_cap = self.cap;
        let wrapped = self.head + self.len > old_cap;
        self.buf.reserve_exact(new_cap - self.buf.len());
        if wrapped {
            // The data is [head, old_cap) + [0, end): move [0, end) to [old_cap, old_cap + end),
            // right behind the first part. Wrapping implies `buf.len() == old_cap`, so this
            // appends exactly at the initialized prefix.
            let end = self.head + self.len - old_cap;
            self.buf.extend_from_within(..end);
        }
        self.cap = new_cap;
    }

    /// Moves the readable bytes so they form one slice, and returns it: afterwards
    /// [`as_slices`](Self::as_slices) has an empty second part. Nothing moves when the bytes
    /// do not wrap; otherwise the storage is rotated in place (no allocation).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_ringbuf::{Config, RingBuffer};
    ///
    /// let mut buf = RingBuffer::with_config(Config::builder().initial(8).max(8).build().unwrap());
    /// buf.push(b"abcdef").unwrap();
    /// buf.discard(4);
    /// buf.push(b"ghij").unwrap(); // wraps around the end of the storage
    /// assert_eq!(buf.make_contiguous(), b"efghij");
    /// assert!(buf.as_slices().1.is_empty());
    /// ```
    pub fn make_contiguous(&mut self) -> &[u8] {
        if self.head + self.len > self.cap {
            // Wrapping implies every byte of the ring was written once: `buf.len() == cap`.
            debug_assert_eq!(self.buf.len(), self.cap);
            self.buf[..self.cap].rotate_left(self.head);
            self.head = 0;
        }
        &self.buf[self.head..self.head + self.len]
    }

    /// The buffer just became empty: restart at position 0 and shrink to `initial`.
    #[inline(never)]
    fn drained(&mut self) {
        self.head = 0;
        let initial = self.config.initial();
        if self.cap <= initial {
            return;
        }
        if initial == 0 {
            self.buf = Vec::new();
        } else {
            self.buf.truncate(initial);
            self.buf.shrink_to(initial);
        }
        self.cap = initial;
    }
}

/// Writes of at most this many bytes into never-written storage zero-fill ahead first (see
/// `RingBuffer::append`).
const SMALL_WRITE: usize = 64;

/// How far ahead a small write into never-written storage zero-fills (capped at `cap`).
const FILL_AHEAD: usize = 1024;

/// Writes `src` at `pos` in the storage; `pos` must not lie beyond the initialized prefix and
/// `pos + src.len()` not beyond the reserved capacity.
#[inline]
fn write_at(buf: &mut Vec<u8>, pos: usize, src: &[u8]) {
    let init = buf.len();
    if pos + src.len() <= init {
        copy(&mut buf[pos..pos + src.len()], src);
    } else {
        let overlap = init - pos;
        buf[pos..].copy_from_slice(&src[..overlap]);
        buf.extend_from_slice(&src[overlap..]);
    }
}

impl Default for RingBuffer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RingBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBuffer")
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .field("head", &self.head)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;

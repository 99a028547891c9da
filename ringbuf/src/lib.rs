//! An elastic byte ring buffer for network I/O: it owns no memory while idle and follows the
//! load.
//!
//! - **Lazy and elastic**: a [`RingBuffer`] has capacity 0 until the first write, grows by
//!   powers of two on demand up to a configured maximum, and shrinks back (to 0 or to a
//!   configured initial capacity) whenever it is drained, so an idle connection holds no
//!   buffer memory. See [`Config`].
//! - **Bounded**: the maximum is never exceeded. Writes that do not fit either take what fits
//!   and say how much ([`RingBuffer::push_some`], [`std::io::Write`]) or take nothing and
//!   return a typed [`CapacityError`] ([`RingBuffer::push`], [`RingBuffer::try_reserve`]).
//! - **Zero-copy**: the data is visible as at most two slices ([`RingBuffer::peek`],
//!   [`RingBuffer::as_slices`], [`RingBuffer::io_slices`] for `writev`), consumed with
//!   [`RingBuffer::discard`]; the free space is writable as at most two slices
//!   ([`RingBuffer::free_slices_mut`], [`RingBuffer::free_io_slices_mut`] for `readv`),
//!   published with [`RingBuffer::commit`]. [`RingBuffer::read_from`] and
//!   [`RingBuffer::write_to`] move bytes between a socket and the buffer in one (vectored)
//!   call.
//! - **Pooled**: a [`BufferPool`] recycles storage within one event loop, with a cap on the
//!   bytes it keeps.
//! - `bytes::Buf` / `bytes::BufMut` implementations behind the `bytes` feature.
//!
//! The crate contains no `unsafe` code apart from the `unsafe impl` that the `bytes::BufMut`
//! trait demands (feature `bytes`): the storage is a `Vec<u8>` whose length tracks how much
//! of the allocation has ever been initialized, so fresh memory is never zero-filled on the
//! write path yet never exposed uninitialized (the README's design notes explain it).
//!
//! # Examples
//!
//! ```
//! use loopwire_ringbuf::{Config, RingBuffer};
//!
//! let config = Config::builder().max(64 * 1024).build()?;
//! let mut buf = RingBuffer::with_config(config);
//! assert_eq!(buf.capacity(), 0); // nothing allocated yet
//!
//! // Bytes arrive from a socket (here, a slice).
//! let mut socket: &[u8] = b"PING\r\nPI";
//! buf.read_from(&mut socket)?;
//!
//! // A protocol parser looks at them without copying and consumes whole frames only.
//! let (head, tail) = buf.peek(6);
//! assert_eq!([head, tail].concat(), b"PING\r\n");
//! buf.discard(6);
//! assert_eq!(buf.len(), 2); // the partial frame waits for more bytes
//!
//! buf.discard(2);
//! assert_eq!(buf.capacity(), 0); // drained: the memory is released
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(unsafe_code)]

mod config;
mod copy;
mod error;
mod io;
mod pool;
mod ring;

#[cfg(feature = "bytes")]
mod bytes_impl;

/// The README's examples, compiled and run as doc tests so they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use config::{Config, ConfigBuilder, ConfigError};
pub use error::{CapacityError, CommitError};
pub use io::MIN_READ_SPACE;
pub use pool::BufferPool;
pub use ring::RingBuffer;

/// The default maximum capacity: 64 MiB.
pub const DEFAULT_MAX_CAPACITY: usize = 64 << 20;

/// The smallest allocation a buffer makes (unless its maximum is smaller): 64 bytes. Tiny
/// writes do not cause a chain of tiny reallocations.
pub const MIN_CAPACITY: usize = 64;

/// The largest maximum capacity a [`Config`] accepts: `2^(usize::BITS - 2)` (2^62 bytes on
/// 64-bit targets), which keeps every capacity a power of two that an allocation may have.
pub const CAPACITY_LIMIT: usize = 1 << (usize::BITS - 2);

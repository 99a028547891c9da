//! Errors of the buffer's fallible operations (configuration errors live with
//! [`Config`](crate::Config)).

/// A request for more room than the buffer's maximum allows.
///
/// Returned by the all-or-nothing calls ([`RingBuffer::try_reserve`], [`RingBuffer::push`]);
/// nothing was written or allocated. [`RingBuffer::read_from`] wraps it in an
/// [`std::io::Error`] of kind [`StorageFull`](std::io::ErrorKind::StorageFull) when the buffer
/// is already full.
///
/// [`RingBuffer::try_reserve`]: crate::RingBuffer::try_reserve
/// [`RingBuffer::push`]: crate::RingBuffer::push
/// [`RingBuffer::read_from`]: crate::RingBuffer::read_from
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapacityError {
    /// `len + requested` would exceed `max`: the peer sent more than the buffer may hold, or
    /// the consumer is not draining it. Only `max - len` more bytes fit.
    #[error("{requested} more bytes do not fit: {len} buffered, maximum {max}")]
    WouldExceedMax {
        /// Bytes asked for.
        requested: usize,
        /// Bytes buffered at the time.
        len: usize,
        /// The buffer's maximum capacity.
        max: usize,
    },
}

/// [`RingBuffer::commit`](crate::RingBuffer::commit) was asked to commit more bytes than the
/// free space it had handed out (the spare capacity); nothing was committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// More bytes than the spare capacity: usually a reader that reported more bytes than the
    /// slices it was given could hold.
    #[error("cannot commit {requested} bytes: only {spare} bytes of spare capacity")]
    ExceedsSpareCapacity {
        /// Bytes asked to commit.
        requested: usize,
        /// Spare capacity (`capacity - len`) at the time.
        spare: usize,
    },
}

//! One connection's place in its loop's connection table.

use std::time::Instant;

use loopwire_ringbuf::RingBuffer;
use loopwire_timer::TimerKey;

use crate::conn::ConnMeta;
use crate::handler::CloseReason;
use crate::socket::Stream;

/// A connection as its loop keeps it: socket, user state inline, buffers that own no memory
/// while empty, and the bookkeeping of interest and closing.
#[derive(Debug)]
pub(crate) struct Slot<S> {
    pub(crate) stream: Stream,
    pub(crate) state: S,
    pub(crate) meta: ConnMeta,
    /// Bytes read but left unread by the handler; kept contiguous while shown to it.
    pub(crate) inbound: RingBuffer,
    /// Bytes written but not yet taken by the socket.
    pub(crate) outbound: RingBuffer,
    /// Whether the poller watches the socket for writability.
    pub(crate) write_armed: bool,
    /// Whether the poller watches the socket for readability.
    pub(crate) reading: bool,
    /// Close with this reason once `outbound` drains.
    pub(crate) closing: Option<CloseReason>,
    /// Last inbound traffic, for the idle timeout.
    pub(crate) last_active: Instant,
    pub(crate) idle_timer: Option<TimerKey>,
}

/// The bytes of a ring buffer that the loop has made contiguous, as one slice.
pub(crate) fn contiguous(ring: &RingBuffer) -> &[u8] {
    let (a, b) = ring.as_slices();
    debug_assert!(b.is_empty(), "inbound ring must be made contiguous first");
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_stays_small() {
        // Idle-connection memory is dominated by the slot: keep an eye on it.
        let size = std::mem::size_of::<Slot<()>>();
        assert!(size <= 320, "Slot<()> grew to {size} bytes");
    }
}

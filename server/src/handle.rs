//! [`ConnHandle`]: a small, copyable name for a connection, usable from any thread.

/// Names one connection of one engine: its loop, its slot in that loop, and the generation of
/// the connection in that slot.
///
/// It is `Copy + Send + Sync` and owns nothing; pass it to [`EngineHandle`](crate::EngineHandle) methods
/// ([`async_write`](crate::EngineHandle::async_write), [`wake`](crate::EngineHandle::wake),
/// [`close`](crate::EngineHandle::close)) from any thread. Once its connection has closed every
/// such call returns [`Error::Closed`](crate::Error::Closed), even after the slot has been
/// reused: the generation differs, and the new occupant is never reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnHandle {
    pub(crate) loop_id: u32,
    pub(crate) slot: u32,
    pub(crate) generation: u64,
}

impl ConnHandle {
    pub(crate) fn new(loop_id: usize, slot: usize, generation: u64) -> Self {
        Self {
            loop_id: loop_id as u32,
            slot: slot as u32,
            generation,
        }
    }

    /// The index of the event loop that owns the connection.
    pub fn loop_id(&self) -> usize {
        self.loop_id as usize
    }

    /// The connection's slot in its loop (reused after the connection closes).
    pub fn slot(&self) -> usize {
        self.slot as usize
    }

    /// The generation that tells this connection apart from other occupants of its slot.
    /// Datagram sockets have generation 0, which never names a live connection.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

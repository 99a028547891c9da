//! One connection's place in its loop's connection table.

use loopwire_timer::TimerKey;

use std::net::SocketAddr;

use crate::addr::Network;
use crate::conn::ConnMeta;
use crate::flow::Writability;
use crate::handle::ConnHandle;
use crate::handler::CloseReason;
use crate::reactor::deadline::Deadlines;
use crate::reactor::spill::Spill;
use crate::transport::Watch;

/// A connection as its loop keeps it: its transport's stream `St`, user state inline, buffers
/// that own no memory while empty, and the bookkeeping of interest and closing.
#[derive(Debug)]
pub(crate) struct Slot<S, St> {
    pub(crate) stream: St,
    pub(crate) state: S,
    /// The connection's generation: with its loop and slot, its [`ConnHandle`].
    pub(crate) generation: u64,
    pub(crate) network: Network,
    pub(crate) peer: Option<SocketAddr>,
    /// Bytes read but left unread by the handler; kept contiguous while shown to it.
    pub(crate) inbound: Spill,
    /// Bytes written but not yet taken by the socket.
    pub(crate) outbound: Spill,
    /// Whether the transport reports room to send.
    pub(crate) write_armed: bool,
    /// Whether the transport reports receives.
    pub(crate) read_armed: bool,
    /// Whether a dialed connection's `connect` is still in progress (no `on_open` yet).
    pub(crate) connecting: bool,
    /// Whether the connection is still read at all (false once closing).
    pub(crate) reading: bool,
    /// Whether the handler paused reading ([`Conn::pause_reading`](crate::Conn::pause_reading)).
    pub(crate) paused: bool,
    /// Writability against the watermarks, and whether the handler is owed word of it.
    pub(crate) writability: Writability,
    /// Close for this reason once `outbound` drains.
    pub(crate) closing: Option<Closing>,
    /// The idle timeout, the read deadline and the write stall timeout.
    pub(crate) deadlines: Deadlines,
    /// The one timer serving them, set for the earliest (see [`crate::reactor::deadline`]).
    pub(crate) timer: Option<TimerKey>,
}

impl<S, St> Slot<S, St> {
    /// What the transport reports for this connection.
    pub(crate) fn watching(&self) -> Watch {
        Watch {
            recv: self.read_armed,
            send: self.write_armed,
        }
    }

    /// The handle of this connection, in slot `key` of loop `loop_id`.
    pub(crate) fn handle(&self, loop_id: usize, key: usize) -> ConnHandle {
        ConnHandle::new(loop_id, key, self.generation)
    }

    /// What a callback's [`Conn`](crate::Conn) knows of this connection, in slot `key` of
    /// loop `loop_id` (kept apart in the slot so that it stays small).
    pub(crate) fn meta(&self, loop_id: usize, key: usize) -> ConnMeta {
        ConnMeta {
            handle: self.handle(loop_id, key),
            network: self.network,
            peer: self.peer,
        }
    }
}

/// Why a connection waits for its outbound bytes to drain before closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closing {
    /// The peer shut down its side.
    PeerClosed,
    /// The handler asked for the close.
    Handler,
}

impl Closing {
    /// The reason `on_close` is given.
    pub(crate) fn reason(self) -> CloseReason {
        match self {
            Closing::PeerClosed => CloseReason::PeerClosed,
            Closing::Handler => CloseReason::Handler,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_stays_small() {
        // Idle-connection memory is dominated by the slot: keep an eye on it.
        let size = std::mem::size_of::<Slot<(), crate::sys::Stream>>();
        assert!(size <= 160, "Slot<()> grew to {size} bytes");
    }
}

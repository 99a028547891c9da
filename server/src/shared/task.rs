//! What other threads ask of an event loop, through its task queue.

use std::net::SocketAddr;

use bytes::Bytes;
use loopwire_loadbalance::ConnInfo;

use crate::addr::Network;
use crate::handle::ConnHandle;
use crate::sys::{Dialed, Stream};

use super::dials::DialPermit;

/// A connection accepted, enrolled or dialed elsewhere, handed to the loop that will serve it
/// (`St`: an OS stream between threads, the loop's transport's stream once adopted).
#[derive(Debug)]
pub(crate) struct NewConn<St = Stream> {
    pub(crate) stream: St,
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) network: Network,
    pub(crate) origin: Origin,
    /// A dial's place among the dials in flight, given back when this drops (see
    /// [`super::dials`]); `None` for accepted and enrolled connections.
    pub(crate) permit: Option<DialPermit>,
    /// For a dial over TLS: the client session's configuration and the server's name (boxed:
    /// every queued task is as large as this struct, and TLS dials are the rare case).
    #[cfg(feature = "tls")]
    pub(crate) client_tls: Option<Box<crate::tls::ClientTls>>,
}

/// Selects the connections a filtered broadcast reaches.
pub(crate) type BroadcastFilter = std::sync::Arc<dyn Fn(ConnHandle) -> bool + Send + Sync>;

impl<St> NewConn<St> {
    /// A connection a listener accepted.
    pub(crate) fn accepted(stream: St, peer: Option<SocketAddr>, network: Network) -> Self {
        Self {
            stream,
            peer,
            network,
            origin: Origin::Accepted,
            permit: None,
            #[cfg(feature = "tls")]
            client_tls: None,
        }
    }

    /// The same connection on stream `f(stream)`; the error of `f` if it fails.
    pub(crate) fn adopt<U, E>(self, f: impl FnOnce(St) -> Result<U, E>) -> Result<NewConn<U>, E> {
        Ok(NewConn {
            stream: f(self.stream)?,
            peer: self.peer,
            network: self.network,
            origin: self.origin,
            permit: self.permit,
            #[cfg(feature = "tls")]
            client_tls: self.client_tls,
        })
    }
}

impl NewConn {
    /// A connection dialed (still connecting, or connected) for `dial` with `tag`.
    pub(crate) fn dialed(d: Dialed, tag: u64) -> Self {
        Self {
            stream: d.stream,
            peer: d.peer,
            network: d.network,
            origin: Origin::Dialed {
                tag,
                connecting: d.connecting,
            },
            permit: None,
            #[cfg(feature = "tls")]
            client_tls: None,
        }
    }

    /// A connected stream handed over by `enroll` with `tag`.
    pub(crate) fn enrolled(d: Dialed, tag: u64) -> Self {
        Self {
            stream: d.stream,
            peer: d.peer,
            network: d.network,
            origin: Origin::Enrolled { tag },
            permit: None,
            #[cfg(feature = "tls")]
            client_tls: None,
        }
    }

    /// What a load balancer is told about this connection.
    pub(crate) fn conn_info(&self) -> ConnInfo {
        ConnInfo {
            peer: self.peer,
            local: self.stream.local_addr(),
        }
    }
}

/// Where a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A listener accepted it.
    Accepted,
    /// [`EngineHandle::enroll`](crate::EngineHandle::enroll) handed it over, connected.
    Enrolled { tag: u64 },
    /// [`EngineHandle::dial`](crate::EngineHandle::dial) opened it.
    Dialed {
        /// The caller's tag, shown by [`Conn::tag`](crate::Conn::tag).
        tag: u64,
        /// The `connect` is still in progress.
        connecting: bool,
    },
}

impl Origin {
    /// The caller's tag, for enrolled and dialed connections.
    pub(crate) fn tag(self) -> Option<u64> {
        match self {
            Origin::Accepted => None,
            Origin::Enrolled { tag } | Origin::Dialed { tag, .. } => Some(tag),
        }
    }

    /// Whether the socket is still connecting.
    pub(crate) fn connecting(self) -> bool {
        matches!(
            self,
            Origin::Dialed {
                connecting: true,
                ..
            }
        )
    }
}

/// One request to a loop.
pub(crate) enum Task {
    /// Serve this new connection (accepted, enrolled, or dialed and maybe still connecting).
    Register(NewConn),
    /// Send these bytes on a connection.
    Write(ConnHandle, Bytes),
    /// Send these buffers, in order, on a connection.
    Writev(ConnHandle, Vec<Bytes>),
    /// Run `on_traffic` on a connection even with nothing new to read.
    Wake(ConnHandle),
    /// [`Wake`](Task::Wake) each of these connections of the loop (stale handles are skipped).
    WakeMany(Vec<ConnHandle>),
    /// Close a connection once its outbound bytes are sent.
    Close(ConnHandle),
    /// Send this payload to every connection of the loop that the filter (if any) selects.
    Broadcast(Bytes, Option<BroadcastFilter>),
    /// Close every connection and exit.
    Stop,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Task::Register(a) => f.debug_tuple("Register").field(a).finish(),
            Task::Write(h, d) => f.debug_tuple("Write").field(h).field(&d.len()).finish(),
            Task::Writev(h, d) => f.debug_tuple("Writev").field(h).field(&d.len()).finish(),
            Task::Wake(h) => f.debug_tuple("Wake").field(h).finish(),
            Task::WakeMany(hs) => f.debug_tuple("WakeMany").field(&hs.len()).finish(),
            Task::Close(h) => f.debug_tuple("Close").field(h).finish(),
            Task::Broadcast(d, filter) => f
                .debug_tuple("Broadcast")
                .field(&d.len())
                .field(&filter.is_some())
                .finish(),
            Task::Stop => f.write_str("Stop"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_tags() {
        assert_eq!(Origin::Accepted.tag(), None);
        assert_eq!(Origin::Enrolled { tag: 3 }.tag(), Some(3));
        let dialing = Origin::Dialed {
            tag: 4,
            connecting: true,
        };
        assert_eq!(dialing.tag(), Some(4));
        assert!(dialing.connecting());
        assert!(!Origin::Enrolled { tag: 3 }.connecting());
    }

    #[test]
    fn a_task_stays_small() {
        // Queues hold tasks by value: an accept burst keeps this many bytes per connection
        // in the queue's buffer, which idle-memory figures include. 72 until a dial carried
        // its place among the dials in flight (`permit`, one pointer): 80.
        let size = size_of::<Task>();
        assert!(size <= 80, "Task grew to {size} bytes");
    }
}

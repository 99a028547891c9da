//! The transport seam: everything an event loop needs from the OS (or from whatever carries
//! its bytes) for socket I/O, as one trait, [`Transport`].
//!
//! The reactor never calls the OS for connection I/O itself: it accepts, receives, sends,
//! closes, waits and is woken through a `Transport`, statically dispatched (each loop is
//! generic over its transport; no `dyn` call per message). Implementations:
//!
//! - the readiness transport (`PollerTransport`, crate-private), the default: epoll or the
//!   `polling` crate from `loopwire-poller`, over the socket layer's `accept4`, `recv`, `send`
//!   and `sendmsg`;
//! - the io_uring transport (`UringTransport`, crate-private; feature `io-uring`, Linux):
//!   completion mode, chosen with [`Backend::IoUring`](crate::Backend); where the kernel
//!   refuses io_uring the engine falls back to epoll and logs it;
//! - [`mem`]: in-memory listeners and streams that drive the whole engine in tests with no
//!   socket at all; the same shape a user-space TCP/IP stack (smoltcp over a TAP device, say)
//!   would implement.
//!
//! # Shape: completion-friendly
//!
//! A loop's turn is: [`poll`](Transport::poll) with the timer wheel's timeout (which blocks
//! until something completes or a [`Waker`] fires), then [`next_event`](Transport::next_event)
//! until it returns `None`, each [`Event`] naming a listener, a datagram socket or a
//! connection (by the loop's slot key). The reactor then asks for the result:
//! [`accept`](Transport::accept) pops an accepted stream, [`recv`](Transport::recv) yields the
//! received bytes *in place*. A readiness transport does the system call at that point (into
//! the loop's shared read buffer, passed in); a completion transport (io_uring) hands out the
//! bytes its multishot receive already placed in a buffer of its provided-buffer ring, and
//! takes that buffer back on its next call. Either way the handler sees the bytes where they
//! landed, and only what it leaves unread is copied into the connection's ring buffer.
//!
//! # Sends and buffer ownership
//!
//! [`send`](Transport::send), [`send_vectored`](Transport::send_vectored) and
//! [`send_owned`](Transport::send_owned) return how many
//! bytes the transport *took*; the reactor keeps the rest in the connection's outbound ring
//! and sends it after the next [`Event`] with `send: true`. Once taken, bytes belong to the
//! transport: the caller's slices are only borrowed for the call. A readiness transport takes
//! what the socket took synchronously; a completion transport copies what it takes into a
//! buffer it owns for as long as the kernel may read it (tokio-uring and monoio move buffer
//! ownership into the operation for the same reason), or, through `send_owned`, takes the
//! caller's vector itself and gives back another that no operation names, reports `send: true` when that send
//! completes, and keeps the buffer past [`close`](Transport::close) until the kernel has
//! released it (the close cancels what is in flight). The reactor never hands the transport
//! memory it will reuse while an operation is pending.
//!
//! # Wakes
//!
//! Other threads wake a loop's `poll` through its [`Waker`]; the reactor runs its task queue
//! after every `poll`, so a wake needs no event of its own.

#[cfg(any(all(feature = "io-uring", target_os = "linux"), feature = "internals"))]
pub(crate) mod completion;
pub mod mem;
mod poller;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod uring;

use std::fmt;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

pub(crate) use poller::{PollerTransport, RESERVED};
#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub(crate) use uring::UringTransport;

/// A stream socket of the OS (TCP or Unix), as [`EngineHandle::dial`] and
/// [`EngineHandle::enroll`] make them, for [`Transport::adopt`].
///
/// [`EngineHandle::dial`]: crate::EngineHandle::dial
/// [`EngineHandle::enroll`]: crate::EngineHandle::enroll
pub use crate::sys::stream::Stream as OsStream;

/// What a loop waits for on a connection: bytes to receive, room to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Watch {
    /// Report when a receive completes (bytes, end of stream or an error).
    pub recv: bool,
    /// Report when the connection can take more bytes (for a connection still connecting:
    /// when the connect finished, either way).
    pub send: bool,
}

impl Watch {
    /// Waiting for nothing.
    pub const NONE: Watch = Watch {
        recv: false,
        send: false,
    };
    /// Waiting for bytes only.
    pub const RECV: Watch = Watch {
        recv: true,
        send: false,
    };
    /// Waiting for room to send only.
    pub const SEND: Watch = Watch {
        recv: false,
        send: true,
    };
}

/// Something completed on one of a loop's sockets, as [`Transport::next_event`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Listener `id` has connections to [`accept`](Transport::accept).
    Accept(usize),
    /// Datagram socket `id` has datagrams to [`recv_from`](Transport::recv_from).
    Datagram(usize),
    /// Connection `conn` (the loop's slot key): with `recv`, a [`recv`](Transport::recv) now
    /// completes without waiting; with `send`, it can take more bytes (or its connect
    /// finished).
    Conn {
        /// The connection's slot key, as given to [`open`](Transport::open).
        conn: usize,
        /// A receive completed: bytes, the end of the stream, or an error.
        recv: bool,
        /// Room to send: the socket turned writable, or an in-flight send completed.
        send: bool,
    },
}

/// A connection a listener accepted: the stream and, for TCP, the peer's address.
pub type Accepted<S> = (S, Option<SocketAddr>);

/// Interrupts a loop's blocking [`poll`](Transport::poll) from another thread.
///
/// Spurious wakes are allowed, lost ones are not. Cheap to clone; wakes coalesce in the task
/// queue, so a loop is woken at most once per batch of tasks.
#[derive(Clone)]
pub struct Waker(WakerKind);

#[derive(Clone)]
enum WakerKind {
    Poller(loopwire_poller::Waker),
    Custom(Arc<dyn Fn() -> io::Result<()> + Send + Sync>),
}

impl Waker {
    /// A waker that runs `wake` (for a transport of your own: it must make the loop's
    /// `poll` return soon, even if it is called before `poll` starts waiting).
    pub fn new(wake: impl Fn() -> io::Result<()> + Send + Sync + 'static) -> Self {
        Self(WakerKind::Custom(Arc::new(wake)))
    }

    /// Wakes the loop.
    ///
    /// # Errors
    /// What the wake-up mechanism reports (an `eventfd` write failing, say).
    pub fn wake(&self) -> io::Result<()> {
        match &self.0 {
            WakerKind::Poller(w) => w.wake(),
            WakerKind::Custom(f) => f(),
        }
    }
}

impl From<loopwire_poller::Waker> for Waker {
    fn from(w: loopwire_poller::Waker) -> Self {
        Self(WakerKind::Poller(w))
    }
}

impl fmt::Debug for Waker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            WakerKind::Poller(w) => f.debug_tuple("Waker").field(w).finish(),
            WakerKind::Custom(_) => f.write_str("Waker(custom)"),
        }
    }
}

/// Everything an event loop needs for socket I/O. One per loop, used only on that loop's
/// thread. See the [module docs](self) for the shape and the ownership rules.
///
/// Connections are named by the loop's slot key (`conn`); the loop keeps each connection's
/// [`Stream`](Self::Stream) in its slot and passes it back on every call, so a transport
/// needs no table of its own unless it has per-connection state (a completion transport's
/// in-flight buffers).
///
/// Errors follow `std::io`: `WouldBlock` from [`accept`](Self::accept),
/// [`recv`](Self::recv), [`send`](Self::send) or [`recv_from`](Self::recv_from) means "not
/// now, wait for the next event"; `Interrupted` is retried the same way; any other error
/// closes the connection with [`CloseReason::Error`](crate::CloseReason::Error).
pub trait Transport: Send + 'static {
    /// A listening socket.
    type Listener: fmt::Debug + Send + 'static;
    /// A connected stream. `AsFd` backs [`Conn::socket`](crate::Conn::socket) (socket
    /// options); a transport without descriptors gives one on which they fail.
    type Stream: AsFd + fmt::Debug + Send + 'static;
    /// A datagram socket (a transport without datagrams uses an uninhabited type).
    type Datagram: AsFd + fmt::Debug + Send + 'static;

    /// A waker for this loop, for the loop's task queue and the test clock.
    ///
    /// # Errors
    /// When the wake-up mechanism cannot be made.
    fn waker(&self) -> io::Result<Waker>;

    /// Waits until something completes, a [`Waker`] fires or `timeout` passes (`None`: no
    /// limit; zero: do not block), then makes what completed available to
    /// [`next_event`](Self::next_event). Retries `EINTR` itself.
    ///
    /// # Errors
    /// Only when the loop cannot go on (it then stops the engine).
    fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// The next event of the last [`poll`](Self::poll), or `None` once all were taken.
    fn next_event(&mut self) -> Option<Event>;

    /// Starts reporting [`Event::Accept`] for `listener` under `id`.
    ///
    /// # Errors
    /// When the listener cannot be watched.
    fn listen(&mut self, id: usize, listener: &Self::Listener) -> io::Result<()>;

    /// Stops reporting `listener` (to pause accepting, or before dropping it).
    ///
    /// # Errors
    /// When it was not watched.
    fn unlisten(&mut self, id: usize, listener: &Self::Listener) -> io::Result<()>;

    /// Takes one accepted connection of listener `id`.
    ///
    /// # Errors
    /// `WouldBlock` when none is pending; `EMFILE` and its kin when out of descriptors.
    fn accept(
        &mut self,
        id: usize,
        listener: &Self::Listener,
    ) -> io::Result<Accepted<Self::Stream>>;

    /// Takes over an OS stream made elsewhere (a dial, an enrolled stream, a connection the
    /// acceptor thread accepted).
    ///
    /// # Errors
    /// `Unsupported` from a transport that carries no OS sockets.
    fn adopt(&mut self, stream: OsStream) -> io::Result<Self::Stream>;

    /// Starts serving connection `conn` (the loop's slot key), reporting what `watch` asks.
    ///
    /// # Errors
    /// When it cannot be watched; the loop then drops the stream.
    fn open(&mut self, conn: usize, stream: &Self::Stream, watch: Watch) -> io::Result<()>;

    /// Changes what is reported for connection `conn` from `was` to `want` (never equal).
    ///
    /// # Errors
    /// When the change fails; the loop then closes the connection.
    fn watch(
        &mut self,
        conn: usize,
        stream: &Self::Stream,
        want: Watch,
        was: Watch,
    ) -> io::Result<()>;

    /// The outcome of a dial that reported `send` while connecting: `Ok` once connected.
    ///
    /// # Errors
    /// Why the connect failed.
    fn connect_outcome(&mut self, stream: &Self::Stream) -> io::Result<()>;

    /// Receives on connection `conn`: the bytes, in place (in `buf`, the loop's shared read
    /// buffer, or in the transport's own buffer), valid until the next call on the transport;
    /// empty at the end of the stream.
    ///
    /// # Errors
    /// `WouldBlock` when nothing is there after all; otherwise the connection's error.
    fn recv<'a>(
        &'a mut self,
        conn: usize,
        stream: &Self::Stream,
        buf: &'a mut [u8],
    ) -> io::Result<&'a [u8]>;

    /// Sends `data` on connection `conn`; returns how many bytes the transport took (see the
    /// [module docs](self) on ownership). Taking fewer than offered, or none (`WouldBlock`),
    /// makes the loop keep the rest and watch for `send`.
    ///
    /// # Errors
    /// `WouldBlock`, or the connection's error.
    fn send(&mut self, conn: usize, stream: &Self::Stream, data: &[u8]) -> io::Result<usize>;

    /// [`send`](Self::send) of several slices in order, as one gathered write.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    fn send_vectored(
        &mut self,
        conn: usize,
        stream: &Self::Stream,
        bufs: &[IoSlice<'_>],
    ) -> io::Result<usize>;

    /// [`send`](Self::send) of bytes the caller gives up (the loop's write buffer after a
    /// callback): a transport that keeps the bytes of a send in flight may take the vector
    /// itself instead of copying from it, leaving in `*data` another one (empty, of any
    /// capacity) that no operation of its names. It does so only when it takes every byte;
    /// when it returns fewer than `data.len()`, `data` is untouched.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    fn send_owned(
        &mut self,
        conn: usize,
        stream: &Self::Stream,
        data: &mut Vec<u8>,
    ) -> io::Result<usize> {
        self.send(conn, stream, data)
    }

    /// [`send_vectored`](Self::send_vectored) of a connection's last bytes, just before
    /// [`close`](Self::close) (the engine stops; a goodbye after a timeout): they go after any
    /// send in flight, as far as the socket takes them without waiting. A completion
    /// transport that refuses a second send while one is in flight takes them here (up to a
    /// bound) and sends them once that one completes, before the descriptor closes.
    ///
    /// # Errors
    /// As [`send`](Self::send); `WouldBlock` when nothing more is taken.
    fn send_last(
        &mut self,
        conn: usize,
        stream: &Self::Stream,
        bufs: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        self.send_vectored(conn, stream, bufs)
    }

    /// Closes connection `conn`, which was watched for `watched`: stops reporting it,
    /// cancels what is in flight and releases the stream.
    fn close(&mut self, conn: usize, stream: Self::Stream, watched: Watch);

    /// Starts reporting [`Event::Datagram`] for `socket` under `id`.
    ///
    /// # Errors
    /// When the socket cannot be watched.
    fn watch_datagram(&mut self, id: usize, socket: &Self::Datagram) -> io::Result<()>;

    /// Stops reporting `socket` (before dropping it).
    fn unwatch_datagram(&mut self, id: usize, socket: &Self::Datagram);

    /// Receives one datagram into `buf`: its length and sender.
    ///
    /// # Errors
    /// `WouldBlock` when none is pending.
    fn recv_from(
        &mut self,
        socket: &Self::Datagram,
        buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr)>;

    /// Sends `data` as one datagram to `peer`.
    ///
    /// # Errors
    /// What the send reports.
    fn send_to(
        &mut self,
        socket: &Self::Datagram,
        data: &[u8],
        peer: SocketAddr,
    ) -> io::Result<usize>;
}

/// Byte I/O on one connection through its transport, for the ring buffers' `write_to`.
pub(crate) struct ConnIo<'a, T: Transport> {
    pub(crate) transport: &'a mut T,
    pub(crate) conn: usize,
    pub(crate) stream: &'a T::Stream,
}

/// A connection's last bytes before its close, as an [`io::Write`] (see
/// [`Transport::send_last`]).
pub(crate) struct LastIo<'a, T: Transport>(pub(crate) ConnIo<'a, T>);

impl<T: Transport> io::Write for LastIo<'_, T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let io = &mut self.0;
        io.transport.send_last(io.conn, io.stream, bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<T: Transport> io::Write for ConnIo<'_, T> {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.transport.send(self.conn, self.stream, buf)
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.transport.send_vectored(self.conn, self.stream, bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

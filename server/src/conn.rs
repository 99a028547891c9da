//! [`Conn`]: a connection as a callback sees it, on its loop's thread.
//!
//! Inbound bytes are shown in place: straight from the loop's shared read buffer when nothing
//! was left over from earlier reads, otherwise from the connection's own ring buffer. Reading
//! (`next`, `discard`, `read`) only moves a cursor; the loop applies it after the callback, so
//! the slices handed out live as long as the `Conn` and can be written back without a copy:
//! `let d = c.next(n); c.write(d);` compiles.
//!
//! Writes are gathered into the loop's write buffer and sent once after the callback returns
//! (one `write` or `writev`); only what the socket does not take is kept in the connection's
//! outbound ring buffer.

use std::cell::Cell;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use crate::addr::Network;
use crate::handle::ConnHandle;

/// Facts about a connection that do not change while a callback runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnMeta {
    pub(crate) handle: ConnHandle,
    pub(crate) network: Network,
    pub(crate) peer: Option<SocketAddr>,
}

/// The flow-control facts a callback sees, as the loop knows them when it starts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flow {
    /// Whether writes are taken at all (not in `on_close`).
    pub(crate) open: bool,
    /// The connection's writability (see [`crate::flow`]) before this callback's writes.
    pub(crate) writable: bool,
    /// The high watermark.
    pub(crate) high: usize,
    /// Whether the handler has paused reading.
    pub(crate) paused: bool,
}

impl Flow {
    /// What `on_close` sees: writes are dropped, nothing to pause.
    pub(crate) const CLOSED: Flow = Flow {
        open: false,
        writable: false,
        high: 0,
        paused: true,
    };

    /// What a datagram's `on_traffic` sees: each reply is sent at once, nothing to pause.
    pub(crate) const DATAGRAM: Flow = Flow {
        open: true,
        writable: true,
        high: usize::MAX,
        paused: false,
    };
}

/// A connection inside a callback: its unread inbound bytes, its outbound buffer, its state.
#[derive(Debug)]
pub struct Conn<'a, S> {
    inbound: &'a [u8],
    consumed: usize,
    out: &'a mut Vec<u8>,
    queued_out: usize,
    state: &'a mut S,
    meta: ConnMeta,
    fd: BorrowedFd<'a>,
    close_requested: bool,
    flow: Flow,
    /// `Some(paused)` when the callback paused or resumed reading.
    pause_request: Option<bool>,
    /// `Some(deadline)` when the callback set or cleared its read deadline.
    read_deadline: Option<Option<Duration>>,
    /// The tag given to `dial` / `enroll`, shown in `on_open` and in the `on_close` of a dial
    /// that failed.
    tag: Option<u64>,
    /// What [`is_writable`](Self::is_writable) last returned: the loop must not leave the
    /// handler believing a state it no longer is in.
    saw_writable: Cell<Option<bool>>,
    /// The engine's time in ms, as the loop read it at the start of its turn.
    now_ms: u64,
}

impl<'a, S> Conn<'a, S> {
    pub(crate) fn new(
        inbound: &'a [u8],
        out: &'a mut Vec<u8>,
        queued_out: usize,
        state: &'a mut S,
        (meta, fd): (ConnMeta, BorrowedFd<'a>),
        flow: Flow,
    ) -> Self {
        Self {
            inbound,
            consumed: 0,
            out,
            queued_out,
            state,
            meta,
            fd,
            close_requested: false,
            flow,
            pause_request: None,
            read_deadline: None,
            tag: None,
            saw_writable: Cell::new(None),
            now_ms: 0,
        }
    }

    /// Shows `now_ms` (see [`now`](Self::now)).
    pub(crate) fn with_now(mut self, now_ms: u64) -> Self {
        self.now_ms = now_ms;
        self
    }

    /// How many inbound bytes the callback consumed; the loop discards them afterwards.
    pub(crate) fn consumed(&self) -> usize {
        self.consumed
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn close_requested(&self) -> bool {
        self.close_requested
    }

    /// Shows `tag` (see [`tag`](Self::tag)).
    pub(crate) fn with_tag(mut self, tag: Option<u64>) -> Self {
        self.tag = tag;
        self
    }

    /// `Some(paused)` if the callback changed whether the connection is read.
    pub(crate) fn pause_request(&self) -> Option<bool> {
        self.pause_request
    }

    /// `Some(deadline)` if the callback set or cleared its read deadline.
    pub(crate) fn read_deadline_request(&self) -> Option<Option<Duration>> {
        self.read_deadline
    }

    /// What [`is_writable`](Self::is_writable) last returned in this callback, if it was
    /// called.
    pub(crate) fn saw_writable(&self) -> Option<bool> {
        self.saw_writable.get()
    }

    // ---- inbound ------------------------------------------------------------------------

    /// Number of unread inbound bytes.
    pub fn inbound_len(&self) -> usize {
        self.inbound.len() - self.consumed
    }

    /// Every unread inbound byte, without consuming it.
    pub fn inbound(&self) -> &'a [u8] {
        &self.inbound[self.consumed..]
    }

    /// Up to `n` unread bytes (fewer if fewer are buffered), without consuming them.
    pub fn peek(&self, n: usize) -> &'a [u8] {
        let rest = self.inbound();
        &rest[..n.min(rest.len())]
    }

    /// Up to `n` unread bytes, consumed: they will not be shown again.
    pub fn next(&mut self, n: usize) -> &'a [u8] {
        let taken = self.peek(n);
        self.consumed += taken.len();
        taken
    }

    /// Consumes up to `n` unread bytes; returns how many were discarded.
    pub fn discard(&mut self, n: usize) -> usize {
        self.next(n).len()
    }

    // ---- outbound -----------------------------------------------------------------------

    /// Queues `data` for sending. It is sent, with everything else written during this
    /// callback, right after the callback returns. Writes made in `on_close` are dropped.
    pub fn write(&mut self, data: &[u8]) {
        if self.flow.open {
            self.out.extend_from_slice(data);
        }
    }

    /// Queues several buffers for sending, in order (one `writev` after the callback).
    pub fn writev(&mut self, bufs: &[&[u8]]) {
        for b in bufs {
            self.write(b);
        }
    }

    /// Bytes written but not yet taken by the socket: earlier backlog plus this callback's.
    pub fn outbound_len(&self) -> usize {
        self.queued_out + self.out.len()
    }

    /// Whether the peer keeps up: false once the unsent bytes rose above the high watermark
    /// ([`EngineBuilder::write_watermarks`](crate::EngineBuilder::write_watermarks)), until
    /// they drain to the low one. Counts this callback's writes too, so a loop of writes can
    /// stop in time. A handler that produces data on its own (a push, a proxy) should stop
    /// while this is false and continue in
    /// [`on_writability_changed`](crate::EventHandler::on_writability_changed), which is
    /// guaranteed to follow with `true` once the state no longer is what this returned (even
    /// if the flush after this callback sends everything at once). Writes are still taken
    /// meanwhile, up to `max_outbound`.
    pub fn is_writable(&self) -> bool {
        let writable =
            self.flow.open && self.flow.writable && self.outbound_len() <= self.flow.high;
        self.saw_writable.set(Some(writable));
        writable
    }

    // ---- reading ------------------------------------------------------------------------

    /// Stops reading from this connection after this callback: no `on_traffic` until
    /// [`resume_reading`](Self::resume_reading), and the peer's bytes wait in the kernel
    /// (TCP then slows the peer down). Bytes left unread stay buffered. Typical use: pause in
    /// `on_writability_changed(.., false)`, resume in `on_writability_changed(.., true)`.
    ///
    /// While paused, the idle timeout counts bytes the peer takes from the connection's
    /// backlog as activity, and a peer's close is noticed only after reading resumes.
    pub fn pause_reading(&mut self) {
        self.pause_request = Some(true);
    }

    /// Reads again after [`pause_reading`](Self::pause_reading). Bytes left unread before
    /// the pause are shown to `on_traffic` soon after, even if the peer sends nothing more.
    pub fn resume_reading(&mut self) {
        self.pause_request = Some(false);
    }

    /// Closes the connection ([`CloseReason::ReadTimeout`](crate::CloseReason::ReadTimeout))
    /// unless this is cleared (`None`) or set again within `after` from now. For "the rest of
    /// this request must arrive in time" (a slow-loris guard): set it when a request starts,
    /// clear it when the request is complete. Reads do not move it: a peer sending one byte a
    /// second still misses it. Replaces any earlier read deadline; has no effect on datagram
    /// sockets or in `on_close`.
    pub fn set_read_deadline(&mut self, after: Option<Duration>) {
        self.read_deadline = Some(after);
    }

    /// Whether reading is paused, counting a request made in this callback.
    pub fn is_reading_paused(&self) -> bool {
        self.pause_request.unwrap_or(self.flow.paused)
    }

    // ---- identity, state, control ---------------------------------------------------------

    /// The engine's time when the loop began the turn this callback runs in: since the engine
    /// started on the system clock, or the [`TestClock`](crate::TestClock)'s reading. Reading
    /// it costs nothing (the loop reads the clock once per turn); it is the time the engine's
    /// own deadlines and idle timeouts are measured in, so a handler that keeps its own
    /// timestamps (a heartbeat's last sight, a retransmission's due time) stays consistent with
    /// them and runs on the test clock in tests.
    pub fn now(&self) -> Duration {
        Duration::from_millis(self.now_ms)
    }

    /// The tag given to [`EngineHandle::dial`](crate::EngineHandle::dial) or
    /// [`enroll`](crate::EngineHandle::enroll) for this connection, in its `on_open` (and in
    /// the `on_close` of a dial that never connected); `None` for accepted connections and in
    /// every other callback. Keep what it stands for in the connection's state.
    pub fn tag(&self) -> Option<u64> {
        self.tag
    }

    /// This connection's handle, for writing, waking or closing it from anywhere.
    pub fn handle(&self) -> ConnHandle {
        self.meta.handle
    }

    /// The network this connection arrived on.
    pub fn network(&self) -> Network {
        self.meta.network
    }

    /// Local address (TCP and UDP; `None` for Unix sockets). Asks the OS (`getsockname`),
    /// so idle connections do not carry it.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self.meta.network {
            Network::Unix => None,
            _ => self.socket().local_addr().ok()?.as_socket(),
        }
    }

    /// Peer address (TCP; for UDP the sender of the current datagram, where replies go).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.meta.peer
    }

    /// The per-connection state.
    pub fn state(&self) -> &S {
        self.state
    }

    /// The per-connection state, mutably.
    pub fn state_mut(&mut self) -> &mut S {
        self.state
    }

    /// Closes the connection after this callback, once everything written has been sent.
    pub fn close(&mut self) {
        self.close_requested = true;
    }

    /// The socket, for socket options (`set_nodelay`, `set_recv_buffer_size`, ...).
    pub fn socket(&self) -> socket2::SockRef<'_> {
        crate::sys::socket_ref(&self.fd)
    }
}

impl<S> AsFd for Conn<'_, S> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd
    }
}

impl<S> io::Read for Conn<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let src = self.next(buf.len());
        buf[..src.len()].copy_from_slice(src);
        Ok(src.len())
    }
}

impl<S> io::Write for Conn<'_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Conn::write(self, buf);
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for b in bufs {
            Conn::write(self, b);
            n += b.len();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

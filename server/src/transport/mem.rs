//! An in-memory [`Transport`]: listeners and streams that live in the process, so the whole
//! engine (accept, traffic, backpressure, closes, deadlines, broadcasts, handles) runs with no
//! socket and no system call for I/O.
//!
//! It is also the proof of the seam: the engine drives it exactly as it drives the OS, through
//! [`Transport`] alone, so a user-space TCP/IP stack (smoltcp over a TAP device, a DPDK port)
//! plugs in the same way: implement [`Transport`] over its sockets and start the engine with
//! [`EngineBuilder::start_on`](crate::EngineBuilder::start_on).
//!
//! - [`Listener`]: what the engine accepts on ([`Listener::connect`] makes a connection; any
//!   loop watching the listener may accept it). Clones share one accept queue.
//! - [`Client`]: the test's end of a connection: [`write`](Client::write) what the server
//!   receives, [`read_exact`](Client::read_exact) what it sent, a settable
//!   [send window](Client::set_window) (how many bytes the server may have in flight towards
//!   the client before its sends are refused: backpressure), a half close
//!   ([`shutdown`](Client::shutdown), the server sees the end of the stream) and a
//!   [`reset`](Client::reset) (the server's next receive fails).
//! - [`MemTransport`]: one loop's transport, level-triggered like the readiness transport: a
//!   connection is reported for `recv` while bytes, the end of the stream or a reset wait,
//!   for `send` while the window has room.
//!
//! A connection's [`Conn::socket`](crate::Conn::socket) is a descriptor of `/dev/null`
//! (shared by the listener's connections): socket options fail on it with `ENOTSOCK`.
//! Datagrams and dials are not carried ([`Transport::adopt`] refuses OS streams with
//! `Unsupported`).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fs::File;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::{Accepted, Event, OsStream, Transport, Waker, Watch};

/// How long a [`Client`]'s blocking reads wait before they give up (a hang guard).
pub const CLIENT_WAIT: Duration = Duration::from_secs(10);

/// The default send window of a new connection: effectively unbounded.
pub const DEFAULT_WINDOW: usize = usize::MAX;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A flag a loop sleeps on, raised by whatever may have made something ready for it.
#[derive(Debug, Default)]
struct Signal {
    raised: Mutex<bool>,
    cond: Condvar,
}

impl Signal {
    fn raise(&self) {
        *lock(&self.raised) = true;
        self.cond.notify_all();
    }

    /// Lowers the flag; returns whether it was raised. The loop runs its tasks after every
    /// poll, so a raise taken here is never lost; one after it makes the next wait return.
    fn take(&self) -> bool {
        std::mem::take(&mut *lock(&self.raised))
    }

    /// Waits until raised or until `deadline` (`None`: no limit).
    fn wait(&self, deadline: Option<Instant>) {
        let mut raised = lock(&self.raised);
        while !*raised {
            match deadline {
                None => raised = self.cond.wait(raised).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let Some(left) = d.checked_duration_since(Instant::now()) else {
                        return;
                    };
                    raised = self
                        .cond
                        .wait_timeout(raised, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
            }
        }
    }
}

/// Both directions of one connection.
#[derive(Debug)]
struct PipeState {
    /// Bytes the client wrote, not yet received by the server.
    to_server: VecDeque<u8>,
    /// Bytes the server sent, not yet read by the client.
    to_client: VecDeque<u8>,
    /// Most bytes `to_client` may hold.
    window: usize,
    /// The client shut down its sending side (or went away).
    client_shut: bool,
    /// The client reset the connection: the server's next receive fails.
    reset: bool,
    /// The client is gone: what the server sends is dropped.
    client_gone: bool,
    /// The server closed the connection.
    server_closed: bool,
    /// The loop serving the connection, once it is accepted.
    server: Option<Arc<Signal>>,
}

#[derive(Debug)]
struct Pipe {
    state: Mutex<PipeState>,
    /// Raised for the client's blocking reads.
    client: Condvar,
}

impl Pipe {
    /// Runs `f` on the state, then wakes the serving loop (the client changed something).
    fn client_op<R>(&self, f: impl FnOnce(&mut PipeState) -> R) -> R {
        let (r, server) = {
            let mut st = lock(&self.state);
            let r = f(&mut st);
            (r, st.server.clone())
        };
        if let Some(s) = server {
            s.raise();
        }
        r
    }
}

#[derive(Debug)]
struct ListenerShared {
    backlog: Mutex<VecDeque<Arc<Pipe>>>,
    /// The loops watching this listener.
    watchers: Mutex<Vec<Arc<Signal>>>,
    /// What every connection's `AsFd` shows: `/dev/null`.
    null: Arc<File>,
}

/// An in-memory listener: the engine accepts on it, tests [`connect`](Self::connect) to it.
/// Clones share one accept queue.
#[derive(Debug, Clone)]
pub struct Listener(Arc<ListenerShared>);

impl Listener {
    /// A new listener with an empty accept queue.
    ///
    /// # Errors
    /// When `/dev/null` cannot be opened (the descriptor connections show as their socket).
    pub fn new() -> io::Result<Self> {
        Ok(Self(Arc::new(ListenerShared {
            backlog: Mutex::new(VecDeque::new()),
            watchers: Mutex::new(Vec::new()),
            null: Arc::new(File::open("/dev/null")?),
        })))
    }

    /// Opens a connection: queued for the engine to accept, and the client's end of it.
    pub fn connect(&self) -> Client {
        let pipe = Arc::new(Pipe {
            state: Mutex::new(PipeState {
                to_server: VecDeque::new(),
                to_client: VecDeque::new(),
                window: DEFAULT_WINDOW,
                client_shut: false,
                reset: false,
                client_gone: false,
                server_closed: false,
                server: None,
            }),
            client: Condvar::new(),
        });
        lock(&self.0.backlog).push_back(Arc::clone(&pipe));
        for w in lock(&self.0.watchers).iter() {
            w.raise();
        }
        Client { pipe }
    }

    /// Connections queued and not yet accepted.
    pub fn pending(&self) -> usize {
        lock(&self.0.backlog).len()
    }
}

/// The test's end of an in-memory connection. Dropping it shuts it down and drops whatever the
/// server sends afterwards.
#[derive(Debug)]
pub struct Client {
    pipe: Arc<Pipe>,
}

fn timed_out(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("in-memory client: {what} within {CLIENT_WAIT:?}"),
    )
}

impl Client {
    /// Sends `data` to the server (the client side takes everything).
    pub fn write(&self, data: &[u8]) {
        self.pipe
            .client_op(|st| st.to_server.extend(data.iter().copied()));
    }

    /// Sets how many bytes the server may have sent and the client not yet read; the server's
    /// sends take only what fits. 0 stops it sending at all.
    pub fn set_window(&self, bytes: usize) {
        self.pipe.client_op(|st| st.window = bytes);
    }

    /// Takes everything the server sent so far (perhaps nothing), freeing window space.
    pub fn read(&self) -> Vec<u8> {
        self.pipe.client_op(|st| st.to_client.drain(..).collect())
    }

    /// Bytes the server sent and the client has not read.
    pub fn buffered(&self) -> usize {
        lock(&self.pipe.state).to_client.len()
    }

    /// Waits for exactly `n` bytes from the server and takes them.
    ///
    /// # Errors
    /// `UnexpectedEof` when the server closes first; `TimedOut` after [`CLIENT_WAIT`].
    pub fn read_exact(&self, n: usize) -> io::Result<Vec<u8>> {
        let got = self.wait(|st| {
            if st.to_client.len() >= n {
                Some(Ok(st.to_client.drain(..n).collect()))
            } else if st.server_closed {
                Some(Err(io::ErrorKind::UnexpectedEof.into()))
            } else {
                None
            }
        });
        got.unwrap_or_else(|| Err(timed_out("bytes did not arrive")))
    }

    /// Waits until the server closes the connection; returns what it sent before.
    ///
    /// # Errors
    /// `TimedOut` after [`CLIENT_WAIT`].
    pub fn read_to_close(&self) -> io::Result<Vec<u8>> {
        self.wait(|st| {
            st.server_closed
                .then(|| st.to_client.drain(..).collect::<Vec<u8>>())
        })
        .ok_or_else(|| timed_out("the server did not close"))
    }

    /// Whether the server has closed the connection.
    pub fn is_closed(&self) -> bool {
        lock(&self.pipe.state).server_closed
    }

    /// Shuts down the client's sending side: the server receives the end of the stream once it
    /// has taken what was written before.
    pub fn shutdown(&self) {
        self.pipe.client_op(|st| st.client_shut = true);
    }

    /// Resets the connection: the server's next receive fails with `ConnectionReset`.
    pub fn reset(&self) {
        self.pipe.client_op(|st| {
            st.reset = true;
            st.client_gone = true;
        });
    }

    /// Runs `check` under the lock each time the server changes the connection, until it
    /// returns `Some` (then that) or [`CLIENT_WAIT`] passes (then `None`). Wakes the server
    /// afterwards, since reading freed window space.
    fn wait<R>(&self, mut check: impl FnMut(&mut PipeState) -> Option<R>) -> Option<R> {
        let deadline = Instant::now() + CLIENT_WAIT;
        let (r, server) = {
            let mut st = lock(&self.pipe.state);
            let r = loop {
                if let Some(r) = check(&mut st) {
                    break Some(r);
                }
                let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                    break None;
                };
                st = self
                    .pipe
                    .client
                    .wait_timeout(st, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            };
            (r, st.server.clone())
        };
        if let Some(s) = server {
            s.raise();
        }
        r
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.pipe.client_op(|st| {
            st.client_shut = true;
            st.client_gone = true;
            st.to_client.clear();
        });
    }
}

/// The server's end of an in-memory connection, as the engine keeps it.
pub struct MemStream {
    pipe: Arc<Pipe>,
    null: Arc<File>,
}

impl fmt::Debug for MemStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MemStream")
    }
}

impl AsFd for MemStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.null.as_fd()
    }
}

/// The in-memory transport carries no datagrams: this type has no values.
#[derive(Debug)]
pub enum NoDatagram {}

impl AsFd for NoDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match *self {}
    }
}

/// One loop's in-memory transport (see the [module docs](self)).
#[derive(Debug)]
pub struct MemTransport {
    signal: Arc<Signal>,
    listeners: HashMap<usize, Listener>,
    conns: HashMap<usize, (Arc<Pipe>, Watch)>,
    events: Vec<Event>,
    next: usize,
}

impl Default for MemTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl MemTransport {
    /// A transport with no listener and no connection.
    pub fn new() -> Self {
        Self {
            signal: Arc::new(Signal::default()),
            listeners: HashMap::new(),
            conns: HashMap::new(),
            events: Vec::new(),
            next: 0,
        }
    }

    /// What is ready now, level-triggered, into `events`.
    fn scan(&mut self) {
        self.events.clear();
        self.next = 0;
        for (&id, l) in &self.listeners {
            if !lock(&l.0.backlog).is_empty() {
                self.events.push(Event::Accept(id));
            }
        }
        for (&conn, (pipe, watch)) in &self.conns {
            let st = lock(&pipe.state);
            let recv = watch.recv && (!st.to_server.is_empty() || st.client_shut || st.reset);
            let send = watch.send && (st.client_gone || st.to_client.len() < st.window);
            if recv || send {
                self.events.push(Event::Conn { conn, recv, send });
            }
        }
        // Slot order, as a poller tends to report them: deterministic for tests.
        self.events.sort_by_key(|e| match *e {
            Event::Conn { conn, .. } => conn,
            _ => usize::MAX,
        });
    }
}

impl Transport for MemTransport {
    type Listener = Listener;
    type Stream = MemStream;
    type Datagram = NoDatagram;

    fn waker(&self) -> io::Result<Waker> {
        let signal = Arc::clone(&self.signal);
        Ok(Waker::new(move || {
            signal.raise();
            Ok(())
        }))
    }

    fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let woken = self.signal.take();
        self.scan();
        if woken || !self.events.is_empty() || timeout == Some(Duration::ZERO) {
            return Ok(());
        }
        // Something changes (a client, a wake) or the time is up: either way, report what
        // is ready then, and let the loop run its tasks.
        self.signal.wait(deadline);
        self.signal.take();
        self.scan();
        Ok(())
    }

    fn next_event(&mut self) -> Option<Event> {
        let ev = self.events.get(self.next).copied()?;
        self.next += 1;
        Some(ev)
    }

    fn listen(&mut self, id: usize, listener: &Listener) -> io::Result<()> {
        lock(&listener.0.watchers).push(Arc::clone(&self.signal));
        self.listeners.insert(id, listener.clone());
        Ok(())
    }

    fn unlisten(&mut self, id: usize, listener: &Listener) -> io::Result<()> {
        lock(&listener.0.watchers).retain(|s| !Arc::ptr_eq(s, &self.signal));
        self.listeners
            .remove(&id)
            .map(drop)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn accept(&mut self, _id: usize, listener: &Listener) -> io::Result<Accepted<MemStream>> {
        let pipe = lock(&listener.0.backlog)
            .pop_front()
            .ok_or_else(|| io::Error::from(io::ErrorKind::WouldBlock))?;
        let stream = MemStream {
            pipe,
            null: Arc::clone(&listener.0.null),
        };
        Ok((stream, None))
    }

    fn adopt(&mut self, _stream: OsStream) -> io::Result<MemStream> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the in-memory transport carries no OS sockets",
        ))
    }

    fn open(&mut self, conn: usize, stream: &MemStream, watch: Watch) -> io::Result<()> {
        lock(&stream.pipe.state).server = Some(Arc::clone(&self.signal));
        self.conns.insert(conn, (Arc::clone(&stream.pipe), watch));
        Ok(())
    }

    fn watch(
        &mut self,
        conn: usize,
        _stream: &MemStream,
        want: Watch,
        _was: Watch,
    ) -> io::Result<()> {
        let (_, watch) = self
            .conns
            .get_mut(&conn)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        *watch = want;
        Ok(())
    }

    fn connect_outcome(&mut self, _stream: &MemStream) -> io::Result<()> {
        Ok(())
    }

    fn recv<'a>(
        &'a mut self,
        _conn: usize,
        stream: &MemStream,
        buf: &'a mut [u8],
    ) -> io::Result<&'a [u8]> {
        let mut st = lock(&stream.pipe.state);
        if st.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        if st.to_server.is_empty() {
            return if st.client_shut {
                Ok(&[])
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(st.to_server.len());
        for (dst, src) in buf.iter_mut().zip(st.to_server.drain(..n)) {
            *dst = src;
        }
        Ok(&buf[..n])
    }

    fn send(&mut self, conn: usize, stream: &MemStream, data: &[u8]) -> io::Result<usize> {
        self.send_vectored(conn, stream, &[IoSlice::new(data)])
    }

    fn send_vectored(
        &mut self,
        _conn: usize,
        stream: &MemStream,
        bufs: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        let mut st = lock(&stream.pipe.state);
        if st.reset {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if st.client_gone {
            return Ok(total);
        }
        let room = st.window.saturating_sub(st.to_client.len());
        if room == 0 && total > 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let mut left = room;
        for b in bufs {
            let take = b.len().min(left);
            st.to_client.extend(b[..take].iter().copied());
            left -= take;
            if left == 0 {
                break;
            }
        }
        drop(st);
        stream.pipe.client.notify_all();
        Ok(room - left)
    }

    fn close(&mut self, conn: usize, stream: MemStream, _watched: Watch) {
        self.conns.remove(&conn);
        let mut st = lock(&stream.pipe.state);
        st.server_closed = true;
        st.server = None;
        drop(st);
        stream.pipe.client.notify_all();
    }

    fn watch_datagram(&mut self, _id: usize, socket: &NoDatagram) -> io::Result<()> {
        match *socket {}
    }

    fn unwatch_datagram(&mut self, _id: usize, socket: &NoDatagram) {
        match *socket {}
    }

    fn recv_from(
        &mut self,
        socket: &NoDatagram,
        _buf: &mut [u8],
    ) -> io::Result<(usize, SocketAddr)> {
        match *socket {}
    }

    fn send_to(
        &mut self,
        socket: &NoDatagram,
        _data: &[u8],
        _peer: SocketAddr,
    ) -> io::Result<usize> {
        match *socket {}
    }
}

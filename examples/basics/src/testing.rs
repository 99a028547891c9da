//! What the example servers' integration tests share: a handler served in-process on
//! `127.0.0.1` port 0 ([`TestServer`]), a handler wrapper that records backpressure
//! ([`Probe`]) and one that records what each connection was shown and when it closed
//! ([`Recorder`]), so a test can wait for the server to have seen something instead of
//! sleeping.
//!
//! Test helpers: they panic (with a message) when the machine cannot give them a socket,
//! which is what a test wants.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use loopwire::{
    Action, CloseReason, Conn, Engine, EngineBuilder, EngineHandle, EventHandler, Network,
};

/// Upper bound of any single read or write on a [`TestServer::connect`]ed stream.
pub const WAIT: Duration = Duration::from_secs(20);

/// How long [`eventually`] and [`Recorder::wait`] wait for a condition before failing the
/// test: a guard against a hang, never a verdict (a passing test waits only as long as the
/// server takes).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Polls `done` until it holds; panics with `what` after [`PATIENCE`].
///
/// # Panics
/// When `done` still does not hold after [`PATIENCE`].
#[track_caller]
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A handler served on two loops at `tcp://127.0.0.1:0`; the engine stops when this is
/// dropped.
#[derive(Debug)]
pub struct TestServer(pub EngineHandle);

impl TestServer {
    /// Starts serving `handler`.
    ///
    /// # Panics
    /// When the engine cannot start (no loopback port, no threads).
    #[track_caller]
    pub fn start(handler: impl EventHandler) -> Self {
        Self::start_with(handler, |_| {})
    }

    /// Starts serving `handler` as [`start`](Self::start) does, with `configure` applied to
    /// the builder last: e.g. `loops(1)` and a [`TestClock`](loopwire::TestClock).
    ///
    /// # Panics
    /// When the engine cannot start (no loopback port, no threads, an invalid option).
    #[track_caller]
    pub fn start_with(
        handler: impl EventHandler,
        configure: impl FnOnce(&mut EngineBuilder),
    ) -> Self {
        let mut builder = Engine::builder();
        builder.addr("tcp://127.0.0.1:0").loops(2);
        configure(&mut builder);
        Self(builder.start(handler).expect("engine starts"))
    }

    /// The TCP address being served (with the port the OS picked).
    ///
    /// # Panics
    /// Never for a server from [`start`](Self::start), which serves one TCP address.
    #[track_caller]
    pub fn addr(&self) -> SocketAddr {
        self.0
            .addrs()
            .iter()
            .find(|a| a.network == Network::Tcp)
            .and_then(|a| a.addr)
            .expect("a TCP address")
    }

    /// A blocking connection to the server, with `TCP_NODELAY` and [`WAIT`] as its read and
    /// write timeouts.
    ///
    /// # Panics
    /// When the connection or its options fail.
    #[track_caller]
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.addr()).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        s.set_write_timeout(Some(WAIT)).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        s
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// A handler wrapped to record, after each `on_traffic`, the largest unsent backlog it left
/// and how often it left reading paused: what the backpressure tests check. It forwards
/// `on_traffic` and `on_writability_changed`, the callbacks a request/response server uses.
#[derive(Debug, Default)]
pub struct Probe<H> {
    /// The handler under test.
    pub inner: H,
    /// The largest [`Conn::outbound_len`] seen after an `on_traffic`.
    pub max_backlog: AtomicUsize,
    /// How many `on_traffic` calls ended with reading paused.
    pub paused: AtomicUsize,
}

impl<H: EventHandler> EventHandler for Probe<H> {
    type State = H::State;

    fn on_traffic(&self, c: &mut Conn<'_, H::State>) -> Action {
        let a = self.inner.on_traffic(c);
        self.max_backlog
            .fetch_max(c.outbound_len(), Ordering::Relaxed);
        if c.is_reading_paused() {
            self.paused.fetch_add(1, Ordering::Relaxed);
        }
        a
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, H::State>, writable: bool) -> Action {
        self.inner.on_writability_changed(c, writable)
    }
}

/// What a [`Recorder`] saw of one connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnLog {
    /// Bytes the engine has shown the handler, each counted once (bytes left unread and shown
    /// again with the next read are not counted twice).
    pub received: usize,
    /// The engine's time ([`Conn::now`]) of each `on_traffic`, in order.
    pub traffic_at: Vec<Duration>,
    /// Why (the [`CloseReason`]'s `Debug` text, e.g. `"ReadTimeout"`) and when
    /// ([`Conn::now`]) the connection closed.
    pub closed: Option<(String, Duration)>,
    /// What the handler left unread after its last `on_traffic`.
    unread: usize,
}

impl ConnLog {
    /// The close as `(reason, engine time)`, borrowed for comparing.
    pub fn close(&self) -> Option<(&str, Duration)> {
        self.closed.as_ref().map(|(r, t)| (r.as_str(), *t))
    }
}

/// A handler wrapped to record, per connection (by the peer's address, which is the test
/// client's `local_addr`), how many bytes the server has been shown, when each `on_traffic`
/// ran and why and when the connection closed, on the engine's clock. A test waits on it
/// ([`wait`](Self::wait), [`wait_received`](Self::wait_received)) for the server to have
/// seen what was sent before it sends more or moves a `TestClock`: the server's view is the
/// verdict, not a sleep. It forwards every callback to the handler under test.
#[derive(Debug, Default)]
pub struct Recorder<H> {
    inner: H,
    conns: Mutex<HashMap<SocketAddr, ConnLog>>,
    changed: Condvar,
}

impl<H> Recorder<H> {
    /// Records what `inner` is shown.
    pub fn new(inner: H) -> Self {
        Self {
            inner,
            conns: Mutex::default(),
            changed: Condvar::new(),
        }
    }

    /// The handler under test.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, ConnLog>> {
        self.conns
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// What has been recorded of the connection from `peer` so far (empty if none opened).
    pub fn log(&self, peer: SocketAddr) -> ConnLog {
        self.lock().get(&peer).cloned().unwrap_or_default()
    }

    /// Waits until the connection from `peer` satisfies `done`, and returns its log.
    ///
    /// # Panics
    /// After [`PATIENCE`] without `done` holding (a hang guard), naming `what`.
    #[track_caller]
    pub fn wait(
        &self,
        peer: SocketAddr,
        what: &str,
        mut done: impl FnMut(&ConnLog) -> bool,
    ) -> ConnLog {
        let start = Instant::now();
        let mut conns = self.lock();
        loop {
            if let Some(log) = conns.get(&peer).filter(|l| done(l)) {
                return log.clone();
            }
            let left = PATIENCE.checked_sub(start.elapsed());
            let Some(left) = left.filter(|l| !l.is_zero()) else {
                panic!(
                    "gave up waiting for {peer}: {what}; seen {:?}",
                    conns.get(&peer)
                );
            };
            conns = self
                .changed
                .wait_timeout(conns, left)
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .0;
        }
    }

    /// Waits until the server has been shown exactly `n` bytes from `peer` (all a client
    /// sent so far), and returns its log.
    ///
    /// # Panics
    /// When it was shown more than `n`, or after [`PATIENCE`] with fewer.
    #[track_caller]
    pub fn wait_received(&self, peer: SocketAddr, n: usize) -> ConnLog {
        let log = self.wait(peer, &format!("{n} bytes received"), |l| l.received >= n);
        assert_eq!(log.received, n, "the server was shown more than was sent");
        log
    }

    fn update(&self, c: &Conn<'_, impl Sized>, f: impl FnOnce(&mut ConnLog)) {
        if let Some(peer) = c.peer_addr() {
            f(self.lock().entry(peer).or_default());
            self.changed.notify_all();
        }
    }
}

impl<H: EventHandler> EventHandler for Recorder<H> {
    type State = H::State;

    fn on_boot(&self, engine: &EngineHandle) -> Action {
        self.inner.on_boot(engine)
    }

    fn on_open(&self, c: &mut Conn<'_, H::State>) -> Action {
        // A new connection from a reused address starts a new log.
        self.update(c, |l| *l = ConnLog::default());
        self.inner.on_open(c)
    }

    fn on_traffic(&self, c: &mut Conn<'_, H::State>) -> Action {
        let shown = c.inbound_len();
        let a = self.inner.on_traffic(c);
        let (now, unread) = (c.now(), c.inbound_len());
        self.update(c, |l| {
            l.received += shown.saturating_sub(l.unread);
            l.unread = unread;
            l.traffic_at.push(now);
        });
        a
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, H::State>, writable: bool) -> Action {
        self.inner.on_writability_changed(c, writable)
    }

    fn on_close(&self, c: &mut Conn<'_, H::State>, reason: CloseReason) -> Action {
        let closed = (format!("{reason:?}"), c.now());
        let a = self.inner.on_close(c, reason);
        self.update(c, |l| l.closed = Some(closed));
        a
    }

    fn on_tick(&self, engine: &EngineHandle) -> (Duration, Action) {
        self.inner.on_tick(engine)
    }

    fn on_shutdown(&self, engine: &EngineHandle) {
        self.inner.on_shutdown(engine);
    }
}

//! What the example servers' integration tests share: a handler served in-process on
//! `127.0.0.1` port 0 ([`TestServer`]) and a handler wrapper that records backpressure
//! ([`Probe`]).
//!
//! Test helpers: they panic (with a message) when the machine cannot give them a socket,
//! which is what a test wants.

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use loopwire::{Action, Conn, Engine, EngineHandle, EventHandler, Network};

/// Upper bound of any single read or write on a [`TestServer::connect`]ed stream.
pub const WAIT: Duration = Duration::from_secs(20);

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
        Self(
            Engine::builder()
                .addr("tcp://127.0.0.1:0")
                .loops(2)
                .start(handler)
                .expect("engine starts"),
        )
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

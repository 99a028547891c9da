//! Helpers for the end-to-end tests: a [`Server`] (a [`Gateway`] on an engine bound to
//! 127.0.0.1 port 0, on a [`TestClock`]) and a [`Client`] speaking the protocol over a
//! blocking `TcpStream`.
//!
//! Time stands still unless a test calls [`Server::advance_to`]; every wait here is a hang
//! guard of [`WAIT`], never a verdict.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loopwire::{Engine, EngineHandle, Network, TestClock};
use loopwire_push::frame::{self, LEN_BYTES};
use loopwire_push::{ClientFrame, Config, Gateway, ServerFrame, StatsSnapshot};

/// Upper bound of any single wait in these tests (a hang guard: nothing passes or fails
/// because of how long something took within it).
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// `n` milliseconds.
pub(crate) const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A gateway on its own engine and test clock; stops the engine when dropped.
pub(crate) struct Server {
    pub(crate) engine: EngineHandle,
    pub(crate) gw: Arc<Gateway>,
    pub(crate) clock: TestClock,
}

impl Server {
    /// A gateway with `config` on two loops.
    pub(crate) fn start(config: Config) -> Self {
        Self::on_loops(config, 2)
    }

    /// A gateway with `config` on `loops` loops. Tests that must show that something did
    /// *not* happen by some clock reading use one loop, where [`Client::settle`] proves that
    /// the loop has run a whole turn at that reading.
    pub(crate) fn on_loops(mut config: Config, loops: usize) -> Self {
        let clock = TestClock::new();
        config.clock = clock.clone().into();
        let gw = Arc::new(Gateway::new(config).expect("config"));
        let mut b = Engine::builder();
        b.addr("tcp://127.0.0.1:0").loops(loops);
        gw.configure(&mut b);
        let engine = b.start(Arc::clone(&gw)).expect("engine starts");
        Self { engine, gw, clock }
    }

    /// Heartbeat 1 s (closed after 1.5 s); retransmit after 300 ms; two loops.
    pub(crate) fn default_test() -> Self {
        let mut c = Config::with_heartbeat(Duration::from_secs(1));
        c.retransmit_after = ms(300);
        Self::start(c)
    }

    /// Moves the test clock forward to `at` since the engine started.
    pub(crate) fn advance_to(&self, at: Duration) {
        let now = self.clock.now();
        assert!(
            at >= now,
            "the clock is at {now:?}, cannot go back to {at:?}"
        );
        self.clock.advance(at - now);
        assert_eq!(self.engine.now(), at);
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.engine
            .addrs()
            .iter()
            .find(|a| a.network == Network::Tcp)
            .and_then(|a| a.addr)
            .expect("a TCP address")
    }

    /// A connected client that said HELLO and got WELCOME.
    pub(crate) fn client(&self, id: &str) -> Client {
        let mut c = Client::connect(self.addr());
        c.send(ClientFrame::Hello(id.as_bytes()));
        match c.recv() {
            Some(Owned::Welcome(hb, window)) => {
                assert_eq!(u128::from(hb), self.gw.config().heartbeat.as_millis());
                assert_eq!(usize::from(window), self.gw.config().window);
            }
            other => panic!("expected WELCOME, got {other:?}"),
        }
        c
    }

    /// The gateway's counters now.
    pub(crate) fn stats(&self) -> StatsSnapshot {
        self.gw.stats()
    }

    /// Waits (at most [`WAIT`]) until `f` holds for the gateway's counters: for what the
    /// loops do after the test can see its effect on a socket (an `on_close` after the FIN).
    pub(crate) fn wait_stats(&self, what: &str, f: impl Fn(&StatsSnapshot) -> bool) {
        let end = Instant::now() + WAIT;
        while !f(&self.gw.stats()) {
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}: {}",
                self.gw.stats()
            );
            std::thread::sleep(ms(1));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.engine.stop();
    }
}

/// A server frame, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owned {
    Welcome(u32, u16),
    Pong(Vec<u8>),
    Push(u64, Vec<u8>, Vec<u8>),
    Error(u16, String),
    Published(u64, u32),
}

/// A PUSH frame.
pub(crate) fn push(id: u64, room: &str, payload: &str) -> Owned {
    Owned::Push(id, room.as_bytes().to_vec(), payload.as_bytes().to_vec())
}

pub(crate) struct Client {
    pub(crate) s: TcpStream,
}

impl Client {
    pub(crate) fn connect(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        s.set_write_timeout(Some(WAIT)).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        Self { s }
    }

    pub(crate) fn send(&mut self, f: ClientFrame<'_>) {
        let mut out = Vec::new();
        frame::encode_client(&f, usize::MAX, &mut out).expect("encode");
        self.s.write_all(&out).expect("send");
    }

    /// The next frame, or `None` at end of stream (or reset); panics after [`WAIT`].
    pub(crate) fn recv(&mut self) -> Option<Owned> {
        let mut len = [0u8; LEN_BYTES];
        match self.s.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return None,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
            Err(e) => panic!("read: {e}"),
        }
        let mut body = vec![0; u32::from_be_bytes(len) as usize];
        self.s.read_exact(&mut body).expect("frame body");
        Some(
            match frame::parse_server(&body).expect("a valid server frame") {
                ServerFrame::Welcome {
                    heartbeat_ms,
                    window,
                } => Owned::Welcome(heartbeat_ms, window),
                ServerFrame::Pong(b) => Owned::Pong(b.to_vec()),
                ServerFrame::Push { id, room, payload } => {
                    Owned::Push(id, room.to_vec(), payload.to_vec())
                }
                ServerFrame::Error { code, reason } => {
                    Owned::Error(code, String::from_utf8_lossy(reason).into_owned())
                }
                ServerFrame::Published { id, members } => Owned::Published(id, members),
            },
        )
    }

    /// PING with `tag`, and every frame before its PONG.
    ///
    /// The PING is read on a loop turn that began after it was sent, so after the test's
    /// last [`Server::advance_to`]: the gateway handles it (and decides what to retransmit)
    /// at the clock's current reading.
    pub(crate) fn sync(&mut self, tag: &[u8]) -> Vec<Owned> {
        self.send(ClientFrame::Ping(tag));
        let mut before = Vec::new();
        loop {
            match self.recv() {
                Some(Owned::Pong(t)) if t == tag => return before,
                Some(f) => before.push(f),
                None => panic!("closed before PONG; got {before:?}"),
            }
        }
    }

    /// Two round trips in a row, each expected to bring nothing else. On a one-loop server,
    /// once this returns the loop has run a whole turn at the clock's current reading,
    /// timers and queued tasks included: the first PING was read on such a turn, and the
    /// second could only be read on a later one. So whatever was due by now has happened.
    /// (This client's own idle timeout restarts: it is traffic.)
    pub(crate) fn settle(&mut self) {
        assert_eq!(self.sync(b"settle-1"), []);
        assert_eq!(self.sync(b"settle-2"), []);
    }

    /// Expects an ERROR with `code`, then the end of the stream.
    pub(crate) fn expect_error_and_close(&mut self, code: u16) {
        match self.recv() {
            Some(Owned::Error(c, reason)) => assert_eq!(c, code, "{reason}"),
            other => panic!("expected ERROR {code}, got {other:?}"),
        }
        assert_eq!(self.recv(), None);
    }
}

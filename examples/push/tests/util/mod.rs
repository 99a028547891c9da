//! Helpers for the end-to-end tests: a [`Server`] (a [`Gateway`] over a [`MemoryStore`] on
//! an engine bound to 127.0.0.1 port 0, on a [`TestClock`], optionally with its HTTP API on
//! a second engine) and a [`Client`] speaking the protocol over a blocking `TcpStream`.
//!
//! Time stands still unless a test calls [`Server::advance_to`]; token times are checked
//! at [`EPOCH`] plus the test clock. Every wait here is a hang guard of [`WAIT`], never a
//! verdict.

// Each test file uses a part of these helpers.
#![allow(dead_code)]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loopwire::{Engine, EngineHandle, Network, TestClock};
use loopwire_push::api::{ApiConfig, ApiHandler};
use loopwire_push::auth::{Claims, Secret, Signer, Verifier, VerifierOptions};
use loopwire_push::frame::{self, LEN_BYTES};
use loopwire_push::store::{MemoryStore, StoreConfig, StoreStats};
use loopwire_push::{ClientFrame, Config, Gateway, PushKind, ServerFrame, StatsSnapshot};

/// Upper bound of any single wait in these tests (a hang guard: nothing passes or fails
/// because of how long something took within it).
pub(crate) const WAIT: Duration = Duration::from_secs(10);

/// Seconds since the Unix epoch when the test clock reads 0.
pub(crate) const EPOCH: u64 = 1_700_000_000;

/// The API's bearer token in these tests.
pub(crate) const API_TOKEN: &str = "api-token-for-tests";

/// `n` milliseconds.
pub(crate) const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The token secret of these tests.
pub(crate) fn secret() -> Secret {
    Secret::from_bytes(b"a-test-secret-of-at-least-32-bytes!!").expect("secret")
}

/// A token for `user`, granting `rooms`, expiring at `exp` (Unix seconds).
pub(crate) fn token_until(user: &str, rooms: &[&str], exp: u64) -> String {
    let mut c = Claims::new(user, exp);
    c.rooms = rooms.iter().map(|r| r.to_string()).collect();
    Signer::new(&secret()).sign(&c)
}

/// A token for `user` granting `rooms`, valid for an hour of the test clock.
pub(crate) fn token(user: &str, rooms: &[&str]) -> String {
    token_until(user, rooms, EPOCH + 3600)
}

/// A gateway on its own engine and test clock; stops the engines when dropped.
pub(crate) struct Server {
    pub(crate) engine: EngineHandle,
    pub(crate) api: Option<EngineHandle>,
    pub(crate) gw: Arc<Gateway>,
    pub(crate) clock: TestClock,
}

impl Server {
    /// A gateway with `config` on two loops.
    pub(crate) fn start(config: Config) -> Self {
        Self::build(config, 2, StoreConfig::default(), false)
    }

    /// A gateway with `config` on `loops` loops. Tests that must show that something did
    /// *not* happen by some clock reading use one loop, where [`Client::settle`] proves that
    /// the loop has run a whole turn at that reading.
    pub(crate) fn on_loops(config: Config, loops: usize) -> Self {
        Self::build(config, loops, StoreConfig::default(), false)
    }

    /// The whole thing: gateway, store with `store`, and the HTTP API if `api`.
    pub(crate) fn build(mut config: Config, loops: usize, store: StoreConfig, api: bool) -> Self {
        let clock = TestClock::new();
        config.clock = clock.clone().into();
        config.unix_epoch_offset_secs = EPOCH;
        let verifier = Verifier::with_options(
            &secret(),
            VerifierOptions {
                leeway_secs: 0,
                ..VerifierOptions::default()
            },
        );
        let store = Arc::new(MemoryStore::new(store).expect("store config"));
        let gw = Arc::new(Gateway::new(config, verifier, store).expect("config"));
        let mut b = Engine::builder();
        b.addr("tcp://127.0.0.1:0").loops(loops);
        gw.configure(&mut b);
        let engine = b.start(Arc::clone(&gw)).expect("engine starts");
        let api = api.then(|| {
            let handler =
                ApiHandler::new(ApiConfig::new(API_TOKEN), Arc::clone(&gw)).expect("api config");
            let handler = Arc::new(handler);
            let mut b = Engine::builder();
            b.addr("tcp://127.0.0.1:0").loops(1);
            handler.configure(&mut b);
            b.start(handler).expect("api engine starts")
        });
        Self {
            engine,
            api,
            gw,
            clock,
        }
    }

    /// Heartbeat 1 s (closed after 1.5 s); retransmit after 300 ms; two loops.
    pub(crate) fn default_test() -> Self {
        Self::start(test_config())
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
        tcp_addr(&self.engine)
    }

    /// The HTTP API's address (the server was built with it).
    pub(crate) fn api_addr(&self) -> SocketAddr {
        tcp_addr(self.api.as_ref().expect("built with the API"))
    }

    /// A client of `user` granted every room (`*`), with the default heartbeat.
    pub(crate) fn client(&self, user: &str) -> Client {
        self.login(user, &["*"])
    }

    /// A client of `user` granted `rooms`, with the default heartbeat; checks WELCOME.
    pub(crate) fn login(&self, user: &str, rooms: &[&str]) -> Client {
        let mut c = Client::connect(self.addr());
        c.auth(0, &token(user, rooms));
        match c.recv() {
            Some(Owned::Welcome(hb, window, u)) => {
                assert_eq!(u128::from(hb), self.gw.config().heartbeat.as_millis());
                assert_eq!(usize::from(window), self.gw.config().window);
                assert_eq!(u, user.as_bytes());
            }
            other => panic!("expected WELCOME, got {other:?}"),
        }
        c
    }

    /// The gateway's counters now.
    pub(crate) fn stats(&self) -> StatsSnapshot {
        self.gw.stats()
    }

    /// The store's counters now.
    pub(crate) fn store_stats(&self) -> StoreStats {
        self.gw.store_stats()
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

/// Heartbeat 1 s (bounds 100 ms to 10 s), retransmit after 300 ms, AUTH within 500 ms.
pub(crate) fn test_config() -> Config {
    let mut c = Config::with_heartbeat(Duration::from_secs(1));
    c.min_heartbeat = ms(100);
    c.max_heartbeat = Duration::from_secs(10);
    c.retransmit_after = Some(ms(300));
    c.auth_timeout = ms(500);
    c
}

fn tcp_addr(engine: &EngineHandle) -> SocketAddr {
    engine
        .addrs()
        .iter()
        .find(|a| a.network == Network::Tcp)
        .and_then(|a| a.addr)
        .expect("a TCP address")
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(api) = &self.api {
            api.stop();
        }
        self.engine.stop();
    }
}

/// A server frame, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owned {
    Welcome(u32, u16, Vec<u8>),
    Pong(Vec<u8>),
    Push(u64, PushKind, Vec<u8>, Vec<u8>),
    Error(u16, String),
    Kick(u16, String),
}

/// A PUSH frame to a room.
pub(crate) fn push(id: u64, room: &str, payload: &str) -> Owned {
    Owned::Push(id, PushKind::Room, room.into(), payload.into())
}

/// A PUSH frame to the user.
pub(crate) fn to_user(id: u64, payload: &str) -> Owned {
    Owned::Push(id, PushKind::User, Vec::new(), payload.into())
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

    /// Sends AUTH.
    pub(crate) fn auth(&mut self, heartbeat_ms: u32, token: &str) {
        self.send(ClientFrame::Auth {
            heartbeat_ms,
            token: token.as_bytes(),
        });
    }

    /// The next frame, or `None` at end of stream (or reset); panics after [`WAIT`].
    pub(crate) fn recv(&mut self) -> Option<Owned> {
        read_frame(&mut self.s)
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
    /// timers and queued tasks included. (This client's own read deadline restarts: it is
    /// traffic.)
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

    /// Expects a KICK with `code` (returns its reason), then the end of the stream.
    pub(crate) fn expect_kick_and_close(&mut self, code: u16) -> String {
        let reason = match self.recv() {
            Some(Owned::Kick(c, reason)) if c == code => reason,
            other => panic!("expected KICK {code}, got {other:?}"),
        };
        assert_eq!(self.recv(), None);
        reason
    }

    /// ACKs every id of `frames` that wants one.
    pub(crate) fn ack_all(&mut self, frames: &[Owned]) {
        for f in frames {
            if let Owned::Push(id, ..) = f
                && *id != 0
            {
                self.send(ClientFrame::Ack(*id));
            }
        }
    }
}

/// The ids of the PUSH frames among `frames`.
pub(crate) fn ids(frames: &[Owned]) -> Vec<u64> {
    frames
        .iter()
        .filter_map(|f| match f {
            Owned::Push(id, ..) => Some(*id),
            _ => None,
        })
        .collect()
}

/// The next server frame on `r` (any stream: TCP, TLS), or `None` at end of stream (or
/// reset); panics after the stream's read timeout.
pub(crate) fn read_frame(r: &mut impl Read) -> Option<Owned> {
    let mut len = [0u8; LEN_BYTES];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => return None,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => return None,
        Err(e) => panic!("read: {e}"),
    }
    let mut body = vec![0; u32::from_be_bytes(len) as usize];
    r.read_exact(&mut body).expect("frame body");
    Some(owned(&body))
}

/// A server frame's `type | body` as an [`Owned`] value; panics on an invalid frame.
pub(crate) fn owned(body: &[u8]) -> Owned {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match frame::parse_server(body).expect("a valid server frame") {
        ServerFrame::Welcome {
            heartbeat_ms,
            window,
            user,
        } => Owned::Welcome(heartbeat_ms, window, user.to_vec()),
        ServerFrame::Pong(b) => Owned::Pong(b.to_vec()),
        ServerFrame::Push {
            id,
            kind,
            room,
            payload,
        } => Owned::Push(id, kind, room.to_vec(), payload.to_vec()),
        ServerFrame::Error { code, reason } => Owned::Error(code, text(reason)),
        ServerFrame::Kick { code, reason } => Owned::Kick(code, text(reason)),
    }
}

/// Reading a WebSocket message again when a receive with a timeout ended in `EINTR` (the test
/// process was stopped and continued): tungstenite keeps its state, the next read resumes.
pub(crate) trait ReadMessage {
    /// The next message, as `WebSocket::read`, without `Interrupted` errors.
    fn next_message(&mut self) -> tungstenite::Result<tungstenite::Message>;
}

impl<S: Read + Write> ReadMessage for tungstenite::WebSocket<S> {
    fn next_message(&mut self) -> tungstenite::Result<tungstenite::Message> {
        loop {
            match self.read() {
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::Interrupted => continue,
                r => return r,
            }
        }
    }
}

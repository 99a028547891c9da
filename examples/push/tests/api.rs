//! The HTTP API end to end: an [`ApiHandler`] over a recording [`Backend`] runs on a one-loop
//! engine bound to 127.0.0.1 port 0; each test talks HTTP/1.1 over `TcpStream`s (10 s read
//! timeouts as hang guards only) and checks responses, the calls the backend saw, and their
//! order. Deadline tests run the engine on a `TestClock` and assert at exact readings.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loopwire::{Engine, EngineHandle, Network, TestClock};
use loopwire_push::api::{
    ApiConfig, ApiHandler, ApiStats, Backend, BackendError, Kick, Kicked, Message, Metric, Name,
    Online, PushAll, PushRoom, PushUser, PushUsers, Pushed, Qos, Reply, RoomCount, RoomMembers,
    UserOnline,
};

/// Upper bound of any single wait in these tests (a hang guard, never a measured window).
const WAIT: Duration = Duration::from_secs(10);
const TOKEN: &str = "t0k3n-for-tests";

// ---- the recording backend ----------------------------------------------------------------

/// A call the backend received.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    PushUser(PushUser),
    PushUsers(PushUsers),
    PushRoom(PushRoom),
    PushAll(PushAll),
    Kick(Kick),
    Online(Online),
    RoomCount(RoomCount),
    Stats,
}

/// A push the test answers itself: the call and its reply.
type Deferred = (Call, Reply<Pushed>);

/// Records every call. Pushes answer at once with a fixed session count, fail with a set
/// error, or (deferred) hand their `Reply` to the test through a channel.
#[derive(Default)]
struct TestBackend {
    calls: Mutex<Vec<Call>>,
    /// Calls and replies in the order they happened ("call a", "reply a").
    log: Mutex<Vec<String>>,
    defer: AtomicBool,
    deferred: Mutex<Option<Sender<Deferred>>>,
    fail: Mutex<Option<BackendError>>,
}

impl TestBackend {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("lock").clone()
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().expect("lock").clone()
    }

    fn note(&self, event: String) {
        self.log.lock().expect("lock").push(event);
    }

    /// Pushes from now on hand their replies to the returned receiver.
    fn defer(&self) -> Receiver<Deferred> {
        let (tx, rx) = mpsc::channel();
        *self.deferred.lock().expect("lock") = Some(tx);
        self.defer.store(true, Ordering::SeqCst);
        rx
    }

    fn fail_with(&self, e: Option<BackendError>) {
        *self.fail.lock().expect("lock") = e;
    }

    fn push(&self, call: Call, who: String, sessions: u64, reply: Reply<Pushed>) {
        self.calls.lock().expect("lock").push(call.clone());
        self.note(format!("call {who}"));
        if self.defer.load(Ordering::SeqCst) {
            let tx = self
                .deferred
                .lock()
                .expect("lock")
                .clone()
                .expect("a channel");
            tx.send((call, reply)).expect("the test listens");
            return;
        }
        match self.fail.lock().expect("lock").clone() {
            Some(e) => reply.err(e),
            None => reply.ok(Pushed { sessions }),
        }
    }
}

impl Backend for TestBackend {
    fn push_user(&self, req: PushUser, reply: Reply<Pushed>) {
        let who = req.user.to_string();
        self.push(Call::PushUser(req), who, 2, reply);
    }

    fn push_users(&self, req: PushUsers, reply: Reply<Pushed>) {
        let n = req.users.len() as u64;
        self.push(Call::PushUsers(req), "users".into(), n, reply);
    }

    fn push_room(&self, req: PushRoom, reply: Reply<Pushed>) {
        let who = req.room.to_string();
        self.push(Call::PushRoom(req), who, 5, reply);
    }

    fn push_all(&self, req: PushAll, reply: Reply<Pushed>) {
        self.push(Call::PushAll(req), "all".into(), 7, reply);
    }

    fn kick(&self, req: Kick, reply: Reply<Kicked>) {
        self.calls.lock().expect("lock").push(Call::Kick(req));
        reply.ok(Kicked { sessions: 1 });
    }

    fn online(&self, req: Online, reply: Reply<Vec<UserOnline>>) {
        // Users whose name starts with "on" have two sessions.
        let users = req
            .users
            .iter()
            .map(|u| UserOnline {
                user: u.clone(),
                sessions: if u.as_str().starts_with("on") { 2 } else { 0 },
            })
            .collect();
        self.calls.lock().expect("lock").push(Call::Online(req));
        reply.ok(users);
    }

    fn room_count(&self, req: RoomCount, reply: Reply<RoomMembers>) {
        let members = req.room.as_bytes().len() as u64;
        self.calls.lock().expect("lock").push(Call::RoomCount(req));
        reply.ok(RoomMembers { members });
    }

    fn stats(&self, reply: Reply<Vec<Metric>>) {
        self.calls.lock().expect("lock").push(Call::Stats);
        reply.ok(vec![
            Metric::gauge("push_sessions", "Open sessions \\ with a\nnewline.", 42),
            Metric::counter("push_published_total", "Messages published.", 9),
            Metric::gauge("bad-name", "Not a Prometheus name: left out.", 1),
        ]);
    }
}

// ---- the server ---------------------------------------------------------------------------

/// The API on a one-loop engine; stops the engine when dropped.
struct Server {
    engine: EngineHandle,
    api: Arc<ApiHandler<Arc<TestBackend>>>,
    backend: Arc<TestBackend>,
    clock: Option<TestClock>,
}

impl Server {
    fn start(config: ApiConfig, clock: Option<TestClock>) -> Self {
        let backend = Arc::new(TestBackend::default());
        let api = Arc::new(ApiHandler::new(config, Arc::clone(&backend)).expect("config"));
        let mut b = Engine::builder();
        b.addr("tcp://127.0.0.1:0").loops(1);
        api.configure(&mut b);
        if let Some(clock) = &clock {
            b.clock(clock.clone());
        }
        let engine = b.start(Arc::clone(&api)).expect("engine starts");
        Self {
            engine,
            api,
            backend,
            clock,
        }
    }

    fn default_test() -> Self {
        Self::start(ApiConfig::new(TOKEN), None)
    }

    /// On a test clock: requests must arrive within 5 s, replies within 3 s.
    fn on_test_clock() -> Self {
        let mut c = ApiConfig::new(TOKEN);
        c.request_timeout = Duration::from_secs(5);
        c.reply_timeout = Duration::from_secs(3);
        Self::start(c, Some(TestClock::new()))
    }

    fn addr(&self) -> SocketAddr {
        self.engine
            .addrs()
            .iter()
            .find(|a| a.network == Network::Tcp)
            .and_then(|a| a.addr)
            .expect("a TCP address")
    }

    fn client(&self) -> Client {
        Client::connect(self.addr())
    }

    fn stats(&self) -> ApiStats {
        self.api.stats()
    }

    /// Waits (bounded) until `f` holds for the API's counters.
    fn wait_stats(&self, what: &str, f: impl Fn(&ApiStats) -> bool) {
        let end = Instant::now() + WAIT;
        while !f(&self.stats()) {
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}: {:?}",
                self.stats()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn advance(&self, by: Duration) {
        self.clock.as_ref().expect("a test clock").advance(by);
    }

    fn now(&self) -> Duration {
        self.engine.now()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.engine.stop();
    }
}

// ---- the client ---------------------------------------------------------------------------

/// One response as read.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The `code` of a JSON error body.
    fn code(&self) -> String {
        let v = self.json();
        v["error"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("not an error body: {v}"))
            .to_owned()
    }

    fn closes(&self) -> bool {
        self.header("connection") == Some("close")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A request's bytes: `Host`, the token if `auth`, `Content-Length` for a body.
fn req(method: &str, path: &str, body: Option<&str>, auth: bool) -> Vec<u8> {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: api\r\n");
    if auth {
        r.push_str(&format!("Authorization: Bearer {TOKEN}\r\n"));
    }
    if let Some(b) = body {
        r.push_str(&format!("Content-Length: {}\r\n\r\n{b}", b.len()));
    } else {
        r.push_str("\r\n");
    }
    r.into_bytes()
}

fn get(path: &str) -> Vec<u8> {
    req("GET", path, None, true)
}

fn post(path: &str, body: &str) -> Vec<u8> {
    req("POST", path, Some(body), true)
}

struct Client {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        Self { s, buf: Vec::new() }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).expect("send");
    }

    /// Reads more bytes; `false` at end of stream.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.s.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => true,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read failed (hang guard: {WAIT:?}): {e}"),
        }
    }

    /// The next response (an interim `100 Continue` too).
    fn recv(&mut self) -> Resp {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8(self.buf[..end].to_vec()).expect("ASCII head");
                let mut lines = head.split("\r\n");
                let status_line = lines.next().expect("a status line");
                assert!(status_line.starts_with("HTTP/1.1 "), "{status_line}");
                let status = status_line[9..12].parse().expect("a status");
                let headers: Vec<(String, String)> = lines
                    .map(|l| {
                        let (n, v) = l.split_once(": ").expect("a header line");
                        (n.to_owned(), v.to_owned())
                    })
                    .collect();
                let len: usize = headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |(_, v)| v.parse().expect("a length"));
                let total = end + 4 + len;
                while self.buf.len() < total {
                    assert!(self.fill(), "the connection closed inside a response");
                }
                let body = self.buf[end + 4..total].to_vec();
                self.buf.drain(..total);
                return Resp {
                    status,
                    headers,
                    body,
                };
            }
            assert!(
                self.fill(),
                "the connection closed; unparsed: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Sends `request`, returns its response.
    fn call(&mut self, request: &[u8]) -> Resp {
        self.send(request);
        self.recv()
    }

    /// The server closed the connection, with nothing more sent.
    fn expect_closed(&mut self) {
        assert!(
            !self.fill(),
            "more bytes: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
        assert!(
            self.buf.is_empty(),
            "{:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    /// Nothing has arrived and the connection is open (no response, no end of stream).
    fn expect_silent(&mut self) {
        self.s.set_nonblocking(true).expect("nonblocking");
        let mut b = [0u8; 256];
        match self.s.read(&mut b) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Ok(0) => panic!("the connection closed"),
            Ok(n) => panic!("unexpected bytes: {:?}", String::from_utf8_lossy(&b[..n])),
            Err(e) => panic!("read failed: {e}"),
        }
        self.s.set_nonblocking(false).expect("blocking");
    }
}

fn name(s: &str) -> Name {
    Name::new(s.to_owned(), 64).expect("a valid name")
}

fn msg(payload: &[u8], qos: Qos, ttl: Option<u64>) -> Message {
    Message {
        payload: payload.to_vec().into(),
        qos,
        ttl: ttl.map(Duration::from_secs),
    }
}

// ---- endpoints ----------------------------------------------------------------------------

#[test]
fn health_needs_no_token() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let r = c.call(&req("GET", "/health", None, false));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), serde_json::json!({"ok": true}));
    assert!(!r.closes());
    // Only GET /health is open: another method needs the token first.
    let r = c.call(&req("POST", "/health", Some("{}"), false));
    assert_eq!((r.status, r.code()), (401, "unauthorized".into()));
    assert!(srv.backend.calls().is_empty());
    assert_eq!(srv.stats().count("health", 200), 1);
}

#[test]
fn the_token_is_required_and_checked() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let wrong = [
        None,
        Some("Bearer wrong"),
        Some(&*format!("Bearer {TOKEN}x")),
        Some(&TOKEN[..TOKEN.len() - 1]),
        Some(&*format!("Basic {TOKEN}")),
        Some(&*format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
    ];
    for auth in wrong {
        let mut r = "GET /v1/stats HTTP/1.1\r\nHost: a\r\n".to_owned();
        if let Some(a) = auth {
            r.push_str(&format!("Authorization: {a}\r\n"));
        }
        r.push_str("\r\n");
        let resp = c.call(r.as_bytes());
        assert_eq!(resp.status, 401, "{auth:?}");
        assert_eq!(resp.code(), "unauthorized");
        assert_eq!(resp.header("www-authenticate"), Some("Bearer"));
        assert!(
            !resp.closes(),
            "a refusal without a body keeps the connection"
        );
    }
    // Unknown paths are not revealed without the token.
    let r = c.call(&req("GET", "/v1/secret", None, false));
    assert_eq!(r.status, 401);
    // Two Authorization headers, even with the right token first: refused.
    let twice = format!(
        "GET /v1/stats HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nAuthorization: Bearer x\r\n\r\n"
    );
    assert_eq!(c.call(twice.as_bytes()).status, 401);
    // The scheme is case-insensitive.
    let lower = format!("GET /v1/stats HTTP/1.1\r\nAuthorization: bearer {TOKEN}\r\n\r\n");
    assert_eq!(c.call(lower.as_bytes()).status, 200);
    assert_eq!(srv.backend.calls(), vec![Call::Stats]);
    assert_eq!(srv.stats().count("none", 401), 8);
    // A refused request with a body closes: the body is not read.
    let r = c.call(&req(
        "POST",
        "/v1/push/all",
        Some(r#"{"payload":"x"}"#),
        false,
    ));
    assert_eq!(r.status, 401);
    assert!(r.closes());
    c.expect_closed();
    assert_eq!(srv.backend.calls(), vec![Call::Stats]);
}

#[test]
fn pushes_reach_the_backend() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let cases: [(&str, &str, u64); 6] = [
        ("/v1/push/user", r#"{"user":"u1","payload":"héllo"}"#, 2),
        (
            "/v1/push/user",
            r#"{"user":"u2","payload_base64":"AP8Q","qos":0,"ttl_secs":60}"#,
            2,
        ),
        (
            "/v1/push/users",
            r#"{"users":["a","b","c"],"payload":"x","qos":1}"#,
            3,
        ),
        (
            "/v1/push/room",
            r#"{"room":"news","payload":"r","ttl_secs":1}"#,
            5,
        ),
        ("/v1/push/all", r#"{"payload":"","qos":0}"#, 7),
        ("/v1/kick", r#"{"user":"u1","reason":"bye"}"#, 1),
    ];
    for (path, body, sessions) in cases {
        let r = c.call(&post(path, body));
        assert_eq!(r.status, 200, "{path} {body}: {}", r.text());
        assert_eq!(
            r.json(),
            serde_json::json!({ "sessions": sessions }),
            "{path}"
        );
    }
    assert_eq!(
        srv.backend.calls(),
        vec![
            Call::PushUser(PushUser {
                user: name("u1"),
                message: msg("héllo".as_bytes(), Qos::AtLeastOnce, None),
            }),
            Call::PushUser(PushUser {
                user: name("u2"),
                message: msg(&[0, 0xff, 0x10], Qos::AtMostOnce, Some(60)),
            }),
            Call::PushUsers(PushUsers {
                users: vec![name("a"), name("b"), name("c")],
                message: msg(b"x", Qos::AtLeastOnce, None),
            }),
            Call::PushRoom(PushRoom {
                room: name("news"),
                message: msg(b"r", Qos::AtLeastOnce, Some(1)),
            }),
            Call::PushAll(PushAll {
                message: msg(b"", Qos::AtMostOnce, None),
            }),
            Call::Kick(Kick {
                user: name("u1"),
                reason: "bye".into(),
            }),
        ]
    );
    let s = srv.stats();
    assert_eq!(
        (
            s.count("push_user", 200),
            s.count("push_users", 200),
            s.count("push_room", 200),
            s.count("push_all", 200),
            s.count("kick", 200)
        ),
        (2, 1, 1, 1, 1)
    );
}

#[test]
fn online_and_room_count() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let r = c.call(&post("/v1/online", r#"{"users":["on1","off","on2"]}"#));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        serde_json::json!({"users": [
            {"user": "on1", "online": true, "sessions": 2},
            {"user": "off", "online": false, "sessions": 0},
            {"user": "on2", "online": true, "sessions": 2},
        ]})
    );
    // The room is percent-decoded: "a b/c" has 5 bytes, the test backend's member count.
    let r = c.call(&get("/v1/rooms/a%20b%2Fc/count"));
    assert_eq!(
        (r.status, r.json()),
        (200, serde_json::json!({"members": 5}))
    );
    let r = c.call(&get("/v1/rooms/%ZZ/count"));
    assert_eq!((r.status, r.code()), (400, "bad_path".into()));
    let long = "r".repeat(65);
    let r = c.call(&get(&format!("/v1/rooms/{long}/count")));
    assert_eq!((r.status, r.code()), (400, "bad_name".into()));
    assert_eq!(
        srv.backend.calls(),
        vec![
            Call::Online(Online {
                users: vec![name("on1"), name("off"), name("on2")],
            }),
            Call::RoomCount(RoomCount {
                room: name("a b/c")
            }),
        ]
    );
}

#[test]
fn stats_are_json() {
    let srv = Server::default_test();
    let mut c = srv.client();
    c.call(&req("GET", "/health", None, false));
    c.call(&post("/v1/push/user", r#"{"user":"u","payload":"p"}"#));
    c.call(&post("/v1/push/user", r#"{"user":"u"}"#));
    let r = c.call(&get("/v1/stats"));
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["api"]["connections"], 1);
    assert_eq!(v["api"]["connections_total"], 1);
    assert_eq!(v["api"]["requests_partial"], 0);
    assert_eq!(v["api"]["backend_pending"], 0);
    assert_eq!(
        v["api"]["requests"],
        serde_json::json!({"health": {"200": 1}, "push_user": {"200": 1, "400": 1}})
    );
    assert_eq!(v["gateway"]["push_sessions"], 42);
    assert_eq!(v["gateway"]["push_published_total"], 9);
}

#[test]
fn metrics_are_prometheus_text() {
    let srv = Server::default_test();
    let mut c = srv.client();
    c.call(&req("GET", "/health", None, false));
    c.call(&req("GET", "/health", None, false));
    c.call(&get("/nope"));
    let r = c.call(&get("/metrics"));
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.text();
    assert!(text.ends_with('\n'));

    // Parse the exposition: each family's HELP and TYPE come before its samples.
    let mut help = std::collections::HashMap::new();
    let mut kind = std::collections::HashMap::new();
    let mut samples: Vec<(String, String, f64)> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (n, h) = rest.split_once(' ').expect("HELP name text");
            assert!(
                help.insert(n.to_owned(), h.to_owned()).is_none(),
                "HELP twice: {n}"
            );
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (n, t) = rest.split_once(' ').expect("TYPE name type");
            assert!(matches!(t, "counter" | "gauge"), "{line}");
            assert!(help.contains_key(n), "TYPE before HELP: {n}");
            assert!(
                kind.insert(n.to_owned(), t.to_owned()).is_none(),
                "TYPE twice: {n}"
            );
        } else {
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let (family, labels) = match series.split_once('{') {
                Some((f, l)) => (f, l.strip_suffix('}').expect("closing brace")),
                None => (series, ""),
            };
            assert!(
                family
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
                "{family}"
            );
            assert!(
                kind.contains_key(family),
                "a sample before its TYPE: {line}"
            );
            if kind[family] == "counter" {
                assert!(family.ends_with("_total"), "counter {family}");
            }
            let value: f64 = value.parse().expect("a number");
            samples.push((family.to_owned(), labels.to_owned(), value));
        }
    }
    let value = |f: &str, l: &str| {
        samples
            .iter()
            .find(|(sf, sl, _)| sf == f && sl == l)
            .map(|s| s.2)
    };
    assert_eq!(value("push_api_connections", ""), Some(1.0));
    assert_eq!(value("push_api_connections_total", ""), Some(1.0));
    assert_eq!(value("push_api_requests_partial", ""), Some(0.0));
    assert_eq!(
        value("push_api_requests_total", r#"endpoint="health",code="200""#),
        Some(2.0)
    );
    assert_eq!(
        value("push_api_requests_total", r#"endpoint="none",code="404""#),
        Some(1.0)
    );
    assert_eq!(value("push_sessions", ""), Some(42.0));
    assert_eq!(value("push_published_total", ""), Some(9.0));
    assert_eq!(
        help["push_sessions"],
        "Open sessions \\\\ with a\\nnewline."
    );
    assert_eq!(kind["push_sessions"], "gauge");
    assert!(!text.contains("bad-name"), "an invalid name is left out");
}

// ---- refusals -----------------------------------------------------------------------------

#[test]
fn bad_bodies_are_400_and_keep_the_connection() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let long = "u".repeat(65);
    let many: Vec<String> = (0..1001).map(|i| format!("u{i}")).collect();
    let many = serde_json::to_string(&many).expect("json");
    let big = "x".repeat(8 * 1024 + 1);
    let cases: Vec<(&str, String, &str)> = vec![
        ("/v1/push/user", "{".into(), "bad_json"),
        ("/v1/push/user", "".into(), "bad_json"),
        (
            "/v1/push/user",
            r#"{"user":"u","payload":"x"} x"#.into(),
            "bad_json",
        ),
        (
            "/v1/push/user",
            r#"{"user":"u","payload":"x","extra":1}"#.into(),
            "bad_json",
        ),
        (
            "/v1/push/user",
            r#"{"user":"u","user":"v","payload":"x"}"#.into(),
            "bad_json",
        ),
        (
            "/v1/push/user",
            r#"{"user":7,"payload":"x"}"#.into(),
            "bad_json",
        ),
        (
            "/v1/push/user",
            r#"{"user":"u","payload":"x","qos":"1"}"#.into(),
            "bad_json",
        ),
        ("/v1/push/user", r#"{"payload":"x"}"#.into(), "bad_json"),
        (
            "/v1/push/user",
            r#"{"user":"","payload":"x"}"#.into(),
            "bad_name",
        ),
        (
            "/v1/push/user",
            format!(r#"{{"user":"{long}","payload":"x"}}"#),
            "bad_name",
        ),
        ("/v1/push/user", r#"{"user":"u"}"#.into(), "bad_payload"),
        (
            "/v1/push/user",
            r#"{"user":"u","payload":"x","payload_base64":"eA=="}"#.into(),
            "bad_payload",
        ),
        (
            "/v1/push/user",
            r#"{"user":"u","payload_base64":"e"}"#.into(),
            "bad_payload",
        ),
        (
            "/v1/push/user",
            format!(r#"{{"user":"u","payload":"{big}"}}"#),
            "payload_too_large",
        ),
        (
            "/v1/push/room",
            r#"{"room":"r","payload":"x","qos":2}"#.into(),
            "bad_qos",
        ),
        (
            "/v1/push/all",
            r#"{"payload":"x","ttl_secs":0}"#.into(),
            "bad_ttl",
        ),
        (
            "/v1/push/all",
            r#"{"payload":"x","ttl_secs":86401}"#.into(),
            "bad_ttl",
        ),
        (
            "/v1/push/users",
            r#"{"users":[],"payload":"x"}"#.into(),
            "bad_users",
        ),
        (
            "/v1/push/users",
            format!(r#"{{"users":{many},"payload":"x"}}"#),
            "bad_users",
        ),
        ("/v1/online", r#"{"users":["a","a"]}"#.into(), "bad_users"),
        ("/v1/online", r#"{"users":"a"}"#.into(), "bad_json"),
        (
            "/v1/kick",
            format!(r#"{{"user":"u","reason":"{}"}}"#, "r".repeat(257)),
            "bad_reason",
        ),
    ];
    for (path, body, code) in &cases {
        let r = c.call(&post(path, body));
        assert_eq!(r.status, 400, "{path} {body}");
        assert_eq!(r.code(), *code, "{path} {body}: {}", r.text());
        let message = r.json()["error"]["message"].as_str().map(str::len);
        assert!(message.is_some_and(|n| n > 0), "a message");
        assert!(!r.closes());
    }
    assert!(
        srv.backend.calls().is_empty(),
        "nothing invalid reached the backend"
    );
    // The same connection still serves.
    let r = c.call(&post("/v1/push/user", r#"{"user":"u","payload":"ok"}"#));
    assert_eq!(r.status, 200);
    assert_eq!(srv.backend.calls().len(), 1);
    let s = srv.stats();
    assert_eq!(s.connections_total, 1);
    assert_eq!(s.requests_total(), cases.len() as u64 + 1);
}

#[test]
fn unknown_paths_are_404_and_wrong_methods_405() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let r = c.call(&get("/v2/push"));
    assert_eq!((r.status, r.code()), (404, "not_found".into()));
    for (method, path, allow) in [
        ("GET", "/v1/push/user", "POST"),
        ("PUT", "/v1/kick", "POST"),
        ("DELETE", "/metrics", "GET"),
        ("POST", "/v1/rooms/r/count", "GET"),
    ] {
        let body = (method == "POST").then_some("{}");
        let r = c.call(&req(method, path, body, true));
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.code(), "method_not_allowed");
        assert_eq!(r.header("allow"), Some(allow));
        // A refused request with a body closes the connection.
        if body.is_some() {
            assert!(r.closes());
            c.expect_closed();
            c = srv.client();
        }
    }
    assert!(srv.backend.calls().is_empty());
    assert_eq!(srv.stats().count("none", 405), 4);
}

#[test]
fn malformed_heads_are_answered_and_close() {
    let srv = Server::default_test();
    let cases: [(&[u8], u16, &str); 5] = [
        (b"HELLO\r\n\r\n", 400, "bad_request"),
        (b"GET /health HTTP/1.1 x\r\n\r\n", 400, "bad_request"),
        (
            b"GET /health HTTP/1.1\r\nNo Colon\r\n\r\n",
            400,
            "bad_request",
        ),
        (
            b"GET /health HTTP/2.0\r\n\r\n",
            505,
            "version_not_supported",
        ),
        (
            b"POST /v1/kick HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
            400,
            "bad_request",
        ),
    ];
    for (bytes, status, code) in cases {
        let mut c = srv.client();
        let r = c.call(bytes);
        let what = String::from_utf8_lossy(bytes);
        assert_eq!((r.status, r.code()), (status, code.to_owned()), "{what}");
        assert!(r.closes(), "{what}");
        c.expect_closed();
    }
    assert!(srv.backend.calls().is_empty());
}

#[test]
fn a_head_over_the_limit_is_431() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let big = format!(
        "GET /health HTTP/1.1\r\nX-Big: {}\r\n\r\n",
        "b".repeat(9000)
    );
    let r = c.call(big.as_bytes());
    assert_eq!((r.status, r.code()), (431, "head_too_large".into()));
    assert!(r.closes());
    c.expect_closed();

    let mut c = srv.client();
    let mut many = "GET /health HTTP/1.1\r\n".to_owned();
    for i in 0..33 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    let r = c.call(many.as_bytes());
    assert_eq!((r.status, r.code()), (431, "too_many_headers".into()));
    c.expect_closed();
    // Exactly the allowed number is fine.
    let mut c = srv.client();
    let mut ok = "GET /health HTTP/1.1\r\n".to_owned();
    for i in 0..32 {
        ok.push_str(&format!("X-{i}: v\r\n"));
    }
    ok.push_str("\r\n");
    assert_eq!(c.call(ok.as_bytes()).status, 200);
}

#[test]
fn a_body_over_the_limit_is_413_and_not_read() {
    let mut config = ApiConfig::new(TOKEN);
    config.max_body = 1024;
    let srv = Server::start(config, None);
    // Exactly the limit is served (a valid body padded with spaces).
    let body = format!("{:<1024}", r#"{"payload":"p"}"#);
    assert_eq!(body.len(), 1024);
    let mut c = srv.client();
    let r = c.call(&post("/v1/push/all", &body));
    assert_eq!(r.status, 200, "{}", r.text());
    // One byte more: refused from the head alone.
    c.send(
        format!("POST /v1/push/all HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 1025\r\n\r\n")
            .as_bytes(),
    );
    let r = c.recv();
    assert_eq!((r.status, r.code()), (413, "body_too_large".into()));
    assert!(r.closes());
    c.expect_closed();
    assert_eq!(srv.backend.calls().len(), 1);
    assert_eq!(srv.stats().count("push_all", 413), 1);
}

#[test]
fn chunked_bodies_are_501_and_a_post_without_length_411() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let r = c.call(
        format!(
            "POST /v1/push/all HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!((r.status, r.code()), (501, "not_implemented".into()));
    assert!(r.closes());
    c.expect_closed();

    let mut c = srv.client();
    let r = c.call(
        format!("POST /v1/push/all HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n").as_bytes(),
    );
    assert_eq!((r.status, r.code()), (411, "length_required".into()));
    assert!(
        !r.closes(),
        "no body: the framing is known, the connection stays"
    );
    assert_eq!(c.call(&get("/v1/rooms/r/count")).status, 200);
    assert_eq!(
        srv.backend.calls(),
        vec![Call::RoomCount(RoomCount { room: name("r") })]
    );
}

// ---- connections --------------------------------------------------------------------------

#[test]
fn keep_alive_serves_many_requests_on_one_connection() {
    let srv = Server::default_test();
    let mut c = srv.client();
    for i in 0..10 {
        let r = c.call(&post(
            "/v1/push/user",
            &format!(r#"{{"user":"u{i}","payload":"m"}}"#),
        ));
        assert_eq!(r.status, 200);
        assert!(!r.closes());
    }
    let users: Vec<String> = srv
        .backend
        .calls()
        .into_iter()
        .map(|call| match call {
            Call::PushUser(p) => p.user.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(users, (0..10).map(|i| format!("u{i}")).collect::<Vec<_>>());
    // `Connection: close` is honoured after the response.
    let r = c.call(
        format!(
            "GET /v1/stats HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(r.status, 200);
    assert!(r.closes());
    c.expect_closed();
    assert_eq!(srv.stats().connections_total, 1);

    // HTTP/1.0: closed unless asked to keep alive.
    let mut c = srv.client();
    let r = c.call(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert!(r.status == 200 && !r.closes());
    let r = c.call(b"GET /health HTTP/1.0\r\n\r\n");
    assert!(r.status == 200 && r.closes());
    c.expect_closed();
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let mut all = Vec::new();
    all.extend(post("/v1/push/user", r#"{"user":"a","payload":"1"}"#));
    all.extend(b"\r\n"); // an empty line between requests is skipped
    all.extend(post("/v1/push/user", r#"{"user":"b""#)); // bad JSON: 400, connection kept
    all.extend(req("GET", "/health", None, false));
    all.extend(post("/v1/push/room", r#"{"room":"c","payload":"3"}"#));
    all.extend(get("/v1/rooms/abcd/count"));
    c.send(&all);
    let got: Vec<(u16, serde_json::Value)> = (0..5)
        .map(|_| {
            let r = c.recv();
            (r.status, r.json())
        })
        .collect();
    assert_eq!(got[0], (200, serde_json::json!({"sessions": 2})));
    assert_eq!(got[1].0, 400);
    assert_eq!(got[1].1["error"]["code"], "bad_json");
    assert_eq!(got[2], (200, serde_json::json!({"ok": true})));
    assert_eq!(got[3], (200, serde_json::json!({"sessions": 5})));
    assert_eq!(got[4], (200, serde_json::json!({"members": 4})));
    assert_eq!(srv.backend.log(), vec!["call a", "call c"]);
}

#[test]
fn a_late_reply_keeps_pipelined_requests_in_order() {
    let srv = Server::default_test();
    let replies = srv.backend.defer();
    let mut c = srv.client();
    let mut all = Vec::new();
    all.extend(post("/v1/push/user", r#"{"user":"a","payload":"1"}"#));
    all.extend(post("/v1/push/user", r#"{"user":"b","payload":"2"}"#));
    all.extend(req("GET", "/health", None, false));
    c.send(&all);

    // The first request is with the backend; nothing else was dispatched or answered.
    let (call, reply_a) = replies.recv_timeout(WAIT).expect("the first call");
    assert!(matches!(&call, Call::PushUser(p) if p.user.as_str() == "a"));
    srv.wait_stats("a pending reply", |s| s.backend_pending == 1);
    assert!(
        replies.try_recv().is_err(),
        "one request in flight per connection"
    );
    c.expect_silent();

    // Reply from another thread; only then does the second request reach the backend.
    let backend = Arc::clone(&srv.backend);
    std::thread::spawn(move || {
        backend.note("reply a".into());
        reply_a.ok(Pushed { sessions: 11 });
    })
    .join()
    .expect("replier");
    let (call, reply_b) = replies.recv_timeout(WAIT).expect("the second call");
    assert!(matches!(&call, Call::PushUser(p) if p.user.as_str() == "b"));
    let backend = Arc::clone(&srv.backend);
    std::thread::spawn(move || {
        backend.note("reply b".into());
        reply_b.ok(Pushed { sessions: 12 });
    });

    let a = c.recv();
    let b = c.recv();
    let h = c.recv();
    assert_eq!(
        (a.status, a.json()),
        (200, serde_json::json!({"sessions": 11}))
    );
    assert_eq!(
        (b.status, b.json()),
        (200, serde_json::json!({"sessions": 12}))
    );
    assert_eq!((h.status, h.json()), (200, serde_json::json!({"ok": true})));
    assert_eq!(
        srv.backend.log(),
        vec!["call a", "reply a", "call b", "reply b"]
    );
    srv.wait_stats("no pending reply", |s| s.backend_pending == 0);
    // The connection serves on.
    assert_eq!(c.call(&req("GET", "/health", None, false)).status, 200);
}

#[test]
fn a_dropped_reply_is_500_and_backend_errors_map_to_statuses() {
    let srv = Server::default_test();
    let mut c = srv.client();
    for (e, status, code) in [
        (BackendError::Invalid("no".into()), 400, "invalid"),
        (BackendError::NotFound("who".into()), 404, "not_found"),
        (
            BackendError::Unavailable("redis down".into()),
            503,
            "unavailable",
        ),
        (BackendError::Internal("bug".into()), 500, "internal"),
    ] {
        let message = e.to_string();
        srv.backend.fail_with(Some(e));
        let r = c.call(&post("/v1/push/room", r#"{"room":"r","payload":"x"}"#));
        assert_eq!((r.status, r.code()), (status, code.to_owned()));
        assert_eq!(r.json()["error"]["message"], message);
        assert!(!r.closes());
    }
    srv.backend.fail_with(None);

    let replies = srv.backend.defer();
    c.send(&post("/v1/push/all", r#"{"payload":"x"}"#));
    let (_, reply) = replies.recv_timeout(WAIT).expect("the call");
    std::thread::spawn(move || drop(reply))
        .join()
        .expect("dropper");
    let r = c.recv();
    assert_eq!((r.status, r.code()), (500, "internal".into()));
    assert!(!r.closes());
    assert_eq!(c.call(&req("GET", "/health", None, false)).status, 200);
    assert_eq!(srv.backend.calls().len(), 5);
}

#[test]
fn expect_100_continue_gets_an_interim_response() {
    let srv = Server::default_test();
    let mut c = srv.client();
    let body = r#"{"user":"u","payload":"later"}"#;
    c.send(
        format!(
            "POST /v1/push/user HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n\
             Expect: 100-continue\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    let r = c.recv();
    assert_eq!((r.status, r.body.len()), (100, 0));
    assert!(srv.backend.calls().is_empty());
    let r = c.call(body.as_bytes());
    assert_eq!(
        (r.status, r.json()),
        (200, serde_json::json!({"sessions": 2}))
    );
}

// ---- deadlines, on the test clock ---------------------------------------------------------

/// A request sent in part at 0 ms must be complete by 5000 ms: still open at 4999 ms (shown
/// by a round trip through the same loop), 408 and closed at 5000 ms.
#[test]
fn a_half_request_gets_408_at_the_deadline() {
    let srv = Server::on_test_clock();
    let mut slow = srv.client();
    slow.send(
        format!("POST /v1/push/user HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n").as_bytes(),
    );
    srv.wait_stats("a partial request", |s| s.requests_partial == 1);

    srv.advance(Duration::from_millis(4999));
    let mut other = srv.client();
    assert_eq!(other.call(&req("GET", "/health", None, false)).status, 200);
    assert_eq!(srv.now(), Duration::from_millis(4999));
    slow.expect_silent();
    assert_eq!(srv.stats().requests_partial, 1);

    srv.advance(Duration::from_millis(1));
    let r = slow.recv();
    assert_eq!((r.status, r.code()), (408, "request_timeout".into()));
    assert!(r.closes());
    slow.expect_closed();
    assert_eq!(srv.now(), Duration::from_millis(5000));
    srv.wait_stats("the partial request gone", |s| s.requests_partial == 0);
    assert_eq!(srv.stats().count("none", 408), 1);
    assert!(srv.backend.calls().is_empty());
    // The other connection is unaffected.
    assert_eq!(other.call(&req("GET", "/health", None, false)).status, 200);
}

/// A body trickling in does not move the deadline set when the request started.
#[test]
fn a_trickling_body_gets_408_at_the_first_deadline() {
    let srv = Server::on_test_clock();
    let body = r#"{"user":"u","payload":"x"}"#;
    let mut slow = srv.client();
    slow.send(
        format!(
            "POST /v1/push/user HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n{}",
            body.len(),
            &body[..5]
        )
        .as_bytes(),
    );
    srv.wait_stats("a partial request", |s| s.requests_partial == 1);
    let mut other = srv.client();
    for (k, ms) in [1000u64, 2000, 3000, 4999].into_iter().enumerate() {
        srv.advance(Duration::from_millis(ms) - srv.now());
        slow.send(&body.as_bytes()[5 + k..6 + k]);
        // The byte is in once a later request on the same loop is answered.
        assert_eq!(other.call(&req("GET", "/health", None, false)).status, 200);
        slow.expect_silent();
    }
    assert_eq!(srv.now(), Duration::from_millis(4999));
    srv.advance(Duration::from_millis(1));
    let r = slow.recv();
    assert_eq!((r.status, r.code()), (408, "request_timeout".into()));
    slow.expect_closed();
    assert_eq!(srv.stats().count("push_user", 408), 1);
    assert!(srv.backend.calls().is_empty());
}

/// Between requests a keep-alive connection has no request deadline.
#[test]
fn an_idle_keep_alive_connection_is_not_timed_out_by_the_request_deadline() {
    let srv = Server::on_test_clock();
    let mut c = srv.client();
    assert_eq!(c.call(&get("/v1/stats")).status, 200);
    srv.advance(Duration::from_secs(20));
    assert_eq!(c.call(&get("/v1/stats")).status, 200);
    assert_eq!(srv.stats().connections_total, 1);
    assert_eq!(srv.stats().count("none", 408), 0);
}

/// A backend that does not reply within 3 s: 504 at exactly 3000 ms after the request, and
/// the late reply is dropped.
#[test]
fn a_backend_that_does_not_reply_in_time_gets_504() {
    let srv = Server::on_test_clock();
    let replies = srv.backend.defer();
    srv.advance(Duration::from_millis(100));
    let mut c = srv.client();
    c.send(&post("/v1/push/all", r#"{"payload":"x"}"#));
    let (_, reply) = replies.recv_timeout(WAIT).expect("the call");
    srv.wait_stats("a pending reply", |s| s.backend_pending == 1);

    srv.advance(Duration::from_millis(2999));
    let mut other = srv.client();
    assert_eq!(other.call(&req("GET", "/health", None, false)).status, 200);
    c.expect_silent();

    srv.advance(Duration::from_millis(1));
    let r = c.recv();
    assert_eq!((r.status, r.code()), (504, "timeout".into()));
    assert!(r.closes());
    c.expect_closed();
    assert_eq!(srv.now(), Duration::from_millis(3100));
    srv.wait_stats("nothing pending", |s| {
        s.backend_pending == 0 && s.connections == 1
    });

    // The late reply goes nowhere and harms nothing.
    reply.ok(Pushed { sessions: 1 });
    assert_eq!(other.call(&req("GET", "/health", None, false)).status, 200);
    let s = srv.stats();
    assert_eq!((s.count("push_all", 504), s.count("push_all", 200)), (1, 0));
}

/// A `GET /health` head of exactly `len` bytes, padded with an `X-Pad` header.
fn health_head_of(len: usize) -> Vec<u8> {
    let mut v = b"GET /health HTTP/1.1\r\nX-Pad: ".to_vec();
    let pad = len - v.len() - 4;
    v.extend(std::iter::repeat_n(b'p', pad));
    v.extend_from_slice(b"\r\n\r\n");
    v
}

#[test]
fn a_head_of_max_head_is_served_one_byte_more_is_431_and_only_that_connection_closes() {
    let srv = Server::default_test();
    let max_head = ApiConfig::new(TOKEN).max_head;
    let mut other = srv.client();
    let mut c = srv.client();
    assert_eq!(c.call(&health_head_of(max_head)).status, 200);
    let r = c.call(&health_head_of(max_head + 1));
    assert_eq!((r.status, r.code()), (431, "head_too_large".into()));
    assert!(r.closes());
    c.expect_closed();
    assert_eq!(other.call(&health_head_of(max_head)).status, 200);
}

#[test]
fn the_payload_and_user_list_limits_at_the_bound_exactly() {
    // The body is framed by its Content-Length, so a refusal is a 400 and the connection
    // stays (the table in verify/README.md says so); another connection is served too.
    let srv = Server::default_test();
    let config = ApiConfig::new(TOKEN);
    let (max_payload, max_users) = (config.max_payload, config.max_users);
    let mut other = srv.client();
    let mut c = srv.client();
    let text = |n: usize| format!(r#"{{"user":"u","payload":"{}"}}"#, "x".repeat(n));
    // Base64 of n bytes: the limit applies to the decoded payload.
    let b64 = |n: usize| {
        use base64::Engine as _;
        let enc = base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
        format!(r#"{{"user":"u","payload_base64":"{enc}"}}"#)
    };
    let users = |n: usize| {
        let list: Vec<String> = (0..n).map(|i| format!("u{i}")).collect();
        serde_json::to_string(&list).expect("json")
    };
    let push_users = |n: usize| format!(r#"{{"users":{},"payload":"x"}}"#, users(n));
    let online = |n: usize| format!(r#"{{"users":{}}}"#, users(n));
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "/v1/push/user",
            text(max_payload),
            text(max_payload + 1),
            "payload_too_large",
        ),
        (
            "/v1/push/user",
            b64(max_payload),
            b64(max_payload + 1),
            "payload_too_large",
        ),
        (
            "/v1/push/users",
            push_users(max_users),
            push_users(max_users + 1),
            "bad_users",
        ),
        (
            "/v1/online",
            online(max_users),
            online(max_users + 1),
            "bad_users",
        ),
    ];
    for (path, at, over, code) in &cases {
        let calls = srv.backend.calls().len();
        let r = c.call(&post(path, at));
        assert_eq!(r.status, 200, "{path} at the limit: {}", r.text());
        assert_eq!(srv.backend.calls().len(), calls + 1, "{path}: served");
        let r = c.call(&post(path, over));
        assert_eq!((r.status, r.code()), (400, (*code).into()), "{path}");
        assert!(!r.closes(), "{path}: the connection stays");
        assert_eq!(srv.backend.calls().len(), calls + 1, "{path}: not served");
    }
    let r = other.call(&post("/v1/push/user", &text(1)));
    assert_eq!(r.status, 200);
}

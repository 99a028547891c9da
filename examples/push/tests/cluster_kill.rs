//! Fault test with real processes: two `push` nodes (the built binary, children of this
//! test) on one real `redis-server`; the node holding a user's session is killed with
//! SIGKILL while QoS1 messages are in flight and more are pushed through the other node
//! meanwhile. The user reconnects where the dispatcher says, and gets every message it had
//! not acknowledged, each at least once, in per-user id order; acknowledged ones never
//! again. Without `/usr/bin/redis-server` the test prints SKIPPED.

mod cluster_util;
mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use loopwire_push::ClientFrame;
use loopwire_push::api::DEVELOPMENT_TOKEN;
use loopwire_push::auth::{Claims, Secret, Signer};

use cluster_util::Redis;
use util::{Client, Owned, WAIT, ms};

/// A `push` child process in cluster mode; SIGKILLed on drop.
struct Gateway {
    child: Child,
    addr: SocketAddr,
    api: SocketAddr,
    _out: BufReader<ChildStdout>,
}

impl Gateway {
    fn start(redis: &Redis, node: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_push"))
            .args([
                "--dev",
                "--addr",
                "127.0.0.1:0",
                "--api-addr",
                "127.0.0.1:0",
            ])
            .args(["--redis", &redis.url(), "--node-id", node])
            .args(["--cluster-refresh-ms", "100", "--loops", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("push starts");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let (mut addr, mut api) = (None, None);
        let mut line = String::new();
        while addr.is_none() || api.is_none() {
            line.clear();
            assert!(
                out.read_line(&mut line).expect("stdout") > 0,
                "push exited early"
            );
            let l = line.trim();
            if let Some(a) = l.strip_prefix("api listening on http://") {
                api = a.parse().ok();
            } else if let Some(a) = l.strip_prefix("listening on tcp://") {
                addr = a.parse().ok();
            }
        }
        Gateway {
            child,
            addr: addr.expect("gateway address"),
            api: api.expect("api address"),
            _out: out,
        }
    }

    fn kill9(&mut self) {
        let _ = self.child.kill(); // SIGKILL: no shutdown code runs
        let _ = self.child.wait();
    }

    fn http(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let mut s = TcpStream::connect(self.api).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {DEVELOPMENT_TOKEN}\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).expect("send");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("response");
        let status = out.get(9..12).and_then(|c| c.parse().ok()).expect("status");
        let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        (
            status,
            serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
        )
    }

    fn dispatch(&self, user: &str) -> Vec<String> {
        let (s, v) = self.http("GET", &format!("/dispatch?uid={user}"), "");
        if s != 200 {
            return Vec::new();
        }
        serde_json::from_value(v["gateways"].clone()).unwrap_or_default()
    }

    fn push(&self, user: &str, payload: &str) {
        let body = format!(r#"{{"user":"{user}","payload":"{payload}"}}"#);
        let (s, v) = self.http("POST", "/v1/push/user", &body);
        assert_eq!(s, 200, "{v}");
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn wait(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(ms(10));
    }
}

fn login(addr: SocketAddr, user: &str) -> Client {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let token = Signer::new(&Secret::development()).sign(&Claims::new(user, now + 3600));
    let mut c = Client::connect(addr);
    c.auth(0, &token);
    match c.recv() {
        Some(Owned::Welcome(..)) => c,
        other => panic!("expected WELCOME, got {other:?}"),
    }
}

/// The next PUSH: (id, payload).
fn next_push(c: &mut Client) -> (u64, String) {
    match c.recv() {
        Some(Owned::Push(id, _, _, p)) => (id, String::from_utf8(p).expect("utf-8")),
        other => panic!("expected PUSH, got {other:?}"),
    }
}

#[test]
fn kill_9_of_the_users_node_mid_delivery_loses_no_qos1_message() {
    let Some(redis) = Redis::start() else { return };
    let mut a = Gateway::start(&redis, "a");
    let b = Gateway::start(&redis, "b");
    wait("both nodes live", || b.dispatch("k").len() == 2);
    // The user on a: the node the dispatcher puts it on is irrelevant here.
    let mut c = login(a.addr, "k");
    wait("k registered", || {
        let (s, v) = b.http("POST", "/v1/online", r#"{"users":["k"]}"#);
        s == 200 && v["users"][0]["sessions"] == 1
    });

    // 20 messages through b, to the session on a; the client ACKs the first 5 it gets.
    for i in 0..20 {
        b.push("k", &format!("m{i}"));
    }
    let mut acked = Vec::new();
    for want in 0..5 {
        let (id, p) = next_push(&mut c);
        assert_eq!(p, format!("m{want}"));
        c.send(ClientFrame::Ack(id));
        acked.push(id);
    }
    wait("the 5 ACKs in Redis", || redis.queued("k") == 15);

    // kill -9 while the other 15 are in flight (sent or not: unacknowledged), then 10 more
    // through b while the user is away.
    a.kill9();
    drop(c);
    for i in 20..30 {
        b.push("k", &format!("m{i}"));
    }
    wait("a's heartbeat expired", || {
        b.dispatch("k") == [b.addr.to_string()]
    });

    // Back through the dispatcher: every unacknowledged message, in id order, once.
    let mut c = login(b.addr, "k");
    let mut last = *acked.last().expect("acked");
    for want in 5..30 {
        let (id, p) = next_push(&mut c);
        assert_eq!(p, format!("m{want}"));
        assert!(id > last, "id {id} after {last}");
        last = id;
        c.send(ClientFrame::Ack(id));
    }
    wait("every ACK in Redis", || redis.queued("k") == 0);
    assert_eq!(c.sync(b"done"), []);
}

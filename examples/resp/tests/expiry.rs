//! Expiry end to end on the engine's [`TestClock`]: keys live until exactly their time, and the
//! ticker's sweep removes keys nobody touches (DBSIZE, which does not expire keys itself,
//! drops).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use loopwire::TestClock;
use loopwire_examples::testing::{TestServer as Server, eventually};
use loopwire_resp::Resp;

fn roundtrip(s: &mut TcpStream, request: &str, reply: &str) {
    s.write_all(request.as_bytes()).expect("send");
    let mut got = vec![0; reply.len()];
    s.read_exact(&mut got).expect("reply");
    assert_eq!(String::from_utf8_lossy(&got), reply, "after {request:?}");
}

fn start(clock: &TestClock) -> (Arc<Resp>, Server) {
    let resp = Arc::new(Resp::default());
    let (r, c) = (resp.clone(), clock.clone());
    let server = Server::start_with(resp.clone(), move |b| {
        r.configure(b).clock(c);
    });
    (resp, server)
}

#[test]
fn a_key_lives_until_exactly_its_time() {
    let clock = TestClock::new();
    let (_, server) = start(&clock);
    let mut s = server.connect();
    let t0 = clock.now();
    roundtrip(
        &mut s,
        "SET k v EX 10\r\nSET p v PX 20000\r\n",
        "+OK\r\n+OK\r\n",
    );
    clock.advance(Duration::from_millis(9_999));
    roundtrip(&mut s, "GET k\r\nPTTL k\r\n", "$1\r\nv\r\n:1\r\n");
    clock.advance(Duration::from_millis(1));
    assert_eq!(clock.now() - t0, Duration::from_secs(10));
    roundtrip(
        &mut s,
        "GET k\r\nTTL k\r\nTTL p\r\n",
        "$-1\r\n:-2\r\n:10\r\n",
    );
}

#[test]
fn the_sweep_removes_keys_nobody_touches() {
    let clock = TestClock::new();
    let (resp, server) = start(&clock);
    let mut s = server.connect();
    // 10 000 keys: more than one sweep's budget.
    let mut req = String::new();
    for i in 0..10_000 {
        req.push_str(&format!("SET key:{i} v PX 500\r\n"));
    }
    req.push_str("SET stays v\r\nDBSIZE\r\n");
    roundtrip(&mut s, &req, &("+OK\r\n".repeat(10_001) + ":10001\r\n"));
    clock.advance(Duration::from_millis(499));
    // Ticks pass (one each 100 ms of engine time), nothing is due.
    for _ in 0..5 {
        clock.advance(Duration::from_millis(0));
    }
    roundtrip(&mut s, "DBSIZE\r\n", ":10001\r\n");
    clock.advance(Duration::from_millis(1));
    // Now every key is due; sweeps run every 100 ms of engine time, or 1 ms while work is
    // left: move the clock until they have removed all 10 000 (untouched) keys.
    eventually("the sweep removed the expired keys", || {
        clock.advance(Duration::from_millis(1));
        resp.store().len() == 1
    });
    roundtrip(&mut s, "DBSIZE\r\nGET stays\r\n", ":1\r\n$1\r\nv\r\n");
}

#[test]
fn set_over_a_key_with_a_time() {
    let clock = TestClock::new();
    let (resp, server) = start(&clock);
    let mut s = server.connect();
    // A new time replaces the old one in place.
    roundtrip(
        &mut s,
        "SET k v PX 100\r\nSET k w PX 300\r\nPTTL k\r\n",
        "+OK\r\n+OK\r\n:300\r\n",
    );
    // KEEPTTL on a key whose time has come makes a new key, without a time. (Due at 50 ms,
    // between two sweeps, which run every 100 ms: the SET meets it first.)
    roundtrip(&mut s, "SET a v PX 50\r\n", "+OK\r\n");
    clock.advance(Duration::from_millis(50));
    roundtrip(
        &mut s,
        "SET a w KEEPTTL\r\nPTTL a\r\nGET a\r\n",
        "+OK\r\n:-1\r\n$1\r\nw\r\n",
    );
    // A plain SET clears the time.
    roundtrip(
        &mut s,
        "SET b v PX 100\r\nSET b w\r\nPTTL b\r\n",
        "+OK\r\n+OK\r\n:-1\r\n",
    );
    clock.advance(Duration::from_millis(250));
    roundtrip(&mut s, "GET k\r\nDBSIZE\r\n", "$-1\r\n:2\r\n");
    assert_eq!(resp.store().volatile(), 0, "no key keeps a time");
}

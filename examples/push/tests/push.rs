//! The push gateway end to end: a [`Gateway`] runs in-process on an engine bound to
//! 127.0.0.1 port 0 with short heartbeats; each test talks the protocol over `TcpStream`s
//! with read timeouts, and publishes through [`Gateway::publish`] from the test thread.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use loopwire::{Engine, EngineHandle, Network};
use loopwire_push::frame::{self, LEN_BYTES};
use loopwire_push::{ClientFrame, Config, Gateway, ServerFrame};

/// Upper bound of any single wait in these tests.
const WAIT: Duration = Duration::from_secs(10);

/// A gateway on two loops; stops the engine when dropped.
struct Server {
    engine: EngineHandle,
    gw: Arc<Gateway>,
}

impl Server {
    fn start(config: Config) -> Self {
        let gw = Arc::new(Gateway::new(config).expect("config"));
        let mut b = Engine::builder();
        b.addr("tcp://127.0.0.1:0").loops(2);
        gw.configure(&mut b);
        let engine = b.start(Arc::clone(&gw)).expect("engine starts");
        Self { engine, gw }
    }

    /// Heartbeat 1 s (closed after 1.5 s); retransmit after 300 ms.
    fn default_test() -> Self {
        let mut c = Config::with_heartbeat(Duration::from_secs(1));
        c.retransmit_after = Duration::from_millis(300);
        Self::start(c)
    }

    fn addr(&self) -> SocketAddr {
        self.engine
            .addrs()
            .iter()
            .find(|a| a.network == Network::Tcp)
            .and_then(|a| a.addr)
            .expect("a TCP address")
    }

    /// A connected client that said HELLO and got WELCOME.
    fn client(&self, id: &str) -> Client {
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

    /// Waits until `f` holds for the gateway's counters.
    fn wait_stats(&self, what: &str, f: impl Fn(&loopwire_push::StatsSnapshot) -> bool) {
        let end = Instant::now() + WAIT;
        while !f(&self.gw.stats()) {
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}: {}",
                self.gw.stats()
            );
            std::thread::sleep(Duration::from_millis(5));
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
enum Owned {
    Welcome(u32, u16),
    Pong(Vec<u8>),
    Push(u64, Vec<u8>, Vec<u8>),
    Error(u16, String),
    Published(u64, u32),
}

struct Client {
    s: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_read_timeout(Some(WAIT)).expect("timeout");
        s.set_write_timeout(Some(WAIT)).expect("timeout");
        s.set_nodelay(true).expect("nodelay");
        Self { s }
    }

    fn send(&mut self, f: ClientFrame<'_>) {
        let mut out = Vec::new();
        frame::encode_client(&f, usize::MAX, &mut out).expect("encode");
        self.s.write_all(&out).expect("send");
    }

    /// The next frame, or `None` at end of stream.
    fn recv(&mut self) -> Option<Owned> {
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
    fn sync(&mut self, tag: &[u8]) -> Vec<Owned> {
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

    /// Expects an ERROR with `code`, then the end of the stream.
    fn expect_error_and_close(&mut self, code: u16) {
        match self.recv() {
            Some(Owned::Error(c, reason)) => assert_eq!(c, code, "{reason}"),
            other => panic!("expected ERROR {code}, got {other:?}"),
        }
        assert_eq!(self.recv(), None);
    }

    /// Expects the server to close within `within`; returns how long it took.
    fn expect_closed_within(&mut self, within: Duration) -> Duration {
        let t = Instant::now();
        self.s.set_read_timeout(Some(within)).expect("timeout");
        let mut b = [0u8; 64];
        loop {
            match self.s.read(&mut b) {
                Ok(0) => return t.elapsed(),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return t.elapsed(),
                Err(e) => panic!("not closed within {within:?}: {e}"),
            }
        }
    }
}

fn push(id: u64, room: &str, payload: &str) -> Owned {
    Owned::Push(id, room.as_bytes().to_vec(), payload.as_bytes().to_vec())
}

#[test]
fn hello_welcome_ping_pong() {
    let server = Server::default_test();
    let mut c = server.client("phone-1");
    c.send(ClientFrame::Ping(b"0123456789abcdef"));
    assert_eq!(c.recv(), Some(Owned::Pong(b"0123456789abcdef".to_vec())));
    c.send(ClientFrame::Ping(b""));
    assert_eq!(c.recv(), Some(Owned::Pong(Vec::new())));
    server.wait_stats("one session", |s| s.sessions == 1);
    drop(c);
    server.wait_stats("no session", |s| s.sessions == 0);
}

#[test]
fn publish_reaches_members_only_once_in_order_and_leave_stops_it() {
    let server = Server::default_test();
    let mut a = server.client("a");
    let mut b = server.client("b");
    let mut outsider = server.client("c");
    a.send(ClientFrame::Join(b"news"));
    b.send(ClientFrame::Join(b"news"));
    b.send(ClientFrame::Join(b"news")); // joining twice is still one membership
    outsider.send(ClientFrame::Join(b"sports"));
    for c in [&mut a, &mut b, &mut outsider] {
        assert!(c.sync(b"joined").is_empty());
    }
    let mut ids = Vec::new();
    for i in 0..20 {
        let p = server
            .gw
            .publish(b"news", format!("m{i}").as_bytes())
            .unwrap();
        assert_eq!((p.members, p.dropped), (2, 0));
        ids.push(p.id);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
    for c in [&mut a, &mut b] {
        let got = c.sync(b"s1");
        let want: Vec<Owned> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| push(id, "news", &format!("m{i}")))
            .collect();
        assert_eq!(got, want);
        for &id in &ids {
            c.send(ClientFrame::Ack(id));
        }
    }
    assert!(outsider.sync(b"s1").is_empty());

    b.send(ClientFrame::Leave(b"news"));
    assert!(b.sync(b"left").is_empty());
    let p = server.gw.publish(b"news", b"after").unwrap();
    assert_eq!(p.members, 1);
    assert_eq!(a.sync(b"s2"), vec![push(p.id, "news", "after")]);
    a.send(ClientFrame::Ack(p.id));
    assert!(b.sync(b"s2").is_empty());
    // Publishing to a room nobody is in reaches nobody.
    assert_eq!(server.gw.publish(b"empty", b"x").unwrap().members, 0);
    server.wait_stats("every message acked", |s| s.acked == 41 && s.unacked == 0);
    assert_eq!(server.gw.stats().delivered, 41);
    assert_eq!(server.gw.stats().retransmitted, 0);
}

#[test]
fn ack_empties_the_window_and_unacked_messages_come_again_on_the_next_heartbeat() {
    let server = Server::default_test();
    let mut c = server.client("slowpoke");
    c.send(ClientFrame::Join(b"r"));
    assert!(c.sync(b"j").is_empty());
    let m1 = server.gw.publish(b"r", b"one").unwrap().id;
    let m2 = server.gw.publish(b"r", b"two").unwrap().id;
    assert_eq!(
        c.sync(b"p"),
        vec![push(m1, "r", "one"), push(m2, "r", "two")]
    );
    server.wait_stats("two unacked", |s| s.unacked == 2);
    c.send(ClientFrame::Ack(m1));
    server.wait_stats("one unacked", |s| s.unacked == 1 && s.acked == 1);
    // A heartbeat before the retransmit delay brings nothing back...
    assert!(c.sync(b"early").is_empty());
    // ...one after it brings back exactly the unacknowledged message, with its id.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(c.sync(b"late"), vec![push(m2, "r", "two")]);
    assert_eq!(server.gw.stats().retransmitted, 1);
    c.send(ClientFrame::Ack(m2));
    c.send(ClientFrame::Ack(m2)); // a duplicate ACK is ignored
    server.wait_stats("all acked", |s| s.unacked == 0 && s.stale_acks == 1);
    std::thread::sleep(Duration::from_millis(400));
    assert!(c.sync(b"after-ack").is_empty());
}

#[test]
fn unacked_messages_are_redelivered_after_a_reconnect_with_the_same_id() {
    let server = Server::default_test();
    let mut c = server.client("phone-7");
    c.send(ClientFrame::Join(b"r"));
    assert!(c.sync(b"j").is_empty());
    let m1 = server.gw.publish(b"r", b"one").unwrap().id;
    assert_eq!(c.sync(b"p"), vec![push(m1, "r", "one")]);
    drop(c); // no ACK: the connection drops
    server.wait_stats("parked", |s| s.parked == 1 && s.sessions == 0);
    // Another client id gets nothing; the same id gets the message first.
    let mut other = server.client("phone-8");
    assert!(other.sync(b"x").is_empty());
    let mut again = server.client("phone-7");
    assert_eq!(again.sync(b"x"), vec![push(m1, "r", "one")]);
    assert_eq!(server.gw.stats().restored, 1);
    again.send(ClientFrame::Ack(m1));
    server.wait_stats("acked", |s| s.unacked == 0 && s.acked == 1);
}

#[test]
fn a_full_window_holds_messages_back_until_acks_free_it() {
    let mut config = Config::with_heartbeat(Duration::from_secs(5));
    config.window = 4;
    config.mailbox = 6;
    let server = Server::start(config);
    let mut c = server.client("w");
    c.send(ClientFrame::Join(b"r"));
    assert!(c.sync(b"j").is_empty());
    let publish = |i: usize| server.gw.publish(b"r", format!("{i}").as_bytes()).unwrap();
    let mut ids: Vec<u64> = (0..4).map(|i| publish(i).id).collect();
    // 4 sent: the window is full.
    assert_eq!(c.sync(b"a").len(), 4);
    server.wait_stats("a full window", |s| s.unacked == 4);
    // 6 wait in the mailbox, 2 are dropped.
    let more: Vec<_> = (4..12).map(publish).collect();
    assert_eq!(more.iter().map(|p| p.dropped).sum::<usize>(), 2);
    ids.extend(more.iter().map(|p| p.id));
    assert!(c.sync(b"full").is_empty());
    server.wait_stats("dropped", |s| s.dropped == 2 && s.unacked == 4);
    for &id in &ids[..4] {
        c.send(ClientFrame::Ack(id));
    }
    let next = c.sync(b"b");
    let got: Vec<u64> = next
        .iter()
        .map(|f| match f {
            Owned::Push(id, ..) => *id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, ids[4..8]);
}

#[test]
fn a_client_that_stops_heartbeating_is_closed_within_the_timeout() {
    let mut config = Config::with_heartbeat(Duration::from_millis(400));
    config.idle_timeout = Duration::from_millis(600);
    let server = Server::start(config);
    let mut live = server.client("live");
    let mut silent = server.client("silent");
    // `live` heartbeats every 200 ms for 1.5 s; `silent` says nothing.
    let start = Instant::now();
    let mut closed_after = None;
    while start.elapsed() < Duration::from_millis(1500) {
        assert!(live.sync(b"hb").is_empty());
        std::thread::sleep(Duration::from_millis(200));
        if closed_after.is_none() {
            silent.s.set_nonblocking(true).expect("nonblocking");
            let mut b = [0u8; 8];
            match silent.s.read(&mut b) {
                Ok(0) => closed_after = Some(start.elapsed()),
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                    closed_after = Some(start.elapsed())
                }
                _ => {}
            }
            silent.s.set_nonblocking(false).expect("blocking");
        }
    }
    let closed_after = closed_after.expect("the silent client was closed");
    assert!(
        closed_after >= Duration::from_millis(550) && closed_after <= Duration::from_millis(1200),
        "closed after {closed_after:?}"
    );
    server.wait_stats("one timeout", |s| {
        s.heartbeat_timeouts == 1 && s.sessions == 1
    });
    // The heartbeating client is still served.
    assert!(live.sync(b"still").is_empty());
    drop(live);
    server.wait_stats("closed", |s| s.sessions == 0);
}

#[test]
fn an_unintroduced_connection_times_out_too() {
    let mut config = Config::with_heartbeat(Duration::from_millis(200));
    config.idle_timeout = Duration::from_millis(300);
    let server = Server::start(config);
    let mut c = Client::connect(server.addr());
    let took = c.expect_closed_within(Duration::from_secs(3));
    assert!(took >= Duration::from_millis(250), "{took:?}");
}

#[test]
fn protocol_violations_get_an_error_and_a_close_and_spare_the_others() {
    let server = Server::default_test();
    let mut bystander = server.client("bystander");
    bystander.send(ClientFrame::Join(b"r"));
    assert!(bystander.sync(b"j").is_empty());

    // A frame before HELLO.
    let mut c = Client::connect(server.addr());
    c.send(ClientFrame::Join(b"r"));
    c.expect_error_and_close(7);
    // A second HELLO.
    let mut c = server.client("twice");
    c.send(ClientFrame::Hello(b"twice"));
    c.expect_error_and_close(8);
    // An oversized frame: refused from its length field, before its body arrives.
    let mut c = server.client("big");
    c.s.write_all(&(1u32 << 20).to_be_bytes()).expect("send");
    c.expect_error_and_close(1);
    // An empty frame, an unknown type, a short ACK.
    for (bytes, code) in [
        (&b"\0\0\0\0"[..], 3),
        (&b"\0\0\0\x01\x7f"[..], 4),
        (&b"\0\0\0\x03\x05\x00\x01"[..], 5),
    ] {
        let mut c = server.client("junk");
        c.s.write_all(bytes).expect("send");
        c.expect_error_and_close(code);
    }
    // An empty room name; a client id over the limit.
    let mut c = server.client("names");
    c.send(ClientFrame::Join(b""));
    c.expect_error_and_close(6);
    let mut c = Client::connect(server.addr());
    c.send(ClientFrame::Hello(&[b'x'; 65]));
    c.expect_error_and_close(6);
    // PUBLISH without the admin flag.
    let mut c = server.client("not-admin");
    c.send(ClientFrame::Publish {
        flags: 0,
        room: b"r",
        payload: b"x",
    });
    c.expect_error_and_close(10);
    // Too many rooms.
    let mut c = server.client("joiner");
    for i in 0..=server.gw.config().max_rooms {
        c.send(ClientFrame::Join(format!("room-{i}").as_bytes()));
    }
    c.expect_error_and_close(9);

    // The bystander never noticed.
    let p = server.gw.publish(b"r", b"still here").unwrap();
    assert_eq!(p.members, 1);
    assert_eq!(bystander.sync(b"ok"), vec![push(p.id, "r", "still here")]);
    server.wait_stats("errors counted", |s| s.protocol_errors == 10);
    assert_eq!(
        server.gw.rooms(),
        1,
        "the joiner's rooms were left on close"
    );
}

#[test]
fn admin_publish_and_unacknowledged_broadcast() {
    let mut config = Config::with_heartbeat(Duration::from_secs(5));
    config.admin = true;
    let server = Server::start(config);
    let mut members: Vec<Client> = (0..3).map(|i| server.client(&format!("m{i}"))).collect();
    for m in &mut members {
        m.send(ClientFrame::Join(b"all"));
        assert!(m.sync(b"j").is_empty());
    }
    let mut admin = server.client("admin");
    admin.send(ClientFrame::Publish {
        flags: 0,
        room: b"all",
        payload: b"acked",
    });
    let Some(Owned::Published(id, 3)) = admin.recv() else {
        panic!("expected PUBLISHED to 3 members")
    };
    admin.send(ClientFrame::Publish {
        flags: frame::FLAG_UNACKED,
        room: b"all",
        payload: b"fire and forget",
    });
    assert_eq!(admin.recv(), Some(Owned::Published(0, 3)));
    for m in &mut members {
        // The broadcast bypasses the session, so a PONG does not order it: read both.
        assert_eq!(m.recv(), Some(push(id, "all", "acked")));
        assert_eq!(m.recv(), Some(push(0, "all", "fire and forget")));
        assert!(m.sync(b"s").is_empty());
    }
    assert!(admin.sync(b"s").is_empty());
}

#[test]
fn a_slow_reader_is_held_back_not_buffered() {
    let mut config = Config::with_heartbeat(Duration::from_secs(5));
    config.window = 65_535;
    config.mailbox = 100_000;
    let server = Server::start(config);
    let mut slow = server.client("slow");
    slow.send(ClientFrame::Join(b"firehose"));
    assert!(slow.sync(b"j").is_empty());
    // 8 MiB of messages to a client that reads nothing: the gateway stops at the high
    // watermark (plus what the sockets hold) and keeps the rest in the bounded mailbox.
    let payload = vec![b'x'; 8 * 1024];
    for _ in 0..1024 {
        server.gw.publish(b"firehose", &payload).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let s = server.gw.stats();
    assert!(
        s.delivered < 1024,
        "all sent to a client that reads nothing: {s}"
    );
    // It catches up once it reads.
    let mut n = 0;
    slow.send(ClientFrame::Ping(b"end"));
    loop {
        match slow.recv() {
            Some(Owned::Push(id, ..)) => {
                n += 1;
                slow.send(ClientFrame::Ack(id));
            }
            Some(Owned::Pong(_)) if n == 1024 => break,
            Some(Owned::Pong(_)) => slow.send(ClientFrame::Ping(b"end")),
            other => panic!("{other:?}"),
        }
    }
    server.wait_stats("all acked", |s| s.acked == 1024 && s.unacked == 0);
}

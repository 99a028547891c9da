//! The push gateway end to end (protocol v2): a [`Gateway`](loopwire_push::Gateway) runs
//! in-process on an engine bound to 127.0.0.1 port 0, on a [`TestClock`](loopwire::TestClock);
//! each test talks the protocol over `TcpStream`s and pushes through the gateway's API from
//! the test thread.
//!
//! Time stands still unless a test moves it, so every timing (heartbeat timeouts,
//! retransmissions) is asserted at exact clock readings: one millisecond before, nothing; at
//! the reading, exactly what is due. The only real-time bound is a hang guard (`util::WAIT`).

mod util;

use std::io::Write;
use std::time::Duration;

use loopwire::Bytes;
use loopwire_push::api::Qos;
use loopwire_push::{ClientFrame, Outgoing};

use util::{Client, Owned, Server, ids, ms, push, test_config, to_user, token};

fn msg(payload: &str, qos: Qos) -> Outgoing {
    Outgoing {
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos,
        ttl: None,
    }
}

#[test]
fn auth_welcome_ping_pong_and_the_heartbeat_is_negotiated() {
    let server = Server::default_test(); // default 1 s, bounds 100 ms to 10 s
    let mut c = server.client("phone-1");
    c.send(ClientFrame::Ping(b"0123456789abcdef"));
    assert_eq!(c.recv(), Some(Owned::Pong(b"0123456789abcdef".to_vec())));
    server.wait_stats("one session", |s| s.sessions == 1 && s.logins == 1);
    let mut others = Vec::new();
    for (asked, got) in [(50, 100), (2_000, 2_000), (60_000, 10_000)] {
        let mut c = Client::connect(server.addr());
        c.auth(asked, &token("hb", &[]));
        assert_eq!(c.recv(), Some(Owned::Welcome(got, 64, b"hb".to_vec())));
        others.push(c);
    }
    drop(c);
    server.wait_stats("the first session closed", |s| s.sessions == 3);
    drop(others);
    server.wait_stats("all closed", |s| s.sessions == 0 && s.connections == 0);
}

#[test]
fn qos0_to_a_room_reaches_members_only_in_order_and_leave_stops_it() {
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
    assert_eq!(server.gw.room_members(b"news"), 2);
    for i in 0..20 {
        let n = server
            .gw
            .push_room(b"news", &msg(&format!("m{i}"), Qos::AtMostOnce));
        assert_eq!(n.unwrap(), 2);
    }
    let want: Vec<Owned> = (0..20).map(|i| push(0, "news", &format!("m{i}"))).collect();
    for c in [&mut a, &mut b] {
        assert_eq!(c.sync(b"s1"), want);
    }
    assert!(outsider.sync(b"s1").is_empty());

    b.send(ClientFrame::Leave(b"news"));
    assert!(b.sync(b"left").is_empty());
    let n = server.gw.push_room(b"news", &msg("after", Qos::AtMostOnce));
    assert_eq!(n.unwrap(), 1);
    assert_eq!(a.sync(b"s2"), vec![push(0, "news", "after")]);
    assert!(b.sync(b"s2").is_empty());
    // A room nobody is in reaches nobody; QoS0 is never stored.
    let n = server.gw.push_room(b"empty", &msg("x", Qos::AtMostOnce));
    assert_eq!(n.unwrap(), 0);
    let s = server.stats();
    assert_eq!((s.delivered, s.pushes_qos0, s.unacked), (41, 22, 0), "{s}");
    assert_eq!(server.store_stats().put, 0);
}

#[test]
fn ack_empties_the_window_and_unacked_messages_come_again_exactly_after_the_retransmit_delay() {
    let server = Server::default_test(); // retransmit after 300 ms
    let mut c = server.client("slowpoke");
    // Both sent at 0.
    for p in ["one", "two"] {
        assert_eq!(
            server
                .gw
                .push_user("slowpoke", &msg(p, Qos::AtLeastOnce))
                .unwrap(),
            1
        );
    }
    let got = c.sync(b"p");
    let [m1, m2] = ids(&got)[..] else {
        panic!("{got:?}")
    };
    assert!(m1 > 0 && m2 > m1, "store ids grow per user: {got:?}");
    assert_eq!(got, vec![to_user(m1, "one"), to_user(m2, "two")]);
    assert_eq!(server.stats().unacked, 2);
    c.send(ClientFrame::Ack(m1));
    // Frames are handled in order: the PONG says the ACK was.
    assert!(c.sync(b"acked").is_empty());
    let s = server.stats();
    assert_eq!((s.unacked, s.acked), (1, 1), "{s}");
    // A heartbeat 1 ms before the retransmit delay brings nothing back...
    server.advance_to(ms(299));
    assert!(c.sync(b"early").is_empty());
    assert_eq!(server.stats().retransmitted, 0);
    // ...one at the delay brings back exactly the unacknowledged message, with its id, before
    // the PONG.
    server.advance_to(ms(300));
    assert_eq!(c.sync(b"due"), vec![to_user(m2, "two")]);
    assert_eq!(server.stats().retransmitted, 1);
    // Resent at 300, it is due again at 600, not before.
    assert!(c.sync(b"same-reading").is_empty());
    server.advance_to(ms(599));
    assert!(c.sync(b"early-again").is_empty());
    server.advance_to(ms(600));
    assert_eq!(c.sync(b"due-again"), vec![to_user(m2, "two")]);
    assert_eq!(server.stats().retransmitted, 2);
    c.send(ClientFrame::Ack(m2));
    c.send(ClientFrame::Ack(m2)); // a duplicate ACK is ignored
    assert!(c.sync(b"acks").is_empty());
    let s = server.stats();
    assert_eq!((s.unacked, s.acked, s.stale_acks), (0, 2, 1), "{s}");
    assert_eq!(server.store_stats().acked, 2);
    // Acknowledged, it never comes back.
    server.advance_to(ms(1_000));
    assert!(c.sync(b"after-ack").is_empty());
    assert_eq!(server.stats().retransmitted, 2);
}

#[test]
fn a_full_window_holds_qos1_messages_back_until_acks_free_it() {
    let mut config = test_config();
    config.window = 4;
    let server = Server::start(config);
    let mut c = server.client("w");
    let mut c_ids = Vec::new();
    for i in 0..10 {
        let n = server
            .gw
            .push_user("w", &msg(&i.to_string(), Qos::AtLeastOnce));
        assert_eq!(n.unwrap(), 1);
    }
    // 4 sent: the window is full; 6 wait in the store.
    let first = c.sync(b"a");
    assert_eq!(first.len(), 4, "{first:?}");
    c_ids.extend(ids(&first));
    assert_eq!(server.stats().unacked, 4);
    assert_eq!(server.store_stats().stored, 10);
    assert!(c.sync(b"full").is_empty());
    c.ack_all(&first);
    let next = c.sync(b"b");
    c_ids.extend(ids(&next));
    let payloads: Vec<_> = next
        .iter()
        .map(|f| match f {
            Owned::Push(_, _, _, p) => String::from_utf8_lossy(p).into_owned(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(payloads, ["4", "5", "6", "7"]);
    assert!(c_ids.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn a_silent_session_is_closed_exactly_at_1_5_times_its_own_heartbeat() {
    // One loop, so that `live.settle()` also vouches for the silent sessions' loop.
    let server = Server::on_loops(test_config(), 1);
    let mut live = server.client("live"); // 1 s: closed after 1.5 s of silence
    let mut fast = Client::connect(server.addr());
    fast.auth(400, &token("fast", &["*"])); // 400 ms: closed after 600 ms
    assert_eq!(fast.recv(), Some(Owned::Welcome(400, 64, b"fast".to_vec())));
    fast.send(ClientFrame::Join(b"s"));
    assert!(fast.sync(b"j").is_empty()); // its last word, at 0
    let mut slow = server.client("slow"); // default 1 s, silent from 0
    for t in [400, 599] {
        server.advance_to(ms(t));
        live.settle();
    }
    // At 599 `fast` is still open: a PUSH reaches it (server to client: not activity).
    let n = server
        .gw
        .push_room(b"s", &msg("still there?", Qos::AtMostOnce));
    assert_eq!(n.unwrap(), 1);
    live.settle();
    let s = server.stats();
    assert_eq!((s.heartbeat_timeouts, s.sessions), (0, 3), "{s}");
    assert_eq!(fast.recv(), Some(push(0, "s", "still there?")));
    // At 600 it gets ERROR 15 (HeartbeatTimeout), is closed (end of stream), and counted as
    // a heartbeat timeout.
    server.advance_to(ms(600));
    fast.expect_error_and_close(15);
    server.wait_stats("one timeout", |s| {
        s.heartbeat_timeouts == 1 && s.sessions == 2
    });
    // `slow` negotiated 1 s: open at 1499, closed at 1500.
    for t in [1_000, 1_499] {
        server.advance_to(ms(t));
        live.settle();
    }
    assert_eq!(server.stats().heartbeat_timeouts, 1);
    server.advance_to(ms(1_500));
    slow.expect_error_and_close(15);
    server.wait_stats("two timeouts", |s| {
        s.heartbeat_timeouts == 2 && s.sessions == 1
    });
    // The heartbeating client is still served.
    for t in [2_000, 2_500, 3_000] {
        server.advance_to(ms(t));
        assert!(live.sync(b"hb").is_empty());
    }
    assert_eq!(server.stats().sessions, 1);
}

#[test]
fn protocol_violations_get_an_error_and_a_close_and_spare_the_others() {
    let server = Server::default_test();
    let mut bystander = server.client("bystander");
    bystander.send(ClientFrame::Join(b"r"));
    assert!(bystander.sync(b"j").is_empty());

    // A frame before AUTH.
    let mut c = Client::connect(server.addr());
    c.send(ClientFrame::Join(b"r"));
    c.expect_error_and_close(7);
    // A second AUTH.
    let mut c = server.client("twice");
    c.auth(0, &token("twice", &[]));
    c.expect_error_and_close(8);
    // An oversized frame: refused from its length field, before its body arrives.
    let mut c = server.client("big");
    c.s.write_all(&(1u32 << 20).to_be_bytes()).expect("send");
    c.expect_error_and_close(1);
    // An empty frame, an unknown type, v1's PUBLISH (gone: unknown), a short ACK.
    for (bytes, code) in [
        (&b"\0\0\0\0"[..], 3),
        (&b"\0\0\0\x01\x7f"[..], 4),
        (&b"\0\0\0\x05\x06\x00\x01r!"[..], 4),
        (&b"\0\0\0\x03\x05\x00\x01"[..], 5),
    ] {
        let mut c = server.client("junk");
        c.s.write_all(bytes).expect("send");
        c.expect_error_and_close(code);
    }
    // An empty room name; a malformed AUTH.
    let mut c = server.client("names");
    c.send(ClientFrame::Join(b""));
    c.expect_error_and_close(6);
    let mut c = Client::connect(server.addr());
    c.s.write_all(b"\0\0\0\x02\x01\x00").expect("send");
    c.expect_error_and_close(5);
    // Too many rooms.
    let mut c = server.client("joiner");
    for i in 0..=server.gw.config().max_rooms {
        c.send(ClientFrame::Join(format!("room-{i}").as_bytes()));
    }
    c.expect_error_and_close(9);

    // The bystander never noticed.
    let n = server
        .gw
        .push_room(b"r", &msg("still here", Qos::AtMostOnce));
    assert_eq!(n.unwrap(), 1);
    assert_eq!(bystander.sync(b"ok"), vec![push(0, "r", "still here")]);
    server.wait_stats("errors counted", |s| {
        s.protocol_errors == 10 && s.sessions == 1
    });
    assert_eq!(
        server.gw.rooms(),
        1,
        "the joiner's rooms were left on close"
    );
}

#[test]
fn a_slow_reader_is_held_back_not_buffered() {
    let mut config = test_config();
    config.mailbox = 100_000;
    config.heartbeat = Duration::from_secs(5);
    // One loop, so that `probe.settle()` vouches for `slow`'s loop.
    let server = Server::on_loops(config, 1);
    let mut probe = server.client("probe");
    let mut slow = server.client("slow");
    slow.send(ClientFrame::Join(b"firehose"));
    assert!(slow.sync(b"j").is_empty());
    // 8 MiB of messages to a client that reads nothing: the gateway stops at the high
    // watermark (plus what the sockets hold) and keeps the rest in the bounded mailbox.
    let payload = "x".repeat(8 * 1024);
    for _ in 0..1024 {
        server
            .gw
            .push_room(b"firehose", &msg(&payload, Qos::AtMostOnce))
            .unwrap();
    }
    // The loop has run the publishers' wake: the session wrote until the peer fell behind.
    probe.settle();
    let s = server.stats();
    assert_eq!((s.pushes_qos0, s.dropped_mailbox), (1024, 0), "{s}");
    assert!(
        s.delivered > 0 && s.delivered < 1024,
        "all or nothing sent to a client that reads nothing: {s}"
    );
    // It catches up once it reads.
    let mut n = 0;
    slow.send(ClientFrame::Ping(b"end"));
    loop {
        match slow.recv() {
            Some(Owned::Push(0, ..)) => n += 1,
            Some(Owned::Pong(_)) if n == 1024 => break,
            Some(Owned::Pong(_)) => slow.send(ClientFrame::Ping(b"end")),
            other => panic!("{other:?}"),
        }
    }
    server.wait_stats("all delivered", |s| s.delivered == 1024);
}

/// Frame size, room name and room count at their bounds: the limit itself is served, one more
/// is the limit's ERROR then a close of that connection only (the bystander still served).
#[test]
fn limits_at_the_bound_exactly() {
    // A JOIN naming 255 bytes is a frame of exactly 4 + 1 + 255 bytes, length field included.
    let mut config = test_config();
    config.max_frame = 260;
    config.max_name = 255;
    let server = Server::start(config);
    let mut bystander = server.client("bystander");
    bystander.send(ClientFrame::Join(b"r"));
    assert!(bystander.sync(b"j").is_empty());
    let mut c = server.client("frame");
    c.send(ClientFrame::Join(&[b'n'; 255]));
    assert!(c.sync(b"f").is_empty());
    c.send(ClientFrame::Join(&[b'n'; 256]));
    c.expect_error_and_close(1);
    bystander_still_served(&server, &mut bystander, 1);

    let mut config = test_config();
    config.max_name = 8;
    config.max_rooms = 3;
    let server = Server::start(config);
    let mut bystander = server.client("bystander");
    bystander.send(ClientFrame::Join(b"r"));
    assert!(bystander.sync(b"j").is_empty());
    // A room name of 8 bytes, then 9.
    let mut c = server.client("name");
    c.send(ClientFrame::Join(b"12345678"));
    assert!(c.sync(b"n").is_empty());
    c.send(ClientFrame::Join(b"123456789"));
    c.expect_error_and_close(6);
    // 3 rooms, then a 4th.
    let mut c = server.client("rooms");
    for room in ["a", "b", "c"] {
        c.send(ClientFrame::Join(room.as_bytes()));
    }
    assert!(c.sync(b"r").is_empty());
    c.send(ClientFrame::Join(b"d"));
    c.expect_error_and_close(9);
    bystander_still_served(&server, &mut bystander, 2);
}

/// A push to room `r` still reaches `bystander`, the only session left after `errors`
/// protocol errors.
fn bystander_still_served(server: &Server, bystander: &mut Client, errors: u64) {
    let n = server
        .gw
        .push_room(b"r", &msg("still here", Qos::AtMostOnce));
    assert_eq!(n.unwrap(), 1);
    assert_eq!(bystander.sync(b"ok"), vec![push(0, "r", "still here")]);
    server.wait_stats("errors counted", |s| {
        s.protocol_errors == errors && s.sessions == 1
    });
}

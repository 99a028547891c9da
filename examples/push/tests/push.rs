//! The push gateway end to end: a [`Gateway`](loopwire_push::Gateway) runs in-process on an
//! engine bound to 127.0.0.1 port 0, on a [`TestClock`](loopwire::TestClock); each test talks
//! the protocol over `TcpStream`s and publishes through `Gateway::publish` from the test
//! thread.
//!
//! Time stands still unless a test moves it, so every timing (heartbeat timeouts,
//! retransmissions, the parking TTL) is asserted at exact clock readings: one millisecond
//! before, nothing; at the reading, exactly what is due. No verdict depends on how fast the
//! machine is; the only real-time bound is a hang guard (`util::WAIT`).

mod util;

use std::io::Write;
use std::time::Duration;

use loopwire_push::frame;
use loopwire_push::{ClientFrame, Config};

use util::{Client, Owned, Server, ms, push};

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
fn ack_empties_the_window_and_unacked_messages_come_again_exactly_after_the_retransmit_delay() {
    let server = Server::default_test(); // retransmit after 300 ms
    let mut c = server.client("slowpoke");
    c.send(ClientFrame::Join(b"r"));
    assert!(c.sync(b"j").is_empty());
    // Both sent at 0.
    let m1 = server.gw.publish(b"r", b"one").unwrap().id;
    let m2 = server.gw.publish(b"r", b"two").unwrap().id;
    assert_eq!(
        c.sync(b"p"),
        vec![push(m1, "r", "one"), push(m2, "r", "two")]
    );
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
    assert_eq!(c.sync(b"due"), vec![push(m2, "r", "two")]);
    assert_eq!(server.stats().retransmitted, 1);
    // Resent at 300, it is due again at 600, not before.
    assert!(c.sync(b"same-reading").is_empty());
    server.advance_to(ms(599));
    assert!(c.sync(b"early-again").is_empty());
    server.advance_to(ms(600));
    assert_eq!(c.sync(b"due-again"), vec![push(m2, "r", "two")]);
    assert_eq!(server.stats().retransmitted, 2);
    c.send(ClientFrame::Ack(m2));
    c.send(ClientFrame::Ack(m2)); // a duplicate ACK is ignored
    assert!(c.sync(b"acks").is_empty());
    let s = server.stats();
    assert_eq!((s.unacked, s.acked, s.stale_acks), (0, 2, 1), "{s}");
    // Acknowledged, it never comes back.
    server.advance_to(ms(1_000));
    assert!(c.sync(b"after-ack").is_empty());
    assert_eq!(server.stats().retransmitted, 2);
}

#[test]
fn unacked_messages_are_redelivered_after_a_reconnect_with_the_same_id_within_the_ttl() {
    const TTL: Duration = Duration::from_secs(2);
    let mut config = Config::with_heartbeat(Duration::from_secs(5));
    config.parked_ttl = TTL;
    let server = Server::start(config);
    let mut a = server.client("phone-7");
    let mut b = server.client("phone-9");
    for c in [&mut a, &mut b] {
        c.send(ClientFrame::Join(b"r"));
        assert!(c.sync(b"j").is_empty());
    }
    let m1 = server.gw.publish(b"r", b"one").unwrap().id;
    for c in [&mut a, &mut b] {
        assert_eq!(c.sync(b"p"), vec![push(m1, "r", "one")]);
    }
    drop((a, b)); // no ACK: the connections drop, at 0
    server.wait_stats("parked", |s| s.parked == 2 && s.sessions == 0);
    // Another client id gets nothing.
    let mut other = server.client("phone-8");
    assert!(other.sync(b"x").is_empty());
    // Parked at 0: a HELLO at exactly the TTL gets the message first...
    server.advance_to(TTL);
    let mut again = server.client("phone-7");
    assert_eq!(again.sync(b"x"), vec![push(m1, "r", "one")]);
    assert_eq!(server.stats().restored, 1);
    // ...one a millisecond past it gets nothing.
    server.advance_to(TTL + ms(1));
    let mut late = server.client("phone-9");
    assert!(late.sync(b"x").is_empty());
    assert_eq!(server.stats().restored, 1);
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
fn a_client_that_stops_heartbeating_is_closed_exactly_at_the_idle_timeout() {
    let mut config = Config::with_heartbeat(ms(400));
    config.idle_timeout = ms(600);
    // One loop, so that `live.settle()` also vouches for `silent`'s loop.
    let server = Server::on_loops(config, 1);
    let mut live = server.client("live");
    let mut silent = server.client("silent");
    silent.send(ClientFrame::Join(b"s"));
    assert!(silent.sync(b"j").is_empty()); // its last word, at 0
    // `live` heartbeats every 200 ms; `silent` says nothing more.
    for t in [200, 400] {
        server.advance_to(ms(t));
        assert!(live.sync(b"hb").is_empty());
    }
    // At 599 `silent` is still open: a PUSH reaches it (server to client: not activity), and
    // once the loop ran a whole turn at 599 no timeout was counted.
    server.advance_to(ms(599));
    let p = server.gw.publish(b"s", b"still there?").unwrap();
    live.settle();
    let s = server.stats();
    assert_eq!((s.heartbeat_timeouts, s.sessions), (0, 2), "{s}");
    assert_eq!(silent.recv(), Some(push(p.id, "s", "still there?")));
    // At 600 it is closed (end of stream), and counted as a heartbeat timeout.
    server.advance_to(ms(600));
    assert_eq!(silent.recv(), None);
    server.wait_stats("one timeout", |s| {
        s.heartbeat_timeouts == 1 && s.sessions == 1
    });
    // The heartbeating client is still served, well past the silent one's end.
    for t in [800, 1_000, 1_200, 1_400] {
        server.advance_to(ms(t));
        assert!(live.sync(b"hb").is_empty());
    }
    let s = server.stats();
    assert_eq!((s.heartbeat_timeouts, s.sessions), (1, 1), "{s}");
    drop(live);
    server.wait_stats("closed", |s| s.sessions == 0);
}

#[test]
fn an_unintroduced_connection_times_out_too_exactly_at_the_idle_timeout() {
    let mut config = Config::with_heartbeat(ms(200));
    config.idle_timeout = ms(300);
    let server = Server::on_loops(config, 1);
    let mut c = Client::connect(server.addr()); // says nothing, ever
    // Accepted after `c` and handed to the same loop after it: once it has its WELCOME, `c`
    // is open on the loop, since 0.
    let mut probe = server.client("probe");
    server.advance_to(ms(299));
    probe.settle();
    assert_eq!(server.stats().heartbeat_timeouts, 0);
    server.advance_to(ms(300));
    assert_eq!(c.recv(), None);
    server.wait_stats("one timeout", |s| {
        s.heartbeat_timeouts == 1 && s.sessions == 1
    });
    assert!(probe.sync(b"alive").is_empty());
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
    // One loop, so that `probe.settle()` vouches for `slow`'s loop.
    let server = Server::on_loops(config, 1);
    let mut probe = server.client("probe");
    let mut slow = server.client("slow");
    slow.send(ClientFrame::Join(b"firehose"));
    assert!(slow.sync(b"j").is_empty());
    // 8 MiB of messages to a client that reads nothing: the gateway stops at the high
    // watermark (plus what the sockets hold) and keeps the rest in the bounded mailbox.
    let payload = vec![b'x'; 8 * 1024];
    for _ in 0..1024 {
        server.gw.publish(b"firehose", &payload).unwrap();
    }
    // The loop has run the publishers' wake: the session wrote until the peer fell behind.
    probe.settle();
    let s = server.stats();
    assert_eq!((s.published, s.dropped), (1024, 0), "{s}");
    assert!(
        s.delivered > 0 && s.delivered < 1024,
        "all or nothing sent to a client that reads nothing: {s}"
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
    assert_eq!(server.stats().retransmitted, 0);
}

//! The client library (`loopwire_push::client`) against the real gateway in-process (on a
//! test clock): connect, AUTH, JOIN and receive QoS0 and QoS1; duplicate QoS1 resends
//! (after the retransmit time, or after a reconnect before the ACK) surfaced once;
//! reconnection after a KICK and after the server closes an idle session, with a message
//! stored meanwhile delivered exactly once; the seeded backoff schedule; typed errors.

mod util;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopwire::Bytes;
use loopwire_push::api::Qos;
use loopwire_push::auth::{Claims, Secret, Signer};
use loopwire_push::client::{
    Backoff, BackoffConfig, Client, ClientError, ClientOptions, Event, SessionOptions,
};
use loopwire_push::{Outgoing, PushKind};

use util::{EPOCH, Server, WAIT, ms, token};

fn msg(payload: &str, qos: Qos) -> Outgoing {
    Outgoing {
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos,
        ttl: None,
    }
}

/// Backoff delays the client asked to sleep (it does not sleep in these tests).
type Sleeps = Arc<Mutex<Vec<Duration>>>;

fn backoff(seed: u64, max_attempts: Option<u32>) -> BackoffConfig {
    BackoffConfig {
        initial: ms(100),
        max: Duration::from_secs(1),
        multiplier: 2,
        max_attempts,
        seed,
    }
}

/// Options joining `rooms`, ACKing automatically or not, recording backoff delays.
fn options(rooms: &[&str], auto_ack: bool) -> (ClientOptions, Sleeps) {
    let sleeps: Sleeps = Arc::default();
    let rec = Arc::clone(&sleeps);
    let opts = ClientOptions {
        session: SessionOptions {
            auto_ack,
            ..SessionOptions::default()
        },
        rooms: rooms.iter().map(|r| r.to_string()).collect(),
        backoff: backoff(1, Some(20)),
        io_timeout: WAIT,
        sleep: Arc::new(move |d| rec.lock().unwrap().push(d)),
        ..ClientOptions::default()
    };
    (opts, sleeps)
}

/// PINGs with `tag` and returns every event before its PONG but heartbeat PONGs. The server
/// handles frames in order, so everything it did before the PING is in.
fn sync(c: &mut Client, tag: &[u8]) -> Vec<Event> {
    c.ping(tag).expect("ping");
    let mut got = Vec::new();
    loop {
        match c.recv_timeout(WAIT).expect("recv") {
            Some(Event::Pong(t)) if t == tag => return got,
            Some(Event::Pong(_)) => {}
            Some(ev) => got.push(ev),
            None => panic!("no PONG within {WAIT:?}; got {got:?}"),
        }
    }
}

fn push(id: u64, kind: PushKind, room: &str, payload: &str) -> Event {
    Event::Push {
        id,
        kind,
        room: room.into(),
        payload: payload.into(),
    }
}

/// The id of the only event, a PUSH.
fn only_id(events: &[Event]) -> u64 {
    match events {
        [Event::Push { id, .. }] => *id,
        other => panic!("expected one PUSH, got {other:?}"),
    }
}

#[test]
fn connects_authenticates_joins_and_receives_qos0_and_qos1() {
    let server = Server::default_test();
    let (opts, _) = options(&["news"], true);
    let mut c = Client::connect(server.addr(), &token("u1", &["news"]), opts).expect("connect");
    assert_eq!(c.session().heartbeat(), Some(Duration::from_secs(1)));
    assert!(sync(&mut c, b"joined").is_empty());
    assert_eq!(server.gw.room_members(b"news"), 1);

    assert_eq!(
        server
            .gw
            .push_room(b"news", &msg("q0", Qos::AtMostOnce))
            .expect("push"),
        1
    );
    assert_eq!(sync(&mut c, b"1"), [push(0, PushKind::Room, "news", "q0")]);
    server
        .gw
        .push_user("u1", &msg("q1", Qos::AtLeastOnce))
        .expect("push");
    let got = sync(&mut c, b"2");
    let id = only_id(&got);
    assert_ne!(id, 0);
    assert_eq!(got, [push(id, PushKind::User, "", "q1")]);
    // Acknowledged automatically: the store forgets it.
    assert!(sync(&mut c, b"3").is_empty());
    assert_eq!(server.store_stats().acked, 1);
    assert_eq!(c.session().dedupe().floor(), id);
}

#[test]
fn a_resend_after_the_retransmit_time_is_not_surfaced_twice() {
    let server = Server::on_loops(util::test_config(), 1);
    let (opts, _) = options(&[], false);
    let mut c = Client::connect(server.addr(), &token("u1", &[]), opts).expect("connect");
    server
        .gw
        .push_user("u1", &msg("once", Qos::AtLeastOnce))
        .expect("push");
    let id = only_id(&sync(&mut c, b"1"));
    // Past the retransmit time (300 ms) without an ACK: the server resends at our PING.
    server.advance_to(ms(400));
    assert!(sync(&mut c, b"2").is_empty());
    assert_eq!(server.stats().retransmitted, 1);
    assert_eq!(c.session().dedupe().duplicates(), 1);
    c.ack(id);
    assert!(sync(&mut c, b"3").is_empty());
    server.advance_to(ms(800));
    assert!(sync(&mut c, b"4").is_empty());
    assert_eq!(server.stats().retransmitted, 1);
    assert_eq!(server.store_stats().acked, 1);
}

#[test]
fn a_resend_after_a_reconnect_before_the_ack_is_not_surfaced_twice() {
    let server = Server::default_test();
    let (opts, sleeps) = options(&[], false);
    let mut c = Client::connect(server.addr(), &token("u1", &[]), opts).expect("connect");
    server
        .gw
        .push_user("u1", &msg("once", Qos::AtLeastOnce))
        .expect("push");
    let id = only_id(&sync(&mut c, b"1"));
    c.drop_connection();
    // The new session pulls the unacknowledged message again: dropped.
    assert!(matches!(
        c.recv_timeout(WAIT),
        Ok(Some(Event::Welcome { .. }))
    ));
    assert!(sync(&mut c, b"2").is_empty());
    assert_eq!(c.session().dedupe().duplicates(), 1);
    c.ack(id);
    assert!(sync(&mut c, b"3").is_empty());
    assert_eq!(server.store_stats().acked, 1);
    // Acknowledged: a third connection gets nothing.
    c.drop_connection();
    assert!(matches!(
        c.recv_timeout(WAIT),
        Ok(Some(Event::Welcome { .. }))
    ));
    assert!(sync(&mut c, b"4").is_empty());
    assert_eq!(c.connections(), 3);
    assert_eq!(sleeps.lock().unwrap().len(), 2);
}

#[test]
fn reconnects_after_a_kick_and_a_server_close_and_gets_what_was_stored_exactly_once() {
    let server = Server::on_loops(util::test_config(), 1);
    let (opts, sleeps) = options(&["news"], true);
    let mut c = Client::connect(server.addr(), &token("u1", &["news"]), opts).expect("connect");
    assert!(sync(&mut c, b"joined").is_empty());

    assert_eq!(server.gw.kick_user("u1", "bye"), 1);
    assert_eq!(
        c.recv_timeout(WAIT).expect("recv"),
        Some(Event::Kicked {
            code: 2,
            reason: "bye".into()
        })
    );
    server.wait_stats("the kicked session closed", |s| s.sessions == 0);
    server
        .gw
        .push_user("u1", &msg("while away", Qos::AtLeastOnce))
        .expect("push");
    assert_eq!(
        server
            .gw
            .push_room(b"news", &msg("lost", Qos::AtMostOnce))
            .expect("push"),
        0
    );
    // The next recv reconnects: WELCOME, then the stored message, once.
    assert!(matches!(
        c.recv_timeout(WAIT),
        Ok(Some(Event::Welcome { .. }))
    ));
    let got = sync(&mut c, b"1");
    let id = only_id(&got);
    assert_eq!(got, [push(id, PushKind::User, "", "while away")]);
    // Re-joined its room.
    assert_eq!(
        server
            .gw
            .push_room(b"news", &msg("back", Qos::AtMostOnce))
            .expect("push"),
        1
    );
    assert_eq!(
        sync(&mut c, b"2"),
        [push(0, PushKind::Room, "news", "back")]
    );

    // The server closes a session silent for 1.5 heartbeats (of its clock) with ERROR 15:
    // shown, then reconnected, and the acknowledged message is not delivered again.
    server.advance_to(Duration::from_secs(5));
    assert!(matches!(
        c.recv_timeout(WAIT),
        Ok(Some(Event::Error { code: 15, .. }))
    ));
    assert!(matches!(
        c.recv_timeout(WAIT),
        Ok(Some(Event::Welcome { .. }))
    ));
    assert!(sync(&mut c, b"3").is_empty());
    assert_eq!(c.connections(), 3);
    assert_eq!(c.session().dedupe().duplicates(), 0);
    assert_eq!(server.store_stats().acked, 1);
    assert_eq!(sleeps.lock().unwrap().len(), 2);
}

#[test]
fn the_backoff_schedule_is_the_seeded_one() {
    let server = Server::default_test();
    let (mut opts, sleeps) = options(&[], true);
    opts.backoff = backoff(42, Some(4));
    let mut c = Client::connect(server.addr(), &token("u1", &[]), opts).expect("connect");
    server.engine.stop();
    // The server says it is going away (KICK 3) and the connection ends; every attempt to
    // reconnect is refused; the client gives up after 4.
    let mut going_away = 0;
    let err = loop {
        match c.recv_timeout(WAIT) {
            Ok(Some(Event::Pong(_))) => {}
            Ok(Some(Event::Kicked { code: 3, .. })) => going_away += 1,
            Ok(other) => panic!("expected the end, got {other:?}"),
            Err(e) => break e,
        }
    };
    assert_eq!(going_away, 1, "told once that the server shuts down");
    assert!(matches!(err, ClientError::GaveUp { attempts: 4 }), "{err}");
    let got = sleeps.lock().unwrap().clone();
    let mut b = Backoff::new(backoff(42, Some(4)));
    let want: Vec<_> = std::iter::from_fn(|| b.next_delay()).collect();
    assert_eq!(got, want);
    // Each within [step / 2, step] for steps 100, 200, 400, 800 ms.
    for (d, step) in got.iter().zip([100, 200, 400, 800]) {
        assert!(*d >= ms(step / 2) && *d <= ms(step), "{d:?} vs {step} ms");
    }
    assert_eq!(
        got.iter().map(Duration::as_micros).collect::<Vec<_>>(),
        SEED_42_SCHEDULE_US
    );
}

/// The schedule of seed 42 (100 ms doubling, 4 attempts), in µs.
const SEED_42_SCHEDULE_US: [u128; 4] = [66_130, 128_631, 366_345, 785_260];

#[test]
fn a_refused_token_is_a_typed_error() {
    let server = Server::default_test();
    let other = Secret::from_bytes(b"another-secret-of-at-least-32-bytes!").expect("secret");
    let forged = Signer::new(&other).sign(&Claims::new("u1", EPOCH + 3600));
    let (opts, _) = options(&[], true);
    match Client::connect(server.addr(), &forged, opts) {
        Err(ClientError::Rejected { code: 104, .. }) => {}
        other => panic!("expected ERROR 104, got {other:?}"),
    }
}

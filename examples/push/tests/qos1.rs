//! QoS1 delivery through the store, end to end on the test clock: offline messages on
//! login, ACKed once and never again, TTL expiry, the attempt limit for a client that never
//! ACKs, several devices of one user, and room pushes stored for the users present.

mod util;

use std::time::Duration;

use loopwire::Bytes;
use loopwire_push::api::Qos;
use loopwire_push::store::StoreConfig;
use loopwire_push::{ClientFrame, Outgoing, Policy, PushKind};

use util::{Owned, Server, ids, ms, test_config, to_user};

fn qos1(payload: &str, ttl: Option<Duration>) -> Outgoing {
    Outgoing {
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos: Qos::AtLeastOnce,
        ttl,
    }
}

#[test]
fn a_message_to_an_offline_user_is_delivered_on_login_and_once_acked_never_again() {
    let server = Server::default_test();
    assert_eq!(server.gw.push_user("off", &qos1("hello", None)).unwrap(), 0);
    assert_eq!(server.store_stats().stored, 1);
    // QoS0 to an offline user is not kept.
    let q0 = Outgoing {
        qos: Qos::AtMostOnce,
        ..qos1("gone", None)
    };
    assert_eq!(server.gw.push_user("off", &q0).unwrap(), 0);
    // First login: delivered first thing; not ACKed, the connection drops.
    let mut c = server.client("off");
    let got = c.sync(b"1");
    let [id] = ids(&got)[..] else {
        panic!("{got:?}")
    };
    assert_eq!(got, vec![to_user(id, "hello")]);
    drop(c);
    server.wait_stats("closed", |s| s.sessions == 0 && s.unacked == 0);
    // Second login: delivered again, same id; ACKed.
    let mut c = server.client("off");
    assert_eq!(c.sync(b"2"), vec![to_user(id, "hello")]);
    c.send(ClientFrame::Ack(id));
    assert!(c.sync(b"acked").is_empty());
    drop(c);
    // Third and fourth logins: nothing.
    for tag in [b"3", b"4"] {
        server.wait_stats("closed", |s| s.sessions == 0);
        let mut c = server.client("off");
        assert!(c.sync(tag).is_empty());
    }
    let st = server.store_stats();
    assert_eq!((st.stored, st.acked), (0, 1), "{st:?}");
}

#[test]
fn a_message_past_its_ttl_is_not_delivered() {
    let server = Server::default_test();
    let ttl = Some(Duration::from_secs(2));
    server.gw.push_user("t", &qos1("early", ttl)).unwrap(); // at 0: expires at 2000
    server.advance_to(ms(1_000));
    server.gw.push_user("t", &qos1("later", ttl)).unwrap(); // expires at 3000
    server.advance_to(ms(1_999));
    let mut c = server.client("t");
    let got = c.sync(b"a");
    assert_eq!(got.len(), 2, "{got:?}");
    drop(c);
    server.wait_stats("closed", |s| s.sessions == 0);
    server.advance_to(ms(2_000));
    let mut c = server.client("t");
    let got = c.sync(b"b");
    assert!(
        matches!(&got[..], [Owned::Push(_, PushKind::User, _, p)] if p == b"later"),
        "{got:?}"
    );
    drop(c);
    server.wait_stats("closed", |s| s.sessions == 0);
    server.advance_to(ms(3_000));
    let mut c = server.client("t");
    assert!(c.sync(b"c").is_empty());
    assert_eq!(server.store_stats().expired, 2);
}

#[test]
fn a_never_acked_message_is_resent_on_each_due_heartbeat_up_to_max_attempts_then_dropped() {
    let store = StoreConfig {
        max_attempts: 3,
        ..StoreConfig::default()
    };
    let server = Server::build(test_config(), 2, store, false); // resend after 300 ms
    let mut c = server.client("deaf");
    server.gw.push_user("deaf", &qos1("m", None)).unwrap();
    let got = c.sync(b"0"); // attempt 1, at 0
    let [id] = ids(&got)[..] else {
        panic!("{got:?}")
    };
    for t in [300, 600] {
        server.advance_to(ms(t));
        assert_eq!(c.sync(b"hb"), vec![to_user(id, "m")], "attempt at {t}");
    }
    server.advance_to(ms(899));
    assert!(c.sync(b"not due").is_empty());
    // The 4th send would exceed max_attempts: dropped, counted, never sent again.
    server.advance_to(ms(900));
    assert!(c.sync(b"exhausted").is_empty());
    let s = server.stats();
    assert_eq!(
        (s.retransmitted, s.dropped_attempts, s.unacked),
        (2, 1, 0),
        "{s}"
    );
    assert_eq!(server.store_stats().dropped_attempts, 1);
    for t in [1_200, 1_500, 1_800] {
        server.advance_to(ms(t));
        assert!(c.sync(b"later").is_empty());
    }
    assert_eq!(server.stats().retransmitted, 2);
    drop(c);
    server.wait_stats("closed", |s| s.sessions == 0);
    let mut again = server.client("deaf");
    assert!(again.sync(b"relogin").is_empty());
}

#[test]
fn each_device_gets_the_message_and_one_ack_clears_it_for_all() {
    let mut config = test_config();
    config.policy = Policy::Multi { max: 2 };
    let server = Server::start(config);
    let mut phone = server.client("u");
    let mut tablet = server.client("u");
    assert_eq!(server.gw.push_user("u", &qos1("both", None)).unwrap(), 2);
    let got = phone.sync(b"p");
    assert_eq!(tablet.sync(b"t"), got, "same message, same id");
    let [id] = ids(&got)[..] else {
        panic!("{got:?}")
    };
    phone.send(ClientFrame::Ack(id));
    assert!(phone.sync(b"acked").is_empty());
    // The tablet's copy is due at 300, but the store no longer has it: not resent.
    server.advance_to(ms(300));
    assert!(tablet.sync(b"due").is_empty());
    let s = server.stats();
    assert_eq!((s.gone, s.retransmitted, s.unacked), (1, 0, 0), "{s}");
}

#[test]
fn a_qos1_room_push_is_stored_for_the_users_present_and_reaches_all_their_sessions() {
    let server = Server::default_test();
    let mut a1 = server.client("a");
    let mut a2 = server.client("a"); // not in the room, same user
    let mut b = server.client("b");
    let mut outsider = server.client("c");
    for m in [&mut a1, &mut b] {
        m.send(ClientFrame::Join(b"r"));
        assert!(m.sync(b"j").is_empty());
    }
    let n = server.gw.push_room(b"r", &qos1("news", None)).unwrap();
    assert_eq!(n, 3, "every session of the two users");
    assert_eq!(server.stats().stored, 2, "one message per distinct user");
    // (All read before any ACK: an ACK of `a`'s message by one of its sessions clears it
    // for the other one too, which may not have pulled it yet.)
    let got: Vec<_> = [&mut a1, &mut a2, &mut b].map(|c| c.sync(b"s")).into();
    for g in &got {
        assert!(
            matches!(&g[..], [Owned::Push(id, PushKind::Room, r, p)] if *id > 0 && r == b"r" && p == b"news"),
            "{got:?}"
        );
    }
    a1.ack_all(&got[0]);
    b.ack_all(&got[2]);
    // A user who joins afterwards does not get it: at least once to those present.
    outsider.send(ClientFrame::Join(b"r"));
    assert!(outsider.sync(b"late").is_empty());
}

//! Authentication and sessions end to end, on the test clock: AUTH first and in time,
//! refused tokens (bad signature, garbage, expiry at its exact second), the Single and Multi
//! login policies with their KICKs, and JOIN checked against the token's room grants.

mod util;

use loopwire_push::{ClientFrame, Policy};

use util::{Client, EPOCH, Owned, Server, ms, test_config, token_until};

#[test]
fn no_auth_within_the_auth_timeout_gets_error_14_and_a_close_exactly_at_it() {
    // One loop, so that `probe.settle()` vouches for the silent connection's loop.
    let server = Server::on_loops(test_config(), 1); // AUTH within 500 ms
    let mut silent = Client::connect(server.addr()); // says nothing, ever
    // Accepted after `silent` and handed to the same loop after it: once it has its
    // WELCOME, `silent` is open on the loop, since 0.
    let mut probe = server.client("probe");
    server.advance_to(ms(499));
    probe.settle();
    let s = server.stats();
    assert_eq!((s.auth_timeouts, s.connections), (0, 2), "{s}");
    server.advance_to(ms(500));
    // ERROR 14 (AuthTimeout), then the end of the stream.
    silent.expect_error_and_close(14);
    server.wait_stats("one auth timeout", |s| {
        s.auth_timeouts == 1 && s.connections == 1
    });
    // The authenticated one is not bound by the AUTH deadline.
    assert!(probe.sync(b"alive").is_empty());
    assert_eq!(server.stats().heartbeat_timeouts, 0);
}

#[test]
fn refused_tokens_get_their_auth_code_then_a_close() {
    let server = Server::default_test();
    let other = loopwire_push::auth::Signer::new(
        &loopwire_push::auth::Secret::from_bytes(b"another-secret-of-at-least-32-bytes!").unwrap(),
    )
    .sign(&loopwire_push::auth::Claims::new("u", EPOCH + 3600));
    let cases: [(&str, &[u8], u16); 4] = [
        ("bad signature", other.as_bytes(), 104),
        ("garbage", b"not.a.jwt", 102),
        ("missing", b"", 100),
        ("too long", &[b'a'; 5000], 101),
    ];
    for (what, tok, code) in cases {
        let mut c = Client::connect(server.addr());
        c.send(ClientFrame::Auth {
            heartbeat_ms: 0,
            token: tok,
        });
        match c.recv() {
            Some(Owned::Error(got, _)) => assert_eq!(got, code, "{what}"),
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(c.recv(), None, "{what}");
    }
    server.wait_stats("failures counted", |s| {
        s.auth_failures == 4 && s.connections == 0 && s.protocol_errors == 0
    });
}

#[test]
fn a_token_is_accepted_up_to_the_second_before_exp_on_the_test_clock() {
    let server = Server::default_test(); // leeway 0
    let tok = token_until("u", &[], EPOCH + 10);
    server.advance_to(ms(9_999)); // EPOCH + 9 s
    let mut c = Client::connect(server.addr());
    c.auth(0, &tok);
    assert!(matches!(c.recv(), Some(Owned::Welcome(..))));
    server.advance_to(ms(10_000)); // EPOCH + 10 s = exp
    let mut late = Client::connect(server.addr());
    late.auth(0, &tok);
    late.expect_error_and_close(105);
    // The session that got in before is still served.
    assert!(c.sync(b"still").is_empty());
    assert_eq!(server.stats().auth_failures, 1);
}

#[test]
fn single_policy_a_second_login_kicks_the_first() {
    let mut config = test_config();
    config.policy = Policy::Single;
    let server = Server::start(config);
    let mut first = server.client("u1");
    first.send(ClientFrame::Join(b"r"));
    assert!(first.sync(b"j").is_empty());
    let mut second = server.client("u1");
    let reason = first.expect_kick_and_close(1);
    assert_eq!(reason, "replaced by a newer login");
    assert!(second.sync(b"served").is_empty());
    assert_eq!(server.gw.online("u1"), 1);
    server.wait_stats("one kick", |s| s.kicks_replaced == 1 && s.sessions == 1);
    assert_eq!(
        server.gw.room_members(b"r"),
        0,
        "the kicked session left its room"
    );
    // Another user is not affected.
    let mut other = server.client("u2");
    assert!(other.sync(b"x").is_empty());
    assert!(second.sync(b"y").is_empty());
}

#[test]
fn multi_policy_a_login_beyond_the_maximum_kicks_the_oldest() {
    let mut config = test_config();
    config.policy = Policy::Multi { max: 2 };
    let server = Server::start(config);
    let mut a = server.client("u");
    let mut b = server.client("u");
    assert_eq!(server.gw.online("u"), 2);
    assert!(a.sync(b"a").is_empty() && b.sync(b"b").is_empty());
    let mut c = server.client("u");
    a.expect_kick_and_close(1);
    assert!(b.sync(b"b").is_empty());
    assert!(c.sync(b"c").is_empty());
    assert_eq!(server.gw.online("u"), 2);
    let mut d = server.client("u");
    b.expect_kick_and_close(1);
    assert!(c.sync(b"c").is_empty() && d.sync(b"d").is_empty());
    server.wait_stats("two kicks", |s| s.kicks_replaced == 2 && s.sessions == 2);
}

#[test]
fn join_is_checked_against_the_token_grants_on_every_login() {
    let server = Server::default_test();
    let mut c = server.login("u", &["A", "chat:*"]);
    c.send(ClientFrame::Join(b"A"));
    c.send(ClientFrame::Join(b"chat:42"));
    assert!(c.sync(b"ok").is_empty());
    assert_eq!(server.gw.room_members(b"chat:42"), 1);
    c.send(ClientFrame::Join(b"B"));
    c.expect_error_and_close(12);
    server.wait_stats("closed", |s| s.sessions == 0);
    assert_eq!(server.gw.room_members(b"A"), 0);
    // Reconnecting with a token without the grant: the room is checked again.
    let mut again = server.login("u", &["chat:*"]);
    again.send(ClientFrame::Join(b"A"));
    again.expect_error_and_close(12);
    // A token with no rooms at all joins none.
    let mut none = server.login("v", &[]);
    none.send(ClientFrame::Join(b"chat:1"));
    none.expect_error_and_close(12);
}

//! The gateway over WebSocket, end to end: a real `tungstenite` client on the gateway's
//! WebSocket listener (127.0.0.1 port 0, the engine's second address) speaks the push
//! protocol in binary messages, one frame each: AUTH, JOIN, a QoS0 room push and a QoS1 user
//! push from `Gateway` methods, ACK (no resend after the retransmit delay on the test
//! clock), ERROR then a Close frame on a violation, KICK then a Close frame when the same
//! user logs in over TCP under `Policy::Single`, HTTP errors for bad handshakes, and the
//! heartbeat and AUTH timeouts (ERROR 15 or 14, then Close 1008) at exact clock readings.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use loopwire::Bytes;
use loopwire_push::api::Qos;
use loopwire_push::frame::{self, LEN_BYTES};
use loopwire_push::ws::PROTOCOL;
use loopwire_push::{ClientFrame, Config, Outgoing, Policy, PushKind};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocket;
use tungstenite::{Message, http};

use util::{
    Client, Owned, ReadMessage, Server, WAIT, ms, owned, push, test_config, to_user, token,
};

type Ws = WebSocket<TcpStream>;

/// The test configuration with a WebSocket listener on 127.0.0.1, port 0.
fn ws_config() -> Config {
    let mut c = test_config();
    c.ws_addr = Some("127.0.0.1:0".parse().expect("addr"));
    c
}

/// The WebSocket listener: the engine's last address.
fn ws_addr(server: &Server) -> SocketAddr {
    let a = server.engine.addrs().last().and_then(|a| a.addr);
    let a = a.expect("a WebSocket listener");
    assert_eq!(server.gw.ws_addr(), Some(a));
    a
}

fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.set_write_timeout(Some(WAIT)).expect("timeout");
    s
}

/// A tungstenite client that asked for the subprotocol; checks it was selected.
fn connect(server: &Server) -> Ws {
    let addr = ws_addr(server);
    let mut req = format!("ws://{addr}/push")
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        http::HeaderValue::from_static(PROTOCOL),
    );
    let (ws, resp) = tungstenite::client(req, tcp(addr)).expect("handshake");
    assert_eq!(resp.status(), 101);
    let selected = resp.headers().get("Sec-WebSocket-Protocol");
    assert_eq!(selected.map(|v| v.as_bytes()), Some(PROTOCOL.as_bytes()));
    ws
}

fn send(ws: &mut Ws, f: ClientFrame<'_>) {
    let mut out = Vec::new();
    frame::encode_client(&f, usize::MAX, &mut out).expect("encode");
    ws.send(Message::Binary(out.into())).expect("send");
}

/// What the server sent next: `Ok(frame)` for a binary message (one frame, checked),
/// `Err(code)` for its Close frame. Answers pings (tungstenite does), skips pongs.
fn recv(ws: &mut Ws) -> Result<Owned, u16> {
    loop {
        match ws.next_message().expect("read") {
            Message::Binary(m) => return Ok(parse(&m)),
            Message::Close(Some(f)) => return Err(u16::from(f.code)),
            Message::Close(None) => return Err(0),
            Message::Pong(_) | Message::Ping(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

fn parse(m: &[u8]) -> Owned {
    let (len, body) = m.split_at(LEN_BYTES);
    assert_eq!(
        u32::from_be_bytes(len.try_into().unwrap()) as usize,
        body.len()
    );
    owned(body)
}

/// AUTH as `user` granted `rooms`; checks WELCOME.
fn login(server: &Server, user: &str, rooms: &[&str]) -> Ws {
    let mut ws = connect(server);
    send(
        &mut ws,
        ClientFrame::Auth {
            heartbeat_ms: 0,
            token: token(user, rooms).as_bytes(),
        },
    );
    assert_eq!(
        recv(&mut ws),
        Ok(Owned::Welcome(1000, 64, user.as_bytes().to_vec()))
    );
    ws
}

/// PING `tag`; every frame before its PONG.
fn sync(ws: &mut Ws, tag: &[u8]) -> Vec<Owned> {
    send(ws, ClientFrame::Ping(tag));
    let mut before = Vec::new();
    loop {
        match recv(ws) {
            Ok(Owned::Pong(t)) if t == tag => return before,
            Ok(f) => before.push(f),
            Err(code) => panic!("closed ({code}) before PONG; got {before:?}"),
        }
    }
}

/// The server's Close code, then the end of the stream.
fn expect_close(ws: &mut Ws) -> u16 {
    let code = recv(ws).expect_err("a Close frame");
    let mut rest = Vec::new();
    let _ = ws.get_mut().read_to_end(&mut rest);
    assert!(rest.is_empty(), "bytes after the Close: {rest:?}");
    code
}

fn msg(payload: &str, qos: Qos) -> Outgoing {
    Outgoing {
        payload: Bytes::copy_from_slice(payload.as_bytes()),
        qos,
        ttl: None,
    }
}

#[test]
fn a_browser_session_joins_gets_qos0_and_qos1_and_an_acked_message_is_not_resent() {
    let server = Server::on_loops(ws_config(), 1);
    let mut ws = login(&server, "alice", &["chat:*"]);
    send(&mut ws, ClientFrame::Join(b"chat:1"));
    assert_eq!(sync(&mut ws, b"j"), []);
    assert_eq!(server.gw.room_members(b"chat:1"), 1);

    let n = server
        .gw
        .push_room(b"chat:1", &msg("hello room", Qos::AtMostOnce));
    assert_eq!(n.expect("push"), 1);
    let n = server
        .gw
        .push_user("alice", &msg("for you", Qos::AtLeastOnce));
    assert_eq!(n.expect("push"), 1);
    let got = sync(&mut ws, b"p");
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.contains(&push(0, "chat:1", "hello room")), "{got:?}");
    let id = got.iter().find_map(|f| match f {
        Owned::Push(id, PushKind::User, _, p) if p == b"for you" => Some(*id),
        _ => None,
    });
    let id = id.expect("the QoS1 push");
    assert!(id != 0);
    assert!(got.contains(&to_user(id, "for you")));
    send(&mut ws, ClientFrame::Ack(id));
    assert_eq!(sync(&mut ws, b"a"), []);
    // Past the retransmit delay (300 ms): nothing comes again.
    server.advance_to(ms(300));
    assert_eq!(sync(&mut ws, b"later"), []);
    let s = server.stats();
    assert_eq!((s.acked, s.retransmitted, s.ws_upgrades), (1, 0, 1), "{s}");
}

#[test]
fn an_unacked_message_is_resent_over_websocket_at_exactly_the_retransmit_delay() {
    let server = Server::on_loops(ws_config(), 1);
    let mut ws = login(&server, "bob", &[]);
    server
        .gw
        .push_user("bob", &msg("m", Qos::AtLeastOnce))
        .expect("push");
    let first = sync(&mut ws, b"1");
    let [Owned::Push(id, ..)] = first[..] else {
        panic!("{first:?}")
    };
    server.advance_to(ms(299));
    assert_eq!(sync(&mut ws, b"2"), []);
    server.advance_to(ms(300));
    assert_eq!(sync(&mut ws, b"3"), [to_user(id, "m")]);
}

#[test]
fn a_protocol_violation_gets_error_then_a_close_frame() {
    let server = Server::start(ws_config());
    // JOIN of a room the token does not grant: ERROR 12, Close 1008.
    let mut ws = login(&server, "carol", &["news"]);
    send(&mut ws, ClientFrame::Join(b"secret"));
    assert!(matches!(recv(&mut ws), Ok(Owned::Error(12, _))));
    assert_eq!(expect_close(&mut ws), 1008);
    // A message holding two frames: ERROR 2.
    let mut ws = login(&server, "carol", &["news"]);
    let mut two = Vec::new();
    frame::encode_client(&ClientFrame::Ping(b"a"), 64, &mut two).unwrap();
    frame::encode_client(&ClientFrame::Ping(b"b"), 64, &mut two).unwrap();
    ws.send(Message::Binary(two.into())).expect("send");
    assert!(matches!(recv(&mut ws), Ok(Owned::Error(2, _))));
    assert_eq!(expect_close(&mut ws), 1008);
    // A frame before AUTH: ERROR 7.
    let mut ws = connect(&server);
    send(&mut ws, ClientFrame::Ping(b"x"));
    assert!(matches!(recv(&mut ws), Ok(Owned::Error(7, _))));
    assert_eq!(expect_close(&mut ws), 1008);
    // A text message: no ERROR, Close 1003 (the decoder refuses it).
    let mut ws = connect(&server);
    ws.send(Message::text("hi")).expect("send");
    assert_eq!(expect_close(&mut ws), 1003);
    server.wait_stats("all closed", |s| {
        s.connections == 0 && s.protocol_errors == 4
    });
}

#[test]
fn a_websocket_session_is_kicked_by_a_tcp_login_of_the_same_user_under_single() {
    let mut config = ws_config();
    config.policy = Policy::Single;
    let server = Server::start(config);
    let mut ws = login(&server, "dave", &[]);
    let mut phone = server.client("dave"); // over TCP
    match recv(&mut ws) {
        Ok(Owned::Kick(1, _)) => {}
        other => panic!("expected KICK 1, got {other:?}"),
    }
    assert_eq!(expect_close(&mut ws), 1000);
    assert!(phone.sync(b"still").is_empty());
    server.wait_stats("one session", |s| s.sessions == 1 && s.kicks_replaced == 1);
}

/// Sends `request` raw to the WebSocket listener; returns the whole answer (the server
/// closes after it).
fn raw_request(server: &Server, request: &[u8]) -> String {
    let mut s = tcp(ws_addr(server));
    s.write_all(request).expect("send");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn bad_handshakes_get_an_http_error_and_a_close() {
    let mut config = ws_config();
    config.ws_origins = vec!["https://app.example.com".into()];
    let server = Server::start(config);
    let upgrade = |origin: &str| {
        format!(
            "GET /push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Origin: {origin}\r\n\r\n"
        )
    };
    let cases = [
        (
            "plain GET",
            "GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
            "HTTP/1.1 426 ",
        ),
        (
            "foreign origin",
            upgrade("https://evil.example"),
            "HTTP/1.1 403 ",
        ),
        (
            "a TCP frame",
            "\0\0\0\x05\x04ping".to_owned(),
            "HTTP/1.1 400 ",
        ),
    ];
    for (what, req, status) in cases {
        let answer = raw_request(&server, req.as_bytes());
        assert!(answer.starts_with(status), "{what}: {answer}");
    }
    let ok = raw_request_open(&server, upgrade("https://APP.example.com").as_bytes());
    assert!(ok.starts_with("HTTP/1.1 101 "), "{ok}");
    server.wait_stats("counted", |s| {
        s.ws_handshake_failures == 3 && s.ws_upgrades == 1
    });
    // The TCP listener still speaks frames only.
    let mut c = Client::connect(server.addr());
    c.auth(0, &token("tcp", &[]));
    assert!(matches!(c.recv(), Some(Owned::Welcome(..))));
}

/// Sends `request` and reads the answer's head (the connection stays open).
fn raw_request_open(server: &Server, request: &[u8]) -> String {
    let mut s = tcp(ws_addr(server));
    s.write_all(request).expect("send");
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = loop {
            match s.read(&mut b) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.expect("read"),
            }
        };
        assert_eq!(n, 1, "closed: {head:?}");
        head.push(b[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn a_silent_websocket_session_times_out_at_exactly_1_5_heartbeats() {
    // One loop, so that the TCP probe's `settle` vouches for the WebSocket session's loop.
    let server = Server::on_loops(ws_config(), 1);
    let mut ws = login(&server, "quiet", &[]); // heartbeat 1 s, heard last at 0
    let mut probe = server.client("probe");
    // A WebSocket ping is traffic too: at 1000 it moves the deadline to 2500.
    server.advance_to(ms(1_000));
    ws.send(Message::Ping(Bytes::from_static(b"p")))
        .expect("ping");
    assert!(matches!(ws.next_message(), Ok(Message::Pong(p)) if &p[..] == b"p"));
    probe.settle();
    for t in [1_500, 2_499] {
        server.advance_to(ms(t));
        probe.settle();
    }
    assert_eq!(server.stats().heartbeat_timeouts, 0);
    server.advance_to(ms(2_500));
    // ERROR 15 (HeartbeatTimeout), a Close frame 1008, then the end of the stream.
    assert!(matches!(recv(&mut ws), Ok(Owned::Error(15, _))));
    assert_eq!(expect_close(&mut ws), 1008);
    server.wait_stats("one timeout", |s| {
        s.heartbeat_timeouts == 1 && s.sessions == 1
    });
}

#[test]
fn a_websocket_connection_without_auth_gets_error_14_and_a_close_frame_at_the_deadline() {
    // One loop, so that the TCP probe's `settle` vouches for the WebSocket connection's loop.
    let server = Server::on_loops(ws_config(), 1);
    let mut ws = connect(&server); // upgraded at 0, no AUTH: due at 500
    let mut probe = server.client("probe");
    server.advance_to(ms(499));
    probe.settle();
    assert_eq!(server.stats().auth_timeouts, 0);
    server.advance_to(ms(500));
    assert!(matches!(recv(&mut ws), Ok(Owned::Error(14, _))));
    assert_eq!(expect_close(&mut ws), 1008);
    server.wait_stats("one auth timeout", |s| {
        s.auth_timeouts == 1 && s.heartbeat_timeouts == 0
    });
}

#[test]
fn a_stopping_gateway_kicks_every_session_and_says_going_away_to_browsers() {
    let server = Server::start(ws_config());
    let mut ws = login(&server, "erin", &[]);
    let mut unauthenticated = connect(&server);
    let mut phone = server.login("frank", &[]);
    let mut silent = Client::connect(server.addr());
    assert!(phone.sync(b"up").is_empty());
    server.engine.stop();
    match recv(&mut ws) {
        Ok(Owned::Kick(3, reason)) => assert_eq!(reason, "server shutting down"),
        other => panic!("expected KICK 3, got {other:?}"),
    }
    assert_eq!(expect_close(&mut ws), 1001);
    assert_eq!(
        expect_close(&mut unauthenticated),
        1001,
        "no session, no KICK"
    );
    assert_eq!(
        phone.expect_kick_and_close(3),
        "server shutting down",
        "the TCP session is told too"
    );
    assert_eq!(
        silent.recv(),
        None,
        "a connection without a session just closes"
    );
}

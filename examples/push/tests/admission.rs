//! Who may connect, end to end on 127.0.0.x source addresses (clients bind 127.0.0.2,
//! 127.0.0.3 before connecting): the per-IP connection limit (at the limit served, one more
//! told ERROR 16, or HTTP 429 on the WebSocket listener, then closed; counted; a place freed
//! when a connection closes) and the allow / deny networks (deny wins, no word said).

mod util;

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};

use loopwire_push::Config;
use loopwire_push::admission::parse_net;
use loopwire_push::frame::ClientFrame;
use socket2::{Domain, Socket, Type};

use util::{Client, Owned, Server, WAIT, test_config, token};

/// A client whose socket is bound to `from` (port 0) before connecting to `to`.
fn connect_from(from: &str, to: SocketAddr) -> Client {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let from: SocketAddr = format!("{from}:0").parse().expect("addr");
    s.bind(&from.into()).expect("bind");
    s.connect(&to.into()).expect("connect");
    let s: TcpStream = s.into();
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    Client { s }
}

/// Logs `user` in from `from`; true if WELCOME came, false if the server closed at once
/// (without a word: a network refusal).
fn try_login(server: &Server, from: &str, user: &str) -> (bool, Client) {
    let mut c = connect_from(from, server.addr());
    c.auth(0, &token(user, &[]));
    match c.recv() {
        Some(Owned::Welcome(..)) => (true, c),
        None => (false, c),
        other => panic!("{other:?}"),
    }
}

/// A connection from `from` over the per-IP limit: told ERROR 16 before it sends anything,
/// then closed.
fn refused_over_the_limit(server: &Server, from: &str) {
    let mut c = connect_from(from, server.addr());
    c.expect_error_and_close(16);
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

#[test]
fn at_most_n_connections_per_ip_and_a_closed_one_frees_its_place() {
    let config = Config {
        max_conns_per_ip: 2,
        ..test_config()
    };
    let server = Server::start(config);
    let (ok1, a1) = try_login(&server, "127.0.0.2", "a1");
    let (ok2, mut a2) = try_login(&server, "127.0.0.2", "a2");
    assert_eq!((ok1, ok2), (true, true), "the limit itself is served");
    refused_over_the_limit(&server, "127.0.0.2");
    let (ok4, _b1) = try_login(&server, "127.0.0.3", "b1");
    assert!(ok4, "another address is served");
    a2.send(ClientFrame::Ping(b"p"));
    assert!(
        matches!(a2.recv(), Some(Owned::Pong(..))),
        "the others are undisturbed"
    );
    server.wait_stats("one refused", |s| {
        s.refused_ip_limit == 1 && s.connections == 3 && s.sessions == 3
    });
    assert_eq!(server.gw.conns_from(ip("127.0.0.2")), 2);
    assert_eq!(server.gw.conns_from(ip("127.0.0.3")), 1);
    drop(a1);
    server.wait_stats("a1 closed", |s| s.connections == 2);
    assert_eq!(server.gw.conns_from(ip("127.0.0.2")), 1);
    let (ok5, _a5) = try_login(&server, "127.0.0.2", "a5");
    assert!(ok5);
    refused_over_the_limit(&server, "127.0.0.2");
    server.wait_stats("two refused", |s| {
        s.refused_ip_limit == 2 && s.connections == 3
    });
    assert_eq!(server.stats().refused_network, 0);
}

#[test]
fn deny_wins_over_allow_and_an_allow_list_admits_only_its_networks() {
    let config = Config {
        allow: vec![parse_net("127.0.0.0/30").unwrap()], // .0 to .3
        deny: vec![parse_net("127.0.0.3").unwrap()],
        ..test_config()
    };
    let server = Server::start(config);
    let clients: Vec<(bool, Client)> = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
        .iter()
        .map(|from| try_login(&server, from, "u"))
        .collect();
    let admitted: Vec<bool> = clients.iter().map(|(ok, _)| *ok).collect();
    assert_eq!(admitted, [true, true, false, false]);
    server.wait_stats("two refused", |s| {
        s.refused_network == 2 && s.connections == 2 && s.refused_ip_limit == 0
    });
    // Nothing is counted without a per-IP limit.
    assert_eq!(server.gw.conns_from(ip("127.0.0.1")), 0);
}

#[test]
fn over_the_per_ip_limit_the_websocket_listener_answers_429() {
    let mut config = Config {
        max_conns_per_ip: 1,
        ..test_config()
    };
    config.ws_addr = Some("127.0.0.1:0".parse().expect("addr"));
    let server = Server::start(config);
    let ws = server
        .engine
        .addrs()
        .last()
        .and_then(|a| a.addr)
        .expect("a WebSocket listener");
    // The one place of 127.0.0.2 is taken by a push session (both listeners count).
    let (ok, _a1) = try_login(&server, "127.0.0.2", "a1");
    assert!(ok);
    let handshake = |from: &str| {
        let mut c = connect_from(from, ws);
        c.s.write_all(
            b"GET /push HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        )
        .expect("send");
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && c.s.read(&mut b).unwrap_or(0) == 1 {
            head.push(b[0]);
        }
        (String::from_utf8_lossy(&head).into_owned(), c)
    };
    let (refused, _c) = handshake("127.0.0.2");
    assert!(refused.starts_with("HTTP/1.1 429 "), "{refused}");
    assert!(refused.contains("Connection: close"), "{refused}");
    let (served, _d) = handshake("127.0.0.3");
    assert!(served.starts_with("HTTP/1.1 101 "), "{served}");
    server.wait_stats("one refused", |s| s.refused_ip_limit == 1);
}

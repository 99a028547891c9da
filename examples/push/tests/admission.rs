//! Who may connect, end to end on 127.0.0.x source addresses (clients bind 127.0.0.2,
//! 127.0.0.3 before connecting): the per-IP connection limit (refused at once, counted,
//! freed when a connection closes) and the allow / deny networks (deny wins).

mod util;

use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpStream};

use loopwire_push::Config;
use loopwire_push::admission::parse_net;
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

/// Logs `user` in from `from`; true if WELCOME came, false if the server closed at once.
fn try_login(server: &Server, from: &str, user: &str) -> (bool, Client) {
    let mut c = connect_from(from, server.addr());
    c.auth(0, &token(user, &[]));
    match c.recv() {
        Some(Owned::Welcome(..)) => (true, c),
        None => (false, c),
        other => panic!("{other:?}"),
    }
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
    let (ok2, _a2) = try_login(&server, "127.0.0.2", "a2");
    let (ok3, mut a3) = try_login(&server, "127.0.0.2", "a3");
    let (ok4, _b1) = try_login(&server, "127.0.0.3", "b1");
    assert_eq!((ok1, ok2, ok3, ok4), (true, true, false, true));
    let mut rest = Vec::new();
    assert_eq!(
        a3.s.read_to_end(&mut rest).map(|_| rest.len()).unwrap_or(0),
        0
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
    let (ok6, _a6) = try_login(&server, "127.0.0.2", "a6");
    assert!(!ok6);
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

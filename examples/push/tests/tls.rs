//! The client protocol over TLS (the engine's, [`Config::tls`] from PEM files as `push
//! --tls-cert --tls-key` loads them): a self-signed certificate for `localhost` made at test
//! time (rcgen, as the engine's own TLS tests), written to PEM files, loaded with
//! [`tls::server_config`]; a rustls client does AUTH / WELCOME / JOIN / PUSH / PING over TLS
//! on the TCP listener, a tungstenite client the same over `wss` on the WebSocket listener,
//! the heartbeat and AUTH deadlines hold over TLS at exact test-clock readings (despite the
//! engine re-running `on_open` per TLS read while a read deadline is set, see
//! `handler.rs`), and bad PEM files are refused with the file named.

#![cfg(target_os = "linux")]

mod util;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use loopwire::Bytes;
use loopwire::rustls::pki_types::{CertificateDer, ServerName};
use loopwire::rustls::{self, ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use loopwire_push::api::Qos;
use loopwire_push::frame::{self, LEN_BYTES};
use loopwire_push::tls::{self, TlsError};
use loopwire_push::{ClientFrame, Config, Outgoing};
use tungstenite::Message;
use tungstenite::client::IntoClientRequest;

use util::{Owned, ReadMessage, Server, WAIT, push, read_frame, test_config, token};

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// A fresh directory for this test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("loopwire-push-tls-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// Writes a self-signed certificate for `localhost` and its key (PEM) into `dir`; returns
/// their paths and a client configuration trusting the certificate.
fn certificate(dir: &Path) -> (PathBuf, PathBuf, Arc<ClientConfig>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("certificate");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).expect("write the certificate");
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).expect("write the key");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(cert.cert.der().to_vec()))
        .expect("root");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (cert_path, key_path, Arc::new(client))
}

/// A gateway serving TLS on both listeners, with the certificate loaded from PEM files.
fn tls_server(name: &str) -> (Server, Arc<ClientConfig>) {
    let dir = scratch(name);
    let (cert, key, client) = certificate(&dir);
    let mut config: Config = test_config();
    config.ws_addr = Some("127.0.0.1:0".parse().expect("addr"));
    config.tls = Some(tls::server_config(&cert, &key).expect("the PEM files load"));
    let _ = std::fs::remove_dir_all(&dir);
    (Server::on_loops(config, 1), client)
}

fn tls_connect(addr: SocketAddr, client: &Arc<ClientConfig>) -> Tls {
    let tcp = TcpStream::connect(addr).expect("connect");
    tcp.set_read_timeout(Some(WAIT)).expect("hang guard");
    tcp.set_write_timeout(Some(WAIT)).expect("hang guard");
    let name = ServerName::try_from("localhost").expect("name");
    let conn = ClientConnection::new(Arc::clone(client), name).expect("client");
    StreamOwned::new(conn, tcp)
}

fn send(s: &mut impl Write, f: ClientFrame<'_>) {
    let mut out = Vec::new();
    frame::encode_client(&f, usize::MAX, &mut out).expect("encode");
    s.write_all(&out).expect("send");
    s.flush().expect("flush");
}

#[test]
fn auth_welcome_and_push_over_tls() {
    let (server, client) = tls_server("tcp");
    let mut s = tls_connect(server.addr(), &client);
    let t = token("alice", &["news"]);
    send(
        &mut s,
        ClientFrame::Auth {
            heartbeat_ms: 0,
            token: t.as_bytes(),
        },
    );
    assert_eq!(
        read_frame(&mut s),
        Some(Owned::Welcome(1000, 64, b"alice".to_vec()))
    );
    send(&mut s, ClientFrame::Join(b"news"));
    send(&mut s, ClientFrame::Ping(b"joined"));
    assert_eq!(read_frame(&mut s), Some(Owned::Pong(b"joined".to_vec())));
    let out = Outgoing {
        payload: Bytes::from_static(b"over tls"),
        qos: Qos::AtMostOnce,
        ttl: None,
    };
    assert_eq!(server.gw.push_room(b"news", &out).expect("pushed"), 1);
    assert_eq!(read_frame(&mut s), Some(push(0, "news", "over tls")));
    // One connection, counted once, however many reads it took (`on_open` runs once, after
    // the handshake, whatever the handler's read deadline).
    let st = server.stats();
    assert_eq!((st.connections, st.sessions), (1, 1), "{st}");
}

#[test]
fn auth_and_welcome_over_wss() {
    let (server, client) = tls_server("wss");
    let addr = server.gw.ws_addr().expect("a WebSocket listener");
    let stream = tls_connect(addr, &client);
    let req = format!("wss://localhost:{}/push", addr.port())
        .into_client_request()
        .expect("request");
    let (mut ws, resp) = tungstenite::client(req, stream).expect("handshake over TLS");
    assert_eq!(resp.status(), 101);
    let mut auth = Vec::new();
    let t = token("bob", &[]);
    let f = ClientFrame::Auth {
        heartbeat_ms: 0,
        token: t.as_bytes(),
    };
    frame::encode_client(&f, usize::MAX, &mut auth).expect("encode");
    ws.send(Message::Binary(auth.into())).expect("send");
    let welcome = loop {
        match ws.next_message().expect("read") {
            Message::Binary(m) => break m,
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    let mut m = &welcome[..];
    assert_eq!(
        read_frame(&mut m),
        Some(Owned::Welcome(1000, 64, b"bob".to_vec()))
    );
    assert!(m.is_empty() && welcome.len() > LEN_BYTES);
}

#[test]
fn unreadable_pem_files_are_refused_naming_the_file() {
    let dir = scratch("bad");
    let (cert, key, _) = certificate(&dir);
    let missing = dir.join("missing.pem");
    let e = tls::server_config(&missing, &key).expect_err("no certificate file");
    assert!(
        matches!(&e, TlsError::Cert { path, .. } if *path == missing),
        "{e}"
    );
    // A certificate where the key should be: no private key in it.
    let e = tls::server_config(&cert, &cert).expect_err("no key");
    assert!(
        matches!(&e, TlsError::Key { path, .. } if *path == cert),
        "{e}"
    );
    // A key where the certificate should be: no certificate in it.
    let e = tls::server_config(&key, &key).expect_err("no certificate");
    assert!(
        matches!(&e, TlsError::Cert { path, .. } if *path == key),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// AUTH over TLS as `user` (heartbeat 1 s), WELCOME checked.
fn tls_login(server: &Server, client: &Arc<ClientConfig>, user: &str) -> Tls {
    let mut s = tls_connect(server.addr(), client);
    let t = token(user, &[]);
    let auth = ClientFrame::Auth {
        heartbeat_ms: 0,
        token: t.as_bytes(),
    };
    send(&mut s, auth);
    let welcome = Owned::Welcome(1000, 64, user.as_bytes().to_vec());
    assert_eq!(read_frame(&mut s), Some(welcome));
    s
}

fn ping(s: &mut Tls, tag: &[u8]) {
    send(s, ClientFrame::Ping(tag));
    assert_eq!(read_frame(s), Some(Owned::Pong(tag.to_vec())));
}

#[test]
fn a_silent_tls_session_gets_error_15_exactly_1_5_heartbeats_after_its_last_ping() {
    let (server, client) = tls_server("heartbeat");
    let mut quiet = tls_login(&server, &client, "quiet");
    let mut probe = tls_login(&server, &client, "probe");
    // Heard at 1000: due at 2500 (not 1500, and not cleared by the engine's repeated
    // `on_open` on TLS reads).
    server.advance_to(util::ms(1_000));
    ping(&mut quiet, b"q");
    ping(&mut probe, b"p1");
    server.advance_to(util::ms(2_499));
    ping(&mut probe, b"p2");
    ping(&mut probe, b"p3");
    quiet.sock.set_nonblocking(true).expect("nonblocking");
    let mut b = [0u8; 16];
    let silent = std::io::Read::read(&mut quiet, &mut b);
    assert!(
        matches!(&silent, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "open and silent at 2499: {silent:?}"
    );
    quiet.sock.set_nonblocking(false).expect("blocking");
    server.advance_to(util::ms(2_500));
    assert!(matches!(read_frame(&mut quiet), Some(Owned::Error(15, _))));
    assert_eq!(read_frame(&mut quiet), None);
}

#[test]
fn a_tls_client_stalling_inside_its_auth_gets_error_14() {
    let (server, client) = tls_server("auth");
    let mut s = tls_connect(server.addr(), &client);
    // A third of a length field at 0; the AUTH deadline, set at the opening (0), is due at
    // 500 whatever arrives.
    s.write_all(&[0]).expect("send");
    s.flush().expect("flush");
    // One loop: two round trips of a later client vouch that the byte was read at 0.
    let mut probe = tls_login(&server, &client, "probe");
    ping(&mut probe, b"p1");
    ping(&mut probe, b"p2");
    server.advance_to(util::ms(500));
    assert!(matches!(read_frame(&mut s), Some(Owned::Error(14, _))));
    assert_eq!(read_frame(&mut s), None);
    server.wait_stats("one auth timeout", |st| st.auth_timeouts == 1);
}

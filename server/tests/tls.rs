//! TLS inside the loop (feature `tls`): the handshake before `on_open`, plaintext for the
//! handler both ways, large transfers, garbage and stalled handshakes.

#![cfg(all(feature = "tls", target_os = "linux"))]

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopwire::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use loopwire::rustls::{
    self, ClientConfig, ClientConnection, RootCertStore, ServerConfig, StreamOwned,
};
use loopwire::{Action, CloseReason, Conn, Engine, EngineHandle, EventHandler};
use util::{Rng, WAIT, connect, eventually, tcp_addr};

/// A server configuration and a client configuration that trusts it, for `localhost`.
fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("certificate");
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .expect("server config");
    let mut roots = RootCertStore::empty();
    roots.add(der).expect("root");
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

/// Echoes plaintext; records opens and closes.
#[derive(Default)]
struct Echo {
    opens: Mutex<usize>,
    closes: Mutex<Vec<String>>,
}

impl EventHandler for Echo {
    type State = ();

    fn on_open(&self, _c: &mut Conn<'_, ()>) -> Action {
        *self.opens.lock().unwrap() += 1;
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let data = c.next(usize::MAX);
        c.write(data);
        Action::None
    }

    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        let text = match reason {
            CloseReason::Error(e) => format!("Error({:?})", e.kind()),
            other => format!("{other:?}"),
        };
        self.closes.lock().unwrap().push(text);
        Action::None
    }
}

fn start(handler: &Arc<Echo>, server: Arc<ServerConfig>) -> EngineHandle {
    Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .connect_timeout(Duration::from_millis(300))
        .tls(server)
        .start(Arc::clone(handler))
        .expect("start")
}

fn tls_client(
    engine: &EngineHandle,
    config: Arc<ClientConfig>,
) -> StreamOwned<ClientConnection, TcpStream> {
    let name = ServerName::try_from("localhost").expect("name");
    let conn = ClientConnection::new(config, name).expect("client");
    StreamOwned::new(conn, connect(tcp_addr(engine)))
}

#[test]
fn echo_over_tls_small_and_large() {
    let (server, client) = configs();
    let handler = Arc::new(Echo::default());
    let engine = start(&handler, server);
    let mut a = tls_client(&engine, Arc::clone(&client));
    a.write_all(b"hello").expect("write");
    let mut back = [0; 5];
    a.read_exact(&mut back).expect("echo");
    assert_eq!(&back, b"hello");
    assert_eq!(*handler.opens.lock().unwrap(), 1);

    // 4 MiB from a writer thread while the main thread reads: many records, partial
    // records across reads, the session's buffers filling up.
    let data = Rng::new(3).bytes(4 * 1024 * 1024);
    let mut b = tls_client(&engine, client);
    b.write_all(b"x").expect("handshake");
    let mut x = [0; 1];
    b.read_exact(&mut x).expect("echo");
    // One thread drives both directions (a rustls session is not split into halves), with
    // a non-blocking socket so neither side waits on the other.
    let mut stream = b;
    let mut sent = 0;
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0; 64 * 1024];
    stream.sock.set_nonblocking(true).expect("nonblocking");
    let deadline = std::time::Instant::now() + WAIT;
    while got.len() < data.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "transfer stalled at {}",
            got.len()
        );
        if sent < data.len() {
            let end = (sent + 16 * 1024).min(data.len());
            stream
                .conn
                .writer()
                .write_all(&data[sent..end])
                .expect("buffer");
            sent = end;
        }
        while stream.conn.wants_write() {
            match stream.conn.write_tls(&mut stream.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("write: {e}"),
            }
        }
        match stream.conn.read_tls(&mut stream.sock) {
            Ok(0) => panic!("server closed"),
            Ok(_) => {
                stream.conn.process_new_packets().expect("records");
                loop {
                    match stream.conn.reader().read(&mut buf) {
                        Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("read: {e}"),
        }
    }
    assert!(got == data, "the echo is the stream, in order");
    drop(a);
    drop(stream);
    engine.stop();
    engine.wait();
    assert_eq!(*handler.opens.lock().unwrap(), 2);
}

#[test]
fn garbage_and_stalled_handshakes_close_without_open() {
    let (server, client) = configs();
    let handler = Arc::new(Echo::default());
    let engine = start(&handler, server);
    // Not TLS at all.
    let mut garbage = connect(tcp_addr(&engine));
    garbage.write_all(b"GET / HTTP/1.1\r\n\r\n").expect("write");
    // Connects, says nothing: the handshake times out.
    let _silent = connect(tcp_addr(&engine));
    // Sends its ClientHello, then nothing: the server answers, and the handshake times out
    // half done.
    let mut half = connect(tcp_addr(&engine));
    let name = ServerName::try_from("localhost").expect("name");
    let mut hello = ClientConnection::new(Arc::clone(&client), name).expect("client");
    hello.write_tls(&mut half).expect("ClientHello");
    assert!(eventually(|| handler.closes.lock().unwrap().len() == 3));
    let mut closes = handler.closes.lock().unwrap().clone();
    closes.sort();
    assert_eq!(
        closes,
        vec!["Error(InvalidData)", "Error(TimedOut)", "Error(TimedOut)"]
    );
    assert_eq!(
        *handler.opens.lock().unwrap(),
        0,
        "no on_open without a handshake"
    );
    // The garbage got an alert, then the close.
    let mut rest = Vec::new();
    let _ = garbage.read_to_end(&mut rest);
    assert!(!rest.is_empty() && rest[0] == 0x15, "a TLS alert record");
    // Others are unaffected.
    let mut ok = tls_client(&engine, client);
    ok.write_all(b"still").expect("write");
    let mut back = [0; 5];
    ok.read_exact(&mut back).expect("echo");
    assert_eq!(&back, b"still");
    engine.stop();
    engine.wait();
}

/// Accepted connections echo; dialed ones greet with `hello <tag>` and collect the echo.
#[derive(Default)]
struct Dialer {
    opens: Mutex<Vec<Option<u64>>>,
    got: Mutex<Vec<u8>>,
    closes: Mutex<Vec<(Option<u64>, String)>>,
}

impl EventHandler for Dialer {
    type State = bool;

    fn on_open(&self, c: &mut Conn<'_, bool>) -> Action {
        self.opens.lock().unwrap().push(c.tag());
        if let Some(tag) = c.tag() {
            *c.state_mut() = true;
            c.write(format!("hello {tag}").as_bytes());
        }
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, bool>) -> Action {
        let data = c.next(usize::MAX);
        if *c.state() {
            self.got.lock().unwrap().extend_from_slice(data);
        } else {
            c.write(data);
        }
        Action::None
    }

    fn on_close(&self, c: &mut Conn<'_, bool>, reason: CloseReason) -> Action {
        let text = match reason {
            CloseReason::ConnectFailed(e) => format!("ConnectFailed({:?})", e.kind()),
            CloseReason::Error(e) => format!("Error({:?})", e.kind()),
            other => format!("{other:?}"),
        };
        self.closes.lock().unwrap().push((c.tag(), text));
        Action::None
    }
}

#[test]
fn a_tls_dial_handshakes_before_on_open_and_fails_against_a_plain_server() {
    let (server, client) = configs();
    let handler = Arc::new(Dialer::default());
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .connect_timeout(Duration::from_millis(500))
        .tls(server)
        .start(Arc::clone(&handler))
        .expect("start");
    let name = ServerName::try_from("localhost").expect("name");
    let url = format!("tcp://{}", tcp_addr(&engine));
    engine
        .dial_tls(&url, 9, Arc::clone(&client), name.clone())
        .expect("dial");
    assert!(eventually(
        || handler.got.lock().unwrap().as_slice() == b"hello 9"
    ));
    let mut opens = handler.opens.lock().unwrap().clone();
    opens.sort();
    assert_eq!(
        opens,
        vec![None, Some(9)],
        "both ends opened after the handshake"
    );

    // A plain echo server answers the ClientHello with itself: not a TLS server.
    let plain = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .start(util::Echo)
        .expect("plain");
    engine
        .dial_tls(&format!("tcp://{}", tcp_addr(&plain)), 10, client, name)
        .expect("dial");
    assert!(eventually(|| handler
        .closes
        .lock()
        .unwrap()
        .iter()
        .any(|(tag, _)| *tag == Some(10))));
    let closes = handler.closes.lock().unwrap().clone();
    let (_, reason) = closes.iter().find(|(t, _)| *t == Some(10)).expect("closed");
    assert!(
        reason == "Error(InvalidData)" || reason == "ConnectFailed(TimedOut)",
        "{reason}"
    );
    assert!(
        !handler.opens.lock().unwrap().contains(&Some(10)),
        "no on_open"
    );
    plain.stop();
    engine.stop();
    engine.wait();
}

/// Sets a read deadline in `on_open` and counts opens; echoes.
#[derive(Default)]
struct Guarded {
    opens: Mutex<usize>,
    closes: Mutex<Vec<(String, Duration)>>,
    clock: Mutex<Option<loopwire::TestClock>>,
}

impl EventHandler for Guarded {
    type State = ();

    fn on_open(&self, c: &mut Conn<'_, ()>) -> Action {
        *self.opens.lock().unwrap() += 1;
        c.set_read_deadline(Some(Duration::from_millis(500)));
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let data = c.next(usize::MAX);
        c.write(data);
        Action::None
    }

    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        let now = self
            .clock
            .lock()
            .unwrap()
            .as_ref()
            .map_or(Duration::ZERO, loopwire::TestClock::now);
        self.closes
            .lock()
            .unwrap()
            .push((format!("{reason:?}"), now));
        Action::None
    }
}

#[test]
fn a_handlers_read_deadline_is_its_own_after_the_handshake() {
    // The handshake's deadline used to ride on the read deadline, and a read deadline set in
    // `on_open` looked like a handshake still to finish: every read ran `on_open` again and
    // cleared the handler's deadline.
    let (server, client) = configs();
    let clock = loopwire::TestClock::new();
    let h = Arc::new(Guarded::default());
    *h.clock.lock().unwrap() = Some(clock.clone());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .tls(server)
        .clock(clock.clone())
        .start(Arc::clone(&h))
        .expect("start");
    let mut s = tls_client(&e, client);
    for round in 0..3 {
        s.write_all(b"ping").expect("write");
        let mut got = [0; 4];
        s.read_exact(&mut got).expect("echo");
        assert_eq!(&got, b"ping", "round {round}");
    }
    assert_eq!(
        *h.opens.lock().unwrap(),
        1,
        "on_open once, whatever the reads"
    );
    clock.advance(Duration::from_millis(499));
    s.write_all(b"late").expect("write");
    let mut got = [0; 4];
    s.read_exact(&mut got).expect("still served at 499 ms");
    assert!(h.closes.lock().unwrap().is_empty());
    clock.advance(Duration::from_millis(1));
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(eventually(|| !h.closes.lock().unwrap().is_empty()));
    assert_eq!(
        *h.closes.lock().unwrap(),
        [("ReadTimeout".to_string(), Duration::from_millis(500))],
        "the handler's deadline held through the reads"
    );
    assert_eq!(*h.opens.lock().unwrap(), 1);
    e.stop();
}

//! Outgoing connections: `EngineHandle::dial` (TCP and Unix, refused, timed out) and
//! `EngineHandle::enroll`, served by the same handler and loops as accepted connections.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopwire::{Action, CloseReason, Conn, Engine, EngineHandle, Error, EventHandler, TestClock};
use util::{WAIT, eventually, sock_path, tcp_addr};

/// What the handler saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Open(Option<u64>),
    /// A dialed or enrolled connection received these bytes.
    Got(u64, Vec<u8>),
    Close(Option<u64>, String),
}

/// Accepted connections echo; dialed and enrolled ones (which carry a tag) greet with
/// `hello <tag>` and collect what comes back.
#[derive(Default)]
struct Pair {
    seen: Mutex<Vec<Seen>>,
}

impl Pair {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl EventHandler for Pair {
    /// The tag of a dialed or enrolled connection, kept from `on_open`.
    type State = Option<u64>;

    fn on_open(&self, c: &mut Conn<'_, Option<u64>>) -> Action {
        self.seen.lock().unwrap().push(Seen::Open(c.tag()));
        if let Some(tag) = c.tag() {
            *c.state_mut() = Some(tag);
            c.write(format!("hello {tag}").as_bytes());
        }
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, Option<u64>>) -> Action {
        let data = c.next(usize::MAX);
        match *c.state() {
            None => c.write(data),
            Some(tag) => self
                .seen
                .lock()
                .unwrap()
                .push(Seen::Got(tag, data.to_vec())),
        }
        Action::None
    }

    fn on_close(&self, c: &mut Conn<'_, Option<u64>>, reason: CloseReason) -> Action {
        let reason = match reason {
            CloseReason::ConnectFailed(e) => format!("ConnectFailed({:?})", e.kind()),
            other => format!("{other:?}"),
        };
        self.seen.lock().unwrap().push(Seen::Close(c.tag(), reason));
        Action::None
    }
}

fn start(handler: &Arc<Pair>, configure: impl Fn(&mut loopwire::EngineBuilder)) -> EngineHandle {
    let mut b = Engine::builder();
    b.addr("tcp://127.0.0.1:0").loops(2);
    configure(&mut b);
    b.start(Arc::clone(handler)).expect("start")
}

/// The bytes tagged `tag` received so far, concatenated.
fn got(h: &Pair, tag: u64) -> Vec<u8> {
    h.seen()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Got(t, d) if t == tag => Some(d),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn a_dialed_connection_is_served_like_an_accepted_one() {
    let handler = Arc::new(Pair::default());
    let engine = start(&handler, |_| {});
    let url = format!("tcp://{}", tcp_addr(&engine));
    // The engine dials itself: its dialed side greets, its accepted side echoes.
    engine.dial(&url, 7).expect("dial");
    engine.dial(&url, 8).expect("dial");
    assert!(eventually(
        || got(&handler, 7) == b"hello 7" && got(&handler, 8) == b"hello 8"
    ));
    let seen = handler.seen();
    assert!(seen.contains(&Seen::Open(Some(7))) && seen.contains(&Seen::Open(Some(8))));
    assert_eq!(
        seen.iter().filter(|s| **s == Seen::Open(None)).count(),
        2,
        "and accepted their two peers"
    );
    engine.stop();
    engine.wait();
    let closes: Vec<_> = handler
        .seen()
        .into_iter()
        .filter(|s| matches!(s, Seen::Close(..)))
        .collect();
    assert_eq!(closes.len(), 4, "one on_close per connection: {closes:?}");
    assert!(
        closes.iter().all(|c| matches!(c, Seen::Close(None, _))),
        "the tag is shown in on_open only: {closes:?}"
    );
}

#[test]
fn a_refused_dial_reports_connect_failed_with_its_tag_and_no_open() {
    let handler = Arc::new(Pair::default());
    let engine = start(&handler, |_| {});
    // A port nobody listens on any more.
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    engine
        .dial(&format!("tcp://127.0.0.1:{port}"), 42)
        .expect("the connect starts");
    assert!(eventually(|| !handler.seen().is_empty()));
    assert_eq!(
        handler.seen(),
        vec![Seen::Close(
            Some(42),
            "ConnectFailed(ConnectionRefused)".into()
        )]
    );
    engine.stop();
    engine.wait();
}

#[test]
fn a_dial_that_hangs_fails_after_the_connect_timeout() {
    // A listener that never accepts, with its accept queue full: further SYNs are dropped,
    // so a connect to it neither succeeds nor fails until it gives up.
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    listener
        .bind(
            &"127.0.0.1:0"
                .parse::<std::net::SocketAddr>()
                .unwrap()
                .into(),
        )
        .expect("bind");
    listener.listen(0).expect("listen");
    let addr = listener
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("inet");
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fillers.push(s);
        }
    }
    let handler = Arc::new(Pair::default());
    let clock = TestClock::new();
    let engine = start(&handler, |b| {
        b.connect_timeout(Duration::from_millis(300))
            .clock(clock.clone());
    });
    engine.dial(&format!("tcp://{addr}"), 5).expect("dial");
    // The SYN goes unanswered: only the engine's clock can end the dial. Move it until then.
    assert!(eventually(|| {
        clock.advance(Duration::from_millis(50));
        !handler.seen().is_empty()
    }));
    assert_eq!(
        handler.seen(),
        vec![Seen::Close(Some(5), "ConnectFailed(TimedOut)".into())]
    );
    assert!(
        clock.now() >= Duration::from_millis(300),
        "not before the connect timeout on the engine's clock"
    );
    engine.stop();
    engine.wait();
    drop(fillers);
}

#[test]
fn dialing_a_unix_socket_and_enrolling_a_stream() {
    let handler = Arc::new(Pair::default());
    let path = sock_path("dial");
    let engine = start(&handler, |b| {
        b.addr(format!("unix://{}", path.display()));
    });
    engine
        .dial(&format!("unix://{}", path.display()), 1)
        .expect("dial unix");
    assert!(eventually(|| got(&handler, 1) == b"hello 1"));

    // Enroll: a stream connected elsewhere, handed to the engine.
    let outside = TcpListener::bind("127.0.0.1:0").expect("bind");
    let stream = TcpStream::connect(outside.local_addr().expect("addr")).expect("connect");
    let (mut far, _) = outside.accept().expect("accept");
    far.set_read_timeout(Some(WAIT)).expect("timeout");
    engine.enroll(stream, 2).expect("enroll");
    let mut greeting = [0; 7];
    far.read_exact(&mut greeting).expect("greeting");
    assert_eq!(&greeting, b"hello 2");
    far.write_all(b"back").expect("write");
    assert!(eventually(|| got(&handler, 2) == b"back"));
    far.shutdown(Shutdown::Both).ok();
    engine.stop();
    engine.wait();
}

#[test]
fn bad_dials_are_typed_errors() {
    let handler = Arc::new(Pair::default());
    let engine = start(&handler, |_| {});
    assert!(matches!(
        engine.dial("udp://127.0.0.1:9", 0),
        Err(Error::InvalidAddr { .. })
    ));
    assert!(matches!(
        engine.dial("tcp://127.0.0.1:0", 0),
        Err(Error::InvalidAddr { .. })
    ));
    let missing = sock_path("nobody");
    assert!(matches!(
        engine.dial(&format!("unix://{}", missing.display()), 0),
        Err(Error::Connect { .. })
    ));
    let url = format!("tcp://{}", tcp_addr(&engine));
    engine.stop();
    engine.wait();
    assert!(matches!(engine.dial(&url, 0), Err(Error::Stopped)));
    assert!(handler.seen().is_empty());
}

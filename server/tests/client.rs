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

/// A listener that never accepts, with its accept queue full: further SYNs are dropped, so a
/// connect to it neither succeeds nor fails until it gives up. Keep all three alive.
fn unanswering_listener() -> (socket2::Socket, std::net::SocketAddr, Vec<TcpStream>) {
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
    (listener, addr, fillers)
}

#[test]
fn a_dial_that_hangs_fails_after_the_connect_timeout() {
    let (_listener, addr, fillers) = unanswering_listener();
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

#[test]
fn max_pending_dials_in_flight_one_more_is_refused_and_a_finished_dial_frees_its_place() {
    const MAX: usize = 3;
    let (_listener, hanging, fillers) = unanswering_listener();
    let handler = Arc::new(Pair::default());
    let clock = TestClock::new();
    let engine = start(&handler, |b| {
        b.connect_timeout(Duration::from_millis(300))
            .max_pending_dials(MAX)
            .clock(clock.clone());
    });
    let live = TcpListener::bind("127.0.0.1:0").expect("bind");
    let live_url = format!("tcp://{}", live.local_addr().unwrap());
    // Completed dials give their place back: more than MAX in a row, one at a time.
    for tag in 0..(MAX as u64 + 2) {
        engine
            .dial(&live_url, tag)
            .expect("a dial while none is in flight");
        let (_far, _) = live.accept().expect("accept");
        assert!(eventually(|| handler
            .seen()
            .contains(&Seen::Open(Some(tag)))));
        assert!(eventually(|| engine.pending_dials() == 0));
    }
    // MAX dials that hang are served (in flight), one more is refused before any socket.
    let url = format!("tcp://{hanging}");
    for tag in 10..(10 + MAX as u64) {
        engine.dial(&url, tag).expect("within the bound");
    }
    assert_eq!(engine.pending_dials(), MAX);
    match engine.dial(&live_url, 99) {
        Err(Error::TooManyDials { max }) => assert_eq!(max, MAX),
        other => panic!("expected TooManyDials, got {other:?}"),
    }
    // The refused dial opened nothing: the live listener has no connection queued.
    live.set_nonblocking(true).expect("nonblocking");
    assert!(live.accept().is_err(), "a refused dial must not connect");
    live.set_nonblocking(false).expect("blocking");
    // The hanging dials time out on the engine's clock: their places come back, and the
    // connections already open were never disturbed.
    assert!(eventually(|| {
        clock.advance(Duration::from_millis(50));
        (10..(10 + MAX as u64)).all(|t| {
            handler
                .seen()
                .contains(&Seen::Close(Some(t), "ConnectFailed(TimedOut)".into()))
        })
    }));
    assert_eq!(engine.pending_dials(), 0);
    engine.dial(&live_url, 100).expect("a place is free again");
    let (mut far, _) = live.accept().expect("accept");
    let mut hello = [0u8; 9];
    far.set_read_timeout(Some(WAIT)).unwrap();
    far.read_exact(&mut hello).expect("greeting");
    assert_eq!(&hello, b"hello 100");
    assert!(
        !handler
            .seen()
            .iter()
            .any(|s| matches!(s, Seen::Open(Some(99)) | Seen::Close(Some(99), _))),
        "the refused dial never reached the handler"
    );
    engine.stop();
    engine.wait();
    drop(fillers);
}

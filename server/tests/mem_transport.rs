//! The whole engine on the in-memory transport (`loopwire::transport::mem`): no socket is
//! opened. Each test drives one behaviour through `EngineBuilder::start_on` and
//! `mem::Client`: open, traffic shown in place with leftovers kept, partial sends and
//! backpressure, close reasons, deadlines on the TestClock, broadcast, handle writes from
//! another thread, and a panicking callback closing only its connection.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use loopwire::transport::mem::{Client, Listener, MemTransport};
use loopwire::{
    Action, CloseReason, Conn, ConnHandle, Engine, EngineBuilder, EngineHandle, EventHandler,
    TestClock,
};

/// Hang guard for waits on the engine's log.
const WAIT: Duration = Duration::from_secs(10);
/// What the handler writes for a `!big` line.
const BIG: usize = 64 * 1024;

/// What the handler saw, in order, and the handles of the connections it opened.
#[derive(Default)]
struct Log {
    lines: Mutex<(Vec<String>, Vec<ConnHandle>)>,
    changed: Condvar,
}

impl Log {
    fn push(&self, line: String, handle: Option<ConnHandle>) {
        let mut g = self.lines.lock().unwrap();
        g.0.push(line);
        g.1.extend(handle);
        self.changed.notify_all();
    }

    /// Waits (hang guard: [`WAIT`]) until `n` lines equal `line`.
    fn wait_count(&self, line: &str, n: usize) {
        let deadline = Instant::now() + WAIT;
        let mut g = self.lines.lock().unwrap();
        while g.0.iter().filter(|l| *l == line).count() < n {
            let left = deadline
                .checked_duration_since(Instant::now())
                .unwrap_or_else(|| panic!("no {n} x {line:?} in {:?}", g.0));
            g = self.changed.wait_timeout(g, left).unwrap().0;
        }
    }

    fn wait(&self, line: &str) {
        self.wait_count(line, 1);
    }

    fn count(&self, line: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .0
            .iter()
            .filter(|l| *l == line)
            .count()
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().0.clone()
    }

    fn handles(&self) -> Vec<ConnHandle> {
        self.lines.lock().unwrap().1.clone()
    }
}

/// Echoes complete lines (what follows the last `\n` stays unread, shown again with the next
/// bytes); `!big` writes [`BIG`] bytes, `!close` closes, `!panic` panics.
struct Lines {
    log: Arc<Log>,
    read_deadline: Option<Duration>,
}

fn reason(r: &CloseReason) -> String {
    match r {
        CloseReason::Error(e) => format!("close Error({:?})", e.kind()),
        other => format!("close {other:?}"),
    }
}

/// The `!big` payload: a counting pattern, so order and loss show.
fn big() -> Vec<u8> {
    (0..BIG).map(|i| (i % 251) as u8).collect()
}

impl EventHandler for Lines {
    type State = ();

    fn on_open(&self, c: &mut Conn<'_, ()>) -> Action {
        if let Some(d) = self.read_deadline {
            c.set_read_deadline(Some(d));
        }
        self.log.push("open".into(), Some(c.handle()));
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let bytes = c.peek(usize::MAX);
        let Some(end) = bytes.iter().rposition(|&b| b == b'\n') else {
            return Action::None;
        };
        let lines = c.next(end + 1);
        for line in lines.split_inclusive(|&b| b == b'\n') {
            match line {
                b"!big\n" => c.write(&big()),
                b"!close\n" => return Action::Close,
                b"!panic\n" => panic!("a handler panics on purpose"),
                _ => c.write(line),
            }
        }
        Action::None
    }

    fn on_writability_changed(&self, _c: &mut Conn<'_, ()>, writable: bool) -> Action {
        self.log.push(format!("writable {writable}"), None);
        Action::None
    }

    fn on_close(&self, _c: &mut Conn<'_, ()>, r: CloseReason) -> Action {
        self.log.push(reason(&r), None);
        Action::None
    }
}

struct Rig {
    engine: EngineHandle,
    listener: Listener,
    log: Arc<Log>,
}

impl Rig {
    fn start(b: &mut EngineBuilder, read_deadline: Option<Duration>) -> Rig {
        let listener = Listener::new().expect("listener");
        let log = Arc::new(Log::default());
        let handler = Lines {
            log: Arc::clone(&log),
            read_deadline,
        };
        let l = listener.clone();
        let engine = b
            .start_on(move |_| Ok((MemTransport::new(), vec![l.clone()])), handler)
            .expect("start on the in-memory transport");
        Rig {
            engine,
            listener,
            log,
        }
    }

    /// A client whose `on_open` ran (the `n`th open).
    fn open(&self, n: usize) -> Client {
        let c = self.listener.connect();
        self.log.wait_count("open", n);
        c
    }
}

fn builder() -> EngineBuilder {
    let mut b = Engine::builder();
    b.loops(1);
    b
}

#[test]
fn traffic_is_shown_in_place_and_unread_bytes_come_back() {
    let rig = Rig::start(&mut builder(), None);
    let c = rig.open(1);
    c.write(b"hel");
    c.write(b"lo\nwor");
    assert_eq!(c.read_exact(6).unwrap(), b"hello\n");
    c.write(b"ld\n");
    assert_eq!(
        c.read_exact(6).unwrap(),
        b"world\n",
        "the unread tail joined"
    );
    assert_eq!(rig.listener.pending(), 0);
    rig.engine.stop();
    assert_eq!(rig.log.lines(), ["open", "close Shutdown"]);
}

#[test]
fn partial_sends_keep_order_and_backpressure_is_announced() {
    let mut b = builder();
    b.write_watermarks(1024, 8 * 1024);
    let rig = Rig::start(&mut b, None);
    let c = rig.open(1);
    c.set_window(1000);
    c.write(b"!big\n");
    rig.log.wait("writable false");
    // The transport took exactly the window; the rest waits in the engine.
    let mut got = c.read_exact(1000).unwrap();
    assert_eq!(rig.log.count("writable true"), 0);
    c.set_window(usize::MAX);
    got.extend(c.read_exact(BIG - 1000).unwrap());
    assert_eq!(got, big(), "every byte, in order");
    rig.log.wait("writable true");
    // Still served after the backlog drained.
    c.write(b"ok\n");
    assert_eq!(c.read_exact(3).unwrap(), b"ok\n");
    rig.engine.stop();
}

#[test]
fn each_close_has_its_reason() {
    let rig = Rig::start(&mut builder(), None);
    let peer = rig.open(1);
    let handler = rig.open(2);
    let reset = rig.open(3);
    let shutdown = rig.open(4);

    peer.write(b"bye\n");
    peer.shutdown();
    assert_eq!(peer.read_to_close().unwrap(), b"bye\n");
    rig.log.wait("close PeerClosed");

    handler.write(b"last\n!close\n");
    assert_eq!(handler.read_to_close().unwrap(), b"last\n");
    rig.log.wait("close Handler");

    reset.reset();
    rig.log.wait("close Error(ConnectionReset)");

    rig.engine.stop();
    assert!(shutdown.is_closed());
    assert_eq!(rig.log.count("close Shutdown"), 1);
}

#[test]
fn idle_timeout_runs_on_the_test_clock() {
    let clock = TestClock::new();
    let mut b = builder();
    b.clock(clock.clone())
        .idle_timeout(Some(Duration::from_millis(100)));
    let rig = Rig::start(&mut b, None);
    let c = rig.open(1);
    clock.advance(Duration::from_millis(60));
    // Traffic at 60 ms moves the idle deadline to 160 ms.
    c.write(b"ping\n");
    assert_eq!(c.read_exact(5).unwrap(), b"ping\n");
    clock.advance(Duration::from_millis(60));
    c.write(b"pong\n");
    assert_eq!(c.read_exact(5).unwrap(), b"pong\n", "alive at 120 ms");
    assert!(!c.is_closed());
    clock.advance(Duration::from_millis(200));
    c.read_to_close().unwrap();
    rig.log.wait("close IdleTimeout");
    rig.engine.stop();
}

#[test]
fn a_read_deadline_closes_a_silent_connection() {
    let clock = TestClock::new();
    let mut b = builder();
    b.clock(clock.clone());
    let rig = Rig::start(&mut b, Some(Duration::from_millis(50)));
    let c = rig.open(1);
    clock.advance(Duration::from_millis(49));
    c.write(b"x\n");
    assert_eq!(c.read_exact(2).unwrap(), b"x\n", "before the deadline");
    clock.advance(Duration::from_millis(2));
    c.read_to_close().unwrap();
    rig.log.wait("close ReadTimeout");
    rig.engine.stop();
}

#[test]
fn a_broadcast_reaches_every_connection() {
    let mut b = Engine::builder();
    b.loops(2);
    let rig = Rig::start(&mut b, None);
    let clients: Vec<Client> = (1..=4).map(|n| rig.open(n)).collect();
    rig.engine.broadcast(&b"news\n"[..]).unwrap();
    for c in &clients {
        assert_eq!(c.read_exact(5).unwrap(), b"news\n");
    }
    rig.engine.stop();
    assert_eq!(rig.log.count("close Shutdown"), 4);
}

#[test]
fn handles_write_and_close_from_another_thread() {
    let rig = Rig::start(&mut builder(), None);
    let c = rig.open(1);
    let h = rig.log.handles()[0];
    let engine = rig.engine.clone();
    std::thread::spawn(move || {
        engine.async_write(h, &b"from afar\n"[..]).unwrap();
        engine.close(h).unwrap();
    })
    .join()
    .unwrap();
    assert_eq!(c.read_to_close().unwrap(), b"from afar\n");
    rig.log.wait("close Handler");
    assert!(!rig.engine.is_open(h));
    rig.engine.stop();
}

#[test]
fn a_panicking_callback_closes_only_its_connection() {
    let rig = Rig::start(&mut builder(), None);
    let calm = rig.open(1);
    let wild = rig.open(2);
    wild.write(b"!panic\n");
    wild.read_to_close().unwrap();
    rig.log.wait("close Panicked");
    calm.write(b"still here\n");
    assert_eq!(calm.read_exact(11).unwrap(), b"still here\n");
    rig.engine.stop();
    assert_eq!(rig.log.count("close Shutdown"), 1);
}

#[test]
fn dials_are_refused_by_a_transport_without_os_sockets() {
    // The engine's dial makes an OS socket; the in-memory transport cannot adopt it, and
    // the loop goes on serving its own connections.
    let rig = Rig::start(&mut builder(), None);
    let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", server.local_addr().unwrap());
    rig.engine.dial(&url, 7).unwrap();
    let c = rig.open(1);
    c.write(b"hi\n");
    assert_eq!(c.read_exact(3).unwrap(), b"hi\n");
    rig.engine.stop();
    assert_eq!(rig.log.lines(), ["open", "close Shutdown"]);
}

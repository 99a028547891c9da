//! The handler's read deadline and the engine's write stall timeout, end to end, on the
//! engine's test clock: time moves only when the test says, so each test asserts in which
//! order things happen (and at which clock reading), never how long the machine took.

mod util;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopwire::{Action, CloseReason, Conn, Engine, Error, EventHandler, TestClock};

use util::{connect, eventually, small_window_client, tcp_addr};

const DEADLINE: Duration = Duration::from_millis(200);

/// Why and when (on the test clock) each connection closed, by the peer's port.
type Closes = Mutex<Vec<(String, Duration, u16)>>;

/// A line protocol with a slow-loris guard: each line must be complete within [`DEADLINE`]
/// of its first byte (of the connection's opening, for the first).
struct Lines {
    clock: TestClock,
    closes: Closes,
}

impl Lines {
    fn new(clock: &TestClock) -> Self {
        Self {
            clock: clock.clone(),
            closes: Mutex::default(),
        }
    }
}

impl EventHandler for Lines {
    /// Whether a read deadline is set (a line has started, or the first is awaited).
    type State = bool;

    fn on_open(&self, c: &mut Conn<'_, bool>) -> Action {
        c.set_read_deadline(Some(DEADLINE));
        *c.state_mut() = true;
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, bool>) -> Action {
        while let Some(end) = c.inbound().iter().position(|&b| b == b'\n') {
            c.discard(end + 1);
            c.write(b"ok\n");
        }
        // Set the deadline when a line starts and clear it when none is pending; never move
        // it on a read, or a peer trickling bytes would keep the connection forever.
        let pending = c.inbound_len() > 0;
        if pending != *c.state() {
            c.set_read_deadline(pending.then_some(DEADLINE));
            *c.state_mut() = pending;
        }
        Action::None
    }

    fn on_close(&self, c: &mut Conn<'_, bool>, reason: CloseReason) -> Action {
        let port = c.peer_addr().map_or(0, |a| a.port());
        self.closes
            .lock()
            .unwrap()
            .push((format!("{reason:?}"), self.clock.now(), port));
        Action::None
    }
}

fn start<H: EventHandler>(
    handler: H,
    clock: &TestClock,
    configure: impl Fn(&mut loopwire::EngineBuilder),
) -> loopwire::EngineHandle {
    let mut builder = Engine::builder();
    builder
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .clock(clock.clone());
    configure(&mut builder);
    builder.start(handler).expect("start")
}

/// Reads until the server closes; returns what was read.
fn read_until_closed(s: &mut impl Read) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("expected the server to close: {e}"),
        }
    }
}

/// One line's round trip on a fresh connection: once it is answered, the loop has finished
/// every turn that began before it (the loop serves one connection's events at a time).
/// Only for clock steps shorter than [`DEADLINE`]: see `a_prompt_peer_keeps_its_connection`.
fn settle(addr: std::net::SocketAddr) {
    line_round_trip(&mut connect(addr));
}

/// One line's round trip on `s`.
fn line_round_trip(s: &mut std::net::TcpStream) {
    s.write_all(b"sync\n").expect("write");
    let mut reply = [0; 3];
    s.read_exact(&mut reply).expect("reply");
    assert_eq!(&reply, b"ok\n");
}

#[test]
fn a_trickling_peer_misses_the_read_deadline_exactly_when_it_passes() {
    let clock = TestClock::new();
    let handler = Arc::new(Lines::new(&clock));
    let engine = start(Arc::clone(&handler), &clock, |_| {});
    let addr = tcp_addr(&engine);
    let mut slow = connect(addr);
    // Opened at 0: its deadline is 200. One byte every 40 ms: the connection sees traffic all
    // the time, yet the line never completes, and reads do not move the deadline.
    settle(addr);
    for _ in 0..4 {
        slow.write_all(b"x").expect("write");
        clock.advance(Duration::from_millis(40));
        settle(addr);
    }
    assert_eq!(clock.now(), Duration::from_millis(160));
    assert!(
        !handler
            .closes
            .lock()
            .unwrap()
            .iter()
            .any(|c| c.0 == "ReadTimeout"),
        "not closed before the deadline"
    );
    slow.write_all(b"x").expect("write");
    clock.advance(Duration::from_millis(40));
    assert_eq!(read_until_closed(&mut slow), b"");
    let closes = handler.closes.lock().unwrap().clone();
    let timeouts: Vec<_> = closes.iter().filter(|c| c.0 == "ReadTimeout").collect();
    assert_eq!(timeouts.len(), 1, "{closes:?}");
    assert_eq!(
        timeouts[0].1, DEADLINE,
        "closed on the turn the deadline passed"
    );
    engine.stop();
}

#[test]
fn a_prompt_peer_keeps_its_connection() {
    let clock = TestClock::new();
    let handler = Arc::new(Lines::new(&clock));
    let engine = start(Arc::clone(&handler), &clock, |_| {});
    let addr = tcp_addr(&engine);
    let mut fast = connect(addr);
    fast.write_all(b"hello\n").expect("write");
    let mut reply = [0; 3];
    fast.read_exact(&mut reply).expect("reply");
    assert_eq!(&reply, b"ok\n");
    // A probe opened (and its deadline cleared) before the clock jumps: a fresh connection
    // opened after the jump could be registered in a loop turn that began before it, its
    // deadline counted from that turn's older reading and already past.
    let mut probe = connect(addr);
    line_round_trip(&mut probe);
    // The deadline was cleared: quiet for twice the deadline, then another line.
    clock.advance(DEADLINE * 2);
    line_round_trip(&mut probe);
    fast.write_all(b"again\n").expect("write");
    fast.read_exact(&mut reply).expect("reply");
    assert_eq!(&reply, b"ok\n");
    engine.stop();
    let port = fast.local_addr().expect("addr").port();
    let closes = handler.closes.lock().unwrap().clone();
    let mine: Vec<_> = closes.iter().filter(|c| c.2 == port).collect();
    assert_eq!(mine.len(), 1, "{closes:?}");
    assert_eq!(mine[0].0, "Shutdown", "alive until the engine stopped");
}

/// Sends a large greeting and never reads.
struct Greeter {
    clock: TestClock,
    closes: Closes,
}

const GREETING: usize = 4 * 1024 * 1024;

impl EventHandler for Greeter {
    type State = ();

    fn on_open(&self, c: &mut Conn<'_, ()>) -> Action {
        c.write(&vec![b'g'; GREETING]);
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        c.discard(usize::MAX);
        Action::None
    }

    fn on_close(&self, c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        let port = c.peer_addr().map_or(0, |a| a.port());
        self.closes
            .lock()
            .unwrap()
            .push((format!("{reason:?}"), self.clock.now(), port));
        Action::None
    }
}

const WRITE_TIMEOUT: Duration = Duration::from_millis(300);
/// More than the kernel can hold between the server's send buffer (16 KiB asked, doubled)
/// and a small-window client's receive buffer: reading this much means the server sent some
/// of it after the read began.
const STEP: usize = 256 * 1024;

#[test]
fn a_peer_that_stops_reading_hits_the_write_timeout_a_slow_one_does_not() {
    let clock = TestClock::new();
    let handler = Arc::new(Greeter {
        clock: clock.clone(),
        closes: Mutex::default(),
    });
    let engine = start(Arc::clone(&handler), &clock, |b| {
        b.send_buffer(16 * 1024).write_timeout(Some(WRITE_TIMEOUT));
    });
    let addr = tcp_addr(&engine);

    // Slow but steady: a step of reading per 100 ms of clock, 16 steps (five times the
    // timeout in all), never stalled for long. It gets the whole greeting.
    let mut slow = small_window_client(addr);
    let mut buf = vec![0; STEP];
    for _ in 0..GREETING / STEP {
        clock.advance(Duration::from_millis(100));
        slow.read_exact(&mut buf)
            .expect("not closed while it reads");
    }
    assert!(
        handler.closes.lock().unwrap().is_empty(),
        "alive while it reads"
    );

    // Stalled: reads nothing, so the socket takes nothing once the buffers are full. The
    // greeting stalls at once, on the turn that opens it.
    let stalled = small_window_client(addr);
    let opened = clock.now();
    let mut probe = small_window_client(addr);
    let mut greeting = vec![0; GREETING];
    probe
        .read_exact(&mut greeting)
        .expect("the probe reads its greeting");
    clock.advance(WRITE_TIMEOUT - Duration::from_millis(1));
    // The probe's greeting: the loop has run the turns up to here.
    let mut probe2 = small_window_client(addr);
    probe2.read_exact(&mut greeting).expect("a second probe");
    assert!(
        handler.closes.lock().unwrap().is_empty(),
        "not before the timeout"
    );
    // The stall counts from the last byte the socket took, which the kernel may still have
    // taken after any given reading of the clock: keep moving it until the timeout passes.
    assert!(eventually(|| {
        clock.advance(Duration::from_millis(100));
        !handler.closes.lock().unwrap().is_empty()
    }));
    let closes = handler.closes.lock().unwrap().clone();
    assert_eq!(closes.len(), 1, "{closes:?}");
    assert_eq!(closes[0].0, "WriteTimeout");
    assert!(closes[0].1 - opened >= WRITE_TIMEOUT, "never early");
    drop((stalled, probe, probe2, slow));
    engine.stop();
}

#[test]
fn a_zero_write_timeout_is_a_typed_error() {
    let res = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .write_timeout(Some(Duration::ZERO))
        .start(util::Echo);
    assert!(matches!(
        res,
        Err(Error::InvalidOption {
            option: "write_timeout",
            ..
        })
    ));
}

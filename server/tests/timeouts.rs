//! `EventHandler::on_timeout`, end to end on the engine's test clock: a handler says goodbye
//! when a read deadline passes (its bytes reach the peer before the close), keeps a connection
//! past its idle timeout (counted again from then), or sets a new read deadline; a panic there
//! closes only that connection.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopwire::{Action, CloseReason, Conn, Engine, EngineHandle, EventHandler, TestClock, Timeout};

use util::{connect, tcp_addr};

/// What the peer asks for in its first line; the default is a 200 ms read deadline that
/// `on_timeout` ends with a goodbye.
#[derive(Default, Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    #[default]
    Goodbye,
    /// Keep the connection when idle, writing `idle`.
    KeepIdle,
    /// Extend the read deadline by 50 ms once, writing `again`.
    Extend,
    /// Panic in `on_timeout`.
    Panic,
}

#[derive(Default)]
struct State {
    mode: Mode,
    extended: bool,
}

/// Timeouts seen (kind, clock reading) and close reasons, in order.
#[derive(Default)]
struct Goodbye {
    clock: Mutex<Option<TestClock>>,
    timeouts: Mutex<Vec<(Timeout, Duration)>>,
    closes: Mutex<Vec<String>>,
}

impl Goodbye {
    fn now(&self) -> Duration {
        self.clock
            .lock()
            .unwrap()
            .as_ref()
            .map_or(Duration::ZERO, TestClock::now)
    }
}

impl EventHandler for Goodbye {
    type State = State;

    fn on_open(&self, c: &mut Conn<'_, State>) -> Action {
        c.set_read_deadline(Some(Duration::from_millis(200)));
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, State>) -> Action {
        while let Some(end) = c.inbound().iter().position(|&b| b == b'\n') {
            let line = c.next(end + 1).to_vec();
            match &line[..] {
                b"keep-idle\n" => {
                    c.state_mut().mode = Mode::KeepIdle;
                    c.set_read_deadline(None);
                }
                b"extend\n" => c.state_mut().mode = Mode::Extend,
                b"panic\n" => c.state_mut().mode = Mode::Panic,
                _ => {}
            }
            c.write(b"ok\n");
        }
        Action::None
    }

    fn on_timeout(&self, c: &mut Conn<'_, State>, timeout: Timeout) -> Action {
        self.timeouts.lock().unwrap().push((timeout, c.now()));
        match (c.state().mode, timeout) {
            (Mode::Panic, _) => panic!("deliberate panic in on_timeout"),
            (Mode::KeepIdle, Timeout::Idle) => {
                c.write(b"idle\n");
                Action::None
            }
            (Mode::Extend, Timeout::Read) if !c.state().extended => {
                c.state_mut().extended = true;
                c.write(b"again\n");
                c.set_read_deadline(Some(Duration::from_millis(50)));
                Action::None
            }
            _ => {
                c.write(b"bye\n");
                Action::Close
            }
        }
    }

    fn on_close(&self, _c: &mut Conn<'_, State>, reason: CloseReason) -> Action {
        self.closes.lock().unwrap().push(format!("{reason:?}"));
        Action::None
    }
}

fn start(idle: Option<Duration>) -> (Arc<Goodbye>, TestClock, EngineHandle) {
    let clock = TestClock::new();
    let h = Arc::new(Goodbye::default());
    *h.clock.lock().unwrap() = Some(clock.clone());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .idle_timeout(idle)
        .clock(clock.clone())
        .start(Arc::clone(&h))
        .expect("start");
    (h, clock, e)
}

fn line(s: &mut TcpStream, out: &[u8], expect: &[u8]) {
    s.write_all(out).expect("write");
    let mut got = vec![0; expect.len()];
    s.read_exact(&mut got).expect("reply");
    assert_eq!(got, expect);
}

/// A round trip on `s`: once answered, the loop has finished the turn that began before it
/// (one loop serves one connection's events at a time, timers after sockets, so two).
fn settle(s: &mut TcpStream) {
    line(s, b"sync\n", b"ok\n");
    line(s, b"sync\n", b"ok\n");
}

fn read_to_eof(s: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    all
}

#[test]
fn a_read_deadline_ends_with_the_handlers_goodbye() {
    let (h, clock, e) = start(None);
    let mut s = connect(tcp_addr(&e));
    let mut probe = connect(tcp_addr(&e));
    line(&mut probe, b"keep-idle\n", b"ok\n");
    clock.advance(Duration::from_millis(199));
    settle(&mut probe);
    assert!(h.timeouts.lock().unwrap().is_empty(), "nothing at 199 ms");
    clock.advance(Duration::from_millis(1));
    assert_eq!(read_to_eof(&mut s), b"bye\n", "the goodbye, then the close");
    assert_eq!(
        *h.timeouts.lock().unwrap(),
        [(Timeout::Read, Duration::from_millis(200))]
    );
    settle(&mut probe);
    assert_eq!(*h.closes.lock().unwrap(), ["ReadTimeout"]);
    e.stop();
}

#[test]
fn a_kept_connection_is_idle_again_only_a_whole_timeout_later() {
    let (h, clock, e) = start(Some(Duration::from_millis(100)));
    let mut s = connect(tcp_addr(&e));
    line(&mut s, b"keep-idle\n", b"ok\n");
    let mut probe = connect(tcp_addr(&e));
    line(&mut probe, b"keep-idle\n", b"ok\n");
    let mut got = [0; 5];
    clock.advance(Duration::from_millis(100));
    for c in [&mut s, &mut probe] {
        c.read_exact(&mut got).expect("idle notice");
        assert_eq!(&got, b"idle\n");
    }
    // The next idle timeout counts from the callback (100 ms), as if the peer had just been
    // heard from: nothing at 199 ms.
    clock.advance(Duration::from_millis(99));
    settle(&mut probe);
    assert_eq!(
        h.timeouts.lock().unwrap().len(),
        2,
        "nothing more at 199 ms"
    );
    clock.advance(Duration::from_millis(1));
    s.read_exact(&mut got).expect("second idle notice");
    assert_eq!(&got, b"idle\n");
    line(&mut s, b"x\n", b"ok\n");
    assert_eq!(
        *h.timeouts.lock().unwrap(),
        [
            (Timeout::Idle, Duration::from_millis(100)),
            (Timeout::Idle, Duration::from_millis(100)),
            (Timeout::Idle, Duration::from_millis(200))
        ]
    );
    assert!(h.closes.lock().unwrap().is_empty(), "kept open");
    e.stop();
}

#[test]
fn a_new_read_deadline_set_in_on_timeout_fires_in_turn() {
    let (h, clock, e) = start(None);
    let mut s = connect(tcp_addr(&e));
    line(&mut s, b"extend\n", b"ok\n");
    let mut probe = connect(tcp_addr(&e));
    line(&mut probe, b"keep-idle\n", b"ok\n");
    clock.advance(Duration::from_millis(200));
    let mut got = [0; 6];
    s.read_exact(&mut got).expect("again");
    assert_eq!(&got, b"again\n");
    clock.advance(Duration::from_millis(49));
    settle(&mut probe);
    assert_eq!(
        h.timeouts.lock().unwrap().len(),
        1,
        "nothing more at 249 ms"
    );
    clock.advance(Duration::from_millis(1));
    assert_eq!(read_to_eof(&mut s), b"bye\n");
    assert_eq!(
        *h.timeouts.lock().unwrap(),
        [
            (Timeout::Read, Duration::from_millis(200)),
            (Timeout::Read, Duration::from_millis(250))
        ]
    );
    e.stop();
}

#[test]
fn a_panic_in_on_timeout_closes_only_that_connection() {
    let (h, clock, e) = start(None);
    let mut s = connect(tcp_addr(&e));
    line(&mut s, b"panic\n", b"ok\n");
    let mut probe = connect(tcp_addr(&e));
    line(&mut probe, b"keep-idle\n", b"ok\n");
    clock.advance(Duration::from_millis(200));
    assert_eq!(
        read_to_eof(&mut s),
        b"",
        "what a panicking callback wrote is dropped"
    );
    settle(&mut probe);
    assert_eq!(*h.closes.lock().unwrap(), ["Panicked"]);
    e.stop();
    assert_eq!(h.now(), Duration::from_millis(200));
}

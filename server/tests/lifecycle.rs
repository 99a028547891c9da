//! Opening, closing and stopping: greetings, close-after-write, half-close, leftovers,
//! graceful stop from everywhere, bad addresses, the ticker.

mod util;

use std::io::Write;
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::Duration;

use loopwire::{Action, CloseReason, Conn, Engine, EngineHandle, EventHandler, TestClock};
use util::*;

struct Greeter;

impl EventHandler for Greeter {
    type State = ();
    fn on_open(&self, c: &mut Conn<'_, ()>) -> Action {
        c.write(b"hello\n");
        Action::None
    }
    fn on_traffic(&self, _c: &mut Conn<'_, ()>) -> Action {
        Action::None
    }
}

#[test]
fn greeting_arrives_before_client_sends() {
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .start(Greeter)
        .unwrap();
    let mut s = connect(tcp_addr(&e));
    assert_eq!(read_n(&mut s, 6), b"hello\n");
    e.stop();
}

/// Answers any input with `size` bytes and closes.
struct BigThenClose(usize);

impl EventHandler for BigThenClose {
    type State = ();
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        c.discard(usize::MAX);
        let data: Vec<u8> = (0..self.0).map(|i| (i % 251) as u8).collect();
        c.write(&data);
        Action::Close
    }
}

#[test]
fn close_after_write_sends_everything_then_eof() {
    let size = 8 << 20;
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .start(BigThenClose(size))
        .unwrap();
    // A small receive window: most of the 8 MiB must wait in the server's backlog, and the
    // close must wait for it.
    let mut s = small_window_client(tcp_addr(&e));
    write_all(&mut s, b"go");
    let got = read_to_end(&mut s);
    assert_eq!(got.len(), size);
    assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    e.stop();
}

/// Upper-cases what it gets; records close reasons.
#[derive(Default)]
struct Upper {
    closes: Mutex<Vec<String>>,
}

impl EventHandler for Upper {
    type State = ();
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let d = c.next(usize::MAX).to_ascii_uppercase();
        c.write(&d);
        Action::None
    }
    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        self.closes.lock().unwrap().push(format!("{reason:?}"));
        Action::None
    }
}

#[test]
fn half_close_delivers_data_and_allows_a_reply() {
    let h = Arc::new(Upper::default());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .start(Arc::clone(&h))
        .unwrap();
    let mut s = connect(tcp_addr(&e));
    write_all(&mut s, b"abc");
    s.shutdown(Shutdown::Write).unwrap();
    assert_eq!(read_to_end(&mut s), b"ABC");
    assert!(eventually(|| h.closes.lock().unwrap().len() == 1));
    assert_eq!(h.closes.lock().unwrap()[0], "PeerClosed");
    e.stop();
}

/// Consumes only complete lines and records what it was shown at each call.
#[derive(Default)]
struct Lines {
    shown: Mutex<Vec<Vec<u8>>>,
}

impl EventHandler for Lines {
    type State = ();
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let all = c.inbound();
        self.shown.lock().unwrap().push(all.to_vec());
        if let Some(pos) = all.iter().rposition(|&b| b == b'\n') {
            let lines = c.next(pos + 1);
            c.write(lines);
        }
        Action::None
    }
}

#[test]
fn unread_bytes_are_shown_again_exactly() {
    let h = Arc::new(Lines::default());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .start(Arc::clone(&h))
        .unwrap();
    let mut s = connect(tcp_addr(&e));
    let parts: [&[u8]; 4] = [b"one\ntw", b"o\nthr", b"e", b"e\n"];
    let mut echoed = Vec::new();
    for p in parts {
        let n = h.shown.lock().unwrap().len();
        write_all(&mut s, p);
        // Wait until the server has seen this part before sending the next.
        assert!(eventually(|| h.shown.lock().unwrap().len() > n));
    }
    echoed.extend(read_n(&mut s, b"one\ntwo\nthree\n".len()));
    assert_eq!(echoed, b"one\ntwo\nthree\n");
    let shown = h.shown.lock().unwrap().clone();
    assert_eq!(
        shown,
        vec![
            b"one\ntw".to_vec(),
            b"two\nthr".to_vec(),
            b"thre".to_vec(),
            b"three\n".to_vec()
        ]
    );
    e.stop();
}

/// Counts callbacks; can stop the engine from a chosen callback.
#[derive(Default)]
struct Counting {
    opens: AtomicUsize,
    closes: AtomicUsize,
    shutdown_closes: AtomicUsize,
    shutdowns: AtomicUsize,
    open_at_shutdown: AtomicUsize,
    engine: OnceLock<EngineHandle>,
    stop_from: Mutex<Option<&'static str>>,
}

impl Counting {
    fn maybe_stop(&self, here: &'static str) -> Action {
        if *self.stop_from.lock().unwrap() == Some(here) {
            if here == "traffic-handle" {
                self.engine.get().unwrap().stop();
                return Action::None;
            }
            return Action::Shutdown;
        }
        Action::None
    }
}

impl EventHandler for Counting {
    type State = ();
    fn on_boot(&self, e: &EngineHandle) -> Action {
        let _ = self.engine.set(e.clone());
        self.maybe_stop("boot")
    }
    fn on_open(&self, _c: &mut Conn<'_, ()>) -> Action {
        self.opens.fetch_add(1, Ordering::SeqCst);
        self.maybe_stop("open")
    }
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        c.discard(usize::MAX);
        let a = self.maybe_stop("traffic");
        if a == Action::None {
            return self.maybe_stop("traffic-handle");
        }
        a
    }
    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        self.closes.fetch_add(1, Ordering::SeqCst);
        if matches!(reason, CloseReason::Shutdown) {
            self.shutdown_closes.fetch_add(1, Ordering::SeqCst);
        }
        self.maybe_stop("close")
    }
    fn on_tick(&self, _e: &EngineHandle) -> (Duration, Action) {
        (Duration::from_millis(5), self.maybe_stop("tick"))
    }
    fn on_shutdown(&self, _e: &EngineHandle) {
        self.open_at_shutdown.store(
            self.opens.load(Ordering::SeqCst) - self.closes.load(Ordering::SeqCst),
            Ordering::SeqCst,
        );
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn stop_from_every_callback() {
    for place in ["boot", "open", "traffic", "traffic-handle", "close", "tick"] {
        let h = Arc::new(Counting::default());
        *h.stop_from.lock().unwrap() = Some(place);
        let e = Engine::builder()
            .addr("tcp://127.0.0.1:0")
            .loops(2)
            .ticker(place == "tick")
            .start(Arc::clone(&h))
            .unwrap();
        if !e.is_stopping() {
            let addr = tcp_addr(&e);
            // Some clients may be refused once the engine stops; that is fine.
            for _ in 0..3 {
                if let Ok(mut c) = std::net::TcpStream::connect(addr) {
                    let _ = c.write_all(b"x");
                    if place == "close" {
                        let _ = c.shutdown(Shutdown::Both);
                    }
                }
            }
        }
        let done = Arc::new(AtomicUsize::new(0));
        let d = Arc::clone(&done);
        let e2 = e.clone();
        let waiter = thread::spawn(move || {
            e2.wait();
            d.store(1, Ordering::SeqCst);
        });
        assert!(
            eventually(|| done.load(Ordering::SeqCst) == 1),
            "engine did not stop from {place}"
        );
        waiter.join().unwrap();
        assert_eq!(h.shutdowns.load(Ordering::SeqCst), 1, "{place}");
        assert_eq!(h.open_at_shutdown.load(Ordering::SeqCst), 0, "{place}");
        e.stop();
    }
}

/// Records when (on the engine's clock) it ticked.
#[derive(Default)]
struct Ticker {
    ticks: Mutex<Vec<Duration>>,
}

impl EventHandler for Ticker {
    type State = ();
    fn on_traffic(&self, _c: &mut Conn<'_, ()>) -> Action {
        Action::None
    }
    fn on_tick(&self, e: &EngineHandle) -> (Duration, Action) {
        self.ticks.lock().unwrap().push(e.now());
        (Duration::from_millis(20), Action::None)
    }
}

#[test]
fn ticker_fires_at_its_interval_and_stops_on_shutdown() {
    let clock = TestClock::new();
    let h = Arc::new(Ticker::default());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .ticker(true)
        .clock(clock.clone())
        .start(Arc::clone(&h))
        .unwrap();
    let count = || h.ticks.lock().unwrap().len();
    assert!(eventually(|| count() == 1), "the first tick comes at boot");
    // Half the interval at a time: a tick at an odd step would be early, and would show in
    // the times recorded below.
    for step in 1..=10 {
        clock.advance(Duration::from_millis(10));
        if step % 2 == 0 {
            assert!(eventually(|| count() == 1 + step / 2), "tick {}", step / 2);
        }
    }
    e.stop();
    let ticks = h.ticks.lock().unwrap().clone();
    let expected: Vec<Duration> = (0..=5).map(|i| Duration::from_millis(20 * i)).collect();
    assert_eq!(ticks, expected, "exactly at each interval, never early");
    clock.advance(Duration::from_millis(100));
    assert_eq!(count(), ticks.len(), "no tick after shutdown");
}

/// Answers every read with the engine's time in ms as the callback saw it.
struct Clocked;

impl EventHandler for Clocked {
    type State = ();
    fn on_open(&self, c: &mut Conn<'_, ()>) -> Action {
        c.write(format!("{}\n", c.now().as_millis()).as_bytes());
        Action::None
    }
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        c.discard(usize::MAX);
        c.write(format!("{}\n", c.now().as_millis()).as_bytes());
        Action::None
    }
}

#[test]
fn callbacks_see_the_engine_clock() {
    let clock = TestClock::new();
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .clock(clock.clone())
        .start(Clocked)
        .unwrap();
    let mut s = connect(tcp_addr(&e));
    assert_eq!(read_n(&mut s, 2), b"0\n", "on_open at the clock's start");
    clock.advance(Duration::from_millis(1234));
    write_all(&mut s, b"x");
    assert_eq!(read_n(&mut s, 5), b"1234\n", "on_traffic after an advance");
    clock.advance(Duration::from_secs(3600));
    write_all(&mut s, b"x");
    assert_eq!(read_n(&mut s, 8), b"3601234\n");
    e.stop();
}

#[test]
fn every_backend_the_engine_offers_serves() {
    let offered = loopwire::Backend::available();
    assert!(!offered.is_empty());
    for backend in offered {
        let e = Engine::builder()
            .addr("tcp://127.0.0.1:0")
            .loops(1)
            .backend(backend)
            .start(Greeter)
            .unwrap_or_else(|err| panic!("{backend}: {err}"));
        let mut s = connect(tcp_addr(&e));
        assert_eq!(read_n(&mut s, 6), b"hello\n", "{backend}");
        e.stop();
    }
}

#[test]
fn a_name_that_resolves_to_several_addresses_binds_all_of_them() {
    let resolved: Vec<std::net::SocketAddr> =
        std::net::ToSocketAddrs::to_socket_addrs("localhost:0")
            .expect("localhost resolves")
            .collect();
    let e = Engine::builder()
        .addr("tcp://localhost:0")
        .loops(1)
        .start(Greeter)
        .unwrap();
    let bound: Vec<std::net::SocketAddr> = e.addrs().iter().filter_map(|a| a.addr).collect();
    let mut families: Vec<bool> = resolved.iter().map(|a| a.is_ipv4()).collect();
    families.dedup();
    assert_eq!(
        bound.len(),
        families.len().max(1),
        "one socket per address: {bound:?}"
    );
    let port = bound[0].port();
    assert!(
        bound.iter().all(|a| a.port() == port),
        "one port for all: {bound:?}"
    );
    for addr in &bound {
        assert!(addr.ip().is_loopback());
        let mut s = connect(*addr);
        assert_eq!(read_n(&mut s, 6), b"hello\n", "{addr}");
    }
    e.stop();
}

/// Echoes lines; `big` queues 8 MiB and asks for a close; says `bye` when the engine stops.
#[derive(Default)]
struct Farewell {
    goodbyes: AtomicUsize,
    bigs: AtomicUsize,
}

impl EventHandler for Farewell {
    type State = ();
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let Some(end) = c.peek(usize::MAX).iter().position(|&b| b == b'\n') else {
            return Action::None;
        };
        let line = c.peek(end + 1).to_vec();
        c.discard(end + 1);
        if line == b"big\n" {
            let data: Vec<u8> = (0..8 << 20).map(|i| (i % 251) as u8).collect();
            c.write(&data);
            self.bigs.fetch_add(1, Ordering::SeqCst);
            return Action::Close;
        }
        c.write(&line);
        Action::None
    }
    fn on_stopping(&self, c: &mut Conn<'_, ()>) {
        self.goodbyes.fetch_add(1, Ordering::SeqCst);
        c.write(b"bye\n");
    }
}

#[test]
fn stopping_lets_open_connections_say_goodbye_but_not_closing_ones() {
    let h = Arc::new(Farewell::default());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .start(Arc::clone(&h))
        .unwrap();
    let addr = tcp_addr(&e);
    let mut open: Vec<_> = (0..3).map(|_| connect(addr)).collect();
    for s in &mut open {
        write_all(s, b"hi\n");
        assert_eq!(read_n(s, 3), b"hi\n");
    }
    // One connection closing with a backlog its peer does not read.
    let mut closing = small_window_client(addr);
    write_all(&mut closing, b"big\n");
    assert!(eventually(|| h.bigs.load(Ordering::SeqCst) == 1));
    // Something queued before the goodbye goes first.
    write_all(&mut open[0], b"last\n");
    e.stop();
    assert_eq!(
        h.goodbyes.load(Ordering::SeqCst),
        3,
        "one per open connection"
    );
    let first = read_to_end(&mut open[0]);
    assert!(
        first == b"last\nbye\n" || first == b"bye\n",
        "the echo (if the loop read it) then the goodbye: {first:?}"
    );
    for s in &mut open[1..] {
        assert_eq!(read_to_end(s), b"bye\n");
    }
    let drained = read_to_end(&mut closing);
    assert!(drained.len() < 8 << 20, "the backlog was cut at the stop");
    assert!(
        !drained.ends_with(b"bye\n"),
        "no goodbye on a closing connection"
    );
}

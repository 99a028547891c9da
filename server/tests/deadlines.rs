//! The handler's read deadline and the engine's write stall timeout, end to end.

mod util;

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use loopwire::{Action, CloseReason, Conn, Engine, Error, EventHandler};

use util::{connect, eventually, small_window_client, tcp_addr};

const DEADLINE: Duration = Duration::from_millis(200);

/// A line protocol with a slow-loris guard: each line must be complete within [`DEADLINE`]
/// of its first byte (of the connection's opening, for the first).
#[derive(Default)]
struct Lines {
    closes: Mutex<Vec<(String, Instant)>>,
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

    fn on_close(&self, _c: &mut Conn<'_, bool>, reason: CloseReason) -> Action {
        self.closes
            .lock()
            .unwrap()
            .push((format!("{reason:?}"), Instant::now()));
        Action::None
    }
}

fn start<H: EventHandler>(
    handler: H,
    configure: impl Fn(&mut loopwire::EngineBuilder),
) -> loopwire::EngineHandle {
    let mut builder = Engine::builder();
    builder.addr("tcp://127.0.0.1:0").loops(1);
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
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("expected the server to close: {e}"),
        }
    }
}

#[test]
fn a_trickling_peer_misses_the_read_deadline() {
    let handler = Arc::new(Lines::default());
    let engine = start(Arc::clone(&handler), |_| {});
    let opened = Instant::now();
    let mut slow = connect(tcp_addr(&engine));
    // One byte every 40 ms: the connection sees traffic all the time, yet the line never
    // completes within the deadline, and reads do not move it.
    let mut trickle = slow.try_clone().expect("clone");
    let writer = std::thread::spawn(move || {
        for _ in 0..25 {
            if trickle.write_all(b"x").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(40));
        }
    });
    assert_eq!(read_until_closed(&mut slow), b"");
    let closes = handler.closes.lock().unwrap().clone();
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].0, "ReadTimeout");
    let after = closes[0].1 - opened;
    assert!(after >= DEADLINE, "never early: {after:?}");
    assert!(after < DEADLINE * 5, "and not much later: {after:?}");
    writer.join().expect("writer");
    engine.stop();
    engine.wait();
}

#[test]
fn a_prompt_peer_keeps_its_connection() {
    let handler = Arc::new(Lines::default());
    let engine = start(Arc::clone(&handler), |_| {});
    let mut fast = connect(tcp_addr(&engine));
    fast.write_all(b"hello\n").expect("write");
    let mut reply = [0; 3];
    fast.read_exact(&mut reply).expect("reply");
    assert_eq!(&reply, b"ok\n");
    // The deadline was cleared: quiet for well past it, then another line.
    std::thread::sleep(DEADLINE * 2);
    assert!(handler.closes.lock().unwrap().is_empty());
    fast.write_all(b"again\n").expect("write");
    fast.read_exact(&mut reply).expect("reply");
    assert_eq!(&reply, b"ok\n");
    engine.stop();
    engine.wait();
    assert_eq!(handler.closes.lock().unwrap()[0].0, "Shutdown");
}

/// Sends a large greeting and never reads.
#[derive(Default)]
struct Greeter {
    closes: Mutex<Vec<(String, Instant)>>,
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

    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        self.closes
            .lock()
            .unwrap()
            .push((format!("{reason:?}"), Instant::now()));
        Action::None
    }
}

const WRITE_TIMEOUT: Duration = Duration::from_millis(300);

#[test]
fn a_peer_that_stops_reading_hits_the_write_timeout_a_slow_one_does_not() {
    let handler = Arc::new(Greeter::default());
    let engine = start(Arc::clone(&handler), |b| {
        b.send_buffer(16 * 1024).write_timeout(Some(WRITE_TIMEOUT));
    });
    let addr = tcp_addr(&engine);

    // Slow but steady: 16 KiB every 50 ms, well past the timeout in total, never stalled
    // for long. It gets the whole greeting.
    let mut slow = small_window_client(addr);
    let mut got = 0;
    let mut buf = vec![0; 16 * 1024];
    let started = Instant::now();
    while started.elapsed() < WRITE_TIMEOUT * 3 {
        let n = slow.read(&mut buf).expect("read");
        assert_ne!(n, 0, "not closed while it reads");
        got += n;
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        handler.closes.lock().unwrap().is_empty(),
        "alive while it reads"
    );
    got += read_rest(&mut slow, GREETING - got);
    assert_eq!(got, GREETING);

    // Stalled: reads nothing, so the socket takes nothing once the buffers are full.
    let stalled = small_window_client(addr);
    let opened = Instant::now();
    assert!(eventually(|| !handler.closes.lock().unwrap().is_empty()));
    let closes = handler.closes.lock().unwrap().clone();
    assert_eq!(closes[0].0, "WriteTimeout");
    let after = closes[0].1 - opened;
    assert!(after >= WRITE_TIMEOUT, "never early: {after:?}");
    drop(stalled);
    engine.stop();
    engine.wait();
}

/// Reads exactly `n` more bytes.
fn read_rest(s: &mut impl Read, n: usize) -> usize {
    let mut rest = vec![0; n];
    s.read_exact(&mut rest).expect("the rest of the greeting");
    n
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

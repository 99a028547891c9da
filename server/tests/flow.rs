//! Outbound flow control end to end: write watermarks, `on_writability_changed`, pausing and
//! resuming reads, and the idle timeout of a paused connection.

mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loopwire::{Action, CloseReason, Conn, Engine, Error, EventHandler, TestClock};

use util::{Rng, eventually, small_window_client, tcp_addr};

const LOW: usize = 16 * 1024;
const HIGH: usize = 64 * 1024;
/// Bytes echoed per step while the connection is writable.
const STEP: usize = 4096;

/// An echo server that honours backpressure: it echoes only while the connection is writable
/// and otherwise leaves the bytes unread and pauses; it resumes when told the backlog drained.

#[derive(Default)]
struct PoliteEcho {
    /// Every announcement, in order.
    changes: Mutex<Vec<bool>>,
    /// What the handler last saw or was told of writability.
    known: Mutex<Option<bool>>,
    /// Announcements that told it what it already knew.
    redundant: AtomicUsize,
    /// The largest backlog seen after a write.
    max_backlog: AtomicUsize,
    closes: Mutex<Vec<String>>,
}

impl EventHandler for PoliteEcho {
    type State = ();

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        while c.inbound_len() > 0 {
            let writable = c.is_writable();
            *self.known.lock().unwrap() = Some(writable);
            if !writable {
                break;
            }
            let data = c.next(STEP);
            c.write(data);
            self.max_backlog
                .fetch_max(c.outbound_len(), Ordering::Relaxed);
        }
        if c.inbound_len() > 0 {
            c.pause_reading();
            assert!(c.is_reading_paused());
        }
        Action::None
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, ()>, writable: bool) -> Action {
        self.changes.lock().unwrap().push(writable);
        let known = self.known.lock().unwrap().replace(writable);
        if known == Some(writable) {
            self.redundant.fetch_add(1, Ordering::Relaxed);
        }
        assert_eq!(c.inbound_len(), 0, "no inbound bytes are shown here");
        assert_eq!(c.is_writable(), writable);
        if writable {
            c.resume_reading();
        } else {
            c.pause_reading();
        }
        Action::None
    }

    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        self.closes.lock().unwrap().push(format!("{reason:?}"));
        Action::None
    }
}

#[test]
fn a_peer_that_does_not_read_is_paused_not_buffered_and_loses_nothing() {
    let handler = Arc::new(PoliteEcho::default());
    // A hard limit the stream below would pass 16 times over without flow control.
    let max_outbound = 512 * 1024;
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .send_buffer(32 * 1024)
        .recv_buffer(32 * 1024)
        .max_outbound(max_outbound)
        .write_watermarks(LOW, HIGH)
        .start(Arc::clone(&handler))
        .expect("start");
    let mut client = small_window_client(tcp_addr(&engine));
    let total = 8 * 1024 * 1024;
    let data = Rng::new(7).bytes(total);

    // The writer sends everything while nobody reads: once the server's backlog passes the
    // high watermark it must pause and let TCP stop the writer, not buffer the rest.
    let mut writer = client.try_clone().expect("clone");
    let sent = data.clone();
    let writer = std::thread::spawn(move || writer.write_all(&sent).expect("write_all"));
    assert!(
        eventually(|| *handler.known.lock().unwrap() == Some(false)),
        "the server saw or was told the connection is unwritable"
    );
    // From here the server must not buffer on: checked below by the largest backlog it ever
    // held (a count, not a wait), and by every byte coming back over the same connection.

    // Now read everything back: the pauses and resumes must deliver every byte in order,
    // including bytes left unread at a pause when the writer has long finished.
    let mut back = vec![0; total];
    client.read_exact(&mut back).expect("every byte comes back");
    assert!(back == data, "the echo is the stream, in order");
    writer.join().expect("writer");

    let changes = handler.changes.lock().unwrap().clone();
    assert!(
        changes.contains(&true),
        "resumed by announcements: {changes:?}"
    );
    assert_eq!(
        handler.redundant.load(Ordering::Relaxed),
        0,
        "every announcement told it something new"
    );
    let max_backlog = handler.max_backlog.load(Ordering::Relaxed);
    assert!(
        max_backlog <= HIGH + STEP,
        "backlog stayed near the high watermark: {max_backlog}"
    );
    assert!(handler.closes.lock().unwrap().is_empty());
    client.shutdown(Shutdown::Both).ok();
    engine.stop();
    engine.wait();
}

/// Writes everything and ignores writability; records what it is told.
#[derive(Default)]
struct Firehose {
    changes: Mutex<Vec<bool>>,
    closes: Mutex<Vec<String>>,
    /// Asks answered so far.
    asks: AtomicUsize,
}

impl EventHandler for Firehose {
    type State = ();

    fn on_open(&self, c: &mut Conn<'_, ()>) -> Action {
        c.write(&[7; 64 * 1024]);
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        // Every 4-byte message from the peer asks for 64 KiB more, however the messages are
        // batched into reads.
        let asks = c.inbound_len() / 4;
        c.discard(asks * 4);
        for _ in 0..asks {
            c.write(&[7; 64 * 1024]);
        }
        self.asks.fetch_add(asks, Ordering::SeqCst);
        Action::None
    }

    fn on_writability_changed(&self, _c: &mut Conn<'_, ()>, writable: bool) -> Action {
        self.changes.lock().unwrap().push(writable);
        Action::None
    }

    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        self.closes.lock().unwrap().push(format!("{reason:?}"));
        Action::None
    }
}

#[test]
fn ignoring_backpressure_still_hits_the_hard_limit() {
    let handler = Arc::new(Firehose::default());
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .send_buffer(16 * 1024)
        .max_outbound(256 * 1024)
        .start(Arc::clone(&handler))
        .expect("start");
    let mut client = small_window_client(tcp_addr(&engine));
    // Ask, without reading, until the server gives up on this connection.
    // Up to 64 asks (4 MiB, sixteen times the hard limit), each answered in a callback of its
    // own (the next is sent once the server counted the last), so announcements can come
    // between them.
    for i in 1..=64 {
        if client.write_all(b"more").is_err() {
            break;
        }
        let closed = || !handler.closes.lock().unwrap().is_empty();
        assert!(eventually(
            || handler.asks.load(Ordering::SeqCst) == i || closed()
        ));
        if closed() {
            break;
        }
    }
    assert!(eventually(|| !handler.closes.lock().unwrap().is_empty()));
    assert_eq!(handler.closes.lock().unwrap()[0], "OutboundOverflow");
    assert_eq!(
        handler.changes.lock().unwrap().first(),
        Some(&false),
        "it was told before the hard limit"
    );
    engine.stop();
    engine.wait();
}

/// Pauses at once and never resumes.
#[derive(Default)]
struct Sleeper {
    closes: Mutex<Vec<String>>,
    traffic: AtomicUsize,
}

impl EventHandler for Sleeper {
    type State = ();

    fn on_open(&self, c: &mut Conn<'_, ()>) -> Action {
        // Fill the peer's window, so there is a backlog whose draining shows it is alive.
        c.write(&vec![1; 4 * 1024 * 1024]);
        c.pause_reading();
        Action::None
    }

    fn on_traffic(&self, _c: &mut Conn<'_, ()>) -> Action {
        self.traffic.fetch_add(1, Ordering::Relaxed);
        Action::None
    }

    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        self.closes.lock().unwrap().push(format!("{reason:?}"));
        Action::None
    }
}

/// More than the kernel holds between the server's send buffer and a small-window client's
/// receive buffer: reading this much means the server sent some of it after the read began.
const READ_STEP: usize = 256 * 1024;

#[test]
fn a_paused_connection_times_out_only_when_the_peer_stops_reading() {
    let clock = TestClock::new();
    let handler = Arc::new(Sleeper::default());
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .send_buffer(16 * 1024)
        .max_outbound(8 * 1024 * 1024)
        .idle_timeout(Some(Duration::from_millis(300)))
        .clock(clock.clone())
        .start(Arc::clone(&handler))
        .expect("start");
    let mut client = small_window_client(tcp_addr(&engine));
    // Sends that the paused server never reads.
    client.write_all(b"ignored").expect("write");
    // Reading slowly keeps the connection alive well past the idle timeout: a step of reading
    // per 100 ms of the engine's clock, 12 steps (four times the timeout).
    let mut buf = vec![0; READ_STEP];
    for _ in 0..12 {
        clock.advance(Duration::from_millis(100));
        client.read_exact(&mut buf).expect("read");
    }
    assert!(
        handler.closes.lock().unwrap().is_empty(),
        "alive while read"
    );
    // Stop reading: once the kernel's buffers are full nothing drains any more, and the idle
    // timeout closes it. The clock keeps moving until then (the last drains may come after
    // any given reading of it).
    assert!(
        eventually(|| {
            clock.advance(Duration::from_millis(100));
            !handler.closes.lock().unwrap().is_empty()
        }),
        "closed once the peer stopped reading"
    );
    assert_eq!(handler.closes.lock().unwrap()[0], "IdleTimeout");
    assert_eq!(
        handler.traffic.load(Ordering::Relaxed),
        0,
        "paused: never read"
    );
    engine.stop();
    engine.wait();
}

#[test]
fn bad_watermarks_are_typed_errors() {
    let low_above_high = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .write_watermarks(10, 5)
        .start(util::Echo);
    assert!(matches!(
        low_above_high,
        Err(Error::InvalidOption {
            option: "write_watermarks",
            ..
        })
    ));
    let high_at_limit = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .max_outbound(1024)
        .write_watermarks(10, 1024)
        .start(util::Echo);
    assert!(matches!(
        high_at_limit,
        Err(Error::InvalidOption {
            option: "write_watermarks",
            ..
        })
    ));
}

/// Greets with a blob bigger than the high watermark; answers a request only while writable,
/// otherwise leaves it unread and pauses until it hears the backlog drained.
#[derive(Default)]
struct Deferring {
    resumed: AtomicUsize,
}

const BLOB: usize = 1024 * 1024;

impl EventHandler for Deferring {
    type State = ();

    fn on_open(&self, c: &mut Conn<'_, ()>) -> Action {
        c.write(&vec![b'.'; BLOB]);
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        if c.is_writable() {
            let request = c.next(usize::MAX);
            c.write(request);
        } else {
            c.pause_reading();
        }
        Action::None
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, ()>, writable: bool) -> Action {
        if writable {
            self.resumed.fetch_add(1, Ordering::Relaxed);
            c.resume_reading();
        }
        Action::None
    }
}

#[test]
fn bytes_left_unread_at_a_pause_are_shown_after_the_resume() {
    let handler = Arc::new(Deferring::default());
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .send_buffer(16 * 1024)
        .start(Arc::clone(&handler))
        .expect("start");
    let mut client = small_window_client(tcp_addr(&engine));
    // One request, and nothing after it: only the resume can get it answered.
    client.write_all(b"hello").expect("write");
    // The blob (1 MiB, far more than the kernel buffers hold) cannot drain below the low
    // watermark before the client reads it: no resume can have happened yet.
    assert_eq!(
        handler.resumed.load(Ordering::Relaxed),
        0,
        "the blob is not read yet"
    );
    let mut reply = vec![0; BLOB + 5];
    client
        .read_exact(&mut reply)
        .expect("the blob, then the answer");
    assert!(reply[..BLOB].iter().all(|&b| b == b'.'));
    assert_eq!(&reply[BLOB..], b"hello");
    assert_eq!(handler.resumed.load(Ordering::Relaxed), 1);
    engine.stop();
    engine.wait();
}

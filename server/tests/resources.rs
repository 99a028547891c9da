//! Resource hygiene: stopping an engine, or failing to start one, leaves no file descriptor
//! and no thread behind. These tests count the whole process's fds and threads, so they live
//! in their own test binary and take turns through one lock.

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use loopwire::{Action, CloseReason, Conn, Engine, EngineHandle, Error, EventHandler};
use util::*;

static SERIAL: Mutex<()> = Mutex::new(());

struct Greeter;

impl EventHandler for Greeter {
    type State = ();
    fn on_traffic(&self, _c: &mut Conn<'_, ()>) -> Action {
        Action::None
    }
}

#[derive(Default)]
struct Counting {
    opens: AtomicUsize,
    closes: AtomicUsize,
    shutdown_closes: AtomicUsize,
    shutdowns: AtomicUsize,
    open_at_shutdown: AtomicUsize,
}

impl EventHandler for Counting {
    type State = ();
    fn on_open(&self, _c: &mut Conn<'_, ()>) -> Action {
        self.opens.fetch_add(1, Ordering::SeqCst);
        Action::None
    }
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        c.discard(usize::MAX);
        Action::None
    }
    fn on_close(&self, _c: &mut Conn<'_, ()>, reason: CloseReason) -> Action {
        self.closes.fetch_add(1, Ordering::SeqCst);
        if matches!(reason, CloseReason::Shutdown) {
            self.shutdown_closes.fetch_add(1, Ordering::SeqCst);
        }
        Action::None
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
fn stop_closes_everything_and_leaks_no_fd() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let fds_before = fd_count();
    let threads_before = engine_thread_count();
    let h = Arc::new(Counting::default());
    let path = sock_path("stop");
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .addr(format!("unix://{}", path.display()))
        .loops(2)
        .start(Arc::clone(&h))
        .unwrap();
    let clients: Vec<_> = (0..10).map(|_| connect(tcp_addr(&e))).collect();
    assert!(eventually(|| h.opens.load(Ordering::SeqCst) == 10));
    assert!(
        engine_thread_count() >= threads_before + 2,
        "the two loops are counted while they run"
    );
    // Stop twice, concurrently, from two other threads.
    let e2 = e.clone();
    let t = thread::spawn(move || e2.stop());
    e.stop();
    t.join().unwrap();
    e.stop();
    assert_eq!(h.shutdown_closes.load(Ordering::SeqCst), 10);
    assert_eq!(h.shutdowns.load(Ordering::SeqCst), 1);
    assert_eq!(h.open_at_shutdown.load(Ordering::SeqCst), 0);
    for mut c in clients {
        assert!(
            read_to_end(&mut c).is_empty(),
            "server closed the connection"
        );
    }
    drop(e);
    assert!(!path.exists());
    assert_eq!(fd_count(), fds_before, "no file descriptor left open");
    assert!(eventually(|| engine_thread_count() == threads_before));
}

#[test]
fn bad_addresses_are_typed_errors_and_leave_no_thread() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let threads_before = engine_thread_count();
    let fds_before = fd_count();
    for url in ["tcp://nope:x", "foo://a", "tcp://127.0.0.1"] {
        let r = Engine::builder().addr(url).loops(2).start(Greeter);
        assert!(matches!(r, Err(Error::InvalidAddr { .. })), "{url}");
    }
    let r = Engine::builder()
        .addr("unix:///nonexistent-dir-lw/x.sock")
        .start(Greeter);
    assert!(matches!(r, Err(Error::Bind { .. })), "{r:?}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("tcp://{}", taken.local_addr().unwrap());
    let r = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .addr(url.as_str())
        .start(Greeter);
    assert!(matches!(r, Err(Error::Bind { .. })), "{r:?}");
    drop(taken);
    let r = Engine::builder().start(Greeter);
    assert!(matches!(r, Err(Error::NoAddress)));
    // The engine's threads only: the test harness starts and ends the other test's thread
    // while this one runs.
    assert_eq!(
        engine_thread_count(),
        threads_before,
        "no thread left behind"
    );
    assert_eq!(fd_count(), fds_before, "no socket left open");
}

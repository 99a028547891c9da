//! Running out of file descriptors never stops the engine: accepts pause and resume, and the
//! connections already open keep being served. Lowers this process's fd limit, so it is a test
//! binary of its own.
//!
//! It counts descriptors instead of timing reads: each served connection costs two (the
//! client's and the server's), so with exactly one left the next client gets it and the server
//! cannot accept. The back-off after that runs on the engine's test clock, so the queued
//! connection is accepted only once the test has freed descriptors and moved the clock.

mod util;

use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use loopwire::{Action, Conn, Engine, EventHandler, TestClock};
use util::*;

fn set_fd_limit(soft: libc::rlim_t) -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let old = lim.rlim_cur;
    lim.rlim_cur = soft;
    // SAFETY: `lim` is a valid rlimit; lowering the soft limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    old
}

fn echo_once(c: &mut TcpStream, msg: &[u8]) {
    write_all(c, msg);
    assert_eq!(read_n(c, msg.len()), msg);
}

/// Echo, counting the connections it opened and closed.
#[derive(Default)]
struct CountingEcho {
    opened: AtomicUsize,
    closed: AtomicUsize,
}

impl EventHandler for CountingEcho {
    type State = ();
    fn on_open(&self, _c: &mut Conn<'_, ()>) -> Action {
        self.opened.fetch_add(1, Ordering::SeqCst);
        Action::None
    }
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let data = c.next(usize::MAX);
        c.write(data);
        Action::None
    }
    fn on_close(&self, _c: &mut Conn<'_, ()>, _r: loopwire::CloseReason) -> Action {
        self.closed.fetch_add(1, Ordering::SeqCst);
        Action::None
    }
}

/// The open descriptors' numbers (without the one listing them).
fn open_fds() -> Vec<usize> {
    let mut fds: Vec<usize> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The listing's own descriptor is the lowest that was free; it is gone again.
    let listing = (0..).find(|n: &usize| {
        // SAFETY: F_GETFD on any number only asks whether it is open.
        let r = unsafe { libc::fcntl(*n as libc::c_int, libc::F_GETFD) };
        r == -1
    });
    if let Some(l) = listing {
        fds.retain(|&fd| fd != l);
    }
    fds
}

fn max_fd() -> usize {
    open_fds().into_iter().max().unwrap_or(0)
}

/// How many descriptors the process can still open under a limit of `limit`: the kernel hands
/// out the lowest free number and refuses one at or above the limit.
fn free_fds(limit: usize) -> usize {
    limit - open_fds().into_iter().filter(|&fd| fd < limit).count()
}

#[test]
fn accept_survives_fd_exhaustion() {
    for reuse_port in [false, true] {
        // The limit is lowered before the engine starts: io_uring's multishot accept keeps
        // the limit in force when it was armed (the kernel reads it as it takes the entry),
        // so a limit lowered later would not bind the loop's accept until it is armed again.
        let limit = max_fd() + 1 + 64;
        let free = || free_fds(limit);
        let old = set_fd_limit(limit as libc::rlim_t);
        let clock = TestClock::new();
        let handler = Arc::new(CountingEcho::default());
        let e = Engine::builder()
            .addr("tcp://127.0.0.1:0")
            .loops(1)
            .reuse_port(reuse_port)
            .clock(clock.clone())
            .start(Arc::clone(&handler))
            .unwrap();
        let addr = tcp_addr(&e);
        // An odd number free: pairs for served connections, then exactly one. (The engine's
        // own descriptors decide the parity; one held open evens it out.)
        let _parity = (free() % 2 == 0).then(|| std::fs::File::open("/dev/null").unwrap());
        // Served connections, one at a time, while two descriptors are free.
        let mut served = Vec::new();
        while free() >= 2 {
            let mut c = connect(addr);
            echo_once(&mut c, b"?");
            served.push(c);
        }
        assert!(!served.is_empty(), "some connections were served");
        assert_eq!(free(), 1, "one descriptor left");
        // The client takes the last descriptor; the server cannot accept it.
        let mut unserved = connect(addr);
        write_all(&mut unserved, b"?");
        // Open connections are still served meanwhile...
        for c in &mut served {
            echo_once(c, b"still here");
        }
        assert_eq!(
            handler.opened.load(Ordering::SeqCst),
            served.len(),
            "nothing accepted while out of descriptors (reuse_port {reuse_port})"
        );
        // ...and once descriptors are freed and the back-off is over, the waiting one is
        // accepted and served, its queued byte first.
        let closed = handler.closed.load(Ordering::SeqCst);
        served.truncate(served.len() - 2);
        assert!(eventually(
            || handler.closed.load(Ordering::SeqCst) == closed + 2
        ));
        assert_eq!(
            handler.opened.load(Ordering::SeqCst),
            served.len() + 2,
            "descriptors are free, but the back-off is not over on the engine's clock"
        );
        clock.advance(Duration::from_millis(50));
        assert_eq!(
            read_n(&mut unserved, 1),
            b"?",
            "queued byte echoed after the pause"
        );
        echo_once(&mut unserved, b"late but served");
        assert_eq!(handler.opened.load(Ordering::SeqCst), served.len() + 3);
        drop(served);
        drop(unserved);
        set_fd_limit(old);
        e.stop();
    }
}

//! The engine's peer-controlled limits at the exact byte and count (issue 18): `max_inbound`,
//! `max_outbound` and `max_connections`. For each, the limit itself is served, one more
//! closes that connection (the engine knows no protocol, so there is no reply), and another
//! connection is still served.

mod util;

use std::io::{ErrorKind, Read};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use loopwire::{Action, CloseReason, Conn, ConnHandle, Engine, EngineHandle, EventHandler};
use util::{connect, eventually, read_n, tcp_addr, write_all};

/// What a connection does.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Not decided yet: an accepted connection's first byte decides.
    #[default]
    New,
    /// Echoes everything.
    Echo,
    /// Never consumes anything (first byte `H`).
    Hoard,
    /// The enrolled socket the test writes to through [`Cmd`]s.
    Sink,
}

/// What the sink does on its next wake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmd {
    /// Writes this many bytes at once.
    Write(usize),
    /// Writes what brings the backlog to exactly this many bytes.
    TopUpTo(usize),
    /// Writes nothing (only records the backlog).
    Look,
}

#[derive(Default)]
struct Limits {
    /// The largest unread amount a hoarding connection was shown.
    hoarded: AtomicUsize,
    /// The sink's handle, once open.
    sink: Mutex<Option<ConnHandle>>,
    cmd: Mutex<Option<Cmd>>,
    /// The sink's backlog after each command, in order.
    backlog: Mutex<Vec<usize>>,
    opened: AtomicUsize,
    closes: Mutex<Vec<String>>,
}

impl EventHandler for Limits {
    type State = Role;

    fn on_open(&self, c: &mut Conn<'_, Role>) -> Action {
        self.opened.fetch_add(1, Ordering::SeqCst);
        if c.tag().is_some() {
            *c.state_mut() = Role::Sink;
            *self.sink.lock().unwrap() = Some(c.handle());
        }
        Action::None
    }

    fn on_traffic(&self, c: &mut Conn<'_, Role>) -> Action {
        if *c.state() == Role::New && c.inbound_len() > 0 {
            *c.state_mut() = if c.inbound()[0] == b'H' {
                Role::Hoard
            } else {
                Role::Echo
            };
        }
        match *c.state() {
            Role::New => {}
            Role::Echo => {
                let data = c.next(usize::MAX);
                c.write(data);
            }
            Role::Hoard => {
                self.hoarded.fetch_max(c.inbound_len(), Ordering::SeqCst);
            }
            Role::Sink => {
                let Some(cmd) = self.cmd.lock().unwrap().take() else {
                    return Action::None;
                };
                let n = match cmd {
                    Cmd::Write(n) => n,
                    Cmd::TopUpTo(total) => total - c.outbound_len(),
                    Cmd::Look => 0,
                };
                c.write(&vec![b'x'; n]);
                self.backlog.lock().unwrap().push(c.outbound_len());
            }
        }
        Action::None
    }

    fn on_close(&self, _c: &mut Conn<'_, Role>, reason: CloseReason) -> Action {
        self.closes.lock().unwrap().push(format!("{reason:?}"));
        Action::None
    }
}

fn start(h: &Arc<Limits>, configure: impl Fn(&mut loopwire::EngineBuilder)) -> EngineHandle {
    let mut b = Engine::builder();
    b.addr("tcp://127.0.0.1:0").loops(1);
    configure(&mut b);
    b.start(Arc::clone(h)).expect("start")
}

/// A connection the engine echoes on, checked once.
fn echoes(engine: &EngineHandle) -> std::net::TcpStream {
    let mut s = connect(tcp_addr(engine));
    write_all(&mut s, b"ping");
    assert_eq!(read_n(&mut s, 4), b"ping");
    s
}

/// Whether the engine closed `s`: EOF or a reset, not a timeout.
fn closed_by_server(s: &mut std::net::TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return true,
            Err(e) => panic!("expected a close, got {e}"),
        }
    }
}

/// Fills a hoarding connection to exactly `max` unread bytes in the given parts, checks it is
/// kept, then sends one more byte and checks that only it is closed.
fn hoard_to_the_limit(engine: &EngineHandle, h: &Limits, max: usize, parts: &[usize]) {
    assert_eq!(parts.iter().sum::<usize>(), max);
    let mut bystander = echoes(engine);
    let closes = h.closes.lock().unwrap().len();
    h.hoarded.store(0, Ordering::SeqCst);
    let mut hoard = connect(tcp_addr(engine));
    let mut sent = 0;
    for &part in parts {
        let mut data = vec![b'h'; part];
        if sent == 0 {
            data[0] = b'H';
        }
        write_all(&mut hoard, &data);
        sent += part;
        // The handler saw all of it (unread bytes are shown again with the new ones).
        assert!(eventually(|| h.hoarded.load(Ordering::SeqCst) == sent));
    }
    // One loop: once the bystander's echo is back, the turn that showed `max` is over.
    write_all(&mut bystander, b"turn");
    assert_eq!(read_n(&mut bystander, 4), b"turn");
    assert_eq!(
        h.closes.lock().unwrap().len(),
        closes,
        "exactly max_inbound is kept"
    );
    write_all(&mut hoard, b"!");
    assert!(closed_by_server(&mut hoard));
    assert!(eventually(|| h.closes.lock().unwrap().len() == closes + 1));
    assert_eq!(
        h.closes.lock().unwrap().last().map(String::as_str),
        Some("InboundOverflow")
    );
    assert_eq!(h.hoarded.load(Ordering::SeqCst), max, "never shown more");
    write_all(&mut bystander, b"still");
    assert_eq!(read_n(&mut bystander, 5), b"still");
}

#[test]
fn max_inbound_unread_bytes_are_kept_one_more_closes_only_that_connection() {
    const MAX: usize = 64 * 1024;
    let h = Arc::new(Limits::default());
    let engine = start(&h, |b| {
        b.max_inbound(MAX);
    });
    // All at once (the handler shown the fresh read in place), then in three parts (the
    // unread bytes kept and shown again with each new part).
    hoard_to_the_limit(&engine, &h, MAX, &[MAX]);
    hoard_to_the_limit(&engine, &h, MAX, &[1000, MAX / 2 - 1000, MAX / 2]);
    engine.stop();
    engine.wait();
}

#[test]
fn max_outbound_unsent_bytes_are_kept_one_more_closes_only_that_connection() {
    // A Unix socket pair whose far end never reads: once its buffer is full it takes nothing
    // more, so the backlog is exactly what the handler wrote minus what the socket took.
    const MAX: usize = 4 * 1024 * 1024;
    let h = Arc::new(Limits::default());
    let engine = start(&h, |b| {
        b.max_outbound(MAX);
    });
    let mut bystander = echoes(&engine);
    let (near, mut far) = UnixStream::pair().expect("socketpair");
    engine.enroll_unix(near, 1).expect("enroll");
    assert!(eventually(|| h.sink.lock().unwrap().is_some()));
    let sink = h.sink.lock().unwrap().expect("sink");
    let run = |cmd: Cmd| {
        let before = h.backlog.lock().unwrap().len();
        *h.cmd.lock().unwrap() = Some(cmd);
        engine.wake(sink).expect("wake");
        assert!(eventually(|| h.backlog.lock().unwrap().len() > before));
    };
    // Fill the socket: 1 MiB is far more than a Unix socket buffer holds.
    run(Cmd::Write(1024 * 1024));
    run(Cmd::Look);
    let backlog = *h.backlog.lock().unwrap().last().expect("backlog");
    assert!(
        backlog > 0 && backlog < MAX,
        "the socket is full: {backlog}"
    );
    run(Cmd::TopUpTo(MAX));
    run(Cmd::Look);
    assert_eq!(h.backlog.lock().unwrap().last(), Some(&MAX));
    assert!(engine.is_open(sink), "exactly max_outbound is kept");
    assert!(h.closes.lock().unwrap().is_empty());
    *h.cmd.lock().unwrap() = Some(Cmd::Write(1));
    engine.wake(sink).expect("wake");
    assert!(eventually(|| h.closes.lock().unwrap().len() == 1));
    assert_eq!(*h.closes.lock().unwrap(), vec!["OutboundOverflow"]);
    assert!(!engine.is_open(sink));
    // The far end gets what the socket held, then EOF.
    far.set_read_timeout(Some(util::WAIT)).unwrap();
    let mut rest = Vec::new();
    far.read_to_end(&mut rest).expect("EOF after the close");
    assert!(rest.len() < MAX);
    write_all(&mut bystander, b"still");
    assert_eq!(read_n(&mut bystander, 5), b"still");
    engine.stop();
    engine.wait();
}

#[test]
fn max_connections_are_served_one_more_is_closed_at_accept_and_a_close_frees_a_place() {
    const MAX: usize = 4;
    let h = Arc::new(Limits::default());
    let engine = start(&h, |b| {
        b.max_connections(MAX);
    });
    let mut served: Vec<_> = (0..MAX).map(|_| echoes(&engine)).collect();
    assert_eq!(h.opened.load(Ordering::SeqCst), MAX);
    let mut extra = connect(tcp_addr(&engine));
    assert!(
        closed_by_server(&mut extra),
        "one over max_connections is closed"
    );
    assert_eq!(h.opened.load(Ordering::SeqCst), MAX, "never opened");
    for s in &mut served {
        write_all(s, b"still");
        assert_eq!(read_n(s, 5), b"still");
    }
    drop(served.pop());
    assert!(eventually(|| h.closes.lock().unwrap().len() == 1));
    served.push(echoes(&engine));
    assert_eq!(h.opened.load(Ordering::SeqCst), MAX + 1);
    engine.stop();
    engine.wait();
}

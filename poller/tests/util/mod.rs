//! Helpers for the conformance suite: connected endpoint pairs for every transport, and
//! expectations over polled events.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use loopwire_poller::{Event, Events, Interest, Mode, RawSource, Result, Selector, Token};

/// Upper bound for an event that must come; only reached when a backend is broken.
pub(crate) const PATIENCE: Duration = Duration::from_secs(5);
/// How long an event that must not come is waited for. Readiness of local sockets and pipes
/// is set synchronously by the writing call, so a spurious event would show at once.
pub(crate) const QUIET: Duration = Duration::from_millis(25);

/// One end of a connected pair, non-blocking.
#[derive(Debug)]
pub(crate) enum End {
    /// A TCP stream over 127.0.0.1.
    Tcp(TcpStream),
    /// A connected UDP socket on 127.0.0.1.
    Udp(UdpSocket),
    /// A Unix stream socket.
    #[cfg(unix)]
    Unix(std::os::unix::net::UnixStream),
    /// One end of a pipe.
    #[cfg(unix)]
    Pipe(std::fs::File),
}

/// Two connected ends: what is sent on `tx` makes `rx` readable.
#[derive(Debug)]
pub(crate) struct Pair {
    /// The receiving end (a pipe's read end).
    pub rx: End,
    /// The sending end (a pipe's write end).
    pub tx: End,
}

/// A way to make a [`Pair`].
pub(crate) trait Transport {
    /// Creates a fresh connected pair.
    fn pair() -> Pair;
}

/// TCP over the loopback interface, port 0.
#[derive(Debug)]
pub(crate) struct Tcp;
/// Connected UDP sockets on the loopback interface.
#[derive(Debug)]
pub(crate) struct Udp;
/// `UnixStream::pair`.
#[cfg(unix)]
#[derive(Debug)]
pub(crate) struct Unix;
/// `pipe2(O_NONBLOCK | O_CLOEXEC)`.
#[cfg(unix)]
#[derive(Debug)]
pub(crate) struct Pipe;

/// The cheapest bidirectional stream pair on this platform.
#[cfg(unix)]
pub(crate) type Local = Unix;
/// The cheapest bidirectional stream pair on this platform.
#[cfg(not(unix))]
pub(crate) type Local = Tcp;

impl Transport for Tcp {
    fn pair() -> Pair {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let tx = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (rx, _) = listener.accept().expect("accept");
        for stream in [&rx, &tx] {
            stream.set_nonblocking(true).expect("nonblocking");
            stream.set_nodelay(true).expect("nodelay");
        }
        Pair {
            rx: End::Tcp(rx),
            tx: End::Tcp(tx),
        }
    }
}

impl Transport for Udp {
    fn pair() -> Pair {
        let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind");
        rx.connect(tx.local_addr().expect("addr")).expect("connect");
        tx.connect(rx.local_addr().expect("addr")).expect("connect");
        for socket in [&rx, &tx] {
            socket.set_nonblocking(true).expect("nonblocking");
        }
        Pair {
            rx: End::Udp(rx),
            tx: End::Udp(tx),
        }
    }
}

#[cfg(unix)]
impl Transport for Unix {
    fn pair() -> Pair {
        let (rx, tx) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        for stream in [&rx, &tx] {
            stream.set_nonblocking(true).expect("nonblocking");
        }
        Pair {
            rx: End::Unix(rx),
            tx: End::Unix(tx),
        }
    }
}

#[cfg(unix)]
impl Transport for Pipe {
    fn pair() -> Pair {
        use std::os::fd::{FromRawFd, OwnedFd};

        let mut fds = [0; 2];
        // SAFETY: `fds` has room for the two descriptors `pipe` writes.
        let result = unsafe { libc::pipe(fds.as_mut_ptr()) };
        assert_eq!(result, 0, "pipe: {}", io::Error::last_os_error());
        let [read, write] = fds.map(|fd| {
            // SAFETY: `pipe` succeeded, so both descriptors are fresh and owned by nobody else.
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            set_nonblocking_cloexec(&owned);
            std::fs::File::from(owned)
        });
        Pair {
            rx: End::Pipe(read),
            tx: End::Pipe(write),
        }
    }
}

#[cfg(unix)]
fn set_nonblocking_cloexec(fd: &std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;

    let raw = fd.as_raw_fd();
    // SAFETY: `raw` is open (borrowed from `fd`); F_GETFL/F_SETFL/F_SETFD take integer flags.
    unsafe {
        let flags = libc::fcntl(raw, libc::F_GETFL);
        assert!(flags >= 0, "F_GETFL");
        assert_eq!(libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK), 0);
        assert_eq!(libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC), 0);
    }
}

impl End {
    /// The raw handle to register.
    pub(crate) fn raw(&self) -> RawSource {
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            match self {
                End::Tcp(s) => s.as_raw_fd(),
                End::Udp(s) => s.as_raw_fd(),
                End::Unix(s) => s.as_raw_fd(),
                End::Pipe(f) => f.as_raw_fd(),
            }
        }
        #[cfg(windows)]
        {
            use std::os::windows::io::AsRawSocket;
            match self {
                End::Tcp(s) => s.as_raw_socket(),
                End::Udp(s) => s.as_raw_socket(),
            }
        }
    }

    /// Sends `data` in one write (or one datagram).
    pub(crate) fn send(&mut self, data: &[u8]) {
        let written = match self {
            End::Tcp(s) => s.write(data),
            End::Udp(s) => s.send(data),
            #[cfg(unix)]
            End::Unix(s) => s.write(data),
            #[cfg(unix)]
            End::Pipe(f) => f.write(data),
        };
        assert_eq!(written.expect("send"), data.len(), "short write");
    }

    /// Reads until the end would block (or end-of-file) and returns what arrived.
    pub(crate) fn recv_all(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0; 4096];
        loop {
            match self.read_once(&mut buf) {
                Ok(0) => return out,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return out,
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Whether the next reads end in end-of-file (after draining buffered data) or a reset.
    pub(crate) fn reaches_eof(&mut self) -> bool {
        let mut buf = [0; 4096];
        loop {
            match self.read_once(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    fn read_once(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            End::Tcp(s) => s.read(buf),
            End::Udp(s) => s.recv(buf),
            #[cfg(unix)]
            End::Unix(s) => s.read(buf),
            #[cfg(unix)]
            End::Pipe(f) => f.read(buf),
        }
    }

    /// Half-closes the sending direction: `shutdown(Write)` on a stream socket, closing the
    /// write end of a pipe.
    pub(crate) fn shutdown_write(self) -> Option<End> {
        match self {
            End::Tcp(s) => {
                s.shutdown(Shutdown::Write).expect("shutdown");
                Some(End::Tcp(s))
            }
            #[cfg(unix)]
            End::Unix(s) => {
                s.shutdown(Shutdown::Write).expect("shutdown");
                Some(End::Unix(s))
            }
            #[cfg(unix)]
            End::Pipe(_) => None,
            End::Udp(_) => panic!("UDP has no write half to shut down"),
        }
    }

    /// Closes the end so the other side sees a hang-up: an abortive close (RST, `SO_LINGER` 0)
    /// for TCP, a plain close for Unix sockets and pipes.
    pub(crate) fn hang_up(self) {
        if let End::Tcp(s) = &self {
            socket2::SockRef::from(s)
                .set_linger(Some(Duration::ZERO))
                .expect("SO_LINGER");
        }
        drop(self);
    }
}

/// Registers `end`.
///
/// Every case declares its ends before its poller, so the poller is dropped first, and
/// deregisters an end before dropping it early: the registered descriptor stays open.
pub(crate) fn watch<S: Selector>(
    poller: &mut S,
    end: &End,
    token: Token,
    interest: Interest,
    mode: Mode,
) -> Result<()> {
    // SAFETY: see the function docs: cases keep `end` open while it is registered.
    unsafe { poller.register(end.raw(), token, interest, mode) }
}

/// A mode the backend accepts, for cases about something else (edge, else oneshot).
pub(crate) fn any_mode<S: Selector>(poller: &S) -> Mode {
    [Mode::Edge, Mode::Oneshot, Mode::Level]
        .into_iter()
        .find(|&mode| poller.supports_mode(mode))
        .expect("every backend has a mode")
}

/// Polls until an event for `token` satisfying `want` arrives; panics after [`PATIENCE`] or on
/// an event for a token in `forbidden`. Events for other tokens are discarded, so cases that
/// watch several sources wait for one at a time.
pub(crate) fn expect_event<S: Selector>(
    poller: &mut S,
    token: Token,
    want: impl Fn(&Event) -> bool,
    forbidden: &[Token],
) -> Event {
    let mut events = Events::with_capacity(64);
    let start = Instant::now();
    loop {
        let left = PATIENCE.saturating_sub(start.elapsed());
        assert!(
            !left.is_zero(),
            "no event for {token:?} within {PATIENCE:?}"
        );
        poller.poll(&mut events, Some(left)).expect("poll");
        for event in &events {
            assert_ne!(event.token(), Token::RESERVED, "waker reported as an event");
            assert!(!forbidden.contains(&event.token()), "unexpected {event:?}");
            if event.token() == token && want(&event) {
                return event;
            }
        }
    }
}

/// Polls for [`QUIET`] and panics if any event for `token` is reported.
pub(crate) fn expect_none<S: Selector>(poller: &mut S, token: Token) {
    let mut events = Events::with_capacity(64);
    let start = Instant::now();
    while let Some(left) = QUIET.checked_sub(start.elapsed()).filter(|d| !d.is_zero()) {
        poller.poll(&mut events, Some(left)).expect("poll");
        if let Some(event) = events.iter().find(|e| e.token() == token) {
            panic!("expected no event for {token:?}, got {event:?}");
        }
    }
}

/// CPU time this thread has used so far.
#[cfg(unix)]
pub(crate) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    let result = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(result, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

//! Peer for the echo benchmark: an echo server on raw `epoll(7)` through `libc`, no runtime
//! and no wrapper crate: one level-triggered epoll loop per thread, each accepting on its own
//! `SO_REUSEPORT` listener, connections indexed by their file descriptor, one `read` and one
//! `write` per readiness event, bytes the socket did not take kept per connection until
//! `EPOLLOUT`. The floor a framework's echo is compared against.
//!
//! `epoll_echo --addr 127.0.0.1:9003 --threads 2`; prints `listening on tcp://ADDR` when
//! ready; SIGINT/SIGTERM end the process.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::process::ExitCode;

use clap::Parser;
use loopwire_bench::peer::reuse_port_listener;
use loopwire_examples::cli::{BoxError, Context};

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9003")]
    addr: SocketAddr,
    /// Event-loop threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

/// Readiness events taken per `epoll_wait`.
const EVENTS: usize = 1024;

/// One connection: its socket and the bytes it has not taken yet.
struct Conn {
    fd: OwnedFd,
    pending: Vec<u8>,
    /// Whether `EPOLLOUT` is in its interest set.
    out_armed: bool,
}

/// `epoll_ctl(op)` for `fd` with interest `events`, the descriptor as its token.
fn ctl(ep: RawFd, op: libc::c_int, fd: RawFd, events: u32) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    // SAFETY: `ev` is a valid epoll_event for the call's duration; bad descriptors are
    // reported as errors, not undefined behaviour.
    if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Result of a `read`/`write` system call as a byte count.
fn sys(n: isize) -> io::Result<usize> {
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    sys(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
}

fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
    sys(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
}

/// What a connection's turn ended with.
enum Turn {
    Keep,
    Close,
}

/// Serves readiness `events` of connection `c`: reads once and writes back, or flushes what
/// was pending; adjusts `EPOLLOUT` to whether bytes remain.
fn turn(ep: RawFd, c: &mut Conn, events: u32, buf: &mut [u8]) -> io::Result<Turn> {
    let fd = c.fd.as_raw_fd();
    if events & (libc::EPOLLERR as u32) != 0 {
        return Ok(Turn::Close);
    }
    if events & (libc::EPOLLOUT as u32) != 0 && !c.pending.is_empty() {
        match write(fd, &c.pending) {
            Ok(w) => {
                c.pending.drain(..w);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Ok(Turn::Close),
        }
    }
    // Read only once the backlog is gone: a peer that does not read stops being read.
    if events & ((libc::EPOLLIN | libc::EPOLLHUP) as u32) != 0 && c.pending.is_empty() {
        match read(fd, buf) {
            Ok(0) => return Ok(Turn::Close),
            Ok(n) => match write(fd, &buf[..n]) {
                Ok(w) => c.pending.extend_from_slice(&buf[w..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    c.pending.extend_from_slice(&buf[..n]);
                }
                Err(_) => return Ok(Turn::Close),
            },
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return Ok(Turn::Close),
        }
    }
    let want = !c.pending.is_empty();
    if want != c.out_armed {
        // While bytes wait, wait for room only (level-triggered EPOLLIN would spin).
        let interest = if want {
            libc::EPOLLOUT as u32
        } else {
            libc::EPOLLIN as u32
        };
        ctl(ep, libc::EPOLL_CTL_MOD, fd, interest)?;
        c.out_armed = want;
    }
    Ok(Turn::Keep)
}

fn serve(listener: std::net::TcpListener) -> io::Result<()> {
    // SAFETY: plain system call; the result is checked.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `ep` is a descriptor just opened and owned by nothing else; it closes when the
    // loop returns.
    let _ep_owner = unsafe { OwnedFd::from_raw_fd(ep) };
    let lfd = listener.as_raw_fd();
    ctl(ep, libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32)?;
    // Connections by descriptor.
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        // SAFETY: `events` holds EVENTS entries for the kernel to fill.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), EVENTS as libc::c_int, -1) };
        let Ok(n) = usize::try_from(n) else {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        };
        for ev in &events[..n] {
            let (fd, bits) = (ev.u64 as RawFd, ev.events);
            if fd == lfd {
                loop {
                    // SAFETY: null address arguments are allowed; the result is checked.
                    let c = unsafe {
                        libc::accept4(
                            lfd,
                            std::ptr::null_mut(),
                            std::ptr::null_mut(),
                            libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                        )
                    };
                    if c < 0 {
                        // WouldBlock, or a connection that failed before it was taken.
                        break;
                    }
                    // SAFETY: `c` is a descriptor accept4 just returned, owned by nothing else.
                    let owned = unsafe { OwnedFd::from_raw_fd(c) };
                    let one: libc::c_int = 1;
                    // SAFETY: `one` is a valid c_int for the call; a failure is ignored (a peer
                    // already gone fails here and its read closes it).
                    unsafe {
                        libc::setsockopt(
                            c,
                            libc::IPPROTO_TCP,
                            libc::TCP_NODELAY,
                            (&one as *const libc::c_int).cast(),
                            size_of::<libc::c_int>() as libc::socklen_t,
                        );
                    }
                    ctl(ep, libc::EPOLL_CTL_ADD, c, libc::EPOLLIN as u32)?;
                    let i = c as usize;
                    if conns.len() <= i {
                        conns.resize_with(i + 1, || None);
                    }
                    conns[i] = Some(Conn {
                        fd: owned,
                        pending: Vec::new(),
                        out_armed: false,
                    });
                }
                continue;
            }
            let slot = conns.get_mut(fd as usize);
            let Some(c) = slot.and_then(Option::as_mut) else {
                continue;
            };
            if let Turn::Close = turn(ep, c, bits, &mut buf)? {
                // Closing the descriptor (dropping its OwnedFd) removes it from the epoll set.
                conns[fd as usize] = None;
            }
        }
    }
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    let first =
        reuse_port_listener(args.addr).context(|| format!("cannot listen on {}", args.addr))?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..args.threads {
        listeners
            .push(reuse_port_listener(addr).context(|| format!("cannot listen on {addr} again"))?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "listening on tcp://{addr}")
        .and_then(|()| out.flush())
        .context(|| "cannot write to stdout")?;
    drop(out);
    let mut threads = Vec::with_capacity(listeners.len());
    for (i, l) in listeners.into_iter().enumerate() {
        let t = std::thread::Builder::new()
            .name(format!("loop-{i}"))
            .spawn(move || serve(l))
            .context(|| "cannot start a loop thread")?;
        threads.push(t);
    }
    for t in threads {
        match t.join() {
            Ok(r) => r.context(|| "an event loop failed")?,
            Err(_) => return Err("an event loop panicked".into()),
        }
    }
    Ok(())
}

//! A [`Protocol`] written by hand on mio, one event loop per thread, each accepting on its own
//! `SO_REUSEPORT` listener (as `mio_echo`): what a careful engineer writes without a framework.
//!
//! Per connection: the unread tail (a partial request) and the unsent output, each a `Vec`
//! that stays empty (unallocated) while there is none. Reads go into the loop's scratch buffer
//! and are answered from there, so only a partial request is copied. Each socket is registered
//! once, readable and writable (edge-triggered: no `epoll_ctl` per write). On an event the
//! connection sends what is pending, answers what it holds, then reads until the socket is
//! drained (a short read counts as drained: epoll reports any later data as a new edge, as
//! tokio assumes too); nothing more is read while output is unsent (the backpressure). A
//! started request must be complete within the protocol's request timeout: one entry per
//! connection in a min-heap of deadlines, which sets the poll's timeout. Loop 0 also runs the
//! protocol's tick.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use super::{Protocol, Stop, announce, reuse_port_listener};
use crate::Error;

const LISTENER: Token = Token(usize::MAX);

/// Bytes one read may bring in.
const SCRATCH: usize = 64 * 1024;

/// One connection.
struct Conn<S> {
    sock: TcpStream,
    /// Its number in this loop, never reused (a slab key is): stale deadlines are told apart.
    id: u64,
    /// The unread tail: the start of a partial request.
    buf: Vec<u8>,
    /// Output not sent yet, from `sent` on.
    out: Vec<u8>,
    sent: usize,
    state: S,
    /// The socket may hold unread bytes (a readable edge not yet drained).
    readable: bool,
    /// Close once `out` is sent.
    closing: bool,
    /// When the started request must be complete.
    deadline: Option<Instant>,
    /// Whether this connection has an entry in the deadline heap.
    queued: bool,
}

/// The deadline heap's entries: when, the slab key, the connection's id.
type Deadlines = BinaryHeap<Reverse<(Instant, usize, u64)>>;

/// Serves `proto` on `addr` with `threads` event loops until the process is stopped; prints
/// `listening on tcp://ADDR` once every loop's listener is bound.
///
/// # Errors
/// When a listener cannot be bound, a thread cannot start, or a loop fails.
pub fn run<P: Protocol>(proto: P, addr: SocketAddr, threads: usize) -> Result<(), Error> {
    let first =
        reuse_port_listener(addr).map_err(|e| Error::io(format!("cannot listen on {addr}"), e))?;
    let addr = first
        .local_addr()
        .map_err(|e| Error::io("cannot read the listening address", e))?;
    let mut listeners = vec![first];
    for _ in 1..threads.max(1) {
        listeners.push(
            reuse_port_listener(addr)
                .map_err(|e| Error::io(format!("cannot listen on {addr} again"), e))?,
        );
    }
    announce(addr).map_err(|e| Error::io("cannot write to stdout", e))?;
    let proto = Arc::new(proto);
    let mut loops = Vec::with_capacity(listeners.len());
    for (i, l) in listeners.into_iter().enumerate() {
        let proto = Arc::clone(&proto);
        let t = std::thread::Builder::new()
            .name(format!("loop-{i}"))
            .spawn(move || serve(&*proto, l, i == 0))
            .map_err(|e| Error::io("cannot start a loop thread", e))?;
        loops.push(t);
    }
    for t in loops {
        match t.join() {
            Ok(r) => r.map_err(|e| Error::io("an event loop failed", e))?,
            Err(_) => return Err(Error::msg("an event loop panicked")),
        }
    }
    Ok(())
}

/// One event loop: accepts on `std_listener`, serves its connections, runs the protocol's
/// tick if `ticks`.
fn serve<P: Protocol>(
    proto: &P,
    std_listener: std::net::TcpListener,
    ticks: bool,
) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::from_std(std_listener);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: Slab<Conn<P::State>> = Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut scratch = vec![0u8; SCRATCH];
    let mut deadlines = Deadlines::new();
    let mut next_id: u64 = 0;
    let mut next_tick = if ticks {
        proto.tick().and_then(|d| Instant::now().checked_add(d))
    } else {
        None
    };
    loop {
        let wake = match (next_tick, deadlines.peek()) {
            (Some(t), Some(Reverse((d, ..)))) => Some(t.min(*d)),
            (t, d) => t.or(d.map(|Reverse((d, ..))| *d)),
        };
        let timeout = wake.map(|w| w.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut sock, _)) => {
                            // A peer that is already gone fails this; its reads close it.
                            let _ = sock.set_nodelay(true);
                            let entry = conns.vacant_entry();
                            poll.registry().register(
                                &mut sock,
                                Token(entry.key()),
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            next_id += 1;
                            entry.insert(Conn {
                                sock,
                                id: next_id,
                                buf: Vec::new(),
                                out: Vec::new(),
                                sent: 0,
                                state: P::State::default(),
                                readable: false,
                                closing: false,
                                deadline: None,
                                queued: false,
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        // Out of descriptors, a connection reset before it was accepted:
                        // the next readable edge tries again.
                        Err(_) => break,
                    }
                }
                continue;
            }
            let key = ev.token().0;
            let Some(c) = conns.get_mut(key) else {
                continue;
            };
            if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
                c.readable = true;
            }
            if drive(proto, c, &mut scratch) == Next::Close {
                let mut c = conns.remove(key);
                let _ = poll.registry().deregister(&mut c.sock);
                continue;
            }
            if let Some(d) = c.deadline
                && !c.queued
            {
                c.queued = true;
                deadlines.push(Reverse((d, key, c.id)));
            }
        }
        let now = Instant::now();
        if next_tick.is_some_and(|t| t <= now) {
            next_tick = proto.tick().and_then(|d| now.checked_add(d));
        }
        while let Some(&Reverse((d, key, id))) = deadlines.peek() {
            if d > now {
                break;
            }
            deadlines.pop();
            let Some(c) = conns.get_mut(key).filter(|c| c.id == id) else {
                continue;
            };
            match c.deadline {
                // The request is late: close.
                Some(d) if d <= now => {
                    let mut c = conns.remove(key);
                    let _ = poll.registry().deregister(&mut c.sock);
                }
                // A later request's deadline: wait for it.
                Some(d) => deadlines.push(Reverse((d, key, id))),
                None => c.queued = false,
            }
        }
    }
}

/// What a connection does after [`drive`].
#[derive(Debug, PartialEq, Eq)]
enum Next {
    Keep,
    Close,
}

/// Sends, answers and reads until the connection waits for its peer (to take the output, or
/// to send more) or is to be closed.
fn drive<P: Protocol>(proto: &P, c: &mut Conn<P::State>, scratch: &mut [u8]) -> Next {
    // Whether the bytes in `c.buf` may hold a request not answered yet.
    let mut fresh = !c.buf.is_empty();
    loop {
        // Send what is pending; read nothing more until it is sent.
        while c.sent < c.out.len() {
            match c.sock.write(&c.out[c.sent..]) {
                Ok(0) => return Next::Close,
                Ok(n) => c.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Next::Close,
            }
        }
        c.out.clear();
        c.sent = 0;
        if c.closing {
            let _ = c.sock.shutdown(Shutdown::Write);
            return Next::Close;
        }
        if fresh {
            fresh = false;
            let s = proto.serve(&mut c.state, &c.buf, &mut c.out);
            c.buf.drain(..s.consumed.min(c.buf.len()));
            after(proto, c, s.stop);
            if s.stop == Stop::Full {
                fresh = true;
            }
            if !c.out.is_empty() || c.closing {
                continue;
            }
        }
        if !c.readable {
            return Next::Keep;
        }
        // Read.
        let n = match c.sock.read(scratch) {
            Ok(0) => return Next::Close,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                c.readable = false;
                return Next::Keep;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => return Next::Close,
        };
        if n < scratch.len() {
            // Drained: any later data comes as a new edge.
            c.readable = false;
        }
        let s = if c.buf.is_empty() {
            // Answered straight from the scratch buffer; only a partial request is kept.
            let input = &scratch[..n];
            let s = proto.serve(&mut c.state, input, &mut c.out);
            c.buf
                .extend_from_slice(input.get(s.consumed..).unwrap_or_default());
            s
        } else {
            c.buf.extend_from_slice(&scratch[..n]);
            let s = proto.serve(&mut c.state, &c.buf, &mut c.out);
            c.buf.drain(..s.consumed.min(c.buf.len()));
            s
        };
        after(proto, c, s.stop);
        fresh = s.stop == Stop::Full;
        if c.buf.len() >= proto.max_inbound() {
            return Next::Close;
        }
    }
}

/// Applies what a `serve` call ended with: the close flag and the request deadline.
fn after<P: Protocol>(proto: &P, c: &mut Conn<P::State>, stop: Stop) {
    match stop {
        Stop::Close => c.closing = true,
        Stop::Full => {}
        Stop::Idle => c.deadline = None,
        Stop::Incomplete => {
            // Once per request: bytes trickling in do not move it. A new request started
            // after an answer gets its own.
            let answered = !c.out.is_empty();
            if c.deadline.is_none() || answered {
                c.deadline = proto
                    .request_timeout()
                    .and_then(|t| Instant::now().checked_add(t));
            }
        }
    }
}

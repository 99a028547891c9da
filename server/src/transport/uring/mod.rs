//! The io_uring transport (feature `io-uring`, Linux): the loop's I/O in completion mode.
//!
//! - Each listener has one multishot accept; accepted descriptors wait in a queue that
//!   [`Transport::accept`] pops (the peer address is read with `getpeername`).
//! - Each connection read has one multishot receive selecting from the loop's provided-buffer
//!   ring ([`bufring`]): the handler sees the bytes in the kernel's buffer, the reactor copies
//!   only what it leaves unread, and the buffer goes back to the ring on the transport's next
//!   call. Pausing a connection cancels its receive; resuming arms a new one.
//! - A send copies what it is given into the connection's own in-flight buffer (the
//!   transport owns it until the completion: the reactor's buffers are never lent to the
//!   kernel) and submits one `IORING_OP_SEND`; while it is in flight further sends return
//!   `WouldBlock`, so the reactor keeps the rest in the connection's ring and sends it when
//!   the completion reports room. A short send is resubmitted for the rest.
//! - Everything queued in a turn is submitted with the wait in one `io_uring_enter`; the
//!   timer wheel's timeout rides along as that call's timeout argument (`EXT_ARG`).
//! - Other threads wake the loop through an `eventfd` with a read always pending on it.
//! - Closing cancels the receive (and the accept of a listener); a connection closed with a
//!   send in flight keeps its descriptor and buffer until that send completes, so the last
//!   bytes before a close are not lost.
//! - A dial still connecting, and datagram sockets, wait with a one-shot `POLL_ADD`;
//!   datagrams themselves use `recvfrom` / `sendto`.

mod bufring;
mod quiesce;

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use io_uring::{IoUring, cqueue, opcode, squeue, types};

use super::{Accepted, Event, OsStream, Transport, Waker, Watch};
use crate::sys::{Datagram, Listener, Stream, StreamOptions};
use bufring::BufRing;

/// Submission queue entries.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue entries (multishot operations post many completions per submission).
const CQ_ENTRIES: u32 = 8192;
/// The buffer group of the loop's provided-buffer ring.
const BGID: u16 = 0;
/// Buffers in the ring.
const BUFFERS: u16 = 128;
/// Bytes per buffer.
const BUF_SIZE: usize = 16 * 1024;
/// Most bytes one connection has in flight: a send takes no more, so the rest stays in the
/// connection's outbound ring, where the write watermarks and the write-stall timeout see it.
const IN_FLIGHT_MAX: usize = 64 * 1024;
/// Send buffers the loop keeps for reuse (a connection owns one only while a send is in
/// flight, so an idle connection owns none).
const SEND_POOL: usize = 64;

/// What a submission was for, in the top byte of its user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Op {
    Wake = 1,
    Accept = 2,
    Recv = 3,
    Send = 4,
    Connect = 5,
    Datagram = 6,
    /// A cancel's own completion (nothing to do).
    Cancel = 7,
    /// The send of a connection closed while it was in flight.
    Orphan = 8,
}

/// User data: the op, a generation (24 bits) and an index (32 bits).
fn ud(op: Op, generation: u32, idx: usize) -> u64 {
    (op as u64) << 56 | u64::from(generation & 0xff_ffff) << 32 | (idx as u64 & 0xffff_ffff)
}

fn ud_parts(u: u64) -> (u8, u32, usize) {
    (
        (u >> 56) as u8,
        ((u >> 32) & 0xff_ffff) as u32,
        (u & 0xffff_ffff) as usize,
    )
}

/// What a completed receive left for [`Transport::recv`].
#[derive(Debug)]
enum Got {
    Data { bid: u16, len: usize },
    Eof,
    Err(i32),
}

/// A connection as the transport knows it.
#[derive(Debug)]
struct ConnState {
    fd: RawFd,
    generation: u32,
    watch: Watch,
    /// A multishot receive is armed.
    recv_armed: bool,
    /// The receive ended for good (end of stream or error): do not arm again.
    recv_done: bool,
    /// Still connecting (a dial): waits with a poll for writability.
    connecting: bool,
    /// Completed receives not yet taken.
    got: VecDeque<Got>,
    /// The in-flight send's bytes (owned until its completion) and how far it got.
    send_buf: Vec<u8>,
    send_off: usize,
    sending: bool,
    /// A send failed: the error the next send reports.
    send_err: Option<i32>,
}

/// A connection closed with a send in flight: kept until that send completes.
#[derive(Debug)]
struct Orphan {
    stream: Stream,
    buf: Vec<u8>,
    off: usize,
    /// The user data of its send in flight.
    pending: u64,
    /// Last bytes taken while that send was in flight (`send_last`), sent after it.
    then: Vec<u8>,
}

/// A listener's multishot accept and what it accepted.
#[derive(Debug, Default)]
struct ListenState {
    armed: bool,
    generation: u32,
    accepted: VecDeque<Result<OwnedFd, i32>>,
}

/// A loop's io_uring transport.
pub(crate) struct UringTransport {
    // Field order: the ring is dropped before the buffer memory it points into.
    ring: IoUring,
    bufs: BufRing,
    eventfd: Arc<OwnedFd>,
    /// The pending eventfd read's target.
    wake_buf: Box<[u8; 8]>,
    conns: Vec<Option<ConnState>>,
    listeners: Vec<ListenState>,
    /// Datagram sockets watched, by id (-1: not watched).
    datagrams: Vec<RawFd>,
    /// Connections whose receive ended for want of buffers, to arm again.
    starved: Vec<usize>,
    orphans: Vec<Orphan>,
    /// Last bytes of connections about to close, taken while a send was in flight.
    last: Vec<(usize, Vec<u8>)>,
    /// Drained send buffers, for the next sends.
    send_pool: Vec<Vec<u8>>,
    generation: u32,
    /// The buffer shown by the last `recv`, given back at the next call.
    lent: Option<u16>,
    events: Vec<Event>,
    next: usize,
    /// Events owed without a completion (a receive queued while paused, room to send).
    owed: Vec<Event>,
    options: StreamOptions,
    /// Operations submitted whose last completion has not been taken (see `quiesce`).
    in_flight: usize,
    /// The transport is being dropped: orphans' last sends do not wait for room.
    draining: bool,
}

impl std::fmt::Debug for UringTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringTransport")
            .field("conns", &self.conns.iter().flatten().count())
            .finish_non_exhaustive()
    }
}

fn errno(e: i32) -> io::Error {
    io::Error::from_raw_os_error(e)
}

impl UringTransport {
    /// A ring with its provided buffers registered and its eventfd read pending.
    ///
    /// # Errors
    /// What the kernel says when it refuses io_uring (`EPERM` under seccomp or
    /// `io_uring_disabled`, `ENOSYS` on old kernels, `EINVAL` without buffer rings).
    pub(crate) fn new(options: StreamOptions) -> io::Result<Self> {
        if std::env::var_os(REFUSE_ENV).is_some() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("io_uring refused ({REFUSE_ENV} is set)"),
            ));
        }
        // Cooperative task running: completions never interrupt the loop (or any other
        // thread) with a signal-like notification; the loop collects them as it enters.
        let ring = IoUring::builder()
            .setup_cqsize(CQ_ENTRIES)
            .setup_coop_taskrun()
            .build(SQ_ENTRIES)?;
        let bufs = BufRing::new(BUFFERS, BUF_SIZE)?;
        let (addr, entries) = bufs.addr();
        // SAFETY: the ring memory stays valid (owned by `bufs`) until the io_uring instance is
        // dropped, which happens first (field order).
        unsafe {
            ring.submitter()
                .register_buf_ring_with_flags(addr, entries, BGID, 0)?
        };
        // SAFETY: eventfd(2) with valid flags; the result is checked before use.
        let efd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if efd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `efd` is a fresh descriptor owned by nothing else.
        let eventfd = Arc::new(unsafe { OwnedFd::from_raw_fd(efd) });
        let mut t = Self {
            ring,
            bufs,
            eventfd,
            wake_buf: Box::new([0; 8]),
            conns: Vec::new(),
            listeners: Vec::new(),
            datagrams: Vec::new(),
            starved: Vec::new(),
            orphans: Vec::new(),
            last: Vec::new(),
            send_pool: Vec::new(),
            generation: 0,
            lent: None,
            events: Vec::new(),
            next: 0,
            owed: Vec::new(),
            options,
            in_flight: 0,
            draining: false,
        };
        // Queued only: the loop's thread submits it with its first poll (whichever thread
        // submits a request is the one its completion's task work runs on).
        t.arm_wake()?;
        Ok(t)
    }

    /// Queues `sqe`, submitting what is queued first if the queue is full.
    fn push(&mut self, sqe: squeue::Entry) -> io::Result<()> {
        loop {
            // SAFETY: every buffer or descriptor an entry names outlives its operation: the
            // wake buffer and the ring live as long as the transport, send buffers are owned
            // by the connection (or its orphan) until the send's completion, descriptors are
            // closed only after their operations are cancelled or complete.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                self.in_flight += 1;
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    fn arm_wake(&mut self) -> io::Result<()> {
        let sqe = opcode::Read::new(
            types::Fd(self.eventfd.as_raw_fd()),
            self.wake_buf.as_mut_ptr(),
            8,
        )
        .build()
        .user_data(ud(Op::Wake, 0, 0));
        self.push(sqe)
    }

    fn next_generation(&mut self) -> u32 {
        self.generation = (self.generation + 1) & 0xff_ffff;
        self.generation
    }

    fn give_back_lent(&mut self) {
        if let Some(bid) = self.lent.take() {
            self.bufs.give_back(bid);
        }
    }

    fn arm_recv(&mut self, conn: usize) -> io::Result<()> {
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return Ok(());
        };
        if c.recv_armed || c.recv_done {
            return Ok(());
        }
        c.recv_armed = true;
        let sqe = opcode::RecvMulti::new(types::Fd(c.fd), BGID)
            .build()
            .user_data(ud(Op::Recv, c.generation, conn));
        self.push(sqe)
    }

    fn cancel(&mut self, target: u64) -> io::Result<()> {
        let sqe = opcode::AsyncCancel::new(target)
            .build()
            .user_data(ud(Op::Cancel, 0, 0));
        self.push(sqe)
    }

    fn submit_send(&mut self, conn: usize) -> io::Result<()> {
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return Ok(());
        };
        let rest = &c.send_buf[c.send_off..];
        let sqe = opcode::Send::new(types::Fd(c.fd), rest.as_ptr(), rest.len() as u32)
            .flags(libc::MSG_NOSIGNAL)
            .build()
            .user_data(ud(Op::Send, c.generation, conn));
        self.push(sqe)
    }

    /// Sends the rest of orphan `i` (its user data names its index).
    fn submit_orphan(&mut self, i: usize) -> io::Result<()> {
        let generation = self.next_generation();
        let Some(o) = self.orphans.get_mut(i) else {
            return Ok(());
        };
        o.pending = ud(Op::Orphan, generation, i);
        // While the transport is dropped, a send the socket cannot take at once fails with
        // EAGAIN instead of waiting (io_uring honours MSG_DONTWAIT).
        let flags = if self.draining {
            libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT
        } else {
            libc::MSG_NOSIGNAL
        };
        let rest = &o.buf[o.off..];
        let sqe = opcode::Send::new(
            types::Fd(o.stream.as_fd().as_raw_fd()),
            rest.as_ptr(),
            rest.len() as u32,
        )
        .flags(flags)
        .build()
        .user_data(o.pending);
        self.push(sqe)
    }

    /// A send completed for a connection that was closed meanwhile: finish it or let the
    /// descriptor go.
    fn orphan_sent(&mut self, user_data: u64, res: i32) {
        let Some(i) = self.orphans.iter().position(|o| o.pending == user_data) else {
            return;
        };
        let o = &mut self.orphans[i];
        if res > 0 {
            o.off += res as usize;
            if o.off >= o.buf.len() && !o.then.is_empty() {
                // The in-flight bytes are out: the last ones follow.
                o.buf = std::mem::take(&mut o.then);
                o.off = 0;
            }
            if o.off < o.buf.len() && self.submit_orphan(i).is_ok() {
                return;
            }
        }
        // Done or failed: the descriptor closes now.
        self.orphans.swap_remove(i);
        // The one moved into `i` keeps its own user data: it is found by that, not by index.
    }

    fn poll_add(&mut self, fd: RawFd, flags: i16, data: u64) -> io::Result<()> {
        let sqe = opcode::PollAdd::new(types::Fd(fd), flags as u32)
            .build()
            .user_data(data);
        self.push(sqe)
    }

    fn arm_accept(&mut self, id: usize, fd: RawFd) -> io::Result<()> {
        let generation = self.next_generation();
        if self.listeners.len() <= id {
            self.listeners.resize_with(id + 1, ListenState::default);
        }
        let l = &mut self.listeners[id];
        l.armed = true;
        l.generation = generation;
        let sqe = opcode::AcceptMulti::new(types::Fd(fd))
            .flags(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
            .build()
            .user_data(ud(Op::Accept, generation, id));
        self.push(sqe)
    }

    /// Takes one completion into the transport's state and the turn's events.
    fn complete(&mut self, user_data: u64, res: i32, flags: u32) {
        let (op, generation, idx) = ud_parts(user_data);
        let more = cqueue::more(flags);
        let stale_conn =
            |t: &Self| !matches!(t.conns.get(idx), Some(Some(c)) if c.generation == generation);
        match op {
            x if x == Op::Wake as u8 => {
                if let Err(e) = self.arm_wake() {
                    tracing::error!(error = %e, "re-arming the loop's wake-up failed");
                }
            }
            x if x == Op::Recv as u8 => {
                let bid = cqueue::buffer_select(flags);
                if stale_conn(self) {
                    if let Some(bid) = bid {
                        self.bufs.give_back(bid);
                    }
                    return;
                }
                let Some(Some(c)) = self.conns.get_mut(idx) else {
                    return;
                };
                if !more {
                    c.recv_armed = false;
                }
                let got = match (res, bid) {
                    (n, Some(bid)) if n > 0 => Got::Data {
                        bid,
                        len: n as usize,
                    },
                    (0, _) => {
                        c.recv_done = true;
                        Got::Eof
                    }
                    (e, _) if -e == libc::ENOBUFS => {
                        // Out of buffers: they come back as receives are taken; armed again
                        // at the next poll.
                        self.starved.push(idx);
                        return;
                    }
                    (e, _) if -e == libc::ECANCELED => return,
                    (e, _) => {
                        c.recv_done = true;
                        Got::Err(-e)
                    }
                };
                c.got.push_back(got);
                if c.watch.recv {
                    self.events.push(Event::Conn {
                        conn: idx,
                        recv: true,
                        send: false,
                    });
                }
            }
            x if x == Op::Send as u8 => {
                if stale_conn(self) {
                    self.orphan_sent(user_data, res);
                    return;
                }
                let Some(Some(c)) = self.conns.get_mut(idx) else {
                    return;
                };
                if res < 0 {
                    c.sending = false;
                    c.send_err = Some(-res);
                } else {
                    c.send_off += res as usize;
                    if c.send_off < c.send_buf.len() && res > 0 {
                        if let Err(e) = self.submit_send(idx) {
                            tracing::warn!(error = %e, "resubmitting a send failed");
                        }
                        return;
                    }
                    c.sending = false;
                    c.send_off = 0;
                    let mut buf = std::mem::take(&mut c.send_buf);
                    if self.send_pool.len() < SEND_POOL {
                        buf.clear();
                        self.send_pool.push(buf);
                    }
                }
                if let Some(Some(c)) = self.conns.get(idx)
                    && c.watch.send
                {
                    self.events.push(Event::Conn {
                        conn: idx,
                        recv: false,
                        send: true,
                    });
                }
            }
            x if x == Op::Orphan as u8 => self.orphan_sent(user_data, res),
            x if x == Op::Connect as u8 => {
                if stale_conn(self) {
                    return;
                }
                self.events.push(Event::Conn {
                    conn: idx,
                    recv: false,
                    send: true,
                });
            }
            x if x == Op::Datagram as u8 => {
                let Some(&fd) = self.datagrams.get(idx) else {
                    return;
                };
                if fd < 0 || res == -libc::ECANCELED {
                    return;
                }
                self.events.push(Event::Datagram(idx));
                // One-shot: armed again at once, so it fires while datagrams wait (level).
                if let Err(e) = self.poll_add(fd, libc::POLLIN, ud(Op::Datagram, 0, idx)) {
                    tracing::warn!(error = %e, "re-arming a datagram socket failed");
                }
            }
            x if x == Op::Accept as u8 => {
                let Some(l) = self.listeners.get_mut(idx) else {
                    if res >= 0 {
                        // SAFETY: a descriptor the kernel just accepted for us.
                        drop(unsafe { OwnedFd::from_raw_fd(res) });
                    }
                    return;
                };
                if l.generation != generation {
                    if res >= 0 {
                        // SAFETY: as above; nobody waits for it any more.
                        drop(unsafe { OwnedFd::from_raw_fd(res) });
                    }
                    return;
                }
                if !more {
                    l.armed = false;
                }
                if res == -libc::ECANCELED {
                    return;
                }
                l.accepted.push_back(if res >= 0 {
                    // SAFETY: a descriptor the kernel just accepted for us, owned by no one.
                    Ok(unsafe { OwnedFd::from_raw_fd(res) })
                } else {
                    Err(-res)
                });
                self.events.push(Event::Accept(idx));
            }
            _ => {}
        }
    }
}

/// Set to make the io_uring transport refuse to start, as a kernel that refuses io_uring
/// would (for tests of the fallback to epoll).
pub(crate) const REFUSE_ENV: &str = "LOOPWIRE_REFUSE_IO_URING";

impl Transport for UringTransport {
    type Listener = Listener;
    type Stream = Stream;
    type Datagram = Datagram;

    fn waker(&self) -> io::Result<Waker> {
        let efd = Arc::clone(&self.eventfd);
        Ok(Waker::new(move || {
            let one = 1u64.to_ne_bytes();
            // SAFETY: an 8-byte write from a live buffer to an eventfd this closure keeps open.
            let n = unsafe { libc::write(efd.as_raw_fd(), one.as_ptr().cast(), 8) };
            // EAGAIN: the counter is saturated, the loop is awake anyway.
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::WouldBlock {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        }))
    }

    fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.give_back_lent();
        self.events.clear();
        self.next = 0;
        // Receives that ended for want of buffers start again now that some came back.
        for conn in std::mem::take(&mut self.starved) {
            if let Some(Some(c)) = self.conns.get(conn)
                && c.watch.recv
                && !c.connecting
            {
                self.arm_recv(conn)?;
            }
        }
        let owed = !self.owed.is_empty();
        let res = match timeout {
            _ if owed => self.ring.submit(),
            Some(t) if t.is_zero() => self.ring.submit(),
            None => self.ring.submit_and_wait(1),
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        match res {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ) => {}
            Err(e) => return Err(e),
        }
        self.events.append(&mut self.owed);
        loop {
            let Some(cqe) = self.ring.completion().next() else {
                break;
            };
            if !cqueue::more(cqe.flags()) {
                self.in_flight = self.in_flight.saturating_sub(1);
            }
            self.complete(cqe.user_data(), cqe.result(), cqe.flags());
        }
        Ok(())
    }

    #[inline]
    fn next_event(&mut self) -> Option<Event> {
        let ev = self.events.get(self.next).copied()?;
        self.next += 1;
        Some(ev)
    }

    fn listen(&mut self, id: usize, listener: &Listener) -> io::Result<()> {
        self.arm_accept(id, listener.as_fd().as_raw_fd())
    }

    fn unlisten(&mut self, id: usize, _listener: &Listener) -> io::Result<()> {
        let Some(l) = self.listeners.get_mut(id) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let target = ud(Op::Accept, l.generation, id);
        // A new generation: whatever the old accept still posts is dropped.
        l.generation = u32::MAX;
        let was = std::mem::take(&mut l.armed);
        l.accepted.clear();
        if was {
            self.cancel(target)?;
        }
        Ok(())
    }

    fn accept(&mut self, id: usize, listener: &Listener) -> io::Result<Accepted<Stream>> {
        let next = self
            .listeners
            .get_mut(id)
            .and_then(|l| l.accepted.pop_front());
        let fd = match next {
            Some(Ok(fd)) => fd,
            Some(Err(e)) => return Err(errno(e)),
            None => {
                // Re-arm a multishot accept the kernel ended (it posts without MORE then).
                if self
                    .listeners
                    .get(id)
                    .is_some_and(|l| !l.armed && l.generation != u32::MAX)
                {
                    self.arm_accept(id, listener.as_fd().as_raw_fd())?;
                }
                return Err(io::ErrorKind::WouldBlock.into());
            }
        };
        Ok(match listener {
            Listener::Tcp(_) => {
                let s = TcpStream::from(fd);
                let peer = s.peer_addr().ok();
                (Stream::Tcp(s), peer)
            }
            Listener::Unix(..) => (Stream::Unix(UnixStream::from(fd)), None),
        })
    }

    fn adopt(&mut self, stream: OsStream) -> io::Result<Stream> {
        Ok(stream)
    }

    fn open(&mut self, conn: usize, stream: &Stream, watch: Watch) -> io::Result<()> {
        self.options.apply(stream);
        let generation = self.next_generation();
        if self.conns.len() <= conn {
            self.conns.resize_with(conn + 1, || None);
        }
        let fd = stream.as_fd().as_raw_fd();
        // Only a dial still connecting is opened watching for room to send alone.
        let connecting = watch == Watch::SEND;
        self.conns[conn] = Some(ConnState {
            fd,
            generation,
            watch,
            recv_armed: false,
            recv_done: false,
            connecting,
            got: VecDeque::new(),
            send_buf: Vec::new(),
            send_off: 0,
            sending: false,
            send_err: None,
        });
        if connecting {
            self.poll_add(fd, libc::POLLOUT, ud(Op::Connect, generation, conn))
        } else if watch.recv {
            self.arm_recv(conn)
        } else {
            Ok(())
        }
    }

    fn watch(&mut self, conn: usize, _stream: &Stream, want: Watch, _was: Watch) -> io::Result<()> {
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        c.watch = want;
        c.connecting = false;
        if want.send && !c.sending {
            // Room now: say so at the next poll.
            self.owed.push(Event::Conn {
                conn,
                recv: false,
                send: true,
            });
        }
        if want.recv {
            // Received while paused: shown once the loop polls again, one event each.
            for _ in 0..c.got.len() {
                self.owed.push(Event::Conn {
                    conn,
                    recv: true,
                    send: false,
                });
            }
            self.arm_recv(conn)
        } else if c.recv_armed {
            c.recv_armed = false;
            let target = ud(Op::Recv, c.generation, conn);
            self.cancel(target)
        } else {
            Ok(())
        }
    }

    fn connect_outcome(&mut self, stream: &Stream) -> io::Result<()> {
        stream.connect_outcome()
    }

    #[inline]
    fn recv<'a>(
        &'a mut self,
        conn: usize,
        _stream: &Stream,
        _buf: &'a mut [u8],
    ) -> io::Result<&'a [u8]> {
        self.give_back_lent();
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        match c.got.pop_front() {
            None => Err(io::ErrorKind::WouldBlock.into()),
            Some(Got::Eof) => Ok(&[]),
            Some(Got::Err(e)) => Err(errno(e)),
            Some(Got::Data { bid, len }) => {
                self.lent = Some(bid);
                Ok(self.bufs.bytes(bid, len))
            }
        }
    }

    #[inline]
    fn send(&mut self, conn: usize, stream: &Stream, data: &[u8]) -> io::Result<usize> {
        self.send_vectored(conn, stream, &[IoSlice::new(data)])
    }

    fn send_vectored(
        &mut self,
        conn: usize,
        _stream: &Stream,
        bufs: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        if let Some(e) = c.send_err {
            return Err(errno(e));
        }
        if c.sending {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok(0);
        }
        let mut buf = self.send_pool.pop().unwrap_or_default();
        for b in bufs {
            let take = b.len().min(IN_FLIGHT_MAX - buf.len());
            buf.extend_from_slice(&b[..take]);
            if buf.len() == IN_FLIGHT_MAX {
                break;
            }
        }
        let n = buf.len();
        c.send_buf = buf;
        c.send_off = 0;
        c.sending = true;
        self.submit_send(conn)?;
        Ok(n)
    }

    fn send_last(
        &mut self,
        conn: usize,
        stream: &Stream,
        bufs: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        let Some(Some(c)) = self.conns.get(conn) else {
            return Err(io::ErrorKind::NotConnected.into());
        };
        if !c.sending {
            return self.send_vectored(conn, stream, bufs);
        }
        let i = match self.last.iter().position(|(k, _)| *k == conn) {
            Some(i) => i,
            None => {
                self.last.push((conn, Vec::new()));
                self.last.len() - 1
            }
        };
        let then = &mut self.last[i].1;
        let before = then.len();
        for b in bufs {
            let take = b.len().min(IN_FLIGHT_MAX - then.len());
            then.extend_from_slice(&b[..take]);
        }
        match then.len() - before {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }

    fn close(&mut self, conn: usize, stream: Stream, _watched: Watch) {
        let then = match self.last.iter().position(|(k, _)| *k == conn) {
            Some(i) => self.last.swap_remove(i).1,
            None => Vec::new(),
        };
        let Some(c) = self.conns.get_mut(conn).and_then(Option::take) else {
            return;
        };
        for g in &c.got {
            if let Got::Data { bid, .. } = g {
                self.bufs.give_back(*bid);
            }
        }
        if c.recv_armed {
            let _ = self.cancel(ud(Op::Recv, c.generation, conn));
        }
        if c.connecting {
            let _ = self.cancel(ud(Op::Connect, c.generation, conn));
        }
        if c.sending {
            // The send in flight finishes before the descriptor closes: its completion (told
            // apart from the slot's next occupant by the generation) finds the orphan.
            self.orphans.push(Orphan {
                stream,
                buf: c.send_buf,
                off: c.send_off,
                pending: ud(Op::Send, c.generation, conn),
                then,
            });
            return;
        }
        drop(stream);
    }

    fn watch_datagram(&mut self, id: usize, socket: &Datagram) -> io::Result<()> {
        let fd = socket.as_fd().as_raw_fd();
        if self.datagrams.len() <= id {
            self.datagrams.resize(id + 1, -1);
        }
        self.datagrams[id] = fd;
        self.poll_add(fd, libc::POLLIN, ud(Op::Datagram, 0, id))
    }

    fn unwatch_datagram(&mut self, id: usize, _socket: &Datagram) {
        if let Some(fd) = self.datagrams.get_mut(id) {
            *fd = -1;
        }
        let _ = self.cancel(ud(Op::Datagram, 0, id));
    }

    fn recv_from(&mut self, socket: &Datagram, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        socket.recv_from(buf)
    }

    fn send_to(&mut self, socket: &Datagram, data: &[u8], peer: SocketAddr) -> io::Result<usize> {
        socket.send_to(data, peer)
    }
}

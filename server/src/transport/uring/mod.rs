//! The io_uring transport (feature `io-uring`, Linux): the loop's I/O in completion mode.
//!
//! - Each listener has one multishot accept; accepted descriptors wait in a queue that
//!   [`Transport::accept`] pops (the peer address is read with `getpeername`). The kernel
//!   reads `RLIMIT_NOFILE` once, when it takes the accept: a limit lowered while the engine
//!   runs binds a listener's accepts only from its next arming (after an accept back-off,
//!   for one); epoll's `accept4` sees it at once.
//! - Each connection read has one multishot receive selecting from the loop's provided-buffer
//!   ring ([`bufring`]): the handler sees the bytes in the kernel's buffer, the reactor copies
//!   only what it leaves unread, and the buffer goes back to the ring on the transport's next
//!   call. Pausing a connection cancels its receive; resuming arms a new one.
//! - A send copies what it is given into the connection's own in-flight buffer (the
//!   transport owns it until the completion: the reactor's buffers are never lent to the
//!   kernel), or, for the loop's write buffer after a callback (`send_owned`), takes that
//!   vector itself and gives the loop a recycled empty one, and submits one
//!   `IORING_OP_SEND`; while it is in flight further sends return `WouldBlock`, so the
//!   reactor keeps the rest in the connection's ring and sends it when the completion
//!   reports room. A short send is resubmitted for the rest.
//! - Everything queued in a turn is submitted with the wait in one `io_uring_enter`; the
//!   timer wheel's timeout rides along as that call's timeout argument (`EXT_ARG`). The ring
//!   has one submitter, the loop's thread, and defers the completions' task work to that
//!   call (`SINGLE_ISSUER` + `DEFER_TASKRUN`, where the kernel has them: see `build_ring`).
//! - Other threads wake the loop through an `eventfd` with a read always pending on it.
//! - Closing cancels the receive (and the accept of a listener); a connection closed with a
//!   send in flight keeps its descriptor and buffer until that send completes, so the last
//!   bytes before a close are not lost.
//! - A dial still connecting, and datagram sockets, wait with a one-shot `POLL_ADD`;
//!   datagrams themselves use `recvfrom` / `sendto`.
//!
//! The per-connection bookkeeping (what is in flight, what completed, which buffers are out,
//! what to submit) is [`completion::Book`](super::completion::Book), which makes no system
//! call; this module turns what it asks for into submission queue entries.

mod bufring;
mod quiesce;

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use io_uring::{EnterFlags, IoUring, cqueue, opcode, squeue, types};

use super::completion::{Book, Op, Recv, Sqe, ud, ud_parts};
use super::{Accepted, Event, OsStream, Transport, Waker, Watch};
use crate::sys::{Datagram, Listener, Stream, StreamOptions};
use bufring::BufRing;

/// Submission queue entries.
const SQ_ENTRIES: u32 = 1024;
/// Completion queue entries (multishot operations post many completions per submission).
const CQ_ENTRIES: u32 = 8192;
/// The buffer group of the loop's provided-buffer ring.
const BGID: u16 = 0;
/// Provided buffers per loop (at most [`bufring::WINDOW_MIN`] to all of them in the ring at a
/// time, the rest a reserve).
const BUFFERS: u16 = 128;
/// Bytes per buffer.
const BUF_SIZE: usize = 16 * 1024;

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
    /// The connections' bookkeeping (and the streams whose last send is in flight).
    book: Book<Stream>,
    listeners: Vec<ListenState>,
    /// Datagram sockets watched, by id (-1: not watched).
    datagrams: Vec<RawFd>,
    /// Submissions the book asked for several at a time (re-arms, a close's cancels).
    sqes: Vec<Sqe>,
    events: Vec<Event>,
    next: usize,
    options: StreamOptions,
    /// Operations submitted whose last completion has not been taken (see `quiesce`).
    in_flight: usize,
    /// The transport is being dropped: orphans' last sends do not wait for room.
    draining: bool,
    /// The ring was made with `DEFER_TASKRUN`: completions' task work runs only when the loop
    /// enters with `GETEVENTS`.
    deferred: bool,
    /// The ring is enabled (a deferred ring starts disabled: see [`build_ring`]).
    enabled: bool,
}

impl std::fmt::Debug for UringTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringTransport")
            .field("conns", &self.book.len())
            .finish_non_exhaustive()
    }
}

/// The outcome of a submit-and-wait: the timeout passing (`ETIME`), a signal (`EINTR`) and a
/// full completion queue (`EBUSY`, its entries are taken next) are no failure.
fn waited(res: io::Result<usize>) -> io::Result<()> {
    match res {
        Err(e)
            if !matches!(
                e.raw_os_error(),
                Some(libc::ETIME | libc::EINTR | libc::EBUSY)
            ) =>
        {
            Err(e)
        }
        _ => Ok(()),
    }
}

/// The loop's ring. With `deferred`, `SINGLE_ISSUER` + `DEFER_TASKRUN` (Linux 6.1): the
/// completions' task work (a multishot receive copying what arrived, say) runs when the loop
/// enters to take completions, in one batch, instead of interrupting it whenever data arrives;
/// one thread submits everything. The ring starts disabled (`R_DISABLED`): the thread that
/// enables it, the loop's at its first poll, becomes its only submitter, while the engine
/// makes the transport on the thread that starts it. Either way cooperative task running:
/// completions never interrupt the loop (or any other thread) with a signal-like notification.
fn build_ring(deferred: bool) -> io::Result<IoUring> {
    let mut b = IoUring::builder();
    b.setup_cqsize(CQ_ENTRIES).setup_coop_taskrun();
    if deferred {
        b.setup_single_issuer()
            .setup_defer_taskrun()
            .setup_r_disabled();
    }
    b.build(SQ_ENTRIES)
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
        let (ring, deferred) = match build_ring(true) {
            Ok(ring) => (ring, true),
            // Before Linux 6.1 the kernel refuses the flags: the ring runs without them.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => (build_ring(false)?, false),
            Err(e) => return Err(e),
        };
        let bufs = BufRing::new(BUFFERS, BUF_SIZE, bufring::WINDOW_MIN)?;
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
            book: Book::new(),
            listeners: Vec::new(),
            datagrams: Vec::new(),
            sqes: Vec::new(),
            events: Vec::new(),
            next: 0,
            options,
            in_flight: 0,
            draining: false,
            deferred,
            enabled: !deferred,
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
            // by the book (for the connection or its orphan) until the send's completion,
            // descriptors are closed only after their operations are cancelled or complete.
            if unsafe { self.ring.submission().push(&sqe) }.is_ok() {
                self.in_flight += 1;
                return Ok(());
            }
            self.ring.submit()?;
        }
    }

    /// Queues what the book asked for.
    #[inline]
    fn submit_book(&mut self, sqe: Sqe) -> io::Result<()> {
        let entry = match sqe {
            Sqe::Recv { fd, user_data } => opcode::RecvMulti::new(types::Fd(fd), BGID)
                .build()
                .user_data(user_data),
            Sqe::Send {
                fd,
                user_data,
                ptr,
                len,
            } => opcode::Send::new(types::Fd(fd), ptr, len)
                // While the transport is dropped, a send the socket cannot take at once
                // fails with EAGAIN instead of waiting (io_uring honours MSG_DONTWAIT).
                .flags(if self.draining {
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT
                } else {
                    libc::MSG_NOSIGNAL
                })
                .build()
                .user_data(user_data),
            Sqe::PollOut { fd, user_data } => {
                opcode::PollAdd::new(types::Fd(fd), libc::POLLOUT as u32)
                    .build()
                    .user_data(user_data)
            }
            Sqe::Cancel(target) => {
                opcode::AsyncCancel::new(target)
                    .build()
                    .user_data(ud(Op::Cancel, 0, 0))
            }
        };
        self.push(entry)
    }

    /// Queues the book's submissions gathered in `self.sqes`.
    fn submit_gathered(&mut self) -> io::Result<()> {
        let mut sqes = std::mem::take(&mut self.sqes);
        let mut res = Ok(());
        for sqe in sqes.drain(..) {
            if res.is_ok() {
                res = self.submit_book(sqe);
            }
        }
        self.sqes = sqes;
        res
    }

    /// Submits what is queued and takes what completed without waiting: on a deferred ring,
    /// an enter with `GETEVENTS` (and nothing to wait for) runs the completions' task work.
    fn submit_nowait(&mut self) -> io::Result<usize> {
        if !self.deferred {
            return self.ring.submit();
        }
        let queued = self.ring.submission().len() as u32;
        // SAFETY: no argument pointer (the size passed is that of a `sigset_t` nobody reads);
        // `GETEVENTS` with no completion to wait for returns once the task work ran.
        unsafe {
            self.ring.submitter().enter::<libc::sigset_t>(
                queued,
                0,
                EnterFlags::GETEVENTS.bits(),
                None,
            )
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

    fn cancel(&mut self, target: u64) -> io::Result<()> {
        self.submit_book(Sqe::Cancel(target))
    }

    fn poll_add(&mut self, fd: RawFd, flags: i16, data: u64) -> io::Result<()> {
        let sqe = opcode::PollAdd::new(types::Fd(fd), flags as u32)
            .build()
            .user_data(data);
        self.push(sqe)
    }

    fn arm_accept(&mut self, id: usize, fd: RawFd) -> io::Result<()> {
        let generation = self.book.next_generation();
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
        // A receive's user data carries its arm in the op byte's high nibble.
        match op & 0xf {
            x if x == Op::Recv as u8 => {
                let bid = cqueue::buffer_select(flags);
                let more = cqueue::more(flags);
                if bid.is_some() {
                    self.bufs.taken();
                } else if res == -libc::ENOBUFS {
                    self.bufs.starved();
                }
                if let Some(ev) = self
                    .book
                    .recv_done(user_data, res, bid, more, &mut self.bufs)
                {
                    self.events.push(ev);
                }
            }
            x if x == Op::Send as u8 || x == Op::Orphan as u8 => {
                let done = self.book.send_done(user_data, res);
                if let Some(sqe) = done.sqe
                    && let Err(e) = self.submit_book(sqe)
                {
                    tracing::warn!(error = %e, "resubmitting a send failed");
                }
                if let Some(ev) = done.event {
                    self.events.push(ev);
                }
                // A closed connection's last send is over: its descriptor closes here.
                drop(done.release);
            }
            x if x == Op::Wake as u8 => {
                if let Err(e) = self.arm_wake() {
                    tracing::error!(error = %e, "re-arming the loop's wake-up failed");
                }
            }
            x if x == Op::Connect as u8 => {
                if let Some(ev) = self.book.connect_done(user_data) {
                    self.events.push(ev);
                }
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
                let more = cqueue::more(flags);
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
        if !self.enabled {
            // The loop's thread becomes the ring's only submitter (see `build_ring`).
            self.ring.submitter().register_enable_rings()?;
            self.enabled = true;
        }
        self.book.give_back_lent(&mut self.bufs);
        self.bufs.refill();
        self.events.clear();
        self.next = 0;
        // Receives the kernel ended (out of buffers, say) start again now.
        self.book.rearm(&mut self.sqes);
        self.submit_gathered()?;
        let owed = self.book.has_owed();
        let res = match timeout {
            _ if owed => self.submit_nowait(),
            Some(t) if t.is_zero() => self.submit_nowait(),
            None => self.ring.submit_and_wait(1),
            Some(t) => {
                let ts = types::Timespec::new()
                    .sec(t.as_secs())
                    .nsec(t.subsec_nanos());
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
        };
        waited(res)?;
        self.book.take_owed(&mut self.events);
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
        match self.book.open(conn, stream.as_fd().as_raw_fd(), watch) {
            Some(sqe) => self.submit_book(sqe),
            None => Ok(()),
        }
    }

    fn watch(&mut self, conn: usize, _stream: &Stream, want: Watch, _was: Watch) -> io::Result<()> {
        match self.book.watch(conn, want)? {
            Some(sqe) => self.submit_book(sqe),
            None => Ok(()),
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
        match self.book.recv(conn, &mut self.bufs)? {
            Recv::Eof => Ok(&[]),
            Recv::Data { bid, len } => Ok(self.bufs.bytes(bid, len)),
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
        let (n, sqe) = self.book.send(conn, bufs)?;
        if let Some(sqe) = sqe {
            self.submit_book(sqe)?;
        }
        Ok(n)
    }

    fn send_owned(
        &mut self,
        conn: usize,
        _stream: &Stream,
        data: &mut Vec<u8>,
    ) -> io::Result<usize> {
        let (n, sqe) = self.book.send_owned(conn, data)?;
        if let Some(sqe) = sqe {
            self.submit_book(sqe)?;
        }
        Ok(n)
    }

    fn send_last(
        &mut self,
        conn: usize,
        _stream: &Stream,
        bufs: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        let (n, sqe) = self.book.send_last(conn, bufs)?;
        if let Some(sqe) = sqe {
            self.submit_book(sqe)?;
        }
        Ok(n)
    }

    fn close(&mut self, conn: usize, stream: Stream, _watched: Watch) {
        // Dropped here unless its send in flight keeps it until the completion.
        let now = self
            .book
            .close(conn, stream, &mut self.bufs, &mut self.sqes);
        let _ = self.submit_gathered();
        if now.is_some() && !self.ring.submission().is_empty() {
            // Entries still queued may name this descriptor (a receive armed this turn):
            // the kernel takes them (and its own reference to the socket) before the
            // descriptor closes, or they would name whatever reuses its number.
            if let Err(e) = self.ring.submit() {
                tracing::warn!(error = %e, "submitting before a close failed");
            }
        }
        drop(now);
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

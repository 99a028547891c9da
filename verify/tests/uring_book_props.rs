//! Property tests of the io_uring transport's completion bookkeeping
//! (`loopwire::internals::Book`, the code the transport runs, minus the ring) together with
//! the engine's inbound and outbound paths (`deliver`, `send`, `drain`), against a model
//! kernel: connections in two slots, opened, paused, resumed and closed at random; the peer
//! sending bytes that the kernel puts into a few small provided buffers in random chunks
//! (running out of them, or ending a multishot receive, at random) and ending its side (end of
//! stream or reset) at random; handlers writing up to several hundred KiB at once and
//! consuming random prefixes of what they are shown, their writes sent by copy or, as the
//! reactor sends its write buffer, by moving the vector itself into flight (`send_owned`,
//! the vector that comes back then reused and scribbled over as the reactor reuses it);
//! sends completing short, failing, or
//! completing after their connection closed; closes that first try the backlog once more
//! through `send_last` (taken behind a send in flight, sent after it), as when the engine stops.
//!
//! Checked at every step: the handler is shown exactly the bytes after what it consumed, up to
//! what the kernel received (nothing lost, duplicated or reordered inbound); what reached the
//! wire is always a prefix of what the handler wrote (outbound); a send is submitted only when
//! the connection has none in flight, and takes at most 64 KiB, from memory that does not move
//! until its completion and that the writer never gets back before it; one multishot receive at most per connection; every provided buffer
//! goes back exactly once, never while it is shown; a closed connection's stream is released
//! exactly once, only when no send of it is in flight, and then with every byte handed to a
//! send on the wire (unless a send failed); a peer's end reaches the reactor after every byte
//! before it, and only when the peer ended. At the end, everything the peer sent was shown,
//! everything written was sent, every buffer is back and every stream released.

mod engine_support;

use std::collections::{HashMap, VecDeque};
use std::io::{self, IoSlice, Write};

use engine_support::pool;
use loopwire::internals::{
    Book, BufferPool, IN_FLIGHT_MAX, Provided, Recv, Spill, Sqe, WriteOwned, deliver, drain,
    redeliver, send, send_owned,
};
use loopwire::transport::{Event, Watch};
use proptest::prelude::*;

const SLOTS: usize = 2;
const ECANCELED: i32 = 125;
const ENOBUFS: i32 = 105;
const ECONNRESET: i32 = 104;

/// The model kernel's provided buffers.
struct Bufs {
    size: usize,
    free: Vec<bool>,
    content: Vec<Vec<u8>>,
    errors: Vec<String>,
}

impl Provided for Bufs {
    fn give_back(&mut self, bid: u16) {
        let b = usize::from(bid);
        if b >= self.free.len() || self.free[b] {
            self.errors.push(format!("buffer {bid} given back twice"));
            return;
        }
        self.free[b] = true;
        // Scribbled: a buffer given back too early would show this.
        self.content[b].iter_mut().for_each(|x| *x = 0xEE);
    }
}

/// A completion posted by the model kernel.
#[derive(Debug, Clone, Copy)]
struct Cqe {
    user_data: u64,
    res: i32,
    bid: Option<u16>,
    more: bool,
    send: bool,
}

/// What the model kernel knows of one descriptor.
#[derive(Debug, Default)]
struct KFd {
    /// The armed multishot receive's user data.
    armed: Option<u64>,
    /// Bytes the peer sent, and how many the kernel put into buffers so far.
    peer: Vec<u8>,
    kpos: usize,
    /// The send the book submitted (user data, pointer, length) and whether the kernel
    /// took it (submitted at a poll) and completed it (completion not yet reaped).
    send: Option<(u64, usize, u32)>,
    submitted: bool,
    completed: bool,
    /// What reached the wire; what the book accepted to send; what the handler wrote.
    wire: Vec<u8>,
    handed: usize,
    written: Vec<u8>,
    /// A send failed: the connection lost what it had not sent.
    failed: bool,
    /// The peer closed (or reset) its side: it sends no more.
    ended: bool,
    released: bool,
}

/// The reactor's side of a connection in a slot.
struct Conn {
    fd: i32,
    inbound: Spill,
    backlog: Spill,
    /// What the handler consumed so far.
    consumed: usize,
    /// What the reactor took from the book (all shown at least once).
    received: usize,
    paused: bool,
    watch: Watch,
}

struct Sim {
    book: Book<i32>,
    bufs: Bufs,
    pool: BufferPool,
    kfds: HashMap<i32, KFd>,
    cq: VecDeque<Cqe>,
    pending: Vec<Sqe>,
    slots: Vec<Option<Conn>>,
    next_fd: i32,
    /// The reactor's write buffer: what `send_owned` hands back is reused for the next write.
    wbuf: Vec<u8>,
}

/// How much of what it is shown a handler consumes.
#[derive(Debug, Clone, Copy)]
enum Take {
    All,
    Nothing,
    Upto(usize),
}

impl Take {
    fn of(self, shown: usize) -> usize {
        match self {
            Take::All => shown,
            Take::Nothing => 0,
            Take::Upto(n) => n.min(shown),
        }
    }
}

#[derive(Debug, Clone)]
enum Step {
    Open(usize),
    Close(usize),
    Pause(usize),
    Resume(usize),
    /// The peer sends this many bytes.
    Peer(usize, usize),
    /// The kernel puts up to this many received bytes into one buffer (ending the multishot
    /// when the flag says so).
    KRecv(usize, usize, bool),
    /// The kernel sends up to this many bytes of the in-flight send (0: fails it).
    KSend(usize, usize),
    /// The peer's side ends once the kernel has received all it sent: end of stream (the
    /// flag false) or a reset.
    KEnd(usize, bool),
    /// The handler writes this many bytes, sent by copy or (the flag) as the reactor sends
    /// its write buffer, by moving the vector.
    Write(usize, usize, bool),
    /// The connection closes after one last attempt to send its backlog
    /// (`Book::send_last`, taken behind a send in flight), as when the engine stops.
    CloseSendingLast(usize),
    /// A loop turn, the handler consuming with this.
    Poll(Take),
}

fn take() -> impl Strategy<Value = Take> {
    prop_oneof![
        3 => Just(Take::All),
        1 => Just(Take::Nothing),
        3 => (0usize..200).prop_map(Take::Upto),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let slot = 0..SLOTS;
    prop::collection::vec(
        prop_oneof![
            1 => slot.clone().prop_map(Step::Open),
            1 => slot.clone().prop_map(Step::Close),
            1 => slot.clone().prop_map(Step::CloseSendingLast),
            1 => slot.clone().prop_map(Step::Pause),
            1 => slot.clone().prop_map(Step::Resume),
            3 => (slot.clone(), 1usize..3000).prop_map(|(s, n)| Step::Peer(s, n)),
            5 => (slot.clone(), 1usize..400, prop::bool::weighted(0.15))
                .prop_map(|(s, n, end)| Step::KRecv(s, n, end)),
            5 => (slot.clone(), prop_oneof![1 => Just(0usize), 30 => 1usize..80_000])
                .prop_map(|(s, n)| Step::KSend(s, n)),
            1 => (slot.clone(), any::<bool>()).prop_map(|(s, reset)| Step::KEnd(s, reset)),
            3 => (
                slot.clone(),
                prop_oneof![6 => 1usize..2000, 1 => 60_000usize..400_000],
                any::<bool>()
            )
                .prop_map(|(s, n, owned)| Step::Write(s, n, owned)),
            5 => take().prop_map(Step::Poll),
        ],
        1..80,
    )
}

/// Byte `i` of what the handler of `fd` writes (or its peer sends, with `salt`).
fn byte(fd: i32, i: usize, salt: u8) -> u8 {
    (i as u8)
        .wrapping_mul(31)
        .wrapping_add(fd as u8)
        .wrapping_add(salt)
        ^ (i >> 8) as u8
}

/// The book as an `io::Write`, as the reactor's `ConnIo` is: what a send submits goes to
/// `pending`.
struct BookIo<'a> {
    book: &'a mut Book<i32>,
    conn: usize,
    pending: &'a mut Vec<Sqe>,
    accepted: usize,
    /// Through `send_last` (the reactor's `LastIo`).
    last: bool,
}

impl Write for BookIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let (n, sqe) = if self.last {
            self.book.send_last(self.conn, bufs)?
        } else {
            self.book.send(self.conn, bufs)?
        };
        self.pending.extend(sqe);
        self.accepted += n;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl WriteOwned for BookIo<'_> {
    fn write_owned(&mut self, data: &mut Vec<u8>) -> io::Result<usize> {
        if self.last {
            return self.write(data);
        }
        let (n, sqe) = self.book.send_owned(self.conn, data)?;
        self.pending.extend(sqe);
        self.accepted += n;
        Ok(n)
    }
}

type R = Result<(), String>;

fn check(cond: bool, what: impl FnOnce() -> String) -> R {
    if cond { Ok(()) } else { Err(what()) }
}

impl Sim {
    fn new(buffers: usize, size: usize) -> Self {
        Self {
            book: Book::new(),
            bufs: Bufs {
                size,
                free: vec![true; buffers],
                content: vec![vec![0; size]; buffers],
                errors: Vec::new(),
            },
            pool: pool(),
            kfds: HashMap::new(),
            cq: VecDeque::new(),
            pending: Vec::new(),
            slots: (0..SLOTS).map(|_| None).collect(),
            next_fd: 3,
            wbuf: Vec::new(),
        }
    }

    /// The book returned `sqe`: checks on what it asks for, at once.
    fn asked(&mut self, sqe: Sqe) -> R {
        if let Sqe::Send {
            fd,
            user_data,
            ptr,
            len,
        } = sqe
        {
            let k = self
                .kfds
                .get_mut(&fd)
                .ok_or("send on an unknown descriptor")?;
            check(k.send.is_none(), || {
                format!("a second send submitted on fd {fd} while one is in flight")
            })?;
            check(len as usize <= IN_FLIGHT_MAX && len > 0, || {
                format!("send of {len} bytes")
            })?;
            k.send = Some((user_data, ptr as usize, len));
            k.submitted = false;
            k.completed = false;
        }
        self.pending.push(sqe);
        Ok(())
    }

    fn take_pending(&mut self, from: usize) -> R {
        let new: Vec<Sqe> = self.pending.drain(from..).collect();
        for sqe in new {
            self.asked(sqe)?;
        }
        Ok(())
    }

    /// The kernel takes the submissions, in order.
    fn submit(&mut self) -> R {
        for sqe in std::mem::take(&mut self.pending) {
            match sqe {
                Sqe::Recv { fd, user_data } => {
                    let k = self
                        .kfds
                        .get_mut(&fd)
                        .ok_or("receive on an unknown descriptor")?;
                    check(!k.released, || format!("receive armed on released fd {fd}"))?;
                    check(k.armed.is_none(), || {
                        format!("a second multishot receive armed on fd {fd}")
                    })?;
                    k.armed = Some(user_data);
                }
                Sqe::Send { fd, .. } => {
                    if let Some(k) = self.kfds.get_mut(&fd) {
                        k.submitted = true;
                    }
                }
                Sqe::Cancel(target) => {
                    if let Some(k) = self.kfds.values_mut().find(|k| k.armed == Some(target)) {
                        k.armed = None;
                        self.cq.push_back(Cqe {
                            user_data: target,
                            res: -ECANCELED,
                            bid: None,
                            more: false,
                            send: false,
                        });
                    }
                }
                Sqe::PollOut { .. } => return Err("no dial here".into()),
            }
        }
        Ok(())
    }

    fn update_interest(&mut self, slot: usize) -> R {
        let Some(c) = self.slots[slot].as_mut() else {
            return Ok(());
        };
        let want = Watch {
            recv: !c.paused,
            send: !c.backlog.is_empty(),
        };
        if want == c.watch {
            return Ok(());
        }
        c.watch = want;
        let sqe = self.book.watch(slot, want).map_err(|e| e.to_string())?;
        if let Some(sqe) = sqe {
            self.asked(sqe)?;
        }
        Ok(())
    }

    fn open(&mut self, slot: usize) -> R {
        if self.slots[slot].is_some() {
            return Ok(());
        }
        let fd = self.next_fd;
        self.next_fd += 1;
        self.kfds.insert(fd, KFd::default());
        let watch = Watch {
            recv: true,
            send: false,
        };
        self.slots[slot] = Some(Conn {
            fd,
            inbound: Spill::default(),
            backlog: Spill::default(),
            consumed: 0,
            received: 0,
            paused: false,
            watch,
        });
        if let Some(sqe) = self.book.open(slot, fd, watch) {
            self.asked(sqe)?;
        }
        Ok(())
    }

    /// The stream of `fd` comes back from the book: it may close only now.
    fn released(&mut self, fd: i32) -> R {
        let k = self.kfds.get_mut(&fd).ok_or("unknown stream released")?;
        check(!k.released, || format!("fd {fd} released twice"))?;
        check(k.send.is_none(), || {
            format!("fd {fd} released with a send in flight")
        })?;
        check(k.failed || k.wire.len() == k.handed, || {
            format!(
                "fd {fd} released with {} of the {} bytes handed to sends on the wire",
                k.wire.len(),
                k.handed
            )
        })?;
        k.released = true;
        Ok(())
    }

    fn close(&mut self, slot: usize) -> R {
        let Some(c) = self.slots[slot].take() else {
            return Ok(());
        };
        let mut out = Vec::new();
        let now = self.book.close(slot, c.fd, &mut self.bufs, &mut out);
        for sqe in out {
            self.asked(sqe)?;
        }
        if let Some(fd) = now {
            check(fd == c.fd, || "another stream released".into())?;
            // As the transport does: what is queued is submitted before the descriptor
            // closes, so no entry names a closed (maybe reused) descriptor.
            self.submit()?;
            self.released(fd)?;
        }
        Ok(())
    }

    fn peer(&mut self, slot: usize, n: usize) {
        let Some(c) = &self.slots[slot] else { return };
        let k = self.kfds.get_mut(&c.fd).expect("open fd");
        if k.ended {
            return;
        }
        let start = k.peer.len();
        let fd = c.fd;
        k.peer.extend((start..start + n).map(|i| byte(fd, i, 0x5a)));
    }

    /// The kernel receives on the descriptor in `slot` (if armed): one buffer's worth.
    fn krecv(&mut self, fd: i32, n: usize, end: bool) {
        let Some(k) = self.kfds.get_mut(&fd) else {
            return;
        };
        let Some(user_data) = k.armed else { return };
        if k.kpos == k.peer.len() {
            return;
        }
        let Some(bid) = self.bufs.free.iter().position(|f| *f) else {
            k.armed = None;
            self.cq.push_back(Cqe {
                user_data,
                res: -ENOBUFS,
                bid: None,
                more: false,
                send: false,
            });
            return;
        };
        let n = n.min(self.bufs.size).min(k.peer.len() - k.kpos);
        self.bufs.free[bid] = false;
        self.bufs.content[bid][..n].copy_from_slice(&k.peer[k.kpos..k.kpos + n]);
        k.kpos += n;
        if end {
            k.armed = None;
        }
        self.cq.push_back(Cqe {
            user_data,
            res: n as i32,
            bid: Some(bid as u16),
            more: !end,
            send: false,
        });
    }

    /// The peer's side ends: the armed receive completes with the end of the stream (or a
    /// reset) once everything sent before was received into buffers.
    fn kend(&mut self, fd: i32, reset: bool) {
        let Some(k) = self.kfds.get_mut(&fd) else {
            return;
        };
        let Some(user_data) = k.armed else { return };
        if k.kpos < k.peer.len() || k.ended {
            return;
        }
        k.ended = true;
        k.armed = None;
        self.cq.push_back(Cqe {
            user_data,
            res: if reset { -ECONNRESET } else { 0 },
            bid: None,
            more: false,
            send: false,
        });
    }

    /// The kernel sends up to `n` bytes of the descriptor's send in flight (0: fails it).
    fn ksend(&mut self, fd: i32, n: usize) -> R {
        let Some(k) = self.kfds.get_mut(&fd) else {
            return Ok(());
        };
        let Some((user_data, ptr, len)) = k.send else {
            return Ok(());
        };
        if !k.submitted || k.completed {
            return Ok(());
        }
        let bytes = self
            .book
            .in_flight(user_data)
            .ok_or_else(|| format!("fd {fd}: the book lost the bytes of its send in flight"))?;
        check(
            bytes.as_ptr() as usize == ptr && bytes.len() == len as usize,
            || format!("fd {fd}: the bytes of a send in flight moved or changed length"),
        )?;
        let res = if n == 0 {
            -ECONNRESET
        } else {
            let n = n.min(bytes.len());
            k.wire.extend_from_slice(&bytes[..n]);
            n as i32
        };
        check(k.wire[..] == k.written[..k.wire.len()], || {
            format!("fd {fd}: the wire is not a prefix of what was written")
        })?;
        k.completed = true;
        self.cq.push_back(Cqe {
            user_data,
            res,
            bid: None,
            more: false,
            send: true,
        });
        Ok(())
    }

    fn write(&mut self, slot: usize, n: usize, owned: bool) -> R {
        let Some(c) = self.slots[slot].as_mut() else {
            return Ok(());
        };
        let k = self.kfds.get_mut(&c.fd).expect("open fd");
        let start = k.written.len();
        let fd = c.fd;
        let data: Vec<u8> = (start..start + n).map(|i| byte(fd, i, 0)).collect();
        k.written.extend_from_slice(&data);
        if !owned {
            let res = self.through_book(slot, false, |backlog, pool, io| {
                send(backlog, pool, io, &data, usize::MAX)
            })?;
            return self.after_write(slot, fd, res);
        }
        let mut wbuf = std::mem::take(&mut self.wbuf);
        wbuf.clear();
        wbuf.extend_from_slice(&data);
        let res = self.through_book(slot, false, |backlog, pool, io| {
            send_owned(backlog, pool, io, &mut wbuf, usize::MAX)
        })?;
        // The vector the reactor keeps as its write buffer names no memory of a send in
        // flight: it is about to be cleared and written over.
        let (lo, hi) = (
            wbuf.as_ptr() as usize,
            wbuf.as_ptr() as usize + wbuf.capacity(),
        );
        for (kfd, k) in &self.kfds {
            if let Some((_, ptr, len)) = k.send {
                check(hi <= ptr || ptr + len as usize <= lo, || {
                    format!("fd {kfd}: the write buffer given back holds a send in flight")
                })?;
            }
        }
        wbuf.clear();
        wbuf.resize(wbuf.capacity(), 0xEE);
        self.wbuf = wbuf;
        self.after_write(slot, fd, res)
    }

    /// Runs the engine's `op` (`send` or `drain`) on `slot`'s backlog through the
    /// bookkeeping (its `send_last` when `last`), as the reactor does: what the transport
    /// took counts as handed to the descriptor, and the entries it queued are taken.
    fn through_book<E>(
        &mut self,
        slot: usize,
        last: bool,
        op: impl FnOnce(&mut Spill, &mut BufferPool, &mut BookIo<'_>) -> Result<(), E>,
    ) -> Result<Result<(), E>, String> {
        let c = self.slots[slot].as_mut().expect("an open slot");
        let from = self.pending.len();
        let mut io = BookIo {
            book: &mut self.book,
            conn: slot,
            pending: &mut self.pending,
            accepted: 0,
            last,
        };
        let res = op(&mut c.backlog, &mut self.pool, &mut io);
        let accepted = io.accepted;
        self.kfds.get_mut(&c.fd).expect("open fd").handed += accepted;
        self.take_pending(from)?;
        Ok(res)
    }

    /// After a send or a drain on `slot` (descriptor `fd`): interest follows the backlog,
    /// or the failed connection closes.
    fn after_write<E>(&mut self, slot: usize, fd: i32, res: Result<(), E>) -> R {
        match res {
            Ok(()) => self.update_interest(slot),
            Err(_) => {
                self.kfds.get_mut(&fd).expect("open fd").failed = true;
                self.close(slot)
            }
        }
    }

    /// The reactor's `close_sending_last`: one write of the backlog through `send_last`,
    /// then the close.
    fn close_sending_last(&mut self, slot: usize) -> R {
        if self.slots[slot].is_none() {
            return Ok(());
        }
        let _ = self.through_book(slot, true, |b, p, io| drain(b, p, io))?;
        self.close(slot)
    }

    fn on_writable(&mut self, slot: usize) -> R {
        let Some(fd) = self.slots[slot].as_ref().map(|c| c.fd) else {
            return Ok(());
        };
        let res = self.through_book(slot, false, |b, p, io| drain(b, p, io))?;
        self.after_write(slot, fd, res)
    }

    fn on_readable(&mut self, slot: usize, t: Take) -> R {
        let Some(c) = self.slots[slot].as_mut() else {
            return Ok(());
        };
        if c.paused {
            return Ok(());
        }
        let fresh = match self.book.recv(slot, &mut self.bufs) {
            Ok(Recv::Data { bid, len }) => self.bufs.content[usize::from(bid)][..len].to_vec(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            end => {
                // The end of the stream or a reset: after every byte before it, and only once
                // the peer ended; the reactor closes the connection.
                let k = &self.kfds[&c.fd];
                check(k.ended, || {
                    format!("fd {}: an end the peer did not send: {end:?}", c.fd)
                })?;
                check(c.received == k.peer.len(), || {
                    format!(
                        "fd {}: the end came before {} bytes",
                        c.fd,
                        k.peer.len() - c.received
                    )
                })?;
                return self.close(slot);
            }
        };
        let k = &self.kfds[&c.fd];
        let start = c.received;
        c.received += fresh.len();
        check(
            c.received <= k.kpos && fresh[..] == k.peer[start..c.received],
            || {
                format!(
                    "fd {}: a receive showed bytes out of the stream's order",
                    c.fd
                )
            },
        )?;
        let expect = &k.peer[c.consumed..c.received];
        let mut shown_ok = true;
        let mut consumed = 0;
        let r = deliver(
            &mut c.inbound,
            &mut self.pool,
            &fresh,
            usize::MAX,
            |shown: &[u8]| {
                shown_ok = shown == expect;
                consumed = t.of(shown.len());
                consumed
            },
        );
        check(r.is_ok(), || "inbound overflow without a limit".into())?;
        check(shown_ok, || {
            format!(
                "fd {}: the handler was not shown exactly the unconsumed bytes",
                c.fd
            )
        })?;
        c.consumed += consumed;
        Ok(())
    }

    /// A loop turn: the transport's poll, then the reactor's dispatch of its events.
    fn poll(&mut self, t: Take) -> R {
        self.book.give_back_lent(&mut self.bufs);
        let mut re = Vec::new();
        self.book.rearm(&mut re);
        for sqe in re {
            self.asked(sqe)?;
        }
        self.submit()?;
        let mut events = Vec::new();
        self.book.take_owed(&mut events);
        while let Some(cqe) = self.cq.pop_front() {
            if cqe.send {
                let fd = self
                    .kfds
                    .iter()
                    .find(|(_, k)| k.send.is_some_and(|s| s.0 == cqe.user_data) && k.completed)
                    .map(|(fd, _)| *fd)
                    .ok_or("a send completion nobody waits for")?;
                let k = self.kfds.get_mut(&fd).expect("fd");
                k.send = None;
                k.completed = false;
                if cqe.res < 0 {
                    k.failed = true;
                }
                let done = self.book.send_done(cqe.user_data, cqe.res);
                if let Some(sqe) = done.sqe {
                    self.asked(sqe)?;
                }
                events.extend(done.event);
                if let Some(fd) = done.release {
                    self.released(fd)?;
                }
            } else {
                events.extend(self.book.recv_done(
                    cqe.user_data,
                    cqe.res,
                    cqe.bid,
                    cqe.more,
                    &mut self.bufs,
                ));
            }
        }
        for ev in events {
            let Event::Conn { conn, recv, send } = ev else {
                return Err(format!("unexpected event {ev:?}"));
            };
            if send {
                self.on_writable(conn)?;
            }
            if recv {
                self.on_readable(conn, t)?;
            }
        }
        self.bufs_ok()
    }

    fn bufs_ok(&mut self) -> R {
        match self.bufs.errors.first() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn step(&mut self, s: &Step) -> R {
        let fd_of = |sim: &Self, slot: usize| sim.slots[slot].as_ref().map(|c| c.fd);
        match *s {
            Step::Open(slot) => self.open(slot),
            Step::Close(slot) => self.close(slot),
            Step::CloseSendingLast(slot) => self.close_sending_last(slot),
            Step::Pause(slot) | Step::Resume(slot) => {
                if let Some(c) = self.slots[slot].as_mut() {
                    c.paused = matches!(s, Step::Pause(_));
                }
                self.update_interest(slot)
            }
            Step::Peer(slot, n) => {
                self.peer(slot, n);
                Ok(())
            }
            Step::KRecv(slot, n, end) => {
                if let Some(fd) = fd_of(self, slot) {
                    self.krecv(fd, n, end);
                }
                Ok(())
            }
            Step::KSend(slot, n) => {
                // The slot's descriptor, or a closed one's last send (an orphan).
                let fd = fd_of(self, slot).or_else(|| {
                    self.kfds
                        .iter()
                        .find(|(_, k)| !k.released && k.send.is_some())
                        .map(|(fd, _)| *fd)
                });
                match fd {
                    Some(fd) => self.ksend(fd, n),
                    None => Ok(()),
                }
            }
            Step::KEnd(slot, reset) => {
                if let Some(fd) = fd_of(self, slot) {
                    self.kend(fd, reset);
                }
                Ok(())
            }
            Step::Write(slot, n, owned) => self.write(slot, n, owned),
            Step::Poll(t) => self.poll(t),
        }
    }

    /// Runs every connection to quiescence, checks the streams, closes everything and
    /// checks that every buffer and stream came back.
    fn finish(&mut self) -> R {
        for slot in 0..SLOTS {
            if let Some(c) = self.slots[slot].as_mut() {
                c.paused = false;
            }
            self.update_interest(slot)?;
        }
        for _ in 0..10_000 {
            let fds: Vec<i32> = self.kfds.keys().copied().collect();
            for &fd in &fds {
                self.ksend(fd, usize::MAX)?;
                self.krecv(fd, usize::MAX, false);
            }
            self.poll(Take::All)?;
            let busy = self
                .kfds
                .values()
                .any(|k| !k.released && (k.send.is_some() || k.kpos < k.peer.len()))
                || !self.cq.is_empty()
                || self.book.orphans() > 0;
            if !busy {
                break;
            }
        }
        for slot in 0..SLOTS {
            let Some(c) = self.slots[slot].as_mut() else {
                continue;
            };
            let k = &self.kfds[&c.fd];
            check(!k.ended, || {
                format!("fd {}: the peer's end never reached the reactor", c.fd)
            })?;
            check(k.failed || k.wire == k.written, || {
                format!(
                    "fd {}: {} bytes on the wire of {} written",
                    c.fd,
                    k.wire.len(),
                    k.written.len()
                )
            })?;
            let mut rest = Vec::new();
            redeliver(&mut c.inbound, &mut self.pool, |r| {
                rest.extend_from_slice(r);
                r.len()
            });
            check(k.kpos == k.peer.len() && c.received == k.kpos, || {
                format!(
                    "fd {}: {} of {} received bytes shown",
                    c.fd,
                    c.received,
                    k.peer.len()
                )
            })?;
            check(rest[..] == k.peer[c.consumed..], || {
                format!(
                    "fd {}: the unconsumed bytes kept are not the stream's tail",
                    c.fd
                )
            })?;
        }
        for slot in 0..SLOTS {
            self.close(slot)?;
        }
        for _ in 0..10_000 {
            let fds: Vec<i32> = self.kfds.keys().copied().collect();
            for fd in fds {
                self.ksend(fd, usize::MAX)?;
            }
            self.poll(Take::All)?;
            if self.book.orphans() == 0 && self.cq.is_empty() {
                break;
            }
        }
        self.book.give_back_lent(&mut self.bufs);
        self.bufs_ok()?;
        check(self.bufs.free.iter().all(|f| *f), || {
            "a provided buffer never came back".into()
        })?;
        check(self.book.is_empty() && self.book.orphans() == 0, || {
            "the book still holds connections".into()
        })?;
        for (fd, k) in &self.kfds {
            check(k.released, || format!("fd {fd} never released"))?;
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn completions_keep_both_directions_whole(
        buffers in 1usize..5,
        size in 8usize..300,
        steps in steps(),
    ) {
        let mut sim = Sim::new(buffers, size);
        sim.open(0).map_err(TestCaseError::fail)?;
        sim.open(1).map_err(TestCaseError::fail)?;
        for (i, s) in steps.iter().enumerate() {
            sim.step(s).map_err(|e| TestCaseError::fail(format!("step {i} {s:?}: {e}")))?;
        }
        sim.finish().map_err(|e| TestCaseError::fail(format!("at the end: {e}")))?;
    }
}

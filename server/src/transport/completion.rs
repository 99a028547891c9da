//! The io_uring transport's per-connection bookkeeping, apart from the ring: what is in
//! flight, what completed, which provided buffers are out, and which submissions that calls
//! for. No system call happens here: [`Book`] says what to submit ([`Sqe`]) and the io_uring
//! transport (`uring/`) turns that into submission queue entries; the property suite in
//! `loopwire-verify` (`uring_book_props.rs`) drives the same code against a model kernel.
//!
//! - Receives: one multishot receive per connection, on provided buffers. Each completion
//!   is queued on the connection ([`Book::recv_done`]) and shown by [`Book::recv`] in the
//!   kernel's buffer, which goes back to the ring ([`Provided::give_back`]) at the next call.
//!   A multishot the kernel ends while the connection still reads (out of buffers, or any
//!   completion without `IORING_CQE_F_MORE`) is armed again at the next poll
//!   ([`Book::rearm`]); pausing cancels it, resuming arms a new one.
//! - Sends: at most one send in flight per connection, its bytes in a buffer the book owns
//!   until the completion (at most [`IN_FLIGHT_MAX`]): copied there by [`Book::send`], or,
//!   with [`Book::send_owned`], the caller's vector itself moved there (the reactor's write
//!   buffer, which gets a recycled empty one in exchange: no copy, and no memory a send in
//!   flight names ever goes back to the caller); while it is in flight both say `WouldBlock`,
//!   so the rest stays in the connection's outbound ring. A short completion is submitted
//!   again for the rest.
//! - Close: queued receive buffers go back, the receive is cancelled; a send in flight keeps
//!   the stream (an orphan) until its completion, so the last bytes are not lost. The
//!   transport submits what it has queued before it drops a stream the book releases, so no
//!   queued entry names a closed descriptor (whose number a new connection may reuse).
//!
//! A connection's record is 40 bytes (the in-flight buffer is boxed and exists only while a
//! send is in flight; queued completions live in one list per loop), so an idle connection
//! costs 40 bytes here.

#![cfg_attr(not(feature = "internals"), allow(unreachable_pub, dead_code))]

use std::io::{self, IoSlice};
use std::num::NonZeroI32;

use super::{Event, Watch};

/// Most bytes one connection has in flight: a send takes no more, so the rest stays in the
/// connection's outbound ring, where the write watermarks and the write-stall timeout see it.
pub const IN_FLIGHT_MAX: usize = 64 * 1024;
/// Send buffers the loop keeps for reuse (a connection owns one only while a send is in
/// flight, so an idle connection owns none).
const SEND_POOL: usize = 64;
/// No node: the end of a list.
const NIL: u32 = u32::MAX;

/// What a submission was for, in the top byte of its user data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Op {
    /// The eventfd read that wakes the loop.
    Wake = 1,
    /// A listener's multishot accept.
    Accept = 2,
    /// A connection's multishot receive.
    Recv = 3,
    /// A connection's send.
    Send = 4,
    /// A dial's wait for its connect.
    Connect = 5,
    /// A datagram socket's wait for datagrams.
    Datagram = 6,
    /// A cancel's own completion (nothing to do).
    Cancel = 7,
    /// The send of a connection closed while it was in flight.
    Orphan = 8,
}

/// User data: the op, a generation (24 bits) and an index (32 bits).
#[inline]
pub fn ud(op: Op, generation: u32, idx: usize) -> u64 {
    (op as u64) << 56 | u64::from(generation & 0xff_ffff) << 32 | (idx as u64 & 0xffff_ffff)
}

/// The op byte, generation and index of user data made by [`ud`].
#[inline]
pub fn ud_parts(u: u64) -> (u8, u32, usize) {
    (
        (u >> 56) as u8,
        ((u >> 32) & 0xff_ffff) as u32,
        (u & 0xffff_ffff) as usize,
    )
}

/// What the transport must submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sqe {
    /// A multishot receive on `fd` from the provided buffers.
    Recv {
        /// The connection's descriptor.
        fd: i32,
        /// Its user data.
        user_data: u64,
    },
    /// A send of `len` bytes at `ptr` on `fd`: the book owns those bytes until the send's
    /// completion ([`Book::send_done`]) and does not move them.
    Send {
        /// The connection's descriptor.
        fd: i32,
        /// Its user data.
        user_data: u64,
        /// The first byte to send.
        ptr: *const u8,
        /// How many (at most [`IN_FLIGHT_MAX`]).
        len: u32,
    },
    /// A one-shot poll for writability (a dial still connecting).
    PollOut {
        /// The connection's descriptor.
        fd: i32,
        /// Its user data.
        user_data: u64,
    },
    /// Cancel the operation with this user data.
    Cancel(u64),
}

// SAFETY: a `Sqe` is a description; its pointer is never dereferenced through it, only passed
// to the kernel by the transport that owns the book (and the bytes), on the loop's thread.
unsafe impl Send for Sqe {}

/// The provided-buffer ring, as the book uses it: buffers go back by id.
pub trait Provided {
    /// Buffer `bid` may be filled again.
    fn give_back(&mut self, bid: u16);
}

/// What [`Book::recv`] shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recv {
    /// `len` bytes in provided buffer `bid`, lent until the book's next call.
    Data {
        /// The buffer.
        bid: u16,
        /// Bytes in it.
        len: usize,
    },
    /// The peer closed its side.
    Eof,
}

/// What a send's completion calls for.
#[derive(Debug)]
pub struct SendDone<S> {
    /// Submit this (the rest of a short send).
    pub sqe: Option<Sqe>,
    /// Report this (room to send).
    pub event: Option<Event>,
    /// A closed connection's stream whose last send is over: drop it now.
    pub release: Option<S>,
}

/// A completed receive not yet taken: 8 bytes.
#[derive(Debug, Clone, Copy)]
enum Got {
    Data { bid: u16, len: u32 },
    Eof,
    Err(i32),
}

/// A queued completion in the loop's list.
#[derive(Debug, Clone, Copy)]
struct Node {
    got: Got,
    next: u32,
}

/// A send in flight: its bytes and how far the kernel got.
#[derive(Debug, Default)]
struct InFlight {
    buf: Vec<u8>,
    off: usize,
}

/// A connection as the book knows it (40 bytes; `Option<ConnBook>` too).
#[derive(Debug)]
struct ConnBook {
    fd: i32,
    generation: u32,
    /// Queued completions: the first and last node in the loop's list (`NIL`: none).
    head: u32,
    tail: u32,
    /// A send failed: the error the next send reports.
    send_err: Option<NonZeroI32>,
    /// The send in flight.
    send: Option<Box<InFlight>>,
    watch: Watch,
    /// Which multishot receive is current (its user data's op byte carries it, so a
    /// completion of one cancelled earlier does not change `recv_armed`).
    arm: u8,
    /// A multishot receive is armed.
    recv_armed: bool,
    /// The receive ended for good (end of stream or error): do not arm again.
    recv_done: bool,
    /// Still connecting (a dial): waits with a poll for writability.
    connecting: bool,
}

/// A connection closed with a send in flight: kept until that send completes.
#[derive(Debug)]
struct Orphan<S> {
    stream: S,
    fd: i32,
    send: Box<InFlight>,
    /// The user data of its send in flight.
    pending: u64,
    /// Last bytes taken while that send was in flight ([`Book::send_last`]), sent after it.
    then: Vec<u8>,
}

/// One loop's completion bookkeeping over streams of type `S` (kept while their last send
/// is in flight).
#[derive(Debug)]
pub struct Book<S> {
    conns: Vec<Option<ConnBook>>,
    nodes: Vec<Node>,
    /// Free nodes, linked through `next`.
    free: u32,
    orphans: Vec<Orphan<S>>,
    /// Drained send buffers, for the next sends (boxed as a connection holds them, so
    /// taking one from here allocates nothing).
    #[allow(clippy::vec_box)]
    pool: Vec<Box<InFlight>>,
    /// Connections whose multishot receive the kernel ended, to arm again.
    rearm: Vec<usize>,
    generation: u32,
    /// The buffer shown by the last `recv`, given back at the next call.
    lent: Option<u16>,
    /// Events owed without a completion (a receive queued while paused, room to send).
    owed: Vec<Event>,
    /// Last bytes of connections about to close, taken while a send was in flight.
    last: Vec<(usize, Vec<u8>)>,
}

impl<S> Default for Book<S> {
    fn default() -> Self {
        Self::new()
    }
}

/// The op byte of a receive's user data: the op in the low nibble, the arm in the high one.
#[inline]
fn recv_ud(generation: u32, conn: usize, arm: u8) -> u64 {
    ud(Op::Recv, generation, conn) | u64::from(arm & 0xf) << 60
}

impl<S> Book<S> {
    /// No connection.
    pub fn new() -> Self {
        Self {
            conns: Vec::new(),
            nodes: Vec::new(),
            free: NIL,
            orphans: Vec::new(),
            pool: Vec::new(),
            rearm: Vec::new(),
            generation: 0,
            lent: None,
            owed: Vec::new(),
            last: Vec::new(),
        }
    }

    /// A fresh generation (24 bits), to tell a slot's occupants apart in user data.
    pub fn next_generation(&mut self) -> u32 {
        self.generation = (self.generation + 1) & 0xff_ffff;
        self.generation
    }

    /// Connection `conn` (descriptor `fd`) starts, waiting for `watch` (`Watch::SEND` alone:
    /// a dial still connecting). Returns what to submit.
    pub fn open(&mut self, conn: usize, fd: i32, watch: Watch) -> Option<Sqe> {
        let generation = self.next_generation();
        if self.conns.len() <= conn {
            self.conns.resize_with(conn + 1, || None);
        }
        let connecting = watch == Watch::SEND;
        self.conns[conn] = Some(ConnBook {
            fd,
            generation,
            head: NIL,
            tail: NIL,
            send_err: None,
            send: None,
            watch,
            arm: 0,
            recv_armed: false,
            recv_done: false,
            connecting,
        });
        if connecting {
            Some(Sqe::PollOut {
                fd,
                user_data: ud(Op::Connect, generation, conn),
            })
        } else if watch.recv {
            self.arm_recv(conn)
        } else {
            None
        }
    }

    fn arm_recv(&mut self, conn: usize) -> Option<Sqe> {
        let c = self.conns.get_mut(conn)?.as_mut()?;
        if c.recv_armed || c.recv_done {
            return None;
        }
        c.recv_armed = true;
        c.arm = c.arm.wrapping_add(1) & 0xf;
        Some(Sqe::Recv {
            fd: c.fd,
            user_data: recv_ud(c.generation, conn, c.arm),
        })
    }

    /// Connection `conn` now waits for `want`. Returns what to submit (a receive to arm or
    /// to cancel); `NotFound` for an unknown connection.
    pub fn watch(&mut self, conn: usize, want: Watch) -> io::Result<Option<Sqe>> {
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return Err(io::ErrorKind::NotFound.into());
        };
        c.watch = want;
        c.connecting = false;
        if want.send && c.send.is_none() {
            // Room now: say so at the next poll.
            self.owed.push(Event::Conn {
                conn,
                recv: false,
                send: true,
            });
        }
        if want.recv {
            // Received while paused: shown once the loop polls again, one event each.
            let mut n = c.head;
            while n != NIL {
                self.owed.push(Event::Conn {
                    conn,
                    recv: true,
                    send: false,
                });
                n = self.nodes[n as usize].next;
            }
            Ok(self.arm_recv(conn))
        } else if c.recv_armed {
            c.recv_armed = false;
            Ok(Some(Sqe::Cancel(recv_ud(c.generation, conn, c.arm))))
        } else {
            Ok(None)
        }
    }

    /// Whether events are owed (the next poll must not wait).
    #[inline]
    pub fn has_owed(&self) -> bool {
        !self.owed.is_empty()
    }

    /// Moves the owed events to `events`.
    #[inline]
    pub fn take_owed(&mut self, events: &mut Vec<Event>) {
        events.append(&mut self.owed);
    }

    /// Gives back the buffer the last [`recv`](Self::recv) showed.
    #[inline]
    pub fn give_back_lent(&mut self, bufs: &mut impl Provided) {
        if let Some(bid) = self.lent.take() {
            bufs.give_back(bid);
        }
    }

    /// At the start of a poll: the multishot receives the kernel ended, armed again for the
    /// connections that still read, into `out`.
    pub fn rearm(&mut self, out: &mut Vec<Sqe>) {
        for conn in std::mem::take(&mut self.rearm) {
            if let Some(Some(c)) = self.conns.get(conn)
                && c.watch.recv
                && !c.connecting
                && let Some(sqe) = self.arm_recv(conn)
            {
                out.push(sqe);
            }
        }
    }

    fn push_got(&mut self, conn: usize, got: Got) {
        let node = Node { got, next: NIL };
        let n = if self.free == NIL {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        } else {
            let n = self.free;
            self.free = self.nodes[n as usize].next;
            self.nodes[n as usize] = node;
            n
        };
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return;
        };
        if c.tail == NIL {
            c.head = n;
        } else {
            self.nodes[c.tail as usize].next = n;
        }
        c.tail = n;
    }

    fn pop_got(&mut self, conn: usize) -> Option<Got> {
        let c = self.conns.get_mut(conn)?.as_mut()?;
        let n = c.head;
        if n == NIL {
            return None;
        }
        let node = self.nodes[n as usize];
        c.head = node.next;
        if c.head == NIL {
            c.tail = NIL;
        }
        self.nodes[n as usize].next = self.free;
        self.free = n;
        Some(node.got)
    }

    /// A receive completed (`user_data` as submitted, the result, the buffer it filled, and
    /// whether the multishot goes on). Returns the event to report.
    pub fn recv_done(
        &mut self,
        user_data: u64,
        res: i32,
        bid: Option<u16>,
        more: bool,
        bufs: &mut impl Provided,
    ) -> Option<Event> {
        let (_, generation, conn) = ud_parts(user_data);
        let arm = (user_data >> 60) as u8;
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            if let Some(bid) = bid {
                bufs.give_back(bid);
            }
            return None;
        };
        if c.generation != generation {
            if let Some(bid) = bid {
                bufs.give_back(bid);
            }
            return None;
        }
        let current = arm == c.arm && c.recv_armed;
        let got = match (res, bid) {
            (n, Some(bid)) if n > 0 => Got::Data { bid, len: n as u32 },
            (n, Some(bid)) => {
                // A buffer with no bytes (not seen from a kernel): back at once.
                bufs.give_back(bid);
                if n == 0 {
                    c.recv_done = true;
                    Got::Eof
                } else {
                    c.recv_done = true;
                    Got::Err(-n)
                }
            }
            (0, None) => {
                c.recv_done = true;
                Got::Eof
            }
            (e, None) if -e == libc::ECANCELED => {
                // A cancel we asked for (pause or close) already cleared `recv_armed`.
                return None;
            }
            (e, None) if -e == libc::ENOBUFS => {
                // Out of buffers: they come back as receives are taken; armed again at the
                // next poll.
                if current && !more {
                    c.recv_armed = false;
                    self.rearm.push(conn);
                }
                return None;
            }
            (e, None) => {
                c.recv_done = true;
                Got::Err(-e)
            }
        };
        if current && !more {
            c.recv_armed = false;
            if matches!(got, Got::Data { .. }) {
                // The kernel ended the multishot with bytes (e.g. its completion queue
                // overflowed): the connection still reads, so it is armed again.
                self.rearm.push(conn);
            }
        }
        let watching = c.watch.recv;
        self.push_got(conn, got);
        watching.then_some(Event::Conn {
            conn,
            recv: true,
            send: false,
        })
    }

    /// Takes connection `conn`'s next completed receive (giving back the buffer the previous
    /// call showed): `WouldBlock` when none, `NotConnected` for an unknown connection, the
    /// receive's error as it was.
    #[inline]
    pub fn recv(&mut self, conn: usize, bufs: &mut impl Provided) -> io::Result<Recv> {
        self.give_back_lent(bufs);
        if !matches!(self.conns.get(conn), Some(Some(_))) {
            return Err(io::ErrorKind::NotConnected.into());
        }
        match self.pop_got(conn) {
            None => Err(io::ErrorKind::WouldBlock.into()),
            Some(Got::Eof) => Ok(Recv::Eof),
            Some(Got::Err(e)) => Err(io::Error::from_raw_os_error(e)),
            Some(Got::Data { bid, len }) => {
                self.lent = Some(bid);
                Ok(Recv::Data {
                    bid,
                    len: len as usize,
                })
            }
        }
    }

    /// Copies up to [`IN_FLIGHT_MAX`] bytes of `bufs` for one send on connection `conn`:
    /// how many, and the send to submit. `WouldBlock` while a send is in flight, the error of
    /// a failed one, `NotConnected` for an unknown connection.
    pub fn send(&mut self, conn: usize, bufs: &[IoSlice<'_>]) -> io::Result<(usize, Option<Sqe>)> {
        let c = idle_sender(&mut self.conns, conn)?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Ok((0, None));
        }
        let mut f = self.pool.pop().unwrap_or_default();
        for b in bufs {
            let take = b.len().min(IN_FLIGHT_MAX - f.buf.len());
            f.buf.extend_from_slice(&b[..take]);
            if f.buf.len() == IN_FLIGHT_MAX {
                break;
            }
        }
        Ok(start_send(c, conn, f))
    }

    /// [`send`](Self::send) of bytes the caller gives up: when a send can start and takes all
    /// of them (at most [`IN_FLIGHT_MAX`]), the vector itself goes in flight, no byte copied,
    /// and `data` is left holding a recycled empty one (no memory any send in flight names).
    /// Otherwise as [`send`](Self::send), `data` untouched.
    pub fn send_owned(
        &mut self,
        conn: usize,
        data: &mut Vec<u8>,
    ) -> io::Result<(usize, Option<Sqe>)> {
        let n = data.len();
        if n == 0 || n > IN_FLIGHT_MAX {
            return self.send(conn, &[IoSlice::new(data)]);
        }
        let c = idle_sender(&mut self.conns, conn)?;
        let mut f = self.pool.pop().unwrap_or_default();
        // The pooled vector is empty (its bytes were sent); the caller's goes in flight.
        std::mem::swap(&mut f.buf, data);
        Ok(start_send(c, conn, f))
    }

    /// [`send`](Self::send) of a connection's last bytes, just before its
    /// [`close`](Self::close): with a send in flight they are taken (up to [`IN_FLIGHT_MAX`]
    /// in all) and sent after it, before the stream is released. `WouldBlock` when nothing
    /// more is taken.
    pub fn send_last(
        &mut self,
        conn: usize,
        bufs: &[IoSlice<'_>],
    ) -> io::Result<(usize, Option<Sqe>)> {
        if !self.sending(conn) {
            return self.send(conn, bufs);
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
            n => Ok((n, None)),
        }
    }

    /// Whether connection `conn` has a send in flight.
    pub fn sending(&self, conn: usize) -> bool {
        matches!(self.conns.get(conn), Some(Some(c)) if c.send.is_some())
    }

    /// The bytes a send submitted with `user_data` has still to send (`None` once it
    /// completed): what the transport's entry points to.
    pub fn in_flight(&self, user_data: u64) -> Option<&[u8]> {
        let (op, generation, conn) = ud_parts(user_data);
        let f = if op == Op::Send as u8 {
            match self.conns.get(conn) {
                Some(Some(c)) if c.generation == generation => c.send.as_deref(),
                _ => None,
            }
        } else {
            None
        };
        let f = f.or_else(|| {
            self.orphans
                .iter()
                .find(|o| o.pending == user_data)
                .map(|o| &*o.send)
        })?;
        Some(&f.buf[f.off..])
    }

    fn recycle(&mut self, mut f: Box<InFlight>) {
        if self.pool.len() < SEND_POOL {
            f.buf.clear();
            // A vector that came from the caller (`send_owned`) may be larger than any send.
            f.buf.shrink_to(IN_FLIGHT_MAX);
            f.off = 0;
            self.pool.push(f);
        }
    }

    /// A send completed with `res` (bytes sent, or a negated errno).
    pub fn send_done(&mut self, user_data: u64, res: i32) -> SendDone<S> {
        let (op, generation, conn) = ud_parts(user_data);
        let mut done = SendDone {
            sqe: None,
            event: None,
            release: None,
        };
        let live = op == Op::Send as u8
            && matches!(self.conns.get(conn), Some(Some(c)) if c.generation == generation);
        if !live {
            return self.orphan_sent(user_data, res);
        }
        let Some(Some(c)) = self.conns.get_mut(conn) else {
            return done;
        };
        let Some(f) = c.send.as_mut() else {
            return done;
        };
        if res > 0 {
            f.off += (res as usize).min(f.buf.len() - f.off);
            if f.off < f.buf.len() {
                let rest = &f.buf[f.off..];
                done.sqe = Some(Sqe::Send {
                    fd: c.fd,
                    user_data,
                    ptr: rest.as_ptr(),
                    len: rest.len() as u32,
                });
                return done;
            }
        } else {
            // A failed send (or one that sent nothing, which a stream socket does not do for
            // a non-empty buffer): the bytes cannot be said to have left, so the connection
            // fails rather than losing them silently.
            let e = if res == 0 { libc::EPIPE } else { -res };
            c.send_err = NonZeroI32::new(e).or(NonZeroI32::new(libc::EIO));
        }
        let watching = c.watch.send;
        if let Some(f) = c.send.take() {
            self.recycle(f);
        }
        done.event = watching.then_some(Event::Conn {
            conn,
            recv: false,
            send: true,
        });
        done
    }

    /// A send completed for a connection closed meanwhile: send the rest or let it go.
    fn orphan_sent(&mut self, user_data: u64, res: i32) -> SendDone<S> {
        let mut done = SendDone {
            sqe: None,
            event: None,
            release: None,
        };
        let Some(i) = self.orphans.iter().position(|o| o.pending == user_data) else {
            return done;
        };
        let o = &mut self.orphans[i];
        if res > 0 {
            o.send.off += (res as usize).min(o.send.buf.len() - o.send.off);
            if o.send.off >= o.send.buf.len() && !o.then.is_empty() {
                // The in-flight bytes are out: the last ones follow.
                o.send.buf = std::mem::take(&mut o.then);
                o.send.off = 0;
            }
            if o.send.off < o.send.buf.len() {
                let generation = self.next_generation();
                let o = &mut self.orphans[i];
                o.pending = ud(Op::Orphan, generation, i);
                let rest = &o.send.buf[o.send.off..];
                done.sqe = Some(Sqe::Send {
                    fd: o.fd,
                    user_data: o.pending,
                    ptr: rest.as_ptr(),
                    len: rest.len() as u32,
                });
                return done;
            }
        }
        // Done or failed: the stream closes now. The orphan moved into `i` keeps its own
        // user data: it is found by that, not by index.
        let o = self.orphans.swap_remove(i);
        self.recycle(o.send);
        done.release = Some(o.stream);
        done
    }

    /// A dial's connect finished. Returns the event to report.
    pub fn connect_done(&mut self, user_data: u64) -> Option<Event> {
        let (_, generation, conn) = ud_parts(user_data);
        match self.conns.get(conn) {
            Some(Some(c)) if c.generation == generation => Some(Event::Conn {
                conn,
                recv: false,
                send: true,
            }),
            _ => None,
        }
    }

    /// Connection `conn` closes: its queued buffers go back and what it has pending is
    /// cancelled (into `out`). Returns `stream` to drop now, or `None` when its send in flight
    /// keeps it until the completion ([`send_done`](Self::send_done) releases it).
    pub fn close(
        &mut self,
        conn: usize,
        stream: S,
        bufs: &mut impl Provided,
        out: &mut Vec<Sqe>,
    ) -> Option<S> {
        let then = match self.last.iter().position(|(k, _)| *k == conn) {
            Some(i) => self.last.swap_remove(i).1,
            None => Vec::new(),
        };
        while let Some(got) = self.pop_got(conn) {
            if let Got::Data { bid, .. } = got {
                bufs.give_back(bid);
            }
        }
        let Some(c) = self.conns.get_mut(conn).and_then(Option::take) else {
            return Some(stream);
        };
        if c.recv_armed {
            out.push(Sqe::Cancel(recv_ud(c.generation, conn, c.arm)));
        }
        if c.connecting {
            out.push(Sqe::Cancel(ud(Op::Connect, c.generation, conn)));
        }
        if let Some(send) = c.send {
            // The send in flight finishes before the descriptor closes: its completion (told
            // apart from the slot's next occupant by the generation) finds the orphan.
            self.orphans.push(Orphan {
                stream,
                fd: c.fd,
                send,
                pending: ud(Op::Send, c.generation, conn),
                then,
            });
            return None;
        }
        Some(stream)
    }

    /// Gives up every send buffer without freeing it: the kernel may still read from them
    /// (a transport dropped with operations it could not see finish).
    pub fn leak_sends(&mut self) {
        for c in self.conns.drain(..).flatten() {
            std::mem::forget(c.send);
        }
        for o in self.orphans.drain(..) {
            std::mem::forget(o.send);
            std::mem::forget(o.then);
            // The stream is dropped (closed): the kernel holds its own reference to the
            // socket for as long as an operation needs it.
        }
    }

    /// Connections known.
    pub fn len(&self) -> usize {
        self.conns.iter().flatten().count()
    }

    /// Whether no connection is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Closed connections whose last send is still in flight.
    pub fn orphans(&self) -> usize {
        self.orphans.len()
    }

    /// Bytes of one connection's record in the book (what an idle connection costs here).
    pub const CONN_BYTES: usize = std::mem::size_of::<Option<ConnBook>>();
}

/// Connection `conn` of `conns`, if a send may start on it now: `NotConnected` for an unknown
/// one, the error of a failed send, `WouldBlock` while one is in flight.
fn idle_sender(conns: &mut [Option<ConnBook>], conn: usize) -> io::Result<&mut ConnBook> {
    let Some(Some(c)) = conns.get_mut(conn) else {
        return Err(io::ErrorKind::NotConnected.into());
    };
    if let Some(e) = c.send_err {
        return Err(io::Error::from_raw_os_error(e.get()));
    }
    if c.send.is_some() {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    Ok(c)
}

/// Puts `f` (its bytes from the start) in flight as connection `conn`'s one send: how many
/// bytes, and the send to submit.
fn start_send(c: &mut ConnBook, conn: usize, mut f: Box<InFlight>) -> (usize, Option<Sqe>) {
    f.off = 0;
    let n = f.buf.len();
    let sqe = Sqe::Send {
        fd: c.fd,
        user_data: ud(Op::Send, c.generation, conn),
        ptr: f.buf.as_ptr(),
        len: n as u32,
    };
    c.send = Some(f);
    (n, Some(sqe))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_record_is_40_bytes() {
        assert_eq!(Book::<()>::CONN_BYTES, 40);
    }

    #[test]
    fn user_data_round_trips() {
        let u = recv_ud(0xab_cdef, 77, 9);
        let (op, generation, idx) = ud_parts(u);
        assert_eq!(op & 0xf, Op::Recv as u8);
        assert_eq!((generation, idx, (u >> 60) as u8), (0xab_cdef, 77, 9));
    }
}

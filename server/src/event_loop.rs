//! One event loop: a thread that owns a poller, a timer wheel, a connection table, one shared
//! read buffer and one write-gather buffer, and serves every connection placed on it.
//!
//! Per readiness event (level-triggered, one read per event so no connection starves the
//! others):
//! - readable: one `recv` into the shared read buffer. With no leftovers the handler sees those
//!   bytes in place; otherwise they are appended to the connection's ring buffer, which is made
//!   contiguous and shown instead. After the callback only the unread part is kept.
//! - writes made during a callback are gathered and flushed once afterwards; what the socket
//!   does not take goes to the connection's outbound ring buffer and only then is write interest
//!   armed; it is disarmed when the ring drains.
//!
//! Between polls the loop drains its task queue (accepted sockets, async writes, wakes, closes,
//! broadcasts, stop), fires its timers (ticker, idle timeouts, accept back-off), then does the
//! work it owes connections from that batch: writability announcements and showing bytes left
//! unread at a pause once reading resumed (see [`crate::flow`]). Owing more of that work makes
//! the next poll return at once rather than block.

use std::collections::HashMap;
use std::io::{self, Read};
use std::net::UdpSocket;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use loopwire_loadbalance::{AnyBalancer, Balancer};
use loopwire_poller::{Event, Events, Interest, Mode, Poller, Token};
use loopwire_ringbuf::Config as RingConfig;
use loopwire_timer::TimerWheel;
use slab::Slab;

use crate::addr::Network;
use crate::conn::{Conn, ConnMeta, Flow};
use crate::deadline::{self, Deadlines, Expiry, Timeouts, millis};
use crate::dial::Origin;
use crate::engine::{EngineHandle, LoopShared};
use crate::flow::Watermarks;
use crate::guard::guard;
use crate::handle::ConnHandle;
use crate::handler::{Action, CloseReason, EventHandler};
use crate::inbound;
use crate::options::EngineBuilder;
use crate::outbound::{self, SendError, is_transient};
use crate::slot::{Closing, Slot};
use crate::socket::{Listener, SockIo, Stream, StreamOptions};
use crate::spill::{Spill, SpillPool};
use crate::task::{Accepted, Task};

#[cfg(feature = "tls")]
mod tls_io;

/// Tokens at or above this name listeners and datagram sockets, below it connections.
const RESERVED: usize = usize::MAX - 4096;
/// Most connections accepted per readiness event of a loop's own listener.
const ACCEPT_BATCH: usize = 128;
/// Most datagrams read per readiness event of a UDP socket.
const UDP_BATCH: usize = 64;
/// How long a listener rests after the process ran out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);
/// Events fetched per poll.
const EVENTS: usize = 1024;
/// Task-batch capacity a loop keeps after a burst.
const BATCH_KEEP: usize = 1024;
/// Most drained ring buffers (each with its 4 KiB of storage) a loop keeps for reuse.
const POOLED_RINGS: usize = 1024;

/// The sockets a loop serves besides accepted connections.
#[derive(Debug, Default)]
pub(crate) struct LoopSockets {
    pub(crate) listeners: Vec<(Listener, Network)>,
    pub(crate) udp: Vec<(UdpSocket, Network)>,
}

/// What every loop of an engine is built from, besides its own poller and sockets.
#[derive(Debug)]
pub(crate) struct LoopInit<'a, H> {
    pub(crate) handler: Arc<H>,
    pub(crate) engine: EngineHandle,
    pub(crate) balancer: Arc<AnyBalancer>,
    pub(crate) ring: RingConfig,
    pub(crate) opts: &'a EngineBuilder,
}

/// What the loop's timer wheel holds.
#[derive(Debug)]
enum TimerEvent {
    Tick,
    /// A connection's deadline timer (see [`crate::deadline`]).
    Conn {
        slot: usize,
        generation: u64,
    },
    ResumeAccept(usize),
}

#[derive(Debug)]
struct UdpEntry<S> {
    socket: UdpSocket,
    network: Network,
    state: S,
}

/// Settings a loop needs, copied out of the builder.
#[derive(Debug, Clone, Copy)]
struct LoopConfig {
    stream: StreamOptions,
    max_connections: usize,
    max_inbound: usize,
    max_outbound: usize,
    marks: Watermarks,
    timeouts: Timeouts,
    /// How long a dialed connection may take to connect, in ms.
    connect_timeout: u64,
    /// How long the loop polls without blocking after it last saw an event.
    busy_poll: Duration,
    read_buffer: usize,
    ticker: bool,
}

/// Work owed to a connection once the current batch of events and tasks is done.
#[derive(Debug, Clone, Copy)]
enum Deferred {
    /// Tell the handler the connection's writability changed.
    Announce,
    /// Show bytes left unread before a pause, now that reading resumed.
    Redeliver,
}

/// Which data callback [`EventLoop::callback`] runs.
#[derive(Debug, Clone, Copy)]
enum Call {
    /// `on_open`, showing the tag of a dialed or enrolled connection.
    Open(Option<u64>),
    /// `on_traffic`.
    Traffic,
}

/// What a handler callback asked for, applied once it returned.
#[derive(Debug, Default)]
struct Outcome {
    action: Action,
    close_requested: bool,
    pause_request: Option<bool>,
    read_deadline: Option<Option<Duration>>,
    saw_writable: Option<bool>,
    /// The callback panicked: what it wrote is dropped and the connection closed.
    panicked: bool,
}

impl Outcome {
    fn of<S>(action: Action, conn: &Conn<'_, S>) -> Self {
        Self {
            action,
            close_requested: conn.close_requested(),
            pause_request: conn.pause_request(),
            read_deadline: conn.read_deadline_request(),
            saw_writable: conn.saw_writable(),
            panicked: false,
        }
    }
}

/// One event loop. Built on the starting thread, then moved to its own thread by [`run`].
///
/// [`run`]: EventLoop::run
#[derive(Debug)]
pub(crate) struct EventLoop<H: EventHandler> {
    id: usize,
    handler: Arc<H>,
    engine: EngineHandle,
    poller: Poller,
    conns: Slab<Slot<H::State>>,
    listeners: Vec<(Listener, Network)>,
    udp: Vec<UdpEntry<H::State>>,
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
    timers: TimerWheel<TimerEvent>,
    expired: Vec<TimerEvent>,
    batch: Vec<Task>,
    keys: Vec<usize>,
    deferred: Vec<(ConnHandle, Deferred)>,
    /// The tags of dialed connections still connecting, by slot, for their `on_open` or the
    /// `on_close` of a failed connect.
    dialing: HashMap<usize, u64>,
    pool: SpillPool,
    next_generation: u64,
    balancer: Arc<AnyBalancer>,
    cfg: LoopConfig,
    now: Instant,
    /// When the loop was built: the zero of its connections' deadlines, and its wheel's start.
    epoch: Instant,
    /// TLS for accepted connections, and the loop's ciphertext buffers.
    #[cfg(feature = "tls")]
    tls: tls_io::LoopTls,
}

impl<H: EventHandler> EventLoop<H> {
    pub(crate) fn new(
        id: usize,
        init: LoopInit<'_, H>,
        poller: Poller,
        sockets: LoopSockets,
    ) -> Self {
        let LoopInit {
            handler,
            engine,
            balancer,
            ring,
            opts,
        } = init;
        let now = Instant::now();
        let cfg = LoopConfig {
            stream: opts.stream,
            max_connections: opts.max_connections,
            max_inbound: opts.max_inbound,
            max_outbound: opts.max_outbound,
            // Validated when the engine started; the fallback only keeps this total.
            marks: opts
                .watermarks()
                .unwrap_or_else(|_| Watermarks::defaults_under(opts.max_outbound)),
            timeouts: Timeouts {
                idle: opts.idle_timeout.map(deadline::duration_millis),
                write: opts.write_timeout.map(deadline::duration_millis),
            },
            connect_timeout: deadline::duration_millis(opts.connect_timeout),
            busy_poll: opts.busy_poll,
            read_buffer: opts.read_buffer,
            ticker: opts.ticker && id == 0,
        };
        Self {
            id,
            handler,
            engine,
            poller,
            conns: Slab::new(),
            listeners: sockets.listeners,
            udp: sockets
                .udp
                .into_iter()
                .map(|(socket, network)| UdpEntry {
                    socket,
                    network,
                    state: H::State::default(),
                })
                .collect(),
            read_buf: vec![0; opts.read_buffer],
            write_buf: Vec::new(),
            timers: TimerWheel::new(now),
            expired: Vec::new(),
            batch: Vec::new(),
            keys: Vec::new(),
            deferred: Vec::new(),
            dialing: HashMap::new(),
            pool: SpillPool::new(ring, POOLED_RINGS),
            next_generation: 1,
            balancer,
            cfg,
            now,
            epoch: now,
            #[cfg(feature = "tls")]
            tls: tls_io::LoopTls::new(opts),
        }
    }

    fn shared(&self) -> &LoopShared {
        &self.engine.inner.loops[self.id]
    }

    /// The loop's thread body: serve until stopped, then close everything.
    pub(crate) fn run(mut self, pin: Option<usize>) {
        self.engine.enter_thread();
        let _span = tracing::debug_span!("loop", id = self.id).entered();
        if let Some(core) = pin {
            pin_to_core(core);
        }
        if let Err(e) = self.register_sockets() {
            tracing::error!(error = %e, "registering listeners failed; stopping the engine");
            self.engine.signal_stop();
        }
        if self.cfg.ticker {
            self.timers.insert(self.now, TimerEvent::Tick);
        }
        let mut events = Events::with_capacity(EVENTS);
        // Until when the loop keeps polling without blocking (see `EngineBuilder::busy_poll`).
        let mut spin_until = self.now;
        loop {
            let timeout = if !self.deferred.is_empty() || spin_until > self.now {
                Some(Duration::ZERO)
            } else {
                self.timers
                    .next_deadline()
                    .map(|d| d.saturating_duration_since(Instant::now()))
            };
            if let Err(e) = self.poller.poll(&mut events, timeout) {
                // The poller retries EINTR itself: anything else means the loop cannot go on.
                tracing::error!(error = %e, "poll failed; stopping the engine");
                self.engine.signal_stop();
                break;
            }
            self.now = Instant::now();
            if !events.is_empty() && !self.cfg.busy_poll.is_zero() {
                spin_until = self.now + self.cfg.busy_poll;
            }
            for ev in events.iter() {
                self.on_event(ev);
            }
            if self.run_tasks() {
                break;
            }
            self.fire_timers();
            self.run_deferred();
        }
        self.shutdown();
        let engine = self.engine.clone();
        let handler = Arc::clone(&self.handler);
        drop(self);
        engine.thread_exited(&*handler);
    }

    fn register_sockets(&mut self) -> Result<(), loopwire_poller::Error> {
        for (i, (l, _)) in self.listeners.iter().enumerate() {
            let fd = l.as_fd().as_raw_fd();
            // SAFETY: the listener is owned by this loop and deregistered in `shutdown` before
            // it is dropped.
            unsafe {
                self.poller
                    .register(fd, listener_token(i), Interest::READABLE, Mode::Level)?
            };
        }
        for (i, u) in self.udp.iter().enumerate() {
            let fd = u.socket.as_fd().as_raw_fd();
            // SAFETY: the socket is owned by this loop and deregistered in `shutdown` before it
            // is dropped.
            unsafe {
                self.poller
                    .register(fd, udp_token(i), Interest::READABLE, Mode::Level)?
            };
        }
        Ok(())
    }

    fn on_event(&mut self, ev: Event) {
        let t = ev.token().0;
        if t < RESERVED {
            if self.conns.get(t).is_some_and(|s| s.connecting) {
                self.connected(t);
                return;
            }
            if ev.is_writable() {
                self.on_writable(t);
            }
            if (ev.is_readable() || ev.is_read_closed() || ev.is_error()) && self.conns.contains(t)
            {
                self.on_readable(t);
            }
        } else if let Some(i) = token_listener(t) {
            self.accept_local(i);
        } else if let Some(i) = token_udp(t) {
            self.udp_readable(i);
        }
    }

    // ---- connections --------------------------------------------------------------------

    // Mirrored in verify/tests/loom_handle_path.rs and loom_shutdown.rs (the generation is
    // published only after the slab insert): keep the models in step with changes here.
    fn register(&mut self, acc: Accepted, counted: bool) {
        if !counted {
            self.balancer.on_open(self.id);
        }
        if self.conns.len() >= self.cfg.max_connections {
            tracing::warn!(
                max = self.cfg.max_connections,
                "connection limit reached; closing new connection"
            );
            self.balancer.on_close(self.id);
            return;
        }
        self.cfg.stream.apply(&acc.stream);
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if key >= RESERVED || key >= self.shared().gens.slots() {
            self.balancer.on_close(self.id);
            return;
        }
        let fd = acc.stream.as_fd().as_raw_fd();
        let connecting = acc.origin.connecting();
        // A dial still connecting waits for writability (the connect's outcome), nothing else.
        let interest = if connecting {
            Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        // SAFETY: the stream moves into the connection slot below (or is dropped right here on
        // failure, when nothing was registered); `close_now` deregisters it before dropping it.
        let registered = unsafe { self.poller.register(fd, Token(key), interest, Mode::Level) };
        if let Err(e) = registered {
            tracing::warn!(error = %e, "registering a connection failed; closing it");
            self.balancer.on_close(self.id);
            return;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let entry = self.conns.vacant_entry();
        entry.insert(Slot {
            stream: acc.stream,
            state: H::State::default(),
            generation,
            network: acc.network,
            peer: acc.peer,
            inbound: Spill::default(),
            outbound: Spill::default(),
            write_armed: connecting,
            read_armed: !connecting,
            connecting,
            reading: true,
            paused: false,
            writability: Default::default(),
            closing: None,
            deadlines: Deadlines::new(millis(self.epoch, self.now, true)),
            timer: None,
        });
        self.shared().gens.set(key, generation);
        #[cfg(feature = "tls")]
        if acc.origin == Origin::Accepted && self.tls_accept(key) {
            return;
        }
        #[cfg(feature = "tls")]
        if let Some(client) = acc.client_tls.as_ref() {
            // The tag waits for `on_open`, after the handshake (or for `on_close`).
            if let Some(tag) = acc.origin.tag() {
                self.dialing.insert(key, tag);
            }
            self.tls_dial(key, client, connecting);
            return;
        }
        if connecting {
            if let Some(tag) = acc.origin.tag() {
                self.dialing.insert(key, tag);
            }
            let limit = self.cfg.connect_timeout;
            if let Some(slot) = self.conns.get_mut(key) {
                let now = millis(self.epoch, self.now, true);
                slot.deadlines.set_read(Some(now.saturating_add(limit)));
            }
            self.arm(key);
            return;
        }
        self.arm(key);
        self.callback(key, None, Call::Open(acc.origin.tag()));
    }

    /// Runs `on_open` (`open`) or `on_traffic` for connection `key`, showing `fresh` bytes of the
    /// read buffer after the connection's leftovers or, when `None`, the leftovers alone; then
    /// applies what it did.
    fn callback(&mut self, key: usize, fresh: Option<usize>, call: Call) {
        let Self {
            conns,
            handler,
            write_buf,
            pool,
            read_buf,
            cfg,
            id,
            ..
        } = self;
        let Some(slot) = conns.get_mut(key) else {
            return;
        };
        if slot.closing.is_some() {
            return;
        }
        let flow = slot_flow(slot, cfg.marks);
        let meta = slot.meta(*id, key);
        let Slot {
            inbound,
            outbound,
            state,
            stream,
            ..
        } = slot;
        let (queued, fd) = (outbound.len(), stream.as_fd());
        let mut outcome = Outcome::default();
        let run = |bytes: &[u8]| {
            let tag = match call {
                Call::Open(tag) => tag,
                Call::Traffic => None,
            };
            let mut conn =
                Conn::new(bytes, write_buf, queued, state, (meta, fd), flow).with_tag(tag);
            let action = guard("on_open/on_traffic", || match call {
                Call::Open(_) => handler.on_open(&mut conn),
                Call::Traffic => handler.on_traffic(&mut conn),
            });
            match action {
                Some(action) => {
                    outcome = Outcome::of(action, &conn);
                    conn.consumed()
                }
                None => {
                    outcome.panicked = true;
                    0
                }
            }
        };
        let overflow = match fresh {
            Some(n) => {
                inbound::deliver(inbound, pool, &read_buf[..n], cfg.max_inbound, run).is_err()
            }
            None => {
                inbound::redeliver(inbound, pool, run);
                false
            }
        };
        self.finish(key, outcome, overflow);
    }

    /// Applies what a callback on connection `key` did: sends its writes, then closes,
    /// pauses or resumes reading, stops the engine, as it asked; `overflow` closes instead.
    fn finish(&mut self, key: usize, outcome: Outcome, overflow: bool) {
        if outcome.panicked {
            self.write_buf.clear();
            self.close_now(key, CloseReason::Panicked);
            return;
        }
        if let Some(seen) = outcome.saw_writable
            && let Some(slot) = self.conns.get_mut(key)
        {
            slot.writability.saw(seen);
            if slot.writability.is_owed() && self.write_buf.is_empty() {
                // The flush below would notice; without one, note it here.
                self.deferred
                    .push((slot.handle(self.id, key), Deferred::Announce));
            }
        }
        if !self.flush(key) {
            return;
        }
        if overflow {
            self.close_now(key, CloseReason::InboundOverflow);
        } else if outcome.close_requested || outcome.action == Action::Close {
            self.begin_close(key);
        } else {
            if let Some(paused) = outcome.pause_request {
                self.set_paused(key, paused);
            }
            if let Some(after) = outcome.read_deadline {
                self.set_read_deadline(key, after);
            }
        }
        if outcome.action == Action::Shutdown {
            self.engine.signal_stop();
        }
    }

    /// Tells the handler that connection `key`'s writability changed, if it still differs
    /// from what the handler was last told.
    fn announce(&mut self, key: usize) {
        let Self {
            conns,
            handler,
            write_buf,
            cfg,
            id,
            ..
        } = self;
        let Some(slot) = conns.get_mut(key) else {
            return;
        };
        if slot.closing.is_some() {
            return;
        }
        let meta = slot.meta(*id, key);
        let Some(writable) = slot.writability.take_owed() else {
            return;
        };
        let flow = slot_flow(slot, cfg.marks);
        let queued = slot.outbound.len();
        let mut conn = Conn::new(
            &[],
            write_buf,
            queued,
            &mut slot.state,
            (meta, slot.stream.as_fd()),
            flow,
        );
        let outcome = match guard("on_writability_changed", || {
            handler.on_writability_changed(&mut conn, writable)
        }) {
            Some(action) => Outcome::of(action, &conn),
            None => Outcome {
                panicked: true,
                ..Outcome::default()
            },
        };
        self.finish(key, outcome, false);
    }

    /// Pauses or resumes reading connection `key` (see [`Conn::pause_reading`]).
    fn set_paused(&mut self, key: usize, paused: bool) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if slot.paused == paused {
            return;
        }
        slot.paused = paused;
        if !paused && !slot.inbound.is_empty() {
            self.deferred
                .push((slot.handle(self.id, key), Deferred::Redeliver));
        }
        self.update_interest(key);
    }

    /// Does the work owed to connections after the last batch (see [`Deferred`]). What that
    /// work owes in turn waits for the next turn of the loop, which then does not block.
    fn run_deferred(&mut self) {
        if self.deferred.is_empty() {
            return;
        }
        let mut deferred = std::mem::take(&mut self.deferred);
        for (h, what) in deferred.drain(..) {
            if !self.live(h) {
                continue;
            }
            match what {
                Deferred::Announce => self.announce(h.slot()),
                Deferred::Redeliver => {
                    if self
                        .conns
                        .get(h.slot())
                        .is_some_and(|s| !s.paused && !s.inbound.is_empty())
                    {
                        self.callback(h.slot(), None, Call::Traffic);
                    }
                }
            }
        }
        if self.deferred.is_empty() {
            // Keep the allocation; nothing was added meanwhile.
            self.deferred = deferred;
        }
    }

    /// A dialed connection's connect finished (the socket turned writable or reported an
    /// error): serve it from `on_open`, or close it with the reason.
    fn connected(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let outcome = match socket2::SockRef::from(&slot.stream).take_error() {
            Ok(None) => match &slot.stream {
                // Writable without an error but not connected (a hang-up): the peer address
                // is the test.
                Stream::Tcp(s) => s.peer_addr().map(drop),
                Stream::Unix(_) => Ok(()),
            },
            Ok(Some(e)) | Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            self.close_now(key, CloseReason::ConnectFailed(e));
            return;
        }
        slot.connecting = false;
        slot.deadlines.set_read(None);
        slot.deadlines.active(millis(self.epoch, self.now, true));
        #[cfg(feature = "tls")]
        if self.tls.has(key) {
            self.tls_connected(key);
            return;
        }
        let tag = self.dialing.remove(&key);
        self.update_interest(key);
        self.arm(key);
        self.callback(key, None, Call::Open(tag));
    }

    fn on_readable(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if !slot.reading || slot.paused {
            return;
        }
        #[cfg(feature = "tls")]
        if self.tls.has(key) {
            self.tls_readable(key);
            return;
        }
        let n = match SockIo(slot.stream.as_fd()).read(&mut self.read_buf) {
            Ok(0) => {
                self.peer_closed(key);
                return;
            }
            Ok(n) => n,
            Err(e) if is_transient(&e) => return,
            Err(e) => {
                self.close_now(key, CloseReason::Error(e));
                return;
            }
        };
        slot.deadlines.active(millis(self.epoch, self.now, true));
        self.callback(key, Some(n), Call::Traffic);
    }

    /// The peer shut down its sending side: finish sending what is queued, then close.
    fn peer_closed(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if slot.outbound.is_empty() {
            self.close_now(key, CloseReason::PeerClosed);
        } else {
            slot.reading = false;
            slot.closing = Some(Closing::PeerClosed);
            self.update_interest(key);
        }
    }

    /// Sends what the last callback gathered in `write_buf` on connection `key`. Returns false
    /// when the connection was closed in the attempt.
    fn flush(&mut self, key: usize) -> bool {
        if self.write_buf.is_empty() {
            return self.conns.contains(key);
        }
        let mut buf = std::mem::take(&mut self.write_buf);
        let alive = self.send(key, &buf);
        buf.clear();
        if buf.capacity() > 4 * self.cfg.read_buffer {
            buf.shrink_to(self.cfg.read_buffer);
        }
        self.write_buf = buf;
        alive
    }

    /// Sends `data` on connection `key` after whatever it already has queued (see
    /// [`outbound::send`]), arming write interest when a backlog remains. Returns false when
    /// the connection was closed in the attempt.
    fn send(&mut self, key: usize, data: &[u8]) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.has(key) {
            return self.tls_send(key, data);
        }
        self.send_raw(key, data)
    }

    /// [`send`](Self::send) of bytes as they go on the wire.
    fn send_raw(&mut self, key: usize, data: &[u8]) -> bool {
        let Some(slot) = self.conns.get_mut(key) else {
            return false;
        };
        let mut io = SockIo(slot.stream.as_fd());
        let before = slot.outbound.len();
        match outbound::send(
            &mut slot.outbound,
            &mut self.pool,
            &mut io,
            data,
            self.cfg.max_outbound,
        ) {
            Ok(()) => {
                let backlog = slot.outbound.len();
                if slot.writability.update(backlog, self.cfg.marks) {
                    self.deferred
                        .push((slot.handle(self.id, key), Deferred::Announce));
                }
                let now = millis(self.epoch, self.now, true);
                let progressed = backlog < before + data.len();
                if slot.deadlines.wrote(now, backlog, progressed)
                    && self.cfg.timeouts.write.is_some()
                {
                    self.arm(key);
                }
                self.update_interest(key);
                true
            }
            Err(SendError::Io(e)) => {
                self.close_now(key, CloseReason::Error(e));
                false
            }
            Err(SendError::Overflow) => {
                self.close_now(key, CloseReason::OutboundOverflow);
                false
            }
        }
    }

    fn on_writable(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let mut io = SockIo(slot.stream.as_fd());
        let before = slot.outbound.len();
        if let Err(e) = outbound::drain(&mut slot.outbound, &mut self.pool, &mut io) {
            self.close_now(key, CloseReason::Error(e));
            return;
        }
        let now = millis(self.epoch, self.now, true);
        let progressed = slot.outbound.len() < before;
        if slot.paused && progressed {
            // Not reading, the loop cannot see inbound traffic: the peer taking bytes is
            // what shows it is alive.
            slot.deadlines.active(now);
        }
        // Progress only moves the stall deadline later: the timer stays as it is.
        slot.deadlines.wrote(now, slot.outbound.len(), progressed);
        if slot.writability.update(slot.outbound.len(), self.cfg.marks) {
            self.deferred
                .push((slot.handle(self.id, key), Deferred::Announce));
        }
        if slot.outbound.is_empty()
            && let Some(closing) = slot.closing.take()
        {
            self.close_now(key, closing.reason());
            return;
        }
        self.update_interest(key);
    }

    /// Re-arms the poller for what connection `key` now waits for: readability while it is
    /// read and not paused, writability while it has a backlog. A connection waiting for
    /// neither is taken off the poller and put back when it waits for something again.
    fn update_interest(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let want = (slot.reading && !slot.paused, !slot.outbound.is_empty());
        let armed = (slot.read_armed, slot.write_armed);
        if want == armed {
            return;
        }
        let fd = slot.stream.as_fd().as_raw_fd();
        let interest = match want {
            (true, true) => Some(Interest::READABLE.add(Interest::WRITABLE)),
            (false, true) => Some(Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, false) => None,
        };
        let res = match (interest, armed) {
            (None, _) => self.poller.deregister(fd),
            (Some(i), (false, false)) => {
                // SAFETY: the stream stays in its slot until `close_now`, which deregisters
                // it before dropping it.
                unsafe { self.poller.register(fd, Token(key), i, Mode::Level) }
            }
            (Some(i), _) => self.poller.reregister(fd, Token(key), i, Mode::Level),
        };
        match res {
            Ok(()) => (slot.read_armed, slot.write_armed) = want,
            Err(e) => {
                tracing::warn!(error = %e, "re-arming a connection failed; closing it");
                self.close_now(
                    key,
                    CloseReason::Error(io::Error::other("poller re-registration failed")),
                );
            }
        }
    }

    /// The handler asked to close: closes now if nothing is left to send, else stops reading
    /// and closes once the outbound backlog drains.
    fn begin_close(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if slot.outbound.is_empty() {
            self.close_now(key, CloseReason::Handler);
            return;
        }
        slot.reading = false;
        slot.closing = Some(Closing::Handler);
        self.update_interest(key);
    }

    // Mirrored in verify/tests/loom_handle_path.rs and loom_shutdown.rs (the generation is
    // cleared before `on_close`): keep the models in step with changes here.
    fn close_now(&mut self, key: usize, reason: CloseReason) {
        let Some(mut slot) = self.conns.try_remove(key) else {
            return;
        };
        self.shared().gens.set(key, 0);
        let _ = self.poller.deregister(slot.stream.as_fd().as_raw_fd());
        #[cfg(feature = "tls")]
        self.tls.close_notify(key, &slot.stream);
        if let Some(t) = slot.timer.take() {
            self.timers.cancel(t);
        }
        self.write_buf.clear();
        let tag = self.dialing.remove(&key);
        let meta = slot.meta(self.id, key);
        let mut conn = Conn::new(
            &[],
            &mut self.write_buf,
            0,
            &mut slot.state,
            (meta, slot.stream.as_fd()),
            Flow::CLOSED,
        )
        .with_tag(tag);
        let action =
            guard("on_close", || self.handler.on_close(&mut conn, reason)).unwrap_or(Action::None);
        self.write_buf.clear();
        slot.inbound.release(&mut self.pool);
        slot.outbound.release(&mut self.pool);
        drop(slot);
        self.balancer.on_close(self.id);
        if action == Action::Shutdown {
            self.engine.signal_stop();
        }
    }

    // ---- listeners and datagrams --------------------------------------------------------

    fn accept_local(&mut self, i: usize) {
        for _ in 0..ACCEPT_BATCH {
            let Some((l, network)) = self.listeners.get(i) else {
                return;
            };
            let network = *network;
            match l.accept() {
                Ok((stream, peer)) => self.register(
                    Accepted {
                        stream,
                        peer,
                        network,
                        origin: Origin::Accepted,
                        #[cfg(feature = "tls")]
                        client_tls: None,
                    },
                    false,
                ),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_fd_exhaustion(&e) => {
                    tracing::warn!(error = %e, "out of file descriptors; pausing accepts");
                    let fd = l.as_fd().as_raw_fd();
                    if self.poller.deregister(fd).is_ok() {
                        self.timers
                            .insert(self.now + ACCEPT_BACKOFF, TimerEvent::ResumeAccept(i));
                    }
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    return;
                }
            }
        }
    }

    fn udp_readable(&mut self, i: usize) {
        for _ in 0..UDP_BATCH {
            let Some(entry) = self.udp.get_mut(i) else {
                return;
            };
            let (n, peer) = match entry.socket.recv_from(&mut self.read_buf) {
                Ok(r) => r,
                Err(e) if is_transient(&e) => return,
                Err(e) => {
                    tracing::debug!(error = %e, "recv_from failed");
                    return;
                }
            };
            let meta = ConnMeta {
                handle: ConnHandle::new(self.id, u32::MAX as usize, 0),
                network: entry.network,
                peer: Some(peer),
            };
            let mut conn = Conn::new(
                &self.read_buf[..n],
                &mut self.write_buf,
                0,
                &mut entry.state,
                (meta, entry.socket.as_fd()),
                Flow::DATAGRAM,
            );
            let Some(action) = guard("on_traffic (datagram)", || {
                self.handler.on_traffic(&mut conn)
            }) else {
                // What the panicking callback wrote is not sent.
                self.write_buf.clear();
                continue;
            };
            if !self.write_buf.is_empty() {
                if let Err(e) = entry.socket.send_to(&self.write_buf, peer) {
                    tracing::debug!(error = %e, %peer, "send_to failed");
                }
                self.write_buf.clear();
            }
            if action == Action::Shutdown {
                self.engine.signal_stop();
            }
        }
    }

    // ---- tasks and timers ---------------------------------------------------------------

    /// Runs every queued task; returns true when the loop must stop.
    // Mirrored in verify/tests/loom_handle_path.rs and loom_shutdown.rs (the whole batch runs
    // even when it holds `Stop`): keep the models in step with changes here.
    fn run_tasks(&mut self) -> bool {
        let mut batch = std::mem::take(&mut self.batch);
        self.engine.inner.loops[self.id]
            .queue
            .drain_into(&mut batch);
        let mut stop = false;
        for task in batch.drain(..) {
            match task {
                Task::Register(acc) => self.register(acc, true),
                Task::Write(h, data) => {
                    if self.live(h) {
                        self.send(h.slot(), &data);
                    }
                }
                Task::Writev(h, bufs) => {
                    if self.live(h) {
                        for b in &bufs {
                            self.write_buf.extend_from_slice(b);
                        }
                        self.flush(h.slot());
                    }
                }
                Task::Wake(h) => {
                    if self.live(h) {
                        self.callback(h.slot(), None, Call::Traffic);
                    }
                }
                Task::WakeMany(hs) => {
                    for h in hs {
                        if self.live(h) {
                            self.callback(h.slot(), None, Call::Traffic);
                        }
                    }
                }
                Task::Close(h) => {
                    if self.live(h) {
                        self.begin_close(h.slot());
                    }
                }
                Task::Broadcast(payload, filter) => self.broadcast(&payload, filter.as_deref()),
                Task::Stop => stop = true,
            }
        }
        if batch.capacity() > BATCH_KEEP {
            // An accept burst grew it; don't hold that memory forever.
            batch.shrink_to(BATCH_KEEP);
        }
        self.batch = batch;
        stop
    }

    // Mirrored in verify/tests/loom_handle_path.rs (the loop's second generation check): keep
    // the model in step with changes here.
    fn live(&self, h: ConnHandle) -> bool {
        self.conns
            .get(h.slot())
            .is_some_and(|s| s.generation == h.generation && s.closing.is_none())
    }

    fn broadcast(
        &mut self,
        payload: &Bytes,
        filter: Option<&(dyn Fn(ConnHandle) -> bool + Send + Sync)>,
    ) {
        let mut keys = std::mem::take(&mut self.keys);
        keys.extend(
            self.conns
                .iter()
                .filter(|(k, s)| filter.is_none_or(|f| f(s.handle(self.id, *k))))
                .map(|(k, _)| k),
        );
        for &k in &keys {
            if self.conns.get(k).is_some_and(|s| s.closing.is_none()) {
                self.send(k, payload);
            }
        }
        keys.clear();
        self.keys = keys;
    }

    /// Fires what is due at the time read after the last poll (timers may run a little late,
    /// never early; one clock read per loop iteration).
    fn fire_timers(&mut self) {
        let now = self.now;
        let mut expired = std::mem::take(&mut self.expired);
        expired.extend(self.timers.advance(now).map(|(_, ev)| ev));
        for ev in expired.drain(..) {
            match ev {
                TimerEvent::Tick => {
                    let (delay, action) = guard("on_tick", || self.handler.on_tick(&self.engine))
                        .unwrap_or((Duration::from_secs(1), Action::None));
                    let next = now
                        .checked_add(delay)
                        .unwrap_or(now + Duration::from_secs(86400));
                    self.timers.insert(next, TimerEvent::Tick);
                    if action == Action::Shutdown {
                        self.engine.signal_stop();
                    }
                }
                TimerEvent::Conn { slot, generation } => self.conn_timer(slot, generation),
                TimerEvent::ResumeAccept(i) => {
                    if let Some((l, _)) = self.listeners.get(i) {
                        let fd = l.as_fd().as_raw_fd();
                        // SAFETY: the listener is owned by this loop and deregistered in
                        // `shutdown` before it is dropped.
                        let res = unsafe {
                            self.poller.register(
                                fd,
                                listener_token(i),
                                Interest::READABLE,
                                Mode::Level,
                            )
                        };
                        if let Err(e) = res {
                            tracing::error!(error = %e, "resuming accepts failed");
                        }
                    }
                }
            }
        }
        self.expired = expired;
    }

    /// Connection `key`'s deadline timer fired: close it if a deadline passed, or set the
    /// timer for the earliest one left (traffic and progress move deadlines later without
    /// touching the wheel).
    fn conn_timer(&mut self, key: usize, generation: u64) {
        let now = millis(self.epoch, self.now, false);
        let timeouts = self.cfg.timeouts;
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        slot.timer = None;
        #[cfg(feature = "tls")]
        let handshaking = self.tls.get(key).is_some_and(|t| t.is_handshaking());
        #[cfg(not(feature = "tls"))]
        let handshaking = false;
        match slot.deadlines.expired(now, timeouts) {
            // Still connecting (a dial's TCP connect or TLS handshake): whichever deadline
            // passed, the connection was not established in time.
            Some(_) if slot.connecting || (handshaking && self.dialing.contains_key(&key)) => {
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, "connect timed out");
                self.close_now(key, CloseReason::ConnectFailed(timed_out));
            }
            Some(_) if handshaking => {
                let timed_out = io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out");
                self.close_now(key, CloseReason::Error(timed_out));
            }
            Some(Expiry::Read) => self.close_now(key, CloseReason::ReadTimeout),
            Some(Expiry::Write) => self.close_now(key, CloseReason::WriteTimeout),
            Some(Expiry::Idle) => self.close_now(key, CloseReason::IdleTimeout),
            None => self.arm(key),
        }
    }

    /// Sets or clears connection `key`'s read deadline, `after` from now.
    fn set_read_deadline(&mut self, key: usize, after: Option<Duration>) {
        let now = millis(self.epoch, self.now, true);
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let had = slot.deadlines.has_read();
        slot.deadlines
            .set_read(after.map(|d| now.saturating_add(deadline::duration_millis(d))));
        if after.is_some() || had {
            self.arm(key);
        }
    }

    /// Makes connection `key`'s timer due no later than its earliest deadline: inserts it,
    /// moves it earlier, or cancels it when no deadline is left. A timer due earlier than
    /// needed is left alone; it re-arms when it fires.
    fn arm(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let due = slot
            .deadlines
            .next(self.cfg.timeouts)
            .and_then(|ms| self.epoch.checked_add(Duration::from_millis(ms)));
        match (due, slot.timer) {
            (None, None) => {}
            (None, Some(t)) => {
                self.timers.cancel(t);
                slot.timer = None;
            }
            (Some(at), Some(t)) => {
                if self.timers.deadline(t).is_none_or(|d| d > at) {
                    self.timers.reset(t, at);
                }
            }
            (Some(at), None) => {
                let event = TimerEvent::Conn {
                    slot: key,
                    generation: slot.generation,
                };
                slot.timer = Some(self.timers.insert(at, event));
            }
        }
    }

    /// Closes every connection (after one last attempt to send what is queued) and every
    /// socket, and refuses further tasks.
    // Mirrored in verify/tests/loom_shutdown.rs (close every connection, then the queue, then
    // `thread_exited`): keep the model in step with changes here.
    fn shutdown(&mut self) {
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for k in keys {
            if let Some(slot) = self.conns.get_mut(k)
                && !slot.outbound.is_empty()
            {
                let _ = slot
                    .outbound
                    .write_to(&mut self.pool, &mut SockIo(slot.stream.as_fd()));
            }
            self.close_now(k, CloseReason::Shutdown);
        }
        for (l, _) in std::mem::take(&mut self.listeners) {
            let _ = self.poller.deregister(l.as_fd().as_raw_fd());
        }
        for u in std::mem::take(&mut self.udp) {
            let _ = self.poller.deregister(u.socket.as_fd().as_raw_fd());
        }
        for task in self.shared().queue.close() {
            if let Task::Register(_) = task {
                self.balancer.on_close(self.id);
            }
        }
    }
}

/// The flow-control view a callback on `slot` starts from.
fn slot_flow<S>(slot: &Slot<S>, marks: Watermarks) -> Flow {
    Flow {
        open: true,
        writable: slot.writability.is_writable(),
        high: marks.high(),
        paused: slot.paused,
    }
}

// Reserved tokens, counted down from below the poller's own `Token::RESERVED` (`usize::MAX`):
// listeners take the first 2048, datagram sockets the next 2048.
const LISTENERS_TOP: usize = usize::MAX - 1;
const UDP_TOP: usize = LISTENERS_TOP - 2048;

fn listener_token(i: usize) -> Token {
    Token(LISTENERS_TOP - i)
}

fn token_listener(t: usize) -> Option<usize> {
    let i = LISTENERS_TOP.checked_sub(t)?;
    (i < 2048).then_some(i)
}

fn udp_token(i: usize) -> Token {
    Token(UDP_TOP - i)
}

fn token_udp(t: usize) -> Option<usize> {
    let i = UDP_TOP.checked_sub(t)?;
    (i < 2048).then_some(i)
}

/// `EMFILE` / `ENFILE` / `ENOBUFS` / `ENOMEM` on accept.
pub(crate) fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

#[cfg(target_os = "linux")]
fn pin_to_core(i: usize) {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // SAFETY: an all-zero cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `i % cores` is below CPU_SETSIZE for any realistic core count; CPU_SET writes
    // within `set`.
    unsafe { libc::CPU_SET(i % cores, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if r != 0 {
        tracing::debug!(error = %io::Error::last_os_error(), "pinning to a core failed");
    }
}

#[cfg(not(target_os = "linux"))]
fn pin_to_core(_i: usize) {
    tracing::debug!("core pinning is only supported on Linux");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_tokens_round_trip() {
        for i in [0, 1, 2047] {
            assert_eq!(token_listener(listener_token(i).0), Some(i));
            assert_eq!(token_udp(udp_token(i).0), Some(i));
            assert_eq!(token_listener(udp_token(i).0), None);
            assert!(listener_token(i).0 >= RESERVED && udp_token(i).0 >= RESERVED);
            assert_ne!(listener_token(i), Token::RESERVED);
        }
        assert_eq!(token_udp(5), None);
        assert_eq!(token_listener(usize::MAX), None);
    }
}

//! The reactor: one event loop per thread, each owning a transport (see [`crate::transport`]:
//! a poller over OS sockets, or in-memory streams), a timer wheel, a connection table, one
//! shared read buffer and one write-gather buffer, serving every connection placed on it.
//! Nothing here calls the OS for socket I/O: everything goes through the loop's transport,
//! which each loop is generic over (static dispatch).
//!
//! The loop's responsibilities live in one file each:
//! - this file: the loop's state and its turn (poll, dispatch each event, run the tasks other
//!   threads queued, fire timers, do deferred work);
//! - [`io`]: a connection's reads, sends and writable events, and what its transport watches;
//! - [`lifecycle`]: registering, connecting, closing and the final shutdown;
//! - [`callbacks`]: running the handler and applying what it asked for;
//! - [`timers`]: the ticker and each connection's one deadline timer;
//! - [`listeners`]: a loop's own listeners and its datagram sockets;
//! - [`tasks`]: the task queue's requests (writes, wakes, closes, broadcasts, stop);
//! - `tls_io` (feature `tls`): TLS sessions in the loop;
//! - [`acceptor`]: the main reactor that accepts and hands sockets to the loops.
//!
//! The bookkeeping they share is socket-free and tested on its own: [`inbound`] and
//! [`outbound`] (what is kept of reads and sends), [`deadline`], [`slot`], [`spill`], and
//! [`guard`] (a panicking callback closes its connection, not the loop).
//!
//! Per event (on the readiness transport: level-triggered, one read per event so no connection
//! starves the others):
//! - receive: one `recv` (into the shared read buffer, or the transport's own). With no
//!   leftovers the handler sees those bytes in place; otherwise they are appended to the connection's ring buffer, which is made
//!   contiguous and shown instead. After the callback only the unread part is kept.
//! - writes made during a callback are gathered and flushed once afterwards; what the socket
//!   does not take goes to the connection's outbound ring buffer and only then does the loop
//!   watch for room to send; it stops when the ring drains.
//!
//! Time: the loop reads the engine's clock once per turn (right after the poll) and everything
//! in that turn uses that reading, whole milliseconds since the engine started (see
//! [`crate::time`]).

pub(crate) mod acceptor;
mod callbacks;
pub(crate) mod deadline;
pub(crate) mod guard;
pub(crate) mod inbound;
mod io;
mod lifecycle;
mod listeners;
pub(crate) mod outbound;
pub(crate) mod slot;
pub(crate) mod spill;
mod tasks;
mod timers;
#[cfg(feature = "tls")]
mod tls_io;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use loopwire_loadbalance::AnyBalancer;
use loopwire_ringbuf::Config as RingConfig;
use loopwire_timer::TimerWheel;
use slab::Slab;

use crate::addr::Network;
use crate::config::Config;
use crate::engine::EngineHandle;
use crate::handler::EventHandler;
use crate::shared::LoopShared;
use crate::shared::task::Task;
use crate::time::EngineClock;
use crate::transport::{Event, Transport};
use callbacks::{Call, Deferred};
use deadline::Timeouts;
use loopwire_ringbuf::BufferPool;
use slot::Slot;
use timers::TimerEvent;

/// Slot keys at or above this are never given to connections (the readiness transport's
/// tokens for listeners and datagram sockets live there).
const RESERVED: usize = crate::transport::RESERVED;
/// Most connections accepted per readiness event of a loop's own listener.
const ACCEPT_BATCH: usize = 128;
/// Most datagrams read per readiness event of a UDP socket.
const UDP_BATCH: usize = 64;
/// How long a listener rests after the process ran out of file descriptors, in ms.
const ACCEPT_BACKOFF: u64 = 50;
/// Task-batch capacity a loop keeps after a burst.
const BATCH_KEEP: usize = 1024;

/// The sockets a loop serves besides accepted connections.
#[derive(Debug)]
pub(crate) struct LoopSockets<T: Transport> {
    pub(crate) listeners: Vec<(T::Listener, Network)>,
    pub(crate) udp: Vec<(T::Datagram, Network)>,
}

impl<T: Transport> Default for LoopSockets<T> {
    fn default() -> Self {
        Self {
            listeners: Vec::new(),
            udp: Vec::new(),
        }
    }
}

/// What every loop of an engine is built from, besides its own transport and sockets.
#[derive(Debug)]
pub(crate) struct LoopInit<H> {
    pub(crate) handler: Arc<H>,
    pub(crate) engine: EngineHandle,
    pub(crate) balancer: Arc<AnyBalancer>,
    pub(crate) ring: RingConfig,
    pub(crate) cfg: Arc<Config>,
}

#[derive(Debug)]
struct UdpEntry<D, S> {
    socket: D,
    network: Network,
    state: S,
}

/// One event loop. Built on the starting thread, then moved to its own thread by [`run`].
///
/// [`run`]: EventLoop::run
#[derive(Debug)]
pub(crate) struct EventLoop<H: EventHandler, T: Transport> {
    id: usize,
    handler: Arc<H>,
    engine: EngineHandle,
    transport: T,
    conns: Slab<Slot<H::State, T::Stream>>,
    listeners: Vec<(T::Listener, Network)>,
    udp: Vec<UdpEntry<T::Datagram, H::State>>,
    read_buf: Vec<u8>,
    write_buf: Vec<u8>,
    timers: TimerWheel<TimerEvent>,
    expired: Vec<TimerEvent>,
    batch: Vec<Task>,
    keys: Vec<usize>,
    deferred: Vec<(crate::ConnHandle, Deferred)>,
    /// The tags of dialed connections still connecting, by slot, for their `on_open` or the
    /// `on_close` of a failed connect, with their place among the dials in flight.
    dialing: HashMap<usize, (u64, Option<crate::shared::dials::DialPermit>)>,
    pool: BufferPool,
    next_generation: u64,
    balancer: Arc<AnyBalancer>,
    cfg: Arc<Config>,
    /// The idle and write-stall timeouts, in ms.
    timeouts: Timeouts,
    /// The engine's clock.
    clock: EngineClock,
    /// The time read at the start of this turn: ms on the engine's clock.
    now: u64,
    /// TLS for accepted connections, and the loop's ciphertext buffers.
    #[cfg(feature = "tls")]
    tls: tls_io::LoopTls,
}

impl<H: EventHandler, T: Transport> EventLoop<H, T> {
    pub(crate) fn new(id: usize, init: LoopInit<H>, transport: T, sockets: LoopSockets<T>) -> Self {
        let LoopInit {
            handler,
            engine,
            balancer,
            ring,
            cfg,
        } = init;
        let clock = engine.inner.clock.clone();
        let now = clock.now_ms();
        Self {
            id,
            handler,
            engine,
            transport,
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
            read_buf: vec![0; cfg.read_buffer],
            write_buf: Vec::new(),
            timers: timers::wheel(),
            expired: Vec::new(),
            batch: Vec::new(),
            keys: Vec::new(),
            deferred: Vec::new(),
            dialing: HashMap::new(),
            pool: BufferPool::new(ring, cfg.pooled_buffers.saturating_mul(ring.initial())),
            next_generation: 1,
            balancer,
            timeouts: Timeouts {
                idle: cfg.idle_timeout,
                write: cfg.write_timeout,
            },
            #[cfg(feature = "tls")]
            tls: tls_io::LoopTls::new(&cfg),
            cfg,
            clock,
            now,
        }
    }

    fn shared(&self) -> &LoopShared {
        &self.engine.inner.loops[self.id]
    }

    /// The loop's thread body: serve until stopped, then close everything. `pin`: the CPU to
    /// run on.
    pub(crate) fn run(mut self, pin: Option<usize>) {
        self.engine.enter_thread();
        let _span = tracing::debug_span!("loop", id = self.id).entered();
        if let Some(cpu) = pin
            && let Err(e) = crate::sys::affinity::pin_current_thread(cpu)
        {
            tracing::warn!(error = %e, cpu, "pinning the loop to its CPU failed; it runs unpinned");
        }
        if let Err(e) = self.register_sockets() {
            tracing::error!(error = %e, "registering listeners failed; stopping the engine");
            self.engine.signal_stop();
        }
        if self.cfg.ticker && self.id == 0 {
            self.insert_timer(self.now, TimerEvent::Tick);
        }
        // Busy polling (see `EngineBuilder::busy_poll`) spins in real time, not on the engine's
        // clock: until when the loop keeps polling without blocking.
        let busy = !self.cfg.busy_poll.is_zero();
        let mut spin_until: Option<Instant> = None;
        loop {
            let spinning = spin_until.is_some_and(|t| Instant::now() < t);
            let timeout = if !self.deferred.is_empty() || spinning {
                Some(Duration::ZERO)
            } else {
                self.clock.poll_timeout(self.now, self.next_timer())
            };
            if let Err(e) = self.transport.poll(timeout) {
                // The transport retries EINTR itself: anything else means the loop cannot go on.
                tracing::error!(error = %e, "poll failed; stopping the engine");
                self.engine.signal_stop();
                break;
            }
            self.now = self.clock.now_ms();
            let mut saw = false;
            while let Some(ev) = self.transport.next_event() {
                saw = true;
                self.on_event(ev);
            }
            if busy && saw {
                spin_until = Instant::now().checked_add(self.cfg.busy_poll);
            }
            self.now = self.clock.refresh(self.now);
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
        thread_exited(&engine, &*handler);
    }

    #[inline]
    fn on_event(&mut self, ev: Event) {
        match ev {
            Event::Conn { conn, recv, send } => {
                if self.conns.get(conn).is_some_and(|s| s.connecting) {
                    self.connected(conn);
                    return;
                }
                if send {
                    self.on_writable(conn);
                }
                if recv && self.conns.contains(conn) {
                    self.on_readable(conn);
                }
            }
            Event::Accept(i) => self.accept_local(i),
            Event::Datagram(i) => self.udp_readable(i),
        }
    }
}

/// Called by each engine thread (loop or acceptor) as it exits; the last one runs
/// `on_shutdown` and wakes the threads waiting in `EngineHandle::wait`.
pub(crate) fn thread_exited<H: EventHandler>(engine: &EngineHandle, handler: &H) {
    engine.inner.stop.thread_exited(|| {
        guard::guard("on_shutdown", || handler.on_shutdown(engine));
    });
}

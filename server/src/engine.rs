//! Starting and stopping an engine, and [`EngineHandle`], its thread-safe remote control.

use std::cell::Cell;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use loopwire_loadbalance::{AnyBalancer, Balancer};
use loopwire_poller::{Mode, Poller, Waker};

use crate::acceptor::Acceptor;
use crate::addr::{BoundAddr, ListenAddr, Network};
use crate::dial;
use crate::error::{Error, Result};
use crate::event_loop::{EventLoop, LoopInit, LoopSockets};
use crate::gen_table::GenTable;
use crate::handle::ConnHandle;
use crate::handler::{Action, EventHandler};
use crate::options::EngineBuilder;
use crate::queue::{Notify, TaskQueue};
use crate::socket::{self, Listener, Stream};
use crate::stop::StopState;
use crate::sync::{Mutex, lock};
use crate::task::{Accepted, BroadcastFilter, Task};

/// Capacity a connection's ring buffer keeps while in use, and the block size of each loop's
/// buffer pool (a drained buffer goes back to the pool, so idle connections own none).
const RING_INITIAL: usize = 4096;

/// Entry point: `Engine::builder()`.
#[derive(Debug)]
pub struct Engine(());

impl Engine {
    /// A builder with every option at its default.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }
}

impl Notify for Waker {
    fn notify(&self) {
        if let Err(e) = self.wake() {
            tracing::warn!(error = %e, "waking an event loop failed");
        }
    }
}

/// What other threads share with one loop: its task queue and its slots' generations.
///
/// Generic over the task and the waker only so that the loom model `loom_handle_path` in
/// `loopwire-verify` can run [`send`](Self::send) with its own; the engine uses the defaults.
// `pub` (not `pub(crate)`) so the loom models can reach it through `loom_api`; they always
// name their own task type, so the crate-private default does not leak.
#[derive(Debug)]
#[cfg_attr(not(loom), allow(unreachable_pub))]
#[cfg_attr(loom, allow(private_interfaces))]
pub struct LoopShared<T = Task, W = Waker> {
    /// The loop's task queue.
    pub queue: TaskQueue<T, W>,
    /// Generation of the connection in each of the loop's slots (written by the loop only).
    pub gens: GenTable,
}

#[cfg_attr(not(loom), allow(unreachable_pub))]
impl<T, W: Notify> LoopShared<T, W> {
    /// An open queue waking `waker`, and `slots` vacant slots.
    pub fn new(waker: W, slots: usize) -> Self {
        Self {
            queue: TaskQueue::new(waker),
            gens: GenTable::new(slots),
        }
    }

    /// The caller's check of a request about connection `h`: refused once the engine is
    /// stopping, or once `h`'s connection has left its slot.
    ///
    /// # Errors
    /// [`Error::Stopped`], then [`Error::Closed`].
    pub fn check(&self, stop: &StopState, h: ConnHandle) -> Result<()> {
        if stop.is_stopping() {
            return Err(Error::Stopped);
        }
        if !self.gens.is_live(h.slot(), h.generation()) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The caller's side of a request about connection `h` ([`EngineHandle::async_write`],
    /// [`close`](EngineHandle::close), ...): [`check`](Self::check), then queue `task` for the
    /// loop. The connection may close before the loop runs it, so the loop checks `h`'s
    /// generation again against the slot's occupant (and drops the task if it differs).
    ///
    /// # Errors
    /// As [`check`](Self::check); [`Error::Stopped`] when the loop has exited (closed queue).
    pub fn send(&self, stop: &StopState, h: ConnHandle, task: T) -> Result<()> {
        self.check(stop, h)?;
        self.queue.push(task).map_err(|_| Error::Stopped)
    }
}

/// What every thread of an engine shares.
#[derive(Debug)]
pub(crate) struct EngineShared {
    pub(crate) loops: Vec<LoopShared>,
    /// Picks the loop for connections handed over from outside (dialed, enrolled).
    balancer: Arc<AnyBalancer>,
    acceptor_waker: Option<Waker>,
    addrs: Vec<BoundAddr>,
    stop: StopState,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

thread_local! {
    /// The engine whose thread this is (its shared state's address), or 0.
    static ENGINE_THREAD: Cell<usize> = const { Cell::new(0) };
}

/// A handle to a running engine: cheap to clone, `Send + Sync`, usable from any thread and from
/// inside callbacks.
///
/// Dropping every handle does not stop the engine (like a detached server); call
/// [`stop`](Self::stop), or [`wait`](Self::wait) for a callback to return
/// [`Action::Shutdown`].
#[derive(Debug, Clone)]
pub struct EngineHandle {
    pub(crate) inner: Arc<EngineShared>,
}

impl EngineHandle {
    /// The addresses being served, with the ports the OS picked for port 0.
    pub fn addrs(&self) -> &[BoundAddr] {
        &self.inner.addrs
    }

    /// Number of event loops.
    pub fn loops(&self) -> usize {
        self.inner.loops.len()
    }

    /// Whether [`stop`](Self::stop) has been called (or a callback returned
    /// [`Action::Shutdown`]).
    pub fn is_stopping(&self) -> bool {
        self.inner.stop.is_stopping()
    }

    /// Stops the engine gracefully: every loop closes its connections (`on_close` with
    /// [`CloseReason::Shutdown`](crate::CloseReason::Shutdown)) and exits, then `on_shutdown`
    /// runs. Idempotent. From any other thread it returns once all of that is done; from inside a
    /// callback (an engine thread, which cannot wait for itself) it returns at once and the
    /// engine stops right after the callback.
    pub fn stop(&self) {
        self.signal_stop();
        self.wait();
    }

    /// Blocks until the engine has stopped (returns at once on an engine thread).
    pub fn wait(&self) {
        if self.on_engine_thread() {
            return;
        }
        self.inner.stop.wait();
        let threads = std::mem::take(&mut *lock(&self.inner.threads));
        for t in threads {
            let _ = t.join();
        }
    }

    pub(crate) fn signal_stop(&self) {
        self.inner.stop.signal(
            self.inner.loops.iter().map(|l| &l.queue),
            || Task::Stop,
            self.inner.acceptor_waker.as_ref(),
        );
    }

    fn on_engine_thread(&self) -> bool {
        ENGINE_THREAD.with(|c| c.get()) == Arc::as_ptr(&self.inner) as usize
    }

    fn loop_of(&self, h: ConnHandle) -> Result<&LoopShared> {
        self.inner.loops.get(h.loop_id()).ok_or(Error::Closed)
    }

    fn send(&self, h: ConnHandle, task: Task) -> Result<()> {
        self.loop_of(h)?.send(&self.inner.stop, h, task)
    }

    /// Connects to `url` (`tcp://host:port`, `tcp4://`, `tcp6://`, `unix:///path`) without
    /// blocking, and serves the connection with this engine's handler on the loop the load
    /// balancer picks: `on_open` once connected, with [`Conn::tag`](crate::Conn::tag) giving
    /// back `tag`; if it cannot connect (refused, unreachable, not within
    /// [`connect_timeout`](crate::EngineBuilder::connect_timeout)), `on_close` with
    /// [`CloseReason::ConnectFailed`](crate::CloseReason::ConnectFailed) and the same tag, and
    /// no `on_open`. Safe to call from a callback: only a host name's resolution blocks (pass
    /// an IP literal to avoid it).
    ///
    /// # Errors
    /// [`Error::InvalidAddr`] (a datagram scheme, no host, port 0), [`Error::Resolve`],
    /// [`Error::Connect`] when the connect fails at once, [`Error::Stopped`].
    pub fn dial(&self, url: &str, tag: u64) -> Result<()> {
        if self.is_stopping() {
            return Err(Error::Stopped);
        }
        self.hand_off(dial::start(url, tag)?)
    }

    /// [`dial`](Self::dial) over TLS (feature `tls`): once connected, the loop runs a client
    /// handshake with `config`, verifying the server as `server_name`, and `on_open` follows
    /// the completed handshake; the handler reads and writes plaintext. A handshake that
    /// fails or does not finish within the connect timeout ends in `on_close`
    /// (`ConnectFailed(TimedOut)`, or `Error(InvalidData)` holding the `rustls::Error`).
    ///
    /// # Errors
    /// As [`dial`](Self::dial).
    #[cfg(feature = "tls")]
    pub fn dial_tls(
        &self,
        url: &str,
        tag: u64,
        config: Arc<rustls::ClientConfig>,
        server_name: rustls::pki_types::ServerName<'static>,
    ) -> Result<()> {
        if self.is_stopping() {
            return Err(Error::Stopped);
        }
        let mut acc = dial::start(url, tag)?;
        acc.client_tls = Some(Box::new(crate::tls::ClientTls {
            config,
            name: server_name,
        }));
        self.hand_off(acc)
    }

    /// Serves an already connected TCP stream with this engine's handler (`on_open` on the
    /// loop the load balancer picks, with [`Conn::tag`](crate::Conn::tag) giving back `tag`).
    /// The stream is made non-blocking.
    ///
    /// # Errors
    /// [`Error::Io`] when the stream is not connected or cannot be made non-blocking,
    /// [`Error::Stopped`].
    pub fn enroll(&self, stream: std::net::TcpStream, tag: u64) -> Result<()> {
        self.hand_off(dial::enrolled(Stream::Tcp(stream), tag)?)
    }

    /// [`enroll`](Self::enroll) for a connected Unix stream.
    ///
    /// # Errors
    /// As [`enroll`](Self::enroll).
    pub fn enroll_unix(&self, stream: std::os::unix::net::UnixStream, tag: u64) -> Result<()> {
        self.hand_off(dial::enrolled(Stream::Unix(stream), tag)?)
    }

    /// Hands a connection to the loop the load balancer picks.
    fn hand_off(&self, acc: Accepted) -> Result<()> {
        if self.is_stopping() {
            return Err(Error::Stopped);
        }
        let balancer = &self.inner.balancer;
        let target = balancer.pick(&acc.conn_info());
        let Some(shared) = self.inner.loops.get(target) else {
            return Err(Error::Stopped);
        };
        balancer.on_open(target);
        shared.queue.push(Task::Register(acc)).map_err(|_| {
            balancer.on_close(target);
            Error::Stopped
        })
    }

    /// Whether the connection named by `h` is still open.
    pub fn is_open(&self, h: ConnHandle) -> bool {
        self.loop_of(h)
            .and_then(|l| l.check(&self.inner.stop, h))
            .is_ok()
    }

    /// Sends `data` on a connection from any thread, after whatever it was sent before.
    ///
    /// `Ok` means the bytes were handed to the connection's loop; they are dropped if the
    /// connection closes before the loop gets to them.
    ///
    /// # Errors
    /// [`Error::Closed`] when the connection has closed, [`Error::Stopped`] when the engine is
    /// stopping.
    pub fn async_write(&self, h: ConnHandle, data: impl Into<Bytes>) -> Result<()> {
        self.send(h, Task::Write(h, data.into()))
    }

    /// Sends several buffers, in order, as one write.
    ///
    /// # Errors
    /// As [`async_write`](Self::async_write).
    pub fn async_writev(&self, h: ConnHandle, bufs: Vec<Bytes>) -> Result<()> {
        self.send(h, Task::Writev(h, bufs))
    }

    /// Runs `on_traffic` on the connection's loop even if nothing new arrived (for example to
    /// pick up results of work done elsewhere).
    ///
    /// # Errors
    /// As [`async_write`](Self::async_write).
    pub fn wake(&self, h: ConnHandle) -> Result<()> {
        self.send(h, Task::Wake(h))
    }

    /// [`wake`](Self::wake) for many connections at once, with one task per loop instead of
    /// one per connection (a push to a large room, say). Handles of connections that have
    /// closed meanwhile are skipped; duplicates are woken once per occurrence.
    ///
    /// # Errors
    /// [`Error::Stopped`] when the engine is stopping (some loops may have been woken).
    pub fn wake_many(&self, handles: impl IntoIterator<Item = ConnHandle>) -> Result<()> {
        if self.is_stopping() {
            return Err(Error::Stopped);
        }
        let mut per_loop: Vec<Vec<ConnHandle>> = vec![Vec::new(); self.inner.loops.len()];
        for h in handles {
            if let Some(batch) = per_loop.get_mut(h.loop_id()) {
                batch.push(h);
            }
        }
        for (shared, batch) in self.inner.loops.iter().zip(per_loop) {
            if !batch.is_empty() {
                shared
                    .queue
                    .push(Task::WakeMany(batch))
                    .map_err(|_| Error::Stopped)?;
            }
        }
        Ok(())
    }

    /// Closes the connection once everything written to it has been sent.
    ///
    /// # Errors
    /// As [`async_write`](Self::async_write).
    pub fn close(&self, h: ConnHandle) -> Result<()> {
        self.send(h, Task::Close(h))
    }

    /// Sends one shared payload to every open connection: one task and one wake per loop, no
    /// copy per connection until the bytes are written to each socket. On each connection the
    /// payload comes in order with that connection's own writes.
    ///
    /// # Errors
    /// [`Error::Stopped`] when the engine is stopping.
    pub fn broadcast(&self, payload: impl Into<Bytes>) -> Result<()> {
        self.push_broadcast(payload.into(), None)
    }

    /// Like [`broadcast`](Self::broadcast), to the connections `filter` selects. The filter
    /// runs on each loop's thread, once per connection, so keep it cheap (a set lookup).
    ///
    /// # Errors
    /// [`Error::Stopped`] when the engine is stopping.
    ///
    /// # Examples
    /// ```no_run
    /// # fn f(engine: &loopwire::EngineHandle, room: std::collections::HashSet<loopwire::ConnHandle>) {
    /// engine.broadcast_filtered(&b"room message\n"[..], move |h| room.contains(&h)).unwrap();
    /// # }
    /// ```
    pub fn broadcast_filtered(
        &self,
        payload: impl Into<Bytes>,
        filter: impl Fn(ConnHandle) -> bool + Send + Sync + 'static,
    ) -> Result<()> {
        self.push_broadcast(payload.into(), Some(Arc::new(filter)))
    }

    fn push_broadcast(&self, payload: Bytes, filter: Option<BroadcastFilter>) -> Result<()> {
        if self.is_stopping() {
            return Err(Error::Stopped);
        }
        for l in &self.inner.loops {
            l.queue
                .push(Task::Broadcast(payload.clone(), filter.clone()))
                .map_err(|_| Error::Stopped)?;
        }
        Ok(())
    }

    /// Marks the calling thread as a thread of this engine.
    pub(crate) fn enter_thread(&self) {
        ENGINE_THREAD.with(|c| c.set(Arc::as_ptr(&self.inner) as usize));
    }

    /// Called by each engine thread as it exits; the last one runs `on_shutdown` and wakes
    /// the threads waiting in [`wait`](Self::wait).
    pub(crate) fn thread_exited<H: EventHandler>(&self, handler: &H) {
        self.inner.stop.thread_exited(|| {
            crate::guard::guard("on_shutdown", || handler.on_shutdown(self));
        });
    }
}

/// Everything bound for one engine, before its threads start.
struct Bound {
    per_loop: Vec<LoopSockets>,
    acceptor: Vec<(Listener, Network)>,
    addrs: Vec<BoundAddr>,
}

fn bind_all(opts: &EngineBuilder, loops: usize) -> Result<Bound> {
    let mut bound = Bound {
        per_loop: (0..loops).map(|_| LoopSockets::default()).collect(),
        acceptor: Vec::new(),
        addrs: Vec::new(),
    };
    let mut udp_count = 0;
    for url in &opts.addrs {
        let addr = ListenAddr::parse(url)?;
        let bind_err = |source| Error::Bind {
            url: url.clone(),
            source,
        };
        match &addr {
            ListenAddr::Unix(path) => {
                let l = socket::bind_unix(path, opts.backlog, url)?;
                bound.addrs.push(BoundAddr {
                    network: Network::Unix,
                    addr: None,
                    path: Some(path.clone()),
                });
                bound.acceptor.push((l, Network::Unix));
            }
            ListenAddr::Inet { network, .. } => {
                let mut sa = addr.resolve()?[0];
                let network = *network;
                let copies = if opts.reuse_port { loops } else { 1 };
                for i in 0..copies {
                    if network.is_udp() {
                        let s = socket::bind_udp(sa, opts.reuse_port).map_err(bind_err)?;
                        sa = s.local_addr().map_err(bind_err)?;
                        let target = if opts.reuse_port {
                            i
                        } else {
                            udp_count % loops
                        };
                        bound.per_loop[target].udp.push((s, network));
                    } else {
                        let l = socket::bind_tcp(sa, opts.reuse_port, opts.backlog)
                            .map_err(bind_err)?;
                        sa = l.local_addr().map_err(bind_err)?;
                        if opts.reuse_port {
                            bound.per_loop[i]
                                .listeners
                                .push((Listener::Tcp(l), network));
                        } else {
                            bound.acceptor.push((Listener::Tcp(l), network));
                        }
                    }
                }
                if network.is_udp() {
                    udp_count += 1;
                }
                bound.addrs.push(BoundAddr {
                    network,
                    addr: Some(sa),
                    path: None,
                });
            }
        }
    }
    Ok(bound)
}

pub(crate) fn start<H: EventHandler>(opts: EngineBuilder, handler: H) -> Result<EngineHandle> {
    opts.validate()?;
    let loops = opts.loop_count();
    let balancer = Arc::new(opts.load_balance.build(loops)?);
    let ring = loopwire_ringbuf::Config::builder()
        .initial(RING_INITIAL)
        .max(opts.max_inbound.max(opts.max_outbound))
        .build()
        .map_err(|_| Error::InvalidOption {
            option: "max_inbound/max_outbound",
            reason: "not a usable buffer size",
        })?;
    let bound = bind_all(&opts, loops)?;

    let mut pollers = Vec::with_capacity(loops);
    let mut shared = Vec::with_capacity(loops);
    for _ in 0..loops {
        let poller = Poller::with_backend(opts.backend)?;
        if !poller.supports_mode(Mode::Level) {
            return Err(Error::InvalidOption {
                option: "backend",
                reason: "the engine drives sockets level-triggered, which this backend cannot do",
            });
        }
        let waker = poller.waker()?;
        shared.push(LoopShared::new(waker, opts.max_connections));
        pollers.push(poller);
    }
    let acceptor = if bound.acceptor.is_empty() {
        None
    } else {
        let poller = Poller::with_backend(opts.backend)?;
        let waker = poller.waker()?;
        Some((poller, waker))
    };

    let threads = loops + usize::from(acceptor.is_some());
    let engine = EngineHandle {
        inner: Arc::new(EngineShared {
            loops: shared,
            balancer: Arc::clone(&balancer),
            acceptor_waker: acceptor.as_ref().map(|(_, w)| w.clone()),
            addrs: bound.addrs,
            stop: StopState::new(threads),
            threads: Mutex::new(Vec::with_capacity(threads)),
        }),
    };
    let handler = Arc::new(handler);
    if handler.on_boot(&engine) == Action::Shutdown {
        engine.signal_stop();
    }

    let mut spawned = Vec::with_capacity(threads);
    let mut spawn_error = None;
    for (id, (poller, sockets)) in pollers.into_iter().zip(bound.per_loop).enumerate() {
        let init = LoopInit {
            handler: Arc::clone(&handler),
            engine: engine.clone(),
            balancer: Arc::clone(&balancer),
            ring,
            opts: &opts,
        };
        let el = EventLoop::new(id, init, poller, sockets);
        let pin = opts.pin_cores.then_some(id);
        let res = std::thread::Builder::new()
            .name(format!("loopwire-loop-{id}"))
            .spawn(move || el.run(pin));
        match res {
            Ok(t) => spawned.push(t),
            Err(e) => {
                spawn_error = Some(e);
                break;
            }
        }
    }
    if spawn_error.is_none()
        && let Some((poller, _)) = acceptor
    {
        let acc = Acceptor::new(
            poller,
            bound.acceptor,
            engine.clone(),
            Arc::clone(&handler),
            balancer,
        );
        match std::thread::Builder::new()
            .name("loopwire-acceptor".into())
            .spawn(move || acc.run())
        {
            Ok(t) => spawned.push(t),
            Err(e) => spawn_error = Some(e),
        }
    }
    if let Some(e) = spawn_error {
        // Threads that never started will never report their exit: account for them.
        engine.inner.stop.never_started(threads - spawned.len());
        *lock(&engine.inner.threads) = spawned;
        engine.signal_stop();
        engine.wait();
        return Err(Error::Io(e));
    }
    *lock(&engine.inner.threads) = spawned;
    Ok(engine)
}

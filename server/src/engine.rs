//! [`EngineHandle`]: a running engine's thread-safe remote control, and the state every thread
//! of an engine shares.
//!
//! Starting an engine is the launch module's job; running its loops the reactor's. This module
//! only queues requests for the loops (through [`crate::shared`]) and never touches a loop's
//! own state.

use std::cell::Cell;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use loopwire_loadbalance::{AnyBalancer, Balancer};
use loopwire_poller::Waker;

use crate::addr::BoundAddr;
use crate::error::{Error, Result};
use crate::handle::ConnHandle;
use crate::shared::LoopShared;
use crate::shared::dials::DialCount;
use crate::shared::stop::StopState;
use crate::shared::sync::{Mutex, lock};
use crate::shared::task::{BroadcastFilter, NewConn, Task};
use crate::sys::{self, Stream};
use crate::time::{EngineClock, Subscriber};

/// What every thread of an engine shares.
#[derive(Debug)]
pub(crate) struct EngineShared {
    pub(crate) loops: Vec<LoopShared>,
    /// Picks the loop for connections handed over from outside (dialed, enrolled).
    pub(crate) balancer: Arc<AnyBalancer>,
    pub(crate) acceptor_waker: Option<Waker>,
    pub(crate) addrs: Vec<BoundAddr>,
    /// What the loops run on, after any fallback (`None`: transports of the caller's own).
    pub(crate) backend: Option<crate::Backend>,
    pub(crate) stop: StopState,
    /// The dials in flight and their bound ([`crate::EngineBuilder::max_pending_dials`]).
    pub(crate) dials: crate::shared::dials::Dials,
    pub(crate) threads: Mutex<Vec<JoinHandle<()>>>,
    /// The engine's time: every loop counts milliseconds from the same zero.
    pub(crate) clock: EngineClock,
    /// What a test clock calls to wake every thread of the engine when it moves (the clock
    /// holds only a weak reference).
    pub(crate) _clock_wake: Option<ClockWake>,
}

/// The engine's subscription to a test clock.
pub(crate) struct ClockWake {
    /// Held only to keep the subscription alive.
    pub(crate) _wake: Arc<Subscriber>,
}

impl std::fmt::Debug for ClockWake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClockWake")
    }
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
/// [`Action::Shutdown`](crate::Action::Shutdown).
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

    /// The backend the loops run on: the one asked for, or epoll where the kernel refused
    /// io_uring; `None` for an engine on transports of your own
    /// ([`EngineBuilder::start_on`](crate::EngineBuilder::start_on)).
    pub fn backend(&self) -> Option<crate::Backend> {
        self.inner.backend
    }

    /// The engine's time: since it started on the system clock, or the
    /// [`TestClock`](crate::TestClock)'s reading. Inside a callback prefer
    /// [`Conn::now`](crate::Conn::now), the time the loop read at the start of its turn.
    pub fn now(&self) -> Duration {
        Duration::from_millis(self.inner.clock.now_ms())
    }

    /// Whether [`stop`](Self::stop) has been called (or a callback returned
    /// [`Action::Shutdown`](crate::Action::Shutdown)).
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
    /// At most [`max_pending_dials`](crate::EngineBuilder::max_pending_dials) dials are in
    /// flight at once (from the call until `on_open`, or the `on_close` of a failed
    /// connect); one more is refused before any socket is opened.
    ///
    /// # Errors
    /// [`Error::InvalidAddr`] (a datagram scheme, no host, port 0), [`Error::Resolve`],
    /// [`Error::Connect`] when the connect fails at once, [`Error::TooManyDials`],
    /// [`Error::Stopped`].
    pub fn dial(&self, url: &str, tag: u64) -> Result<()> {
        if self.is_stopping() {
            return Err(Error::Stopped);
        }
        let permit = self.dial_permit()?;
        let mut acc = NewConn::dialed(sys::dial::start(url)?, tag);
        acc.permit = Some(permit);
        self.hand_off(acc)
    }

    /// Dials in flight now: called, and neither opened nor failed yet (see
    /// [`dial`](Self::dial)).
    pub fn pending_dials(&self) -> usize {
        self.inner.dials.in_flight()
    }

    /// A place among the dials in flight, or [`Error::TooManyDials`].
    fn dial_permit(&self) -> Result<crate::shared::dials::DialPermit> {
        DialCount::try_acquire(&self.inner.dials).ok_or(Error::TooManyDials {
            max: self.inner.dials.max(),
        })
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
        let permit = self.dial_permit()?;
        let mut acc = NewConn::dialed(sys::dial::start(url)?, tag);
        acc.permit = Some(permit);
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
        self.hand_off(NewConn::enrolled(
            sys::dial::enrolled(Stream::Tcp(stream))?,
            tag,
        ))
    }

    /// [`enroll`](Self::enroll) for a connected Unix stream.
    ///
    /// # Errors
    /// As [`enroll`](Self::enroll).
    pub fn enroll_unix(&self, stream: std::os::unix::net::UnixStream, tag: u64) -> Result<()> {
        self.hand_off(NewConn::enrolled(
            sys::dial::enrolled(Stream::Unix(stream))?,
            tag,
        ))
    }

    /// Hands a connection to the loop the load balancer picks.
    fn hand_off(&self, acc: NewConn) -> Result<()> {
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
}

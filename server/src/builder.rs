//! [`Engine`] and [`EngineBuilder`]: every knob of the engine, with documented defaults.
//!
//! The builder only collects settings; [`EngineBuilder::start`] validates them into a
//! [`Config`] (the only thing the engine's threads see) and hands that to the launch code.

use std::time::Duration;

use loopwire_loadbalance::LoadBalance;

use crate::backend::Backend;
use crate::config::Config;
use crate::engine::EngineHandle;
use crate::error::{Error, Result};
use crate::flow::Watermarks;
use crate::handler::EventHandler;
use crate::launch;
use crate::reactor::deadline::duration_millis;
use crate::sys::StreamOptions;
use crate::time::Clock;

/// Default size of each loop's shared read buffer.
pub const DEFAULT_READ_BUFFER: usize = 64 * 1024;

/// Default of [`EngineBuilder::pooled_buffers`].
pub const DEFAULT_POOLED_BUFFERS: usize = 1024;
/// Default listen backlog.
pub const DEFAULT_BACKLOG: i32 = 1024;
/// Default cap on open connections per loop.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1 << 20;
/// Default cap on dials in flight per engine ([`EngineBuilder::max_pending_dials`]).
pub const DEFAULT_MAX_PENDING_DIALS: usize = 1024;
/// Default time a dial may take to connect.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default cap on bytes a connection may hold unread (inbound) or unsent (outbound).
pub const DEFAULT_MAX_BUFFERED: usize = 64 * 1024 * 1024;

/// Entry point: `Engine::builder()`.
#[derive(Debug)]
pub struct Engine(());

impl Engine {
    /// A builder with every option at its default.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }
}

/// Configures and starts an engine. Setters take `&mut self` and return it, so calls chain.
///
/// | option | default |
/// |---|---|
/// | [`addr`](Self::addr) | none: at least one is required |
/// | [`loops`](Self::loops) | number of cores |
/// | [`load_balance`](Self::load_balance) | round-robin |
/// | [`reuse_port`](Self::reuse_port) | off: one acceptor hands sockets to loops |
/// | [`backend`](Self::backend) | the platform's default poller (epoll on Linux) |
/// | [`read_buffer`](Self::read_buffer) | 64 KiB per loop |
/// | [`pooled_buffers`](Self::pooled_buffers) | 1024 drained 4 KiB buffers kept per loop |
/// | [`nodelay`](Self::nodelay) | on |
/// | [`keepalive`](Self::keepalive) | off |
/// | [`send_buffer`](Self::send_buffer), [`recv_buffer`](Self::recv_buffer) | the OS's |
/// | [`ticker`](Self::ticker) | off |
/// | [`pin_cores`](Self::pin_cores) | off |
/// | [`backlog`](Self::backlog) | 1024 |
/// | [`max_connections`](Self::max_connections) | 2^20 per loop |
/// | [`max_inbound`](Self::max_inbound), [`max_outbound`](Self::max_outbound) | 64 MiB per connection |
/// | [`write_watermarks`](Self::write_watermarks) | 32 KiB / 64 KiB (at most ¼ / ½ of `max_outbound`) |
/// | [`idle_timeout`](Self::idle_timeout), [`write_timeout`](Self::write_timeout) | none |
/// | [`connect_timeout`](Self::connect_timeout) | 10 s (also the TLS handshake's limit) |
/// | [`max_pending_dials`](Self::max_pending_dials) | 1024 per engine |
/// | [`busy_poll`](Self::busy_poll) | off |
/// | [`clock`](Self::clock) | the system's monotonic clock |
/// | `tls` (feature `tls`) | off |
///
/// # Examples
/// ```no_run
/// # use loopwire::{Action, Conn, Engine, EventHandler, LoadBalance};
/// # struct Echo;
/// # impl EventHandler for Echo {
/// #     type State = ();
/// #     fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action { Action::None }
/// # }
/// let engine = Engine::builder()
///     .addr("tcp://127.0.0.1:0")
///     .loops(2)
///     .load_balance(LoadBalance::LeastConnections)
///     .start(Echo)?;
/// println!("listening on {}", engine.addrs()[0]);
/// engine.stop();
/// # Ok::<(), loopwire::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    pub(crate) addrs: Vec<String>,
    pub(crate) loops: usize,
    pub(crate) load_balance: LoadBalance,
    pub(crate) reuse_port: bool,
    pub(crate) backend: Backend,
    pub(crate) read_buffer: usize,
    pub(crate) pooled_buffers: usize,
    pub(crate) stream: StreamOptions,
    pub(crate) ticker: bool,
    pub(crate) pin_cores: bool,
    pub(crate) backlog: i32,
    pub(crate) max_connections: usize,
    pub(crate) max_inbound: usize,
    pub(crate) max_outbound: usize,
    pub(crate) write_watermarks: Option<(usize, usize)>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_pending_dials: usize,
    pub(crate) busy_poll: Duration,
    pub(crate) clock: Clock,
    #[cfg(feature = "tls")]
    pub(crate) tls: Option<std::sync::Arc<rustls::ServerConfig>>,
}

impl Default for EngineBuilder {
    fn default() -> Self {
        Self {
            addrs: Vec::new(),
            loops: 0,
            load_balance: LoadBalance::default(),
            reuse_port: false,
            backend: Backend::default(),
            read_buffer: DEFAULT_READ_BUFFER,
            pooled_buffers: DEFAULT_POOLED_BUFFERS,
            stream: StreamOptions {
                nodelay: true,
                keepalive: None,
                send_buffer: None,
                recv_buffer: None,
            },
            ticker: false,
            pin_cores: false,
            backlog: DEFAULT_BACKLOG,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_inbound: DEFAULT_MAX_BUFFERED,
            max_outbound: DEFAULT_MAX_BUFFERED,
            write_watermarks: None,
            idle_timeout: None,
            write_timeout: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_pending_dials: DEFAULT_MAX_PENDING_DIALS,
            busy_poll: Duration::ZERO,
            clock: Clock::default(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }
}

impl EngineBuilder {
    /// Adds an address to serve, as a URL: `tcp://host:port`, `tcp4://`, `tcp6://`, `udp://`,
    /// `udp4://`, `udp6://` or `unix:///path`. Port 0 picks a free port. Parsed when the engine
    /// starts, so a bad URL is reported by [`start`](Self::start) / [`run`](Self::run).
    pub fn addr(&mut self, url: impl Into<String>) -> &mut Self {
        self.addrs.push(url.into());
        self
    }

    /// Number of event loops (threads); 0 means one per core.
    pub fn loops(&mut self, n: usize) -> &mut Self {
        self.loops = n;
        self
    }

    /// How accepted connections are spread over the loops.
    pub fn load_balance(&mut self, lb: LoadBalance) -> &mut Self {
        self.load_balance = lb;
        self
    }

    /// With `SO_REUSEPORT`, every loop accepts on its own listener and the kernel spreads
    /// connections (the load balancer is then not consulted for TCP).
    pub fn reuse_port(&mut self, on: bool) -> &mut Self {
        self.reuse_port = on;
        self
    }

    /// The readiness backend of every loop (see [`Backend`]; the default is the platform's
    /// native one). One not built for this platform fails [`start`](Self::start) with
    /// [`Error::Poller`].
    pub fn backend(&mut self, backend: Backend) -> &mut Self {
        self.backend = backend;
        self
    }

    /// Most drained connection buffers (4 KiB of storage each) every loop keeps for reuse.
    ///
    /// A connection left with unread bytes (a partial frame) or unsent ones borrows a buffer
    /// from its loop's pool and gives it back once empty; the pool keeps up to `n` of them so
    /// the next leftover does not allocate. After a burst (many connections holding partial
    /// frames at once) a loop may therefore keep `n × 4 KiB` (4 MiB at the default 1024). A
    /// server of many mostly idle connections can lower it to bound that; 0 keeps none.
    pub fn pooled_buffers(&mut self, n: usize) -> &mut Self {
        self.pooled_buffers = n;
        self
    }

    /// Size of each loop's shared read buffer (the most one read takes).
    pub fn read_buffer(&mut self, bytes: usize) -> &mut Self {
        self.read_buffer = bytes;
        self
    }

    /// `TCP_NODELAY` on accepted TCP connections.
    pub fn nodelay(&mut self, on: bool) -> &mut Self {
        self.stream.nodelay = on;
        self
    }

    /// TCP keep-alive with this idle time, or none.
    pub fn keepalive(&mut self, idle: Option<Duration>) -> &mut Self {
        self.stream.keepalive = idle;
        self
    }

    /// `SO_SNDBUF` of accepted connections.
    pub fn send_buffer(&mut self, bytes: usize) -> &mut Self {
        self.stream.send_buffer = Some(bytes);
        self
    }

    /// `SO_RCVBUF` of accepted connections.
    pub fn recv_buffer(&mut self, bytes: usize) -> &mut Self {
        self.stream.recv_buffer = Some(bytes);
        self
    }

    /// Calls [`EventHandler::on_tick`] on loop 0, first right after boot, then after each
    /// returned delay.
    pub fn ticker(&mut self, on: bool) -> &mut Self {
        self.ticker = on;
        self
    }

    /// Pins loop `i` to the `i % n`-th of the `n` CPUs the process may run on (its affinity
    /// mask, so it works under `taskset` and cpusets; Linux only). A pin that fails is logged
    /// as a warning and the loop runs unpinned.
    pub fn pin_cores(&mut self, on: bool) -> &mut Self {
        self.pin_cores = on;
        self
    }

    /// Listen backlog.
    pub fn backlog(&mut self, n: i32) -> &mut Self {
        self.backlog = n;
        self
    }

    /// Most open connections per loop; further accepts are closed at once.
    pub fn max_connections(&mut self, n: usize) -> &mut Self {
        self.max_connections = n;
        self
    }

    /// Most bytes a connection may hold unread before it is closed
    /// ([`CloseReason::InboundOverflow`](crate::CloseReason::InboundOverflow)).
    pub fn max_inbound(&mut self, bytes: usize) -> &mut Self {
        self.max_inbound = bytes;
        self
    }

    /// Most bytes a connection may hold unsent before it is closed
    /// ([`CloseReason::OutboundOverflow`](crate::CloseReason::OutboundOverflow)).
    pub fn max_outbound(&mut self, bytes: usize) -> &mut Self {
        self.max_outbound = bytes;
        self
    }

    /// The backlog of unsent bytes above which a connection is unwritable (`high`) and at or
    /// below which it is writable again (`low`): see [`Conn::is_writable`](crate::Conn::is_writable)
    /// and [`EventHandler::on_writability_changed`](crate::EventHandler::on_writability_changed).
    /// Checked when the engine starts: `low <= high < max_outbound`, or
    /// [`Error::InvalidOption`]. Default: Netty's 32 KiB / 64 KiB, lowered to a quarter and a
    /// half of `max_outbound` when that is smaller.
    pub fn write_watermarks(&mut self, low: usize, high: usize) -> &mut Self {
        self.write_watermarks = Some((low, high));
        self
    }

    /// Closes connections with no inbound traffic for this long
    /// ([`CloseReason::IdleTimeout`](crate::CloseReason::IdleTimeout)).
    pub fn idle_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.idle_timeout = timeout;
        self
    }

    /// Closes a connection whose unsent bytes waited this long with the socket taking none of
    /// them ([`CloseReason::WriteTimeout`](crate::CloseReason::WriteTimeout)): a peer that
    /// stopped reading, or vanished without a FIN. A slow peer that keeps taking bytes is not
    /// closed (use [`write_watermarks`](Self::write_watermarks) to slow the producer down).
    pub fn write_timeout(&mut self, timeout: Option<Duration>) -> &mut Self {
        self.write_timeout = timeout;
        self
    }

    /// After each poll that returned events, each loop keeps polling without blocking for
    /// this long before it sleeps again (default zero: off). Under steady load this saves
    /// the wake-ups of a loop that would otherwise sleep between bursts (on a VM, waking an
    /// idle core costs more than the poll), at the price of the CPU the extra polls burn
    /// while traffic lasts; an idle engine still sleeps.
    pub fn busy_poll(&mut self, spin: Duration) -> &mut Self {
        self.busy_poll = spin;
        self
    }

    /// Where the loops read the time: the system's monotonic clock (the default), or a
    /// [`TestClock`](crate::TestClock) that tests move by hand so that timeouts, deadlines and
    /// ticks fire in a known order whatever the machine's speed (see [`crate::time`]).
    pub fn clock(&mut self, clock: impl Into<Clock>) -> &mut Self {
        self.clock = clock.into();
        self
    }

    /// How long a [`dial`](crate::EngineHandle::dial) may take to connect before it fails
    /// with [`CloseReason::ConnectFailed`](crate::CloseReason::ConnectFailed)
    /// (`ErrorKind::TimedOut`).
    pub fn connect_timeout(&mut self, timeout: Duration) -> &mut Self {
        self.connect_timeout = timeout;
        self
    }

    /// Most [`dial`](crate::EngineHandle::dial)s in flight at once, for the whole engine: a
    /// dial holds its place from the call until its `on_open` (after the TLS handshake, for
    /// [`dial_tls`](crate::EngineHandle::dial_tls)) or the `on_close` of its failed connect.
    /// One more is refused with [`Error::TooManyDials`] before any socket is opened, so a
    /// flood of dials to a peer that does not answer cannot take every file descriptor.
    /// Must be at least 1 (checked at start).
    pub fn max_pending_dials(&mut self, n: usize) -> &mut Self {
        self.max_pending_dials = n;
        self
    }

    /// Serves every accepted TCP and Unix stream connection over TLS with this `rustls`
    /// configuration (feature `tls`): the handshake runs in the loop before `on_open` and must
    /// finish within [`connect_timeout`](Self::connect_timeout); the handler sees and writes
    /// plaintext. Datagram sockets and dialed connections are not affected.
    #[cfg(feature = "tls")]
    pub fn tls(&mut self, config: std::sync::Arc<rustls::ServerConfig>) -> &mut Self {
        self.tls = Some(config);
        self
    }

    /// Checks every option and resolves the defaults: what the engine runs with.
    ///
    /// # Errors
    /// [`Error::NoAddress`], or [`Error::InvalidOption`] naming the option.
    pub(crate) fn config(&self) -> Result<Config> {
        if self.addrs.is_empty() {
            return Err(Error::NoAddress);
        }
        self.options()
    }

    /// [`config`](Self::config) without requiring an address (for `start_on`).
    fn options(&self) -> Result<Config> {
        if self.addrs.len() > 2048 {
            return Err(Error::InvalidOption {
                option: "addr",
                reason: "at most 2048 addresses",
            });
        }
        if self.read_buffer < 512 {
            return Err(Error::InvalidOption {
                option: "read_buffer",
                reason: "must be at least 512 bytes",
            });
        }
        if self.backlog <= 0 {
            return Err(Error::InvalidOption {
                option: "backlog",
                reason: "must be positive",
            });
        }
        if self.max_connections == 0 || self.max_connections > u32::MAX as usize {
            return Err(Error::InvalidOption {
                option: "max_connections",
                reason: "must be from 1 to 2^32 - 1",
            });
        }
        if self.max_inbound == 0 || self.max_outbound == 0 {
            return Err(Error::InvalidOption {
                option: "max_inbound/max_outbound",
                reason: "must be positive",
            });
        }
        self.watermarks()?;
        if self.idle_timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::InvalidOption {
                option: "idle_timeout",
                reason: "must be positive (use None to disable)",
            });
        }
        if self.connect_timeout.is_zero() {
            return Err(Error::InvalidOption {
                option: "connect_timeout",
                reason: "must be positive",
            });
        }
        if self.max_pending_dials == 0 {
            return Err(Error::InvalidOption {
                option: "max_pending_dials",
                reason: "must be at least 1",
            });
        }
        if self.write_timeout.is_some_and(|t| t.is_zero()) {
            return Err(Error::InvalidOption {
                option: "write_timeout",
                reason: "must be positive (use None to disable)",
            });
        }
        Ok(Config {
            addrs: self.addrs.clone(),
            loops: self.loop_count(),
            load_balance: self.load_balance.clone(),
            reuse_port: self.reuse_port,
            backend: self.backend,
            read_buffer: self.read_buffer,
            pooled_buffers: self.pooled_buffers,
            stream: self.stream,
            ticker: self.ticker,
            pin_cores: self.pin_cores,
            backlog: self.backlog,
            max_connections: self.max_connections,
            max_inbound: self.max_inbound,
            max_outbound: self.max_outbound,
            marks: self.watermarks()?,
            idle_timeout: self.idle_timeout.map(duration_millis),
            write_timeout: self.write_timeout.map(duration_millis),
            connect_timeout: duration_millis(self.connect_timeout),
            max_pending_dials: self.max_pending_dials,
            busy_poll: self.busy_poll,
            clock: self.clock.clone(),
            #[cfg(feature = "tls")]
            tls: self.tls.clone(),
        })
    }

    /// The write watermarks in force (see [`write_watermarks`](Self::write_watermarks)).
    fn watermarks(&self) -> Result<Watermarks> {
        let Some((low, high)) = self.write_watermarks else {
            return Ok(Watermarks::defaults_under(self.max_outbound));
        };
        if high >= self.max_outbound {
            return Err(Error::InvalidOption {
                option: "write_watermarks",
                reason: "the high watermark must be below max_outbound",
            });
        }
        Watermarks::new(low, high)
    }

    /// The number of loops this configuration runs.
    fn loop_count(&self) -> usize {
        if self.loops > 0 {
            self.loops
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }

    /// Binds every address, starts the loops in the background and returns a handle.
    ///
    /// # Errors
    /// A bad URL or option, an address that cannot be bound, a poller that cannot be created,
    /// or a thread that cannot be spawned. Nothing is left running or bound on error.
    pub fn start<H: EventHandler>(&self, handler: H) -> Result<EngineHandle> {
        launch::start(self.config()?, handler)
    }

    /// Starts the loops on transports of your own instead of OS sockets (see
    /// [`transport`](crate::transport)): `make` is called once per loop, with its id, and
    /// returns that loop's transport and the listeners it accepts on. The addresses set with
    /// [`addr`](Self::addr) are not bound; the backend option does not apply.
    ///
    /// # Errors
    /// A bad option, an error from `make`, or a thread that cannot be spawned.
    ///
    /// # Examples
    /// ```
    /// use loopwire::transport::mem::{Listener, MemTransport};
    /// use loopwire::{Action, Conn, Engine, EventHandler};
    ///
    /// struct Echo;
    /// impl EventHandler for Echo {
    ///     type State = ();
    ///     fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
    ///         let data = c.next(usize::MAX);
    ///         c.write(data);
    ///         Action::None
    ///     }
    /// }
    ///
    /// let listener = Listener::new()?;
    /// let engine = Engine::builder()
    ///     .loops(1)
    ///     .start_on(|_| Ok((MemTransport::new(), vec![listener.clone()])), Echo)?;
    /// let client = listener.connect();
    /// client.write(b"ping");
    /// assert_eq!(client.read_exact(4)?, b"ping");
    /// engine.stop();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn start_on<H: EventHandler, T: crate::transport::Transport>(
        &self,
        make: impl FnMut(usize) -> std::io::Result<(T, Vec<T::Listener>)>,
        handler: H,
    ) -> Result<EngineHandle> {
        launch::start_on(self.options()?, handler, make)
    }

    /// Like [`start`](Self::start), then blocks until the engine stops.
    ///
    /// # Errors
    /// As [`start`](Self::start).
    pub fn run<H: EventHandler>(&self, handler: H) -> Result<()> {
        let engine = self.start(handler)?;
        engine.wait();
        Ok(())
    }
}

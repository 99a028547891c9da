//! [`Client`]: a blocking client over `std::net::TcpStream` driving a [`ClientSession`]:
//! authenticates, joins, keeps the heartbeat up inside [`recv`](Client::recv), and
//! reconnects with [`Backoff`] (re-AUTH, re-JOIN, dedupe kept) when the connection drops or
//! the server kicks the session.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::backoff::{Backoff, BackoffConfig};
use super::error::ClientError;
use super::event::Event;
use super::session::{ClientSession, SessionOptions, SessionState};
use crate::frame::{kick, timeout};

/// How the client waits between attempts; tests record the delays instead of sleeping.
pub type SleepFn = Arc<dyn Fn(Duration) + Send + Sync>;

/// Settings of a [`Client`].
#[derive(Clone)]
pub struct ClientOptions {
    /// Protocol settings (heartbeat asked, ACK mode, limits).
    pub session: SessionOptions,
    /// Rooms to join at every connection.
    pub rooms: Vec<String>,
    /// Reconnect when the connection is lost or the session is kicked (not after ERROR or
    /// a KICK "replaced").
    pub reconnect: bool,
    /// Delays between connection attempts.
    pub backoff: BackoffConfig,
    /// Limit of a TCP connect, and of the wait for WELCOME in [`Client::connect`].
    pub io_timeout: Duration,
    /// How to wait out a backoff delay (default: `std::thread::sleep`).
    pub sleep: SleepFn,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            session: SessionOptions::default(),
            rooms: Vec::new(),
            reconnect: true,
            backoff: BackoffConfig::default(),
            io_timeout: Duration::from_secs(10),
            sleep: Arc::new(std::thread::sleep),
        }
    }
}

impl fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientOptions")
            .field("session", &self.session)
            .field("rooms", &self.rooms)
            .field("reconnect", &self.reconnect)
            .field("backoff", &self.backoff)
            .field("io_timeout", &self.io_timeout)
            .finish_non_exhaustive()
    }
}

/// A blocking push client (see the module docs).
pub struct Client {
    addr: SocketAddr,
    opts: ClientOptions,
    session: ClientSession,
    stream: Option<TcpStream>,
    backoff: Backoff,
    /// Set when the client must not reconnect; returned by the next `recv`.
    stopped: Option<ClientError>,
    connections: u64,
    buf: Box<[u8]>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("addr", &self.addr)
            .field("state", &self.session.state())
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects to `addr`, authenticates with `token`, joins `opts.rooms` and waits for
    /// WELCOME (at most `opts.io_timeout`). A refused connection is retried on the backoff
    /// schedule when `opts.reconnect` is set.
    ///
    /// # Errors
    /// [`ClientError::Rejected`] (a refused token), [`ClientError::Timeout`],
    /// [`ClientError::GaveUp`], [`ClientError::Io`], [`ClientError::InvalidArgument`] (a
    /// bad room or an address that resolves to nothing).
    pub fn connect(
        addr: impl ToSocketAddrs,
        token: &str,
        opts: ClientOptions,
    ) -> Result<Self, ClientError> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or(ClientError::InvalidArgument(
                "the address resolves to nothing",
            ))?;
        let mut session = ClientSession::new(token, opts.session.clone());
        for r in &opts.rooms {
            session.join(r.as_bytes())?;
        }
        let mut c = Self {
            addr,
            backoff: Backoff::new(opts.backoff.clone()),
            opts,
            session,
            stream: None,
            stopped: None,
            connections: 0,
            buf: vec![0; 64 * 1024].into_boxed_slice(),
        };
        match c.open() {
            Ok(()) => {}
            Err(_) if c.opts.reconnect => c.reconnect()?,
            Err(e) => return Err(e.into()),
        }
        let end = Instant::now() + c.opts.io_timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ClientError::Timeout(c.opts.io_timeout));
            }
            match c.recv_timeout(left)? {
                Some(Event::Welcome { .. }) => return Ok(c),
                Some(Event::Error { code, reason }) => {
                    return Err(ClientError::Rejected { code, reason });
                }
                // Nothing else precedes WELCOME on a connection; a KICK means reconnect.
                Some(_) | None => {}
            }
        }
    }

    /// The next event, blocking; heartbeats and reconnections happen inside. A WELCOME is
    /// surfaced after each reconnection.
    ///
    /// # Errors
    /// As [`recv_timeout`](Self::recv_timeout).
    pub fn recv(&mut self) -> Result<Event, ClientError> {
        loop {
            if let Some(ev) = self.recv_timeout(Duration::from_secs(3600))? {
                return Ok(ev);
            }
        }
    }

    /// The next event, or `None` after `timeout` without one.
    ///
    /// # Errors
    /// [`ClientError::Rejected`] after an ERROR event (but for the timeouts 14 and 15, after
    /// which it reconnects), [`ClientError::Replaced`] after a
    /// KICK "replaced", [`ClientError::Closed`] on a lost connection without `reconnect`,
    /// [`ClientError::GaveUp`] when the backoff runs out, [`ClientError::Protocol`] or
    /// [`ClientError::FrameTooLarge`] for a broken stream (the connection is dropped; the
    /// next call reconnects).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<Event>, ClientError> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(ev) = self.session.poll_event() {
                self.on_event(&ev);
                return Ok(Some(ev));
            }
            if let Some(e) = self.stopped.take() {
                return Err(e);
            }
            if self.stream.is_none() {
                if !self.opts.reconnect {
                    return Err(ClientError::Closed);
                }
                self.reconnect()?;
                continue;
            }
            let now = Instant::now();
            let next_ping = self.session.poll_timers(now);
            if self.flush().is_err() {
                self.lost();
                continue;
            }
            if now >= end {
                return Ok(None);
            }
            let wait = next_ping.map_or(end, |p| p.min(end)) - now;
            self.read_some(wait.max(Duration::from_millis(1)))?;
        }
    }

    /// Joins `room` now and after every reconnect.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`] for a bad room name.
    pub fn join(&mut self, room: &str) -> Result<(), ClientError> {
        self.session.join(room.as_bytes())?;
        self.flush_or_lose();
        Ok(())
    }

    /// Leaves `room`.
    pub fn leave(&mut self, room: &str) {
        self.session.leave(room.as_bytes());
        self.flush_or_lose();
    }

    /// Acknowledges `id` (with `auto_ack` off).
    pub fn ack(&mut self, id: u64) {
        self.session.ack(id);
        self.flush_or_lose();
    }

    /// Sends a PING with `data` (at most 16 bytes); [`Event::Pong`] with it follows
    /// everything the server sent before.
    ///
    /// # Errors
    /// [`ClientError::InvalidArgument`], or [`ClientError::Closed`] while disconnected.
    pub fn ping(&mut self, data: &[u8]) -> Result<(), ClientError> {
        self.session.ping(data)?;
        self.flush_or_lose();
        Ok(())
    }

    /// The token for the next AUTH (after a reconnect).
    pub fn set_token(&mut self, token: &str) {
        self.session.set_token(token);
    }

    /// Drops the connection as a network failure would; the next `recv` reconnects.
    pub fn drop_connection(&mut self) {
        self.lost();
    }

    /// The protocol state (rooms, dedupe).
    pub fn session(&self) -> &ClientSession {
        &self.session
    }

    /// Connections made so far (1 after `connect`, +1 per reconnect).
    pub fn connections(&self) -> u64 {
        self.connections
    }

    fn on_event(&mut self, ev: &Event) {
        match ev {
            Event::Welcome { .. } => self.backoff.reset(),
            Event::Kicked { code, reason } => {
                self.lost();
                if *code == kick::REPLACED {
                    self.stopped = Some(ClientError::Replaced {
                        reason: reason.clone(),
                    });
                }
            }
            Event::Error { code, .. } if matches!(*code, timeout::AUTH | timeout::HEARTBEAT) => {
                // Closed for its timing (a stalled network, a sleeping device): reconnect.
                self.lost();
            }
            Event::Error { code, reason } => {
                self.lost();
                self.stopped = Some(ClientError::Rejected {
                    code: *code,
                    reason: reason.clone(),
                });
            }
            Event::Push { .. } | Event::Pong(_) => {}
        }
        if self.session.state() == SessionState::Ended {
            self.lost();
        }
    }

    fn open(&mut self) -> io::Result<()> {
        let s = TcpStream::connect_timeout(&self.addr, self.opts.io_timeout)?;
        s.set_nodelay(true)?;
        s.set_write_timeout(Some(self.opts.io_timeout))?;
        self.stream = Some(s);
        self.connections += 1;
        self.session.connected();
        self.flush()
    }

    /// Waits a backoff delay, then tries to connect, until it works or the backoff runs out.
    fn reconnect(&mut self) -> Result<(), ClientError> {
        loop {
            let Some(delay) = self.backoff.next_delay() else {
                return Err(ClientError::GaveUp {
                    attempts: self.backoff.attempts(),
                });
            };
            (self.opts.sleep)(delay);
            if self.open().is_ok() {
                return Ok(());
            }
            self.lost();
        }
    }

    fn lost(&mut self) {
        self.stream = None;
        self.session.disconnected();
    }

    fn flush_or_lose(&mut self) {
        if self.flush().is_err() {
            self.lost();
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let Some(s) = self.stream.as_mut() else {
            return Ok(());
        };
        let out = self.session.output();
        if !out.is_empty() {
            s.write_all(out)?;
            let n = out.len();
            self.session.consume_output(n);
        }
        Ok(())
    }

    /// Reads what arrives within `wait` into the session; a closed or broken connection is
    /// dropped (to be reconnected by the caller's loop).
    fn read_some(&mut self, wait: Duration) -> Result<(), ClientError> {
        let Some(s) = self.stream.as_mut() else {
            return Ok(());
        };
        s.set_read_timeout(Some(wait))?;
        match s.read(&mut self.buf) {
            Ok(0) => self.lost(),
            Ok(n) => {
                if let Err(e) = self.session.feed(&self.buf[..n]) {
                    self.lost();
                    return Err(e);
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => self.lost(),
        }
        Ok(())
    }
}

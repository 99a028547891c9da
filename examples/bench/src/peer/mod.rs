//! The same-run peers' shared parts: a [`Protocol`] (what a server answers, without its I/O)
//! and two I/O layers that serve one, so each protocol is written once and each I/O layer once,
//! and a table row compares I/O layers only.
//!
//! | | [`tokio_loop`] (tokio's multi-thread runtime, a task per connection) | [`mio_loop`] (a mio `Poll` per thread, `SO_REUSEPORT` listeners) |
//! |---|---|---|
//! | [`http`]: loopwire-http's parser, routes and responses | `tokio_http` | `mio_http` |
//! | [`resp`]: loopwire-resp's parser, commands and store | `tokio_resp` | `mio_resp` |
//!
//! Both layers follow the same rules: every complete request in the unread bytes is answered,
//! in order, into one output buffer, sent before anything more is read (the backpressure: a
//! peer that does not take its replies is not read from); the unread tail (a partial request)
//! is kept, and a connection holding more than [`Protocol::max_inbound`] unread bytes is
//! closed; a started request must be complete within [`Protocol::request_timeout`];
//! [`Protocol::tick`] runs periodic work (RESP's expiry sweep) on one thread.

pub mod http;
pub mod mio_loop;
pub mod resp;
pub mod tokio_loop;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

/// A non-blocking listener on `addr` that shares its port (`SO_REUSEPORT`), one per thread of
/// the hand-written peers (`mio_echo`, `epoll_echo`, [`mio_loop`]).
///
/// # Errors
/// The socket calls' errors (the address in use without `SO_REUSEPORT`, for one).
pub fn reuse_port_listener(addr: SocketAddr) -> io::Result<std::net::TcpListener> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )?;
    s.set_reuse_address(true)?;
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(1024)?;
    Ok(s.into())
}

/// Room kept free in a read buffer before each read.
pub const READ_CHUNK: usize = 8 * 1024;

/// Unsent output above which a protocol stops answering ([`Stop::Full`]) until it is sent:
/// loopwire's default high watermark.
pub const OUT_HIGH: usize = 64 * 1024;

/// A server protocol without its I/O: one value serves every connection and thread.
pub trait Protocol: Send + Sync + 'static {
    /// Per-connection state (a partial request's progress, a session).
    type State: Default + Send + 'static;

    /// Answers the complete requests at the start of `input`, appending to `out`.
    fn serve(&self, state: &mut Self::State, input: &[u8], out: &mut Vec<u8>) -> Served;

    /// Most unread bytes (a partial request) a connection may hold before it is closed.
    fn max_inbound(&self) -> usize;

    /// How long a started request may take to arrive completely; `None`: no limit.
    fn request_timeout(&self) -> Option<Duration> {
        None
    }

    /// Periodic work, run on one thread; returns when to run it next (`None`: never again).
    /// Run once when the server starts.
    fn tick(&self) -> Option<Duration> {
        None
    }
}

/// What one [`Protocol::serve`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// Bytes of the input consumed.
    pub consumed: usize,
    /// Why it stopped.
    pub stop: Stop,
}

/// Why [`Protocol::serve`] stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every request was answered and none is started: no read deadline.
    Idle,
    /// A request is started but not complete: wait for more bytes (within the deadline).
    Incomplete,
    /// The output reached [`OUT_HIGH`]: send it, then call again with the bytes not consumed.
    Full,
    /// Close the connection once the output is sent.
    Close,
}

/// Prints `listening on tcp://ADDR`, the line the harness waits for.
///
/// # Errors
/// When stdout cannot be written.
pub fn announce(addr: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "listening on tcp://{addr}")?;
    out.flush()
}

//! The readiness transport: a `loopwire-poller` [`Poller`] (epoll, or the `polling` crate)
//! over the socket layer's calls. Level-triggered; a readable event becomes one `recv` into
//! the loop's shared read buffer when the reactor asks for the bytes, a send is one `send` or
//! `sendmsg` whose count is what the socket took.
//!
//! It owns the mapping between poller tokens and what they name: connections by slot key
//! below [`RESERVED`], listeners and datagram sockets counted down from the top.

use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use loopwire_poller::{Events, Interest, Mode, Poller, Token};

use super::{Accepted, Event, OsStream, Transport, Waker, Watch};
use crate::sys::{Datagram, Listener, Stream, StreamOptions};

/// Tokens at or above this name listeners and datagram sockets, below it connections.
pub(crate) const RESERVED: usize = usize::MAX - 4096;
/// Events fetched per poll.
const EVENTS: usize = 1024;

/// A loop's readiness transport.
#[derive(Debug)]
pub(crate) struct PollerTransport {
    poller: Poller,
    events: Events,
    /// The next event of `events` that [`Transport::next_event`] returns.
    next: usize,
    /// Options applied to every stream the loop starts serving.
    options: StreamOptions,
}

impl PollerTransport {
    pub(crate) fn new(poller: Poller, options: StreamOptions) -> Self {
        Self {
            poller,
            events: Events::with_capacity(EVENTS),
            next: 0,
            options,
        }
    }
}

fn interest(w: Watch) -> Option<Interest> {
    match (w.recv, w.send) {
        (true, true) => Some(Interest::READABLE.add(Interest::WRITABLE)),
        (false, true) => Some(Interest::WRITABLE),
        (true, false) => Some(Interest::READABLE),
        (false, false) => None,
    }
}

fn poller_err(e: loopwire_poller::Error) -> io::Error {
    io::Error::other(e)
}

impl Transport for PollerTransport {
    type Listener = Listener;
    type Stream = Stream;
    type Datagram = Datagram;

    fn waker(&self) -> io::Result<Waker> {
        self.poller.waker().map(Waker::from).map_err(poller_err)
    }

    fn poll(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.next = 0;
        self.poller
            .poll(&mut self.events, timeout)
            .map_err(poller_err)
    }

    #[inline]
    fn next_event(&mut self) -> Option<Event> {
        loop {
            let ev = self.events.iter().nth(self.next)?;
            self.next += 1;
            let t = ev.token().0;
            if t < RESERVED {
                return Some(Event::Conn {
                    conn: t,
                    recv: ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                    send: ev.is_writable(),
                });
            } else if let Some(i) = token_listener(t) {
                return Some(Event::Accept(i));
            } else if let Some(i) = token_udp(t) {
                return Some(Event::Datagram(i));
            }
            // Not a token of ours (the poller keeps its waker's to itself): skip it.
        }
    }

    fn listen(&mut self, id: usize, listener: &Listener) -> io::Result<()> {
        let fd = listener.as_fd().as_raw_fd();
        // SAFETY: the loop owns the listener and calls `unlisten` before dropping it.
        unsafe {
            self.poller
                .register(fd, listener_token(id), Interest::READABLE, Mode::Level)
        }
        .map_err(poller_err)
    }

    fn unlisten(&mut self, _id: usize, listener: &Listener) -> io::Result<()> {
        self.poller
            .deregister(listener.as_fd().as_raw_fd())
            .map_err(poller_err)
    }

    fn accept(&mut self, _id: usize, listener: &Listener) -> io::Result<Accepted<Stream>> {
        listener.accept()
    }

    fn adopt(&mut self, stream: OsStream) -> io::Result<Stream> {
        Ok(stream)
    }

    fn open(&mut self, conn: usize, stream: &Stream, watch: Watch) -> io::Result<()> {
        self.options.apply(stream);
        let Some(i) = interest(watch) else {
            return Ok(());
        };
        // SAFETY: the stream stays in its slot until `close`, which deregisters it before
        // dropping it.
        unsafe {
            self.poller
                .register(stream.as_fd().as_raw_fd(), Token(conn), i, Mode::Level)
        }
        .map_err(poller_err)
    }

    fn watch(&mut self, conn: usize, stream: &Stream, want: Watch, was: Watch) -> io::Result<()> {
        let fd = stream.as_fd().as_raw_fd();
        let res = match (interest(want), was == Watch::NONE) {
            (None, _) => self.poller.deregister(fd),
            // SAFETY: as in `open`.
            (Some(i), true) => unsafe { self.poller.register(fd, Token(conn), i, Mode::Level) },
            (Some(i), false) => self.poller.reregister(fd, Token(conn), i, Mode::Level),
        };
        res.map_err(poller_err)
    }

    fn connect_outcome(&mut self, stream: &Stream) -> io::Result<()> {
        stream.connect_outcome()
    }

    #[inline]
    fn recv<'a>(
        &'a mut self,
        _conn: usize,
        stream: &Stream,
        buf: &'a mut [u8],
    ) -> io::Result<&'a [u8]> {
        let n = stream.io().read(buf)?;
        Ok(&buf[..n])
    }

    #[inline]
    fn send(&mut self, _conn: usize, stream: &Stream, data: &[u8]) -> io::Result<usize> {
        stream.io().write(data)
    }

    #[inline]
    fn send_vectored(
        &mut self,
        _conn: usize,
        stream: &Stream,
        bufs: &[IoSlice<'_>],
    ) -> io::Result<usize> {
        stream.io().write_vectored(bufs)
    }

    fn close(&mut self, _conn: usize, stream: Stream, _watched: Watch) {
        // Deregistered even when nothing is watched: harmless, and it keeps the poller's
        // table right whatever the loop's bookkeeping says.
        let _ = self.poller.deregister(stream.as_fd().as_raw_fd());
        drop(stream);
    }

    fn watch_datagram(&mut self, id: usize, socket: &Datagram) -> io::Result<()> {
        let fd = socket.as_fd().as_raw_fd();
        // SAFETY: the loop owns the socket and calls `unwatch_datagram` before dropping it.
        unsafe {
            self.poller
                .register(fd, udp_token(id), Interest::READABLE, Mode::Level)
        }
        .map_err(poller_err)
    }

    fn unwatch_datagram(&mut self, _id: usize, socket: &Datagram) {
        let _ = self.poller.deregister(socket.as_fd().as_raw_fd());
    }

    fn recv_from(&mut self, socket: &Datagram, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        socket.recv_from(buf)
    }

    fn send_to(&mut self, socket: &Datagram, data: &[u8], peer: SocketAddr) -> io::Result<usize> {
        socket.send_to(data, peer)
    }
}

// Reserved tokens, counted down from below the poller's own `Token::RESERVED` (`usize::MAX`):
// listeners take the first 2048, datagram sockets the next 2048.
const LISTENERS_TOP: usize = usize::MAX - 1;
const UDP_TOP: usize = LISTENERS_TOP - 2048;

/// The poller token of the loop's listener `i`.
fn listener_token(i: usize) -> Token {
    Token(LISTENERS_TOP - i)
}

/// The listener a token names, if it names one.
fn token_listener(t: usize) -> Option<usize> {
    let i = LISTENERS_TOP.checked_sub(t)?;
    (i < 2048).then_some(i)
}

/// The poller token of the loop's datagram socket `i`.
fn udp_token(i: usize) -> Token {
    Token(UDP_TOP - i)
}

/// The datagram socket a token names, if it names one.
fn token_udp(t: usize) -> Option<usize> {
    let i = UDP_TOP.checked_sub(t)?;
    (i < 2048).then_some(i)
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

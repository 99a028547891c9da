//! The sockets a loop serves besides its connections: its own listeners (with `reuse_port`,
//! or after the acceptor hands none over) and its datagram sockets, and the reserved poller
//! tokens that name them.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use loopwire_poller::{Interest, Mode, Token};

use super::timers::TimerEvent;
use super::{ACCEPT_BACKOFF, ACCEPT_BATCH, EventLoop, UDP_BATCH};
use crate::Conn;
use crate::conn::{ConnMeta, Flow};
use crate::handle::ConnHandle;
use crate::handler::{Action, EventHandler};
use crate::reactor::guard::guard;
use crate::shared::task::NewConn;
use crate::sys::{is_fd_exhaustion, is_transient};

impl<H: EventHandler> EventLoop<H> {
    pub(super) fn register_sockets(&mut self) -> Result<(), loopwire_poller::Error> {
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

    pub(super) fn accept_local(&mut self, i: usize) {
        for _ in 0..ACCEPT_BATCH {
            let Some((l, network)) = self.listeners.get(i) else {
                return;
            };
            let network = *network;
            match l.accept() {
                Ok((stream, peer)) => {
                    self.register(NewConn::accepted(stream, peer, network), false);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_fd_exhaustion(&e) => {
                    tracing::warn!(error = %e, "out of file descriptors; pausing accepts");
                    let fd = l.as_fd().as_raw_fd();
                    if self.poller.deregister(fd).is_ok() {
                        let at = self.now.saturating_add(ACCEPT_BACKOFF);
                        self.insert_timer(at, TimerEvent::ResumeAccept(i));
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

    pub(super) fn udp_readable(&mut self, i: usize) {
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
            )
            .with_now(self.now);
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
}

// Reserved tokens, counted down from below the poller's own `Token::RESERVED` (`usize::MAX`):
// listeners take the first 2048, datagram sockets the next 2048.
const LISTENERS_TOP: usize = usize::MAX - 1;
const UDP_TOP: usize = LISTENERS_TOP - 2048;

/// The poller token of the loop's listener `i`.
pub(super) fn listener_token(i: usize) -> Token {
    Token(LISTENERS_TOP - i)
}

/// The listener a token names, if it names one.
pub(super) fn token_listener(t: usize) -> Option<usize> {
    let i = LISTENERS_TOP.checked_sub(t)?;
    (i < 2048).then_some(i)
}

/// The poller token of the loop's datagram socket `i`.
pub(super) fn udp_token(i: usize) -> Token {
    Token(UDP_TOP - i)
}

/// The datagram socket a token names, if it names one.
pub(super) fn token_udp(t: usize) -> Option<usize> {
    let i = UDP_TOP.checked_sub(t)?;
    (i < 2048).then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reactor::RESERVED;

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

//! The sockets a loop serves besides its connections: its own listeners (with `reuse_port`,
//! or on a transport that accepts for itself) and its datagram sockets.

use std::io;
use std::os::fd::AsFd;

use super::timers::TimerEvent;
use super::{ACCEPT_BACKOFF, ACCEPT_BATCH, EventLoop, UDP_BATCH};
use crate::Conn;
use crate::conn::{ConnMeta, Flow};
use crate::handle::ConnHandle;
use crate::handler::{Action, EventHandler};
use crate::reactor::guard::guard;
use crate::shared::task::NewConn;
use crate::sys::{is_fd_exhaustion, is_transient};
use crate::transport::Transport;

impl<H: EventHandler, T: Transport> EventLoop<H, T> {
    /// Has the transport watch the loop's listeners and datagram sockets (each is unwatched
    /// in `shutdown`, before it is dropped).
    pub(super) fn register_sockets(&mut self) -> io::Result<()> {
        for (i, (l, _)) in self.listeners.iter().enumerate() {
            self.transport.listen(i, l)?;
        }
        for (i, u) in self.udp.iter().enumerate() {
            self.transport.watch_datagram(i, &u.socket)?;
        }
        Ok(())
    }

    pub(super) fn accept_local(&mut self, i: usize) {
        for _ in 0..ACCEPT_BATCH {
            let Some((l, network)) = self.listeners.get(i) else {
                return;
            };
            let network = *network;
            match self.transport.accept(i, l) {
                Ok((stream, peer)) => {
                    self.register(NewConn::accepted(stream, peer, network), false);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if is_fd_exhaustion(&e) => {
                    tracing::warn!(error = %e, "out of file descriptors; pausing accepts");
                    if self.transport.unlisten(i, l).is_ok() {
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
            let (n, peer) = match self.transport.recv_from(&entry.socket, &mut self.read_buf) {
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
                if let Err(e) = self.transport.send_to(&entry.socket, &self.write_buf, peer) {
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

//! A connection's byte I/O through the loop's transport: one `recv` per receive event, shown
//! to the handler in place; sends that go straight to the transport and keep only what it
//! does not take, draining that backlog when it has room again; and keeping what the
//! transport watches in step.

use std::io;

use super::{Call, Deferred, EventLoop};
use crate::handler::{CloseReason, EventHandler};
use crate::reactor::outbound::{self, SendError};
use crate::reactor::spill::Spill;
use crate::sys::is_transient;
use crate::transport::{ConnIo, Transport, Watch};
use loopwire_ringbuf::BufferPool;

impl<H: EventHandler, T: Transport> EventLoop<H, T> {
    pub(super) fn on_readable(&mut self, key: usize) {
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
        let fresh = match self.transport.recv(key, &slot.stream, &mut self.read_buf) {
            Ok([]) => {
                self.peer_closed(key);
                return;
            }
            Ok(fresh) => fresh,
            Err(e) if is_transient(&e) => return,
            Err(e) => {
                self.close_now(key, CloseReason::Error(e));
                return;
            }
        };
        slot.deadlines.active(self.now);
        let outcome = super::callbacks::run(
            super::callbacks::Parts {
                handler: &*self.handler,
                write_buf: &mut self.write_buf,
                pool: &mut self.pool,
                cfg: &self.cfg,
                id: self.id,
                now: self.now,
            },
            key,
            slot,
            Some(fresh),
            Call::Traffic,
        );
        if let Some((outcome, overflow)) = outcome {
            self.finish(key, outcome, overflow);
        }
    }

    /// Sends what the last callback gathered in `write_buf` on connection `key`. Returns false
    /// when the connection was closed in the attempt.
    pub(super) fn flush(&mut self, key: usize) -> bool {
        if self.write_buf.is_empty() {
            return self.conns.contains(key);
        }
        let mut buf = std::mem::take(&mut self.write_buf);
        // The bytes are not read again: a completion transport may send the vector itself
        // and give back another.
        let alive = self.send_owned(key, &mut buf);
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
    pub(super) fn send(&mut self, key: usize, data: &[u8]) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.has(key) {
            return self.tls_send(key, data);
        }
        self.send_raw(key, data)
    }

    /// [`send`](Self::send) of a vector the loop gives up (see [`Transport::send_owned`]):
    /// `data` may come back as another (empty) vector.
    fn send_owned(&mut self, key: usize, data: &mut Vec<u8>) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.has(key) {
            return self.tls_send(key, data);
        }
        let len = data.len();
        self.send_with(key, len, |backlog, pool, io, max| {
            outbound::send_owned(backlog, pool, io, data, max)
        })
    }

    /// [`send`](Self::send) of bytes as they go on the wire.
    pub(super) fn send_raw(&mut self, key: usize, data: &[u8]) -> bool {
        self.send_with(key, data.len(), |backlog, pool, io, max| {
            outbound::send(backlog, pool, io, data, max)
        })
    }

    /// Runs `send` (one of the [`outbound`] sends of `len` bytes) on connection `key`'s
    /// backlog and transport, then [`sent`](Self::sent).
    fn send_with(
        &mut self,
        key: usize,
        len: usize,
        send: impl FnOnce(
            &mut Spill,
            &mut BufferPool,
            &mut ConnIo<'_, T>,
            usize,
        ) -> Result<(), SendError>,
    ) -> bool {
        let Some(slot) = self.conns.get_mut(key) else {
            return false;
        };
        let mut io = ConnIo {
            transport: &mut self.transport,
            conn: key,
            stream: &slot.stream,
        };
        let before = slot.outbound.len();
        let res = send(
            &mut slot.outbound,
            &mut self.pool,
            &mut io,
            self.cfg.max_outbound,
        );
        self.sent(key, before, len, res)
    }

    /// After a send of `len` bytes on connection `key`, whose backlog held `before`: the
    /// writability, the write-stall deadline and the interest follow the backlog, or the
    /// connection closes. Returns false when it was closed.
    fn sent(&mut self, key: usize, before: usize, len: usize, res: Result<(), SendError>) -> bool {
        let Some(slot) = self.conns.get_mut(key) else {
            return false;
        };
        match res {
            Ok(()) => {
                let backlog = slot.outbound.len();
                if slot.writability.update(backlog, self.cfg.marks) {
                    self.deferred
                        .push((slot.handle(self.id, key), Deferred::Announce));
                }
                let now = self.now;
                let progressed = backlog < before + len;
                if slot.deadlines.wrote(now, backlog, progressed) && self.timeouts.write.is_some() {
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

    pub(super) fn on_writable(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let mut io = ConnIo {
            transport: &mut self.transport,
            conn: key,
            stream: &slot.stream,
        };
        let before = slot.outbound.len();
        if let Err(e) = outbound::drain(&mut slot.outbound, &mut self.pool, &mut io) {
            self.close_now(key, CloseReason::Error(e));
            return;
        }
        let now = self.now;
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

    /// Keeps what the transport watches for connection `key` in step with what it waits for:
    /// receives while it is read and not paused, room to send while it has a backlog.
    pub(super) fn update_interest(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let want = Watch {
            recv: slot.reading && !slot.paused,
            send: !slot.outbound.is_empty(),
        };
        let was = slot.watching();
        if want == was {
            return;
        }
        match self.transport.watch(key, &slot.stream, want, was) {
            Ok(()) => (slot.read_armed, slot.write_armed) = (want.recv, want.send),
            Err(e) => {
                tracing::warn!(error = %e, "re-arming a connection failed; closing it");
                self.close_now(
                    key,
                    CloseReason::Error(io::Error::other("poller re-registration failed")),
                );
            }
        }
    }
}

// Here, not in `transport`: the transport knows nothing of the reactor's outbound path.
impl<T: Transport> outbound::WriteOwned for ConnIo<'_, T> {
    #[inline]
    fn write_owned(&mut self, data: &mut Vec<u8>) -> io::Result<usize> {
        self.transport.send_owned(self.conn, self.stream, data)
    }
}

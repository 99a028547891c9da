//! A connection's byte I/O: one `recv` per readable event into the loop's shared read buffer,
//! sends that go straight to the socket and keep only what it does not take, draining that
//! backlog when the socket turns writable, and keeping the poller's interest in step.

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd};

use loopwire_poller::{Interest, Mode, Token};

use super::{Call, Deferred, EventLoop};
use crate::handler::{CloseReason, EventHandler};
use crate::reactor::outbound::{self, SendError};
use crate::sys::is_transient;

impl<H: EventHandler> EventLoop<H> {
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
        let n = match slot.stream.io().read(&mut self.read_buf) {
            Ok(0) => {
                self.peer_closed(key);
                return;
            }
            Ok(n) => n,
            Err(e) if is_transient(&e) => return,
            Err(e) => {
                self.close_now(key, CloseReason::Error(e));
                return;
            }
        };
        slot.deadlines.active(self.now);
        self.callback(key, Some(n), Call::Traffic);
    }

    /// Sends what the last callback gathered in `write_buf` on connection `key`. Returns false
    /// when the connection was closed in the attempt.
    pub(super) fn flush(&mut self, key: usize) -> bool {
        if self.write_buf.is_empty() {
            return self.conns.contains(key);
        }
        let mut buf = std::mem::take(&mut self.write_buf);
        let alive = self.send(key, &buf);
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

    /// [`send`](Self::send) of bytes as they go on the wire.
    pub(super) fn send_raw(&mut self, key: usize, data: &[u8]) -> bool {
        let Some(slot) = self.conns.get_mut(key) else {
            return false;
        };
        let mut io = slot.stream.io();
        let before = slot.outbound.len();
        match outbound::send(
            &mut slot.outbound,
            &mut self.pool,
            &mut io,
            data,
            self.cfg.max_outbound,
        ) {
            Ok(()) => {
                let backlog = slot.outbound.len();
                if slot.writability.update(backlog, self.cfg.marks) {
                    self.deferred
                        .push((slot.handle(self.id, key), Deferred::Announce));
                }
                let now = self.now;
                let progressed = backlog < before + data.len();
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
        let mut io = slot.stream.io();
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

    /// Re-arms the poller for what connection `key` now waits for: readability while it is
    /// read and not paused, writability while it has a backlog. A connection waiting for
    /// neither is taken off the poller and put back when it waits for something again.
    pub(super) fn update_interest(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let want = (slot.reading && !slot.paused, !slot.outbound.is_empty());
        let armed = (slot.read_armed, slot.write_armed);
        if want == armed {
            return;
        }
        let fd = slot.stream.as_fd().as_raw_fd();
        let interest = match want {
            (true, true) => Some(Interest::READABLE.add(Interest::WRITABLE)),
            (false, true) => Some(Interest::WRITABLE),
            (true, false) => Some(Interest::READABLE),
            (false, false) => None,
        };
        let res = match (interest, armed) {
            (None, _) => self.poller.deregister(fd),
            (Some(i), (false, false)) => {
                // SAFETY: the stream stays in its slot until `close_now`, which deregisters
                // it before dropping it.
                unsafe { self.poller.register(fd, Token(key), i, Mode::Level) }
            }
            (Some(i), _) => self.poller.reregister(fd, Token(key), i, Mode::Level),
        };
        match res {
            Ok(()) => (slot.read_armed, slot.write_armed) = want,
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

//! A connection's life in its loop: registering a new one (accepted, dialed or enrolled), a
//! dial's connect finishing, the peer's or the handler's close (after the backlog drains), the
//! close itself with `on_close`, and closing everything when the loop stops.

use std::os::fd::AsFd;

use loopwire_loadbalance::Balancer;

use super::{Call, EventLoop, RESERVED};
use crate::conn::{Conn, Flow};
use crate::handler::{Action, CloseReason, EventHandler};
use crate::reactor::deadline::Deadlines;
use crate::reactor::guard::guard;
use crate::reactor::slot::{Closing, Slot};
use crate::reactor::spill::Spill;
#[cfg(feature = "tls")]
use crate::shared::task::Origin;
use crate::shared::task::{NewConn, Task};
use crate::transport::{ConnIo, LastIo, Transport, Watch};

impl<H: EventHandler, T: Transport> EventLoop<H, T> {
    // Mirrored in verify/tests/loom_handle_path.rs and loom_shutdown.rs (the generation is
    // published only after the slab insert): keep the models in step with changes here.
    pub(super) fn register(&mut self, acc: NewConn<T::Stream>, counted: bool) {
        if !counted {
            self.balancer.on_open(self.id);
        }
        if self.conns.len() >= self.cfg.max_connections {
            tracing::warn!(
                max = self.cfg.max_connections,
                "connection limit reached; closing new connection"
            );
            self.balancer.on_close(self.id);
            return;
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if key >= RESERVED || key >= self.shared().gens.slots() {
            self.balancer.on_close(self.id);
            return;
        }
        let connecting = acc.origin.connecting();
        // A dial still connecting waits for room to send (the connect's outcome), nothing else.
        let watch = if connecting { Watch::SEND } else { Watch::RECV };
        // The stream moves into the connection slot below (or is dropped right here on
        // failure, when nothing was registered); `close_now` hands it back to the transport.
        if let Err(e) = self.transport.open(key, &acc.stream, watch) {
            tracing::warn!(error = %e, "registering a connection failed; closing it");
            self.balancer.on_close(self.id);
            return;
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        let entry = self.conns.vacant_entry();
        entry.insert(Slot {
            stream: acc.stream,
            state: H::State::default(),
            generation,
            network: acc.network,
            peer: acc.peer,
            inbound: Spill::default(),
            outbound: Spill::default(),
            write_armed: connecting,
            read_armed: !connecting,
            connecting,
            reading: true,
            paused: false,
            writability: Default::default(),
            closing: None,
            deadlines: Deadlines::new(self.now),
            timer: None,
        });
        self.shared().gens.set(key, generation);
        #[cfg(feature = "tls")]
        if acc.origin == Origin::Accepted && self.tls_accept(key) {
            return;
        }
        #[cfg(feature = "tls")]
        if let Some(client) = acc.client_tls.as_ref() {
            // The tag waits for `on_open`, after the handshake (or for `on_close`).
            if let Some(tag) = acc.origin.tag() {
                self.dialing.insert(key, (tag, acc.permit));
            }
            self.tls_dial(key, client, connecting);
            return;
        }
        if connecting {
            if let Some(tag) = acc.origin.tag() {
                self.dialing.insert(key, (tag, acc.permit));
            }
            let limit = self.cfg.connect_timeout;
            if let Some(slot) = self.conns.get_mut(key) {
                let now = self.now;
                slot.deadlines.set_read(Some(now.saturating_add(limit)));
            }
            self.arm(key);
            return;
        }
        self.arm(key);
        self.callback(key, None, Call::Open(acc.origin.tag()));
    }

    /// A dialed connection's connect finished (the socket turned writable or reported an
    /// error): serve it from `on_open`, or close it with the reason.
    pub(super) fn connected(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        let outcome = self.transport.connect_outcome(&slot.stream);
        if let Err(e) = outcome {
            self.close_now(key, CloseReason::ConnectFailed(e));
            return;
        }
        slot.connecting = false;
        slot.deadlines.set_read(None);
        slot.deadlines.active(self.now);
        #[cfg(feature = "tls")]
        if self.tls.has(key) {
            self.tls_connected(key);
            return;
        }
        let tag = self.dialing.remove(&key).map(|d| d.0);
        self.update_interest(key);
        self.arm(key);
        self.callback(key, None, Call::Open(tag));
    }

    /// The peer shut down its sending side: finish sending what is queued, then close.
    pub(super) fn peer_closed(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if slot.outbound.is_empty() {
            self.close_now(key, CloseReason::PeerClosed);
        } else {
            slot.reading = false;
            slot.closing = Some(Closing::PeerClosed);
            self.update_interest(key);
        }
    }

    /// The handler asked to close: closes now if nothing is left to send, else stops reading
    /// and closes once the outbound backlog drains.
    pub(super) fn begin_close(&mut self, key: usize) {
        let Some(slot) = self.conns.get_mut(key) else {
            return;
        };
        if slot.outbound.is_empty() {
            self.close_now(key, CloseReason::Handler);
            return;
        }
        slot.reading = false;
        slot.closing = Some(Closing::Handler);
        self.update_interest(key);
    }

    /// Closes connection `key` now, after one last attempt to send what is queued (as far as
    /// the socket takes it without waiting: see [`Transport::send_last`]).
    pub(super) fn close_sending_last(&mut self, key: usize, reason: CloseReason) {
        if let Some(slot) = self.conns.get_mut(key)
            && !slot.outbound.is_empty()
        {
            let mut io = LastIo(ConnIo {
                transport: &mut self.transport,
                conn: key,
                stream: &slot.stream,
            });
            let _ = slot.outbound.write_to(&mut self.pool, &mut io);
        }
        self.close_now(key, reason);
    }

    // Mirrored in verify/tests/loom_handle_path.rs and loom_shutdown.rs (the generation is
    // cleared before `on_close`): keep the models in step with changes here.
    pub(super) fn close_now(&mut self, key: usize, reason: CloseReason) {
        let Some(mut slot) = self.conns.try_remove(key) else {
            return;
        };
        self.shared().gens.set(key, 0);
        #[cfg(feature = "tls")]
        self.tls
            .close_notify(&mut self.transport, key, &slot.stream);
        if let Some(t) = slot.timer.take() {
            self.timers.cancel(t);
        }
        self.write_buf.clear();
        let tag = self.dialing.remove(&key).map(|d| d.0);
        let meta = slot.meta(self.id, key);
        let mut conn = Conn::new(
            &[],
            &mut self.write_buf,
            0,
            &mut slot.state,
            (meta, slot.stream.as_fd()),
            Flow::CLOSED,
        )
        .with_tag(tag)
        .with_now(self.now);
        let action =
            guard("on_close", || self.handler.on_close(&mut conn, reason)).unwrap_or(Action::None);
        self.write_buf.clear();
        slot.inbound.release(&mut self.pool);
        slot.outbound.release(&mut self.pool);
        let watched = slot.watching();
        self.transport.close(key, slot.stream, watched);
        self.balancer.on_close(self.id);
        if action == Action::Shutdown {
            self.engine.signal_stop();
        }
    }

    /// Closes every connection (after one last attempt to send what is queued) and every
    /// socket, and refuses further tasks.
    // Mirrored in verify/tests/loom_shutdown.rs (close every connection, then the queue, then
    // `thread_exited`): keep the model in step with changes here.
    pub(super) fn shutdown(&mut self) {
        let keys: Vec<usize> = self.conns.iter().map(|(k, _)| k).collect();
        for &k in &keys {
            self.say_goodbye(k);
        }
        for k in keys {
            self.close_sending_last(k, CloseReason::Shutdown);
        }
        for (i, (l, _)) in std::mem::take(&mut self.listeners).into_iter().enumerate() {
            let _ = self.transport.unlisten(i, &l);
        }
        for (i, u) in std::mem::take(&mut self.udp).into_iter().enumerate() {
            self.transport.unwatch_datagram(i, &u.socket);
        }
        for task in self.shared().queue.close() {
            if let Task::Register(_) = task {
                self.balancer.on_close(self.id);
            }
        }
    }
}

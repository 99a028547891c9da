//! [`Gateway`]: the shared state of the push gateway and its publishing API, callable from
//! any thread.
//!
//! # Two ways to publish
//!
//! - [`Gateway::publish`] (acknowledged): the frame is encoded once, then offered to every
//!   member's [`Mailbox`](super::mailbox::Mailbox) under the room's lock, with one
//!   [`EngineHandle::wake_many`] for the members that had no wake pending (one task per
//!   loop, whatever the room's size); each member's loop moves it
//!   into the session's window as the window and the peer allow. Cost: O(members) on the
//!   publisher, and O(1) per member on its loop. The session sees every message, so it can
//!   keep the window, retransmit, park, and hold messages back from a slow reader.
//! - [`Gateway::publish_unacked`] (fire and forget, id 0): one
//!   [`EngineHandle::broadcast_filtered`] of the same frame, with a snapshot of the members as
//!   the filter. Cost: one task per loop, but the engine runs the filter on *every*
//!   connection of every loop, O(all connections) per publish whatever the room's size, and
//!   the bytes bypass the session (no window, no retransmit, no backpressure beyond the
//!   engine's `max_outbound`). It pays off for rooms holding a large share of the
//!   connections; for a room of 10 among 15 000 connections it does 1 500 times the filter
//!   work the per-member path does. `examples/bench/push.sh` measures both.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};

use loopwire::{Bytes, EngineBuilder, EngineHandle};

use super::config::Config;
use super::frame::{self, ProtocolError};
use super::mailbox::{Message, Offer};
use super::parked::Parked;
use super::registry::Registry;
use super::stats::{Stats, StatsSnapshot};

/// Why a publish did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The gateway's engine has not booted yet (publish after `start`).
    #[error("the gateway is not running")]
    NotRunning,
    /// The room name or message cannot be sent.
    #[error(transparent)]
    Invalid(#[from] ProtocolError),
    /// The engine is stopping.
    #[error("engine: {0}")]
    Engine(#[from] loopwire::Error),
}

/// What a publish did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// The message id (0 for unacknowledged delivery).
    pub id: u64,
    /// Members the message was queued for (or, unacknowledged, the room's members when it
    /// was sent).
    pub members: usize,
    /// Members whose mailbox was full (the message is dropped for them).
    pub dropped: usize,
}

/// The push gateway. Start an engine with an `Arc<Gateway>` as its handler (see
/// [`configure`](Self::configure)), keep a clone to publish and read the counters.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) config: Config,
    pub(crate) codec: loopwire::codec::LengthFieldCodec,
    pub(crate) registry: Registry,
    pub(crate) parked: Parked,
    pub(crate) stats: Stats,
    pub(crate) engine: OnceLock<EngineHandle>,
    next_id: AtomicU64,
}

impl Gateway {
    /// A gateway with these limits.
    ///
    /// # Errors
    /// [`ProtocolError::Codec`] when `config.max_frame` is too small for any frame.
    pub fn new(config: Config) -> Result<Self, ProtocolError> {
        let codec = frame::codec(config.max_frame)?;
        Ok(Self {
            codec,
            registry: Registry::default(),
            parked: Parked::new(config.parked_sessions, config.parked_ttl),
            stats: Stats::default(),
            engine: OnceLock::new(),
            next_id: AtomicU64::new(1),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sets the engine options the gateway relies on: its clock ([`Config::clock`]), the idle
    /// timeout (heartbeats), a write timeout of the same length (a peer that takes none of its
    /// bytes for that long is gone), and buffer caps: one frame unread plus a read's worth,
    /// and 1 MiB unsent (the handler stops writing at the high watermark, 64 KiB, so this is
    /// never reached by a session, only by unacknowledged broadcasts to a peer that does not
    /// read).
    pub fn configure<'b>(&self, builder: &'b mut EngineBuilder) -> &'b mut EngineBuilder {
        builder
            .clock(self.config.clock.clone())
            .idle_timeout(Some(self.config.idle_timeout))
            .write_timeout(Some(self.config.idle_timeout))
            .max_inbound(self.config.max_frame + loopwire::DEFAULT_READ_BUFFER)
            .max_outbound(1 << 20)
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Rooms with at least one member.
    pub fn rooms(&self) -> usize {
        self.registry.rooms()
    }

    fn check_room(&self, room: &[u8]) -> Result<(), ProtocolError> {
        if room.is_empty() || room.len() > self.config.max_name {
            return Err(ProtocolError::BadName {
                what: "room",
                len: room.len(),
                max: self.config.max_name,
            });
        }
        Ok(())
    }

    /// Publishes `payload` to every member of `room`, with acknowledged delivery: each
    /// member gets one PUSH with the returned id, in the order of this room's publishes,
    /// retransmitted until acknowledged (see the [module docs](super)). Usable from any
    /// thread once the engine runs.
    ///
    /// # Errors
    /// [`PublishError::NotRunning`] before the engine booted; [`PublishError::Invalid`] for
    /// a bad room name or a message too large for one frame.
    pub fn publish(&self, room: &[u8], payload: &[u8]) -> Result<Published, PublishError> {
        self.check_room(room)?;
        let engine = self.engine.get().ok_or(PublishError::NotRunning)?;
        let mut frame = frame::encode_push(0, room, payload, self.config.max_frame)?;
        let Some(r) = self.registry.room(room) else {
            let id = self.next_id.fetch_add(1, Relaxed);
            self.stats.published.fetch_add(1, Relaxed);
            return Ok(Published {
                id,
                members: 0,
                dropped: 0,
            });
        };
        let members = r.members();
        // The id is taken under the room's lock, so ids grow in each room's delivery order.
        let id = self.next_id.fetch_add(1, Relaxed);
        frame::set_push_id(&mut frame, id);
        let frame = Bytes::from(frame);
        let mut dropped = 0;
        let mut to_wake = Vec::new();
        for (h, mb) in members.iter() {
            let msg = Message {
                id,
                frame: frame.clone(),
            };
            match mb.offer(msg, self.config.mailbox) {
                Offer::Queued { wake: true } => to_wake.push(*h),
                Offer::Queued { wake: false } => {}
                Offer::Full => dropped += 1,
            }
        }
        let n = members.len();
        drop(members);
        // One wake task per loop, not per member. Handles of members closing meanwhile are
        // skipped (their `on_close` removes them from the room); `Err` only while stopping.
        let _ = engine.wake_many(to_wake);
        self.stats.published.fetch_add(1, Relaxed);
        self.stats.dropped.fetch_add(dropped as u64, Relaxed);
        Ok(Published {
            id,
            members: n,
            dropped,
        })
    }

    /// Publishes `payload` to the members of `room` without acknowledgement (message id 0),
    /// through one engine broadcast: see the [module docs](self) for when that is cheaper.
    ///
    /// # Errors
    /// As [`publish`](Self::publish); [`PublishError::Engine`] when the engine is stopping.
    pub fn publish_unacked(&self, room: &[u8], payload: &[u8]) -> Result<Published, PublishError> {
        self.check_room(room)?;
        let engine = self.engine.get().ok_or(PublishError::NotRunning)?;
        let frame = Bytes::from(frame::encode_push(0, room, payload, self.config.max_frame)?);
        let Some(r) = self.registry.room(room) else {
            return Ok(Published {
                id: 0,
                members: 0,
                dropped: 0,
            });
        };
        let members: std::collections::HashSet<loopwire::ConnHandle> =
            r.members().keys().copied().collect();
        let n = members.len();
        let members = Arc::new(members);
        engine.broadcast_filtered(frame, move |h| members.contains(&h))?;
        Ok(Published {
            id: 0,
            members: n,
            dropped: 0,
        })
    }
}

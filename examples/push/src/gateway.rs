//! [`Gateway`]: the shared state of the push gateway (goim's "comet" and "logic" roles in
//! one process): the verifier, the sessions by user, the rooms, the QoS1 store, the counters.
//! One `Arc<Gateway>` is the engine's [`EventHandler`](loopwire::EventHandler)
//! ([`handler`](super::handler)) and the HTTP API's [`Backend`](super::api::Backend)
//! ([`backend`](super::backend)); pushes are in [`publish`](super::publish).
//!
//! # Time
//!
//! Everything runs on the gateway engine's clock: [`Conn::now`](loopwire::Conn::now) on the
//! loops, [`EngineHandle::now`] on other threads (the API's), so the store's `now_ms` of a
//! put and of a delivery are readings of one clock. Token times are checked at
//! [`Config::unix_epoch_offset_secs`] plus that clock, in seconds.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use loopwire::codec::LengthFieldCodec;
use loopwire::{EngineBuilder, EngineHandle};

use super::admission::Admission;
use super::auth::Verifier;
use super::cluster::Cluster;
use super::config::{Config, ConfigError};
use super::frame;
use super::registry::Registry;
use super::stats::{Stats, StatsSnapshot};
use super::store::{Store, StoreStats};
use super::upstream::Upstream;
use super::users::Users;
use super::ws::{DecoderConfig, HandshakeConfig, OriginPolicy};

/// The push gateway. Start an engine with an `Arc<Gateway>` as its handler (see
/// [`configure`](Self::configure)), keep a clone to push, kick and read the counters.
#[derive(Debug)]
pub struct Gateway {
    pub(crate) config: Config,
    pub(crate) codec: LengthFieldCodec,
    pub(crate) verifier: Verifier,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) registry: Registry,
    pub(crate) users: Users,
    pub(crate) stats: Stats,
    pub(crate) engine: OnceLock<EngineHandle>,
    /// The WebSocket opening handshake's checks (origins, the `loopwire-push.v1`
    /// subprotocol).
    pub(crate) ws_handshake: HandshakeConfig,
    /// The WebSocket decoder's limits: a message is at most one frame.
    pub(crate) ws_decoder: DecoderConfig,
    /// The WebSocket listener's bound address, learnt at boot (`None`: no WebSocket).
    pub(crate) ws_listener: OnceLock<Option<SocketAddr>>,
    /// Network lists and per-IP connection counts.
    pub(crate) admission: Admission,
    /// Where UP frames and presence events go, once a sink is set.
    pub(crate) upstream: OnceLock<Upstream>,
    /// The cluster this gateway is a node of ([`Cluster::start`]); none: one instance.
    pub(crate) cluster: OnceLock<Arc<Cluster>>,
    /// Rooms the backend assigned, by user (one instance; a cluster keeps them in Redis).
    pub(crate) assigned: Mutex<HashMap<String, BTreeSet<Box<[u8]>>>>,
}

impl Gateway {
    /// A gateway with these limits, verifying tokens with `verifier` and keeping QoS1
    /// messages in `store`.
    ///
    /// # Errors
    /// [`ConfigError`] when `config` does not [`validate`](Config::validate) or
    /// `config.max_frame` is too small for any frame.
    pub fn new(
        config: Config,
        verifier: Verifier,
        store: Arc<dyn Store>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let origin = if config.ws_origins.is_empty() {
            OriginPolicy::Any
        } else {
            OriginPolicy::AllowList(config.ws_origins.clone())
        };
        Ok(Self {
            ws_handshake: HandshakeConfig {
                origin,
                ..HandshakeConfig::default()
            },
            ws_decoder: DecoderConfig {
                max_message: u32::try_from(config.max_frame).unwrap_or(u32::MAX),
                max_frames: WS_MAX_FRAGMENTS,
                ..DecoderConfig::default()
            },
            ws_listener: OnceLock::new(),
            upstream: OnceLock::new(),
            cluster: OnceLock::new(),
            assigned: Mutex::default(),
            admission: Admission::new(
                config.allow.clone(),
                config.deny.clone(),
                config.max_conns_per_ip,
            ),
            codec: frame::codec(config.max_frame)?,
            verifier,
            store,
            registry: Registry::default(),
            users: Users::default(),
            stats: Stats::default(),
            engine: OnceLock::new(),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The QoS1 store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Sets the engine options the gateway relies on: its clock ([`Config::clock`]); no
    /// engine-wide idle timeout (each session's read deadline follows its own negotiated
    /// heartbeat, see [`handler`](super::handler)); a write timeout of 1.5 ×
    /// [`Config::max_heartbeat`] (a peer that takes none of its bytes for that long is
    /// gone); the ticker (store purges); buffer caps: one frame unread plus a read's worth,
    /// and 1 MiB unsent (sessions stop writing at the high watermark, 64 KiB, so this is a
    /// backstop); at most 64 drained 4 KiB buffers kept per loop (the engine keeps 1024 by
    /// default: after a connect burst that left many partial frames, 8 MiB for two loops,
    /// ~440 B per session at 19 000; sessions are mostly idle, so a small pool does). With [`Config::ws_addr`] it adds the WebSocket listener as the engine's
    /// last address, so call it after every other `addr` (the gateway recognises the
    /// listener as the last bound address; the engine tags no connection with its listener).
    /// With [`Config::tls`] every listener serves TLS.
    pub fn configure<'b>(&self, builder: &'b mut EngineBuilder) -> &'b mut EngineBuilder {
        let max_idle = self.config.max_heartbeat + self.config.max_heartbeat / 2;
        if let Some(ws) = self.config.ws_addr {
            builder.addr(format!("tcp://{ws}"));
        }
        if let Some(tls) = &self.config.tls {
            builder.tls(Arc::clone(tls));
        }
        builder
            .clock(self.config.clock.clone())
            .idle_timeout(None)
            .write_timeout(Some(max_idle))
            .ticker(true)
            .max_inbound(self.config.max_frame + loopwire::DEFAULT_READ_BUFFER)
            .max_outbound(1 << 20)
            .pooled_buffers(64)
    }

    /// The counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// The store's counters (zeros if it cannot be asked).
    pub fn store_stats(&self) -> StoreStats {
        self.store.stats().unwrap_or_default()
    }

    /// Rooms with at least one member.
    pub fn rooms(&self) -> usize {
        self.registry.rooms()
    }

    /// Open sessions of `user`.
    pub fn online(&self, user: &str) -> usize {
        self.users.count(user)
    }

    /// Open connections counted for peer address `ip` (0 unless
    /// [`Config::max_conns_per_ip`] is set).
    pub fn conns_from(&self, ip: std::net::IpAddr) -> usize {
        self.admission.count(ip)
    }

    /// Members of `room`.
    pub fn room_members(&self, room: &[u8]) -> usize {
        self.registry.room(room).map_or(0, |r| r.members().len())
    }

    /// The cluster, when this gateway is a node of one.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.get()
    }

    /// KICKs this process's sessions of `user` with `code` and `reason`; returns how many.
    pub(crate) fn kick_local(&self, user: &str, code: u16, reason: &str) -> usize {
        let sessions = self.users.take_all(user);
        self.kick_all(&sessions, code, reason);
        sessions.len()
    }

    /// Tells this process's sessions of `user` to join (`join`) or leave `room` (applied
    /// on their loops); returns how many.
    pub(crate) fn assign_local(&self, user: &str, room: &[u8], join: bool) -> usize {
        let (mut n, mut wake) = (0, Vec::new());
        self.users.for_sessions(user, |s| {
            n += 1;
            if s.mailbox.assign(room, join) {
                wake.push(s.handle);
            }
        });
        if let Some(engine) = self.engine() {
            let _ = engine.wake_many(wake);
        }
        n
    }

    /// Records (one instance) that `user` has `room` assigned (`join`) or not.
    pub(crate) fn remember_assignment(&self, user: &str, room: &[u8], join: bool) {
        let mut map = self.assigned.lock().unwrap_or_else(PoisonError::into_inner);
        if join {
            map.entry(user.to_owned()).or_default().insert(room.into());
        } else if let Some(set) = map.get_mut(user) {
            set.remove(room);
            if set.is_empty() {
                map.remove(user);
            }
        }
    }

    /// The rooms assigned to `user` (one instance).
    pub(crate) fn assignments(&self, user: &str) -> Vec<Box<[u8]>> {
        let map = self.assigned.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(user)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The engine, once it booted.
    pub(crate) fn engine(&self) -> Option<&EngineHandle> {
        self.engine.get()
    }

    /// Seconds since the Unix epoch at engine time `now`.
    pub(crate) fn unix_secs(&self, now: Duration) -> u64 {
        self.config
            .unix_epoch_offset_secs
            .saturating_add(now.as_secs())
    }
}

/// Most frames one WebSocket message may span (fragments and control frames between them):
/// bounds what a fragmented message keeps buffered to `max_frame` plus 16 × 139 bytes.
pub const WS_MAX_FRAGMENTS: u16 = 16;

/// `d` in whole milliseconds (the store's time unit), saturating.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

//! Cluster mode: N gateway processes of the same binary (`push --redis redis://.. --node-id
//! ..`) that coordinate only through Redis: a session registry, routing between nodes, the
//! QoS1 store, room assignments and a dispatcher. [`Cluster::start`] attaches it to a
//! [`Gateway`]; the gateway's HTTP API then reaches every user of every node.
//!
//! # Never on an event loop
//!
//! Every Redis command runs on one worker thread (`link`) fed by a bounded queue; the
//! event loops and the API only `try_send` jobs there (a full queue is refused: 503 for an
//! API call, counted for a loop's ACK), and jobs answer through an API
//! [`Reply`](crate::api::Reply) or by leaving work in a session's mailbox and waking its
//! loop. The worker drains what is queued (up to 256 jobs) and sends the commands of the jobs
//! that name theirs up front (ACKs, logouts, `multi` logins, broadcast `PUBLISH`es) as one
//! pipeline, one round trip for a burst; jobs that choose commands from replies (a `single`
//! login, a unicast push or a kick that reads the registry, the refresh) run alone. On its
//! one connection every command of the node reaches Redis in the order it was queued. A
//! second thread holds the pub/sub subscription (`bus`), a third ticks the registry refresh
//! (`refresh`). The loops keep their synchronous [`Store`](crate::store::Store)
//! calls: the gateway's store in cluster mode is a [`MemoryStore`] *mirror* of the queues of
//! the users online on this node, filled from Redis (at login, and by the note the API's
//! node publishes after storing), while Redis holds the truth: stored before the API
//! answers, deleted on ACK, read again at every login on any node.
//!
//! ## The worker against a RESP client in the loops: measured
//!
//! The alternative, loopwire's own dial with a RESP codec inside the loops, saves the thread
//! hop (two queue operations and two wakes per call) and pipelines by itself. [`probe`]
//! measures it against the worker, before pipelining (one job per round trip) and now, and
//! against a thread calling Redis directly: one local `redis-server`, the gateway's commands
//! in turn (the QoS1 put script, `PUBLISH`, a registry `HSET`), 1, 16 and 64 calls in flight,
//! rounds interleaved, CPU time per call of the calling process (every thread) and of Redis.
//! On the shared 2-core development box, other jobs running (medians of 7 rounds of 30 000
//! calls; the range is calls/s of the slowest and the quickest round):
//!
//! ```sh
//! cargo run --release -p loopwire-push --example cluster_redis_path -- --calls 30000 --rounds 7
//! ```
//!
//! | path | in flight | calls/s | (rounds) | p50 µs | p99 µs | CPU µs/call (client) | CPU µs/call (redis) |
//! |---|---:|---:|---:|---:|---:|---:|---:|
//! | direct (caller's thread) | 1 | 16567 | 8791–30709 | 24 | 292 | 12.25 | 18.48 |
//! | direct (caller's thread) | 16 | 84259 | 35468–126474 | 95 | 2868 | 1.30 | 5.01 |
//! | direct (caller's thread) | 64 | 77243 | 55541–159496 | 382 | 5897 | 1.05 | 4.70 |
//! | worker, one job per round trip (before) | 1 | 7614 | 5550–11632 | 55 | 2557 | 41.91 | 28.95 |
//! | worker, one job per round trip (before) | 16 | 14989 | 5932–18558 | 577 | 6933 | 31.57 | 18.84 |
//! | worker, one job per round trip (before) | 64 | 16938 | 9420–20216 | 2495 | 15617 | 26.75 | 17.36 |
//! | worker, queue drained into a pipeline (now) | 1 | 9523 | 5909–11971 | 59 | 1822 | 53.68 | 22.82 |
//! | worker, queue drained into a pipeline (now) | 16 | 41537 | 40390–58941 | 169 | 3985 | 5.98 | 7.12 |
//! | worker, queue drained into a pipeline (now) | 64 | 82796 | 57926–91129 | 569 | 5963 | 3.06 | 6.44 |
//! | in-loop RESP client (loopwire dial) | 1 | 19015 | 13318–29168 | 25 | 144 | 13.56 | 17.99 |
//! | in-loop RESP client (loopwire dial) | 16 | 107682 | 55392–169277 | 107 | 341 | 2.02 | 6.21 |
//! | in-loop RESP client (loopwire dial) | 64 | 94308 | 61849–132611 | 423 | 5360 | 1.22 | 5.55 |
//!
//! Three more runs in the same hour (3, 5 and 5 rounds) moved every absolute figure by up to
//! 2× with the box's load, and agreed on what follows (ranges below are over the four runs).
//!
//! - **Pipelining the worker** is what this change buys: with 64 calls in flight 4.9× the
//!   calls per second of the worker before (82 800 against 16 900), a ninth of the CPU per
//!   call (3.1 µs against 26.8) and a quarter of the p50 (569 µs against 2.5 ms); 4.3 to 7.7×
//!   the calls per second across runs; with 16 in flight, 2.8×. With one call in flight
//!   there is nothing to share: the same within the noise.
//! - **The in-loop client measures better, by a lot per call**: 1.5 to 4× less client CPU
//!   per call at every level in every run (1.2 µs against 3.1 at 64 in flight, 2.0 against
//!   6.0 at 16, 13.6 against 53.7 at 1 in the table), 1.4 to 2.6× the calls per second at 16
//!   in flight, 1.0 to 2.6× at 1 with p50 25 µs against 59 (as quick as a thread calling
//!   Redis itself), and about the same at 64 (0.8 to 1.3×), where Redis is the limit: its
//!   own CPU per call there, 4 to 7 µs, is above either client's.
//! - **So the in-loop client is the better path, and the gateway stays on the pipelined
//!   worker for now.** In absolute terms the gap at load is 1 to 2.4 µs of gateway CPU per
//!   call (0.1 to 0.24 of a core at 100 000 Redis calls per second) and tens of µs of latency
//!   against the 0.5 to 1 ms of a push across nodes, while the Redis a node talks to is the
//!   same ceiling for both. Switching would cost: every Redis step of a login, an ACK and an
//!   API call turned into an asynchronous state on the loop (sessions waiting for their
//!   registration, replies matched to their sessions and API requests, timeouts), a
//!   connection per loop with its own reconnect, backoff and 503s, the refresh's pipelines
//!   of 1 000 users parsed on a loop between heartbeats (or left on a thread), and the
//!   order: one connection now orders every command of the node (a login before its
//!   logout, the refresh's `HSET` of a user and that user's logout `HDEL` as they were
//!   queued); with a connection per loop, the refresh's, the API's and each loop's commands
//!   travel apart and the code must order them itself.
//!   The probe's in-loop client has none of that around it, so its figures are the best
//!   case. Worth doing when a node's gateway CPU per Redis call matters (10^5 calls per
//!   second and more per node) or Redis stops being the ceiling (sharded).
//!
//! # Redis key layout
//!
//! | key | type | holds | TTL |
//! |---|---|---|---|
//! | `lw:nodes` | set | node ids that announced themselves | none (dead ids removed when seen) |
//! | `lw:node:{node}` | string | `"{gateway addr} {sessions}"`: the node is alive | 3 × refresh |
//! | `lw:u:{user}` | hash | node → `"{sessions} {expires_unix_ms}"`: where the user is | 3 × refresh |
//! | `lw:seq` | string | the message id counter (INCR) | none |
//! | `lw:q:{user}` | sorted set | QoS1 messages, score = id, member = `"{id}:{expires_unix_ms}:" + envelope` | the longest TTL put |
//! | `lw:ur:{user}` | set | rooms the backend assigned | none (until withdrawn) |
//! | `lw:n:{node}` | channel | unicast pushes and kicks for that node's users | |
//! | `lw:all` | channel | room and everyone broadcasts, room assignments | |
//!
//! Why a sorted set per user for QoS1: delivery reads a user's messages in id order after a
//! cursor (`ZRANGE`), an ACK deletes one id wherever it is (`ZREMRANGEBYSCORE id id`,
//! O(log n)), and the per-user cap trims the oldest by rank, all on one key per user. A
//! stream would give the order too, but its ids are Redis's (time-based), deleting one
//! entry leaves a tombstone, and trimming by count plus deleting by id is two mechanisms.
//! A list cannot delete by id cheaply. Ids come from one global `INCR` (strictly
//! increasing per user and overall, no counter key per user to keep forever); the put is
//! one Lua script (id, add, trim, extend the TTL: atomic, one round trip). Message expiry
//! is in the member (Unix ms on the gateways' clocks): expired members are skipped when read
//! and the key expires with its longest-lived message.
//!
//! Registry entries carry their own expiry in the hash value because a hash's fields cannot
//! have TTLs in Redis 7: a node that dies leaves a field that readers ignore once expired,
//! and the key as a whole expires when no node refreshes it. The refresh is one batch per
//! interval for all local users (`refresh`), not a call per heartbeat.
//!
//! # Semantics beyond one node
//!
//! - **Unicast** (`/v1/push/user(s)`, `/v1/kick`): delivered to the local sessions, and
//!   published to the channel of every other node the registry lists for the user. QoS1 is
//!   stored in Redis first; the answer's `sessions` counts local sessions and the sessions
//!   the registry lists elsewhere.
//! - **Rooms and everyone**: delivered locally and published on `lw:all`; each node delivers
//!   to its own members (QoS0) or stores for its own users (QoS1: each node stores for the
//!   users it holds, so the API answers once this node's share is stored and the broadcast
//!   is published, not after every node stored its share). `sessions` counts this node's.
//!   A node delivers a broadcast to everyone shard by shard of its user table (64 shards),
//!   waking each loop once per push, on the subscriber thread: no loop stalls.
//! - **Policy**: `single` holds across nodes (a login publishes a KICK to the other nodes
//!   the user is on); `multi`'s maximum is enforced per node.
//! - **Attempts** (`max_attempts`) are counted by the node that sends; a message is kept in
//!   Redis until ACKed or expired, so a user who moves to another node gets it again.
//! - **Redis down**: sessions stay up, QoS0 pushes reach the sessions of the node whose API
//!   got them (answered with that count); everything that needs Redis (QoS1, other nodes,
//!   presence, assignments) answers 503. The worker reconnects with backoff; on reconnect
//!   the refresh re-registers every local user, and on resubscription every node reloads
//!   its users' queues from Redis (a missed note costs nothing).

mod bus;
pub mod dispatch;
mod keys;
mod link;
#[doc(hidden)]
pub mod probe;
mod refresh;
mod routing;

/// The cluster tests' Redis (a `redis-server` on a free port), for the unit tests that need one.
#[cfg(test)]
#[path = "../../tests/cluster_util/mod.rs"]
mod test_redis;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use loopwire::Bytes;

use self::dispatch::Dispatcher;
use self::link::Link;
use super::gateway::{Gateway, millis};
use super::mailbox::UserName;
use super::store::{MemoryStore, MessageId};

pub use self::dispatch::NodeInfo;

/// How a node joins the cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://host:port[/db]`.
    pub redis_url: String,
    /// This node's id (unique in the cluster).
    pub node: String,
    /// The gateway address the dispatcher gives clients for this node (`host:port`).
    pub advertise: String,
    /// How often the node refreshes its heartbeat and its users' registry entries, in one
    /// batch. Default 5 s.
    pub refresh: Duration,
    /// Jobs waiting for the Redis worker at most. Default 65 536.
    pub queue: usize,
}

impl ClusterConfig {
    /// A configuration with the defaults.
    pub fn new(
        redis_url: impl Into<String>,
        node: impl Into<String>,
        advertise: impl Into<String>,
    ) -> Self {
        Self {
            redis_url: redis_url.into(),
            node: node.into(),
            advertise: advertise.into(),
            refresh: Duration::from_secs(5),
            queue: 65_536,
        }
    }

    /// How long a heartbeat or registry entry lives without a refresh: 3 intervals.
    pub fn ttl(&self) -> Duration {
        self.refresh * 3
    }
}

/// Why a cluster could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The Redis URL is not one.
    #[error("bad Redis URL {url:?}: {source}")]
    Url {
        /// The URL given.
        url: String,
        /// The client's complaint.
        #[source]
        source: redis::RedisError,
    },
    /// The node id is empty, too long (over 64 bytes) or has a space or colon.
    #[error("bad node id {0:?}: 1 to 64 bytes, no spaces or colons")]
    NodeId(String),
    /// A thread could not be started.
    #[error("cannot start a cluster thread: {0}")]
    Thread(#[from] std::io::Error),
    /// The gateway already has a cluster.
    #[error("the gateway is already in a cluster")]
    AlreadyAttached,
}

/// Counters of the cluster side.
#[derive(Debug, Default)]
pub(crate) struct ClusterStats {
    pub(crate) bus_in: AtomicU64,
    pub(crate) bus_bad: AtomicU64,
    pub(crate) redis_errors: AtomicU64,
    pub(crate) acks_lost: AtomicU64,
    pub(crate) broadcasts_unpublished: AtomicU64,
    pub(crate) mirrored: AtomicU64,
    pub(crate) stale_kicks: AtomicU64,
}

/// A node's membership in the cluster; see the [module docs](self).
#[derive(Debug)]
pub struct Cluster {
    pub(crate) config: ClusterConfig,
    link: Link,
    gateway: Weak<Gateway>,
    mirror: Arc<MemoryStore>,
    dispatcher: RwLock<Dispatcher>,
    stop: Arc<AtomicBool>,
    subscribed: Arc<AtomicU64>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Users with a login on this node whose registration has not succeeded yet (the login
    /// job is queued, failed, or Redis was down): the refresh does not take a missing entry
    /// of theirs for a lost one (see `refresh`).
    registering: Mutex<HashMap<UserName, u32>>,
    pub(crate) stats: ClusterStats,
}

impl Cluster {
    /// Joins `gateway` to the cluster: starts the Redis worker, the subscriber and the
    /// refresher, and makes the gateway route through the cluster. `mirror` must be the
    /// store the gateway was built with (its sessions pull from it).
    ///
    /// # Errors
    /// [`ClusterError`]. An unreachable Redis is not one: the node starts and retries.
    pub fn start(
        config: ClusterConfig,
        gateway: &Arc<Gateway>,
        mirror: Arc<MemoryStore>,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let id = &config.node;
        if id.is_empty() || id.len() > 64 || id.contains([' ', ':']) {
            return Err(ClusterError::NodeId(id.clone()));
        }
        let client =
            redis::Client::open(config.redis_url.as_str()).map_err(|source| ClusterError::Url {
                url: config.redis_url.clone(),
                source,
            })?;
        let stop = Arc::new(AtomicBool::new(false));
        let (link, worker) = Link::start(
            client.clone(),
            config.queue.max(1),
            link::MAX_BATCH,
            Arc::clone(&stop),
        )?;
        let cluster = Arc::new(Cluster {
            config,
            link,
            gateway: Arc::downgrade(gateway),
            mirror,
            dispatcher: RwLock::default(),
            stop: Arc::clone(&stop),
            subscribed: Arc::new(AtomicU64::new(0)),
            threads: Mutex::new(vec![worker]),
            registering: Mutex::default(),
            stats: ClusterStats::default(),
        });
        if gateway.cluster.set(Arc::clone(&cluster)).is_err() {
            cluster.stop();
            return Err(ClusterError::AlreadyAttached);
        }
        let sub = bus::start(
            &cluster,
            client,
            Arc::clone(&stop),
            Arc::clone(&cluster.subscribed),
        )?;
        let tick = refresh::start(&cluster, Arc::clone(&stop))?;
        cluster.threads().extend([sub, tick]);
        Ok(cluster)
    }

    fn threads(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stops the cluster's threads and waits for them (jobs still queued are dropped: their
    /// API replies answer 500). The gateway keeps serving its local sessions.
    pub fn stop(&self) {
        self.stop.store(true, Relaxed);
        let handles: Vec<_> = self.threads().drain(..).collect();
        let me = std::thread::current().id();
        for h in handles {
            if h.thread().id() != me {
                let _ = h.join();
            }
        }
    }

    /// Whether the Redis worker is connected now.
    pub fn is_up(&self) -> bool {
        self.link.is_up()
    }

    /// How many times the subscriber (re)subscribed.
    pub fn subscriptions(&self) -> u64 {
        self.subscribed.load(Relaxed)
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.config.node
    }

    /// The live nodes as of the last refresh.
    pub fn nodes(&self) -> Vec<NodeInfo> {
        self.dispatcher().nodes().to_vec()
    }

    /// The gateway addresses for `user`, best first (see [`dispatch`]).
    pub fn dispatch(&self, user: &str) -> Vec<String> {
        self.dispatcher().order(user)
    }

    fn dispatcher(&self) -> std::sync::RwLockReadGuard<'_, Dispatcher> {
        self.dispatcher
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn gateway(&self) -> Option<Arc<Gateway>> {
        self.gateway.upgrade()
    }

    /// Gauges and counters for `/metrics`.
    pub(crate) fn metrics(&self) -> Vec<(&'static str, &'static str, u64, bool)> {
        let s = &self.stats;
        vec![
            (
                "cluster_redis_up",
                "1 while the Redis worker is connected.",
                u64::from(self.is_up()),
                true,
            ),
            (
                "cluster_nodes",
                "Live nodes as of the last refresh.",
                self.dispatcher().nodes().len() as u64,
                true,
            ),
            (
                "cluster_bus_in",
                "Messages received from other nodes.",
                s.bus_in.load(Relaxed),
                false,
            ),
            (
                "cluster_bus_bad",
                "Undecodable messages received.",
                s.bus_bad.load(Relaxed),
                false,
            ),
            (
                "cluster_redis_errors",
                "Redis commands that failed.",
                s.redis_errors.load(Relaxed),
                false,
            ),
            (
                "cluster_jobs_refused",
                "Jobs refused by a full Redis queue.",
                self.link.refused(),
                false,
            ),
            (
                "cluster_acks_lost",
                "ACKs not passed to Redis (down or queue full): redelivered later.",
                s.acks_lost.load(Relaxed),
                false,
            ),
            (
                "cluster_broadcasts_unpublished",
                "QoS0 room or everyone pushes this node's sessions got but the other nodes \
                 did not: Redis was down or the PUBLISH failed.",
                s.broadcasts_unpublished.load(Relaxed),
                false,
            ),
            (
                "cluster_mirrored",
                "QoS1 messages copied from Redis into this node's mirror.",
                s.mirrored.load(Relaxed),
                false,
            ),
            (
                "cluster_stale_kicks",
                "Sessions kicked by the refresh: their registry entry was lost (a stalled \
                 node) and another node holds a newer login of the user (policy single).",
                s.stale_kicks.load(Relaxed),
                false,
            ),
        ]
    }

    /// Unix milliseconds on the gateway's engine clock now (the time of message expiry).
    fn engine_unix_ms(gw: &Gateway) -> (u64, u64) {
        let now = gw.engine().map_or(0, |e| millis(e.now()));
        let offset = gw.config.unix_epoch_offset_secs.saturating_mul(1000);
        (now, offset.saturating_add(now))
    }

    /// Copies message `id` of `user` into the mirror and wakes the user's sessions here.
    fn mirror_and_wake(
        &self,
        gw: &Gateway,
        user: &[u8],
        id: u64,
        expires_unix_ms: u64,
        envelope: Bytes,
    ) {
        // Only users with sessions here are mirrored (a login loads the rest from Redis; the
        // login's job runs after this one if the session is newer).
        let Ok(name) = std::str::from_utf8(user) else {
            return;
        };
        if gw.online(name) == 0 {
            return;
        }
        let (now, unix) = Self::engine_unix_ms(gw);
        let expires_at = now.saturating_add(expires_unix_ms.saturating_sub(unix));
        if expires_unix_ms <= unix {
            return;
        }
        match self
            .mirror
            .insert(user, MessageId(id), envelope, expires_at, now)
        {
            Ok(true) => {
                self.stats.mirrored.fetch_add(1, Relaxed);
                gw.wake_user(name);
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "mirror refused a stored message"),
        }
    }

    fn failed(&self, what: &str, e: &redis::RedisError) {
        tracing::warn!(call = what, error = %e, "redis call failed");
        self.stats.redis_errors.fetch_add(1, Relaxed);
    }
}

/// Unix milliseconds on the wall clock (registry expiry: Redis's TTLs are wall time).
fn wall_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

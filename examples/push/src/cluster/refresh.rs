//! The session registry: a login registers the user on this node (and, under the `single`
//! policy, KICKs the user's sessions on other nodes), loads the user's QoS1 queue and
//! assigned rooms from Redis; a last logout removes the entry; an ACK deletes the message.
//! And the refresher: every [`ClusterConfig::refresh`](super::ClusterConfig::refresh), one
//! batch (pipelines of [`CHUNK`] users) renews this node's heartbeat and every local
//! user's entry, and reads the live nodes for the dispatcher. After Redis returns (the
//! worker reconnected) or the subscriber resubscribed, the refresh runs at once and also
//! reloads every local user's queue: the registry is rebuilt and missed notes are made up.
//! Under the `single` policy the refresh also reads each entry before renewing it: a local
//! user whose entry was lost (expired while this node stalled) and is now held by another
//! node logged in there later, so its sessions here are KICKed (unless their own login is
//! still being registered).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use loopwire::Bytes;
use redis::ConnectionLike;

use super::bus::Bus;
use super::keys;
use super::link;
use super::{Cluster, NodeInfo, wall_ms};
use crate::Policy;
use crate::frame::kick;
use crate::gateway::{Gateway, millis};
use crate::login::REPLACED_REASON;
use crate::mailbox::UserName;

/// Users per pipeline of a refresh.
pub(crate) const CHUNK: usize = 1000;

/// Starts the refresher thread.
pub(crate) fn start(
    cluster: &Arc<Cluster>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    let weak = Arc::downgrade(cluster);
    let every = cluster.config.refresh;
    thread::Builder::new()
        .name("push-redis-refresh".into())
        .spawn(move || {
            let (mut seen_link, mut seen_sub) = (0, 0);
            let mut last = Instant::now() - every;
            while !stop.load(Relaxed) {
                let Some(c) = weak.upgrade() else { return };
                let (link, sub) = (c.link.generation(), c.subscriptions());
                let changed = link != seen_link || sub != seen_sub;
                if (changed && c.link.is_up()) || last.elapsed() >= every {
                    let reload = changed;
                    let c2 = Arc::clone(&c);
                    if c.link.submit(Box::new(move |conn| match conn {
                        Some(conn) => c2.refresh(conn, reload),
                        None => Ok(()),
                    })) {
                        (seen_link, seen_sub) = (link, sub);
                        last = Instant::now();
                    }
                }
                drop(c);
                thread::sleep(Duration::from_millis(20));
            }
        })
}

impl Cluster {
    /// One refresh (see the module docs); `reload`: also reload every local user's queue.
    fn refresh(&self, conn: &mut redis::Connection, reload: bool) -> redis::RedisResult<()> {
        let Some(gw) = self.gateway() else {
            return Ok(());
        };
        let ttl = millis(self.config.ttl());
        let exp = wall_ms() + ttl;
        let mut users: Vec<(UserName, usize)> = Vec::new();
        gw.users
            .for_each(|u, s| users.push((Arc::clone(u), s.len())));
        let sessions: usize = users.iter().map(|(_, n)| n).sum();
        let me = &self.config.node;
        let single = gw.config().policy == Policy::Single;
        redis::pipe()
            .cmd("SET")
            .arg(keys::node(me))
            .arg(format!("{} {sessions}", self.config.advertise))
            .arg("PX")
            .arg(ttl)
            .ignore()
            .cmd("SADD")
            .arg(keys::NODES)
            .arg(me)
            .ignore()
            .query::<()>(conn)?;
        let mut lost = Vec::new();
        for chunk in users.chunks(CHUNK) {
            let mut p = redis::pipe();
            for (u, n) in chunk {
                let key = keys::user(u.as_bytes());
                if single {
                    p.cmd("HGETALL").arg(&key);
                }
                p.cmd("HSET")
                    .arg(&key)
                    .arg(me)
                    .arg(format!("{n} {exp}"))
                    .ignore();
                p.cmd("PEXPIRE").arg(&key).arg(ttl).ignore();
            }
            if !single {
                p.query::<()>(conn)?;
                continue;
            }
            let entries: Vec<HashMap<String, Vec<u8>>> = p.query(conn)?;
            let now = wall_ms();
            for ((u, _), entry) in chunk.iter().zip(entries) {
                if !entry.contains_key(me.as_str())
                    && entry
                        .iter()
                        .any(|(node, v)| keys::live_sessions(v, now).is_some() && node != me)
                    && !self.is_registering(u)
                {
                    lost.push(Arc::clone(u));
                }
            }
        }
        for u in lost {
            // This node's entry was lost (it expired while the node stalled, or another
            // node's login removed it) and another node holds a newer login of the user:
            // under `single` that one wins. Their logout removes the entry written above.
            let n = gw.kick_local(&u, kick::REPLACED, REPLACED_REASON);
            self.stats.stale_kicks.fetch_add(n as u64, Relaxed);
        }
        self.read_nodes(conn)?;
        if reload {
            for chunk in users.chunks(CHUNK) {
                let mut p = redis::pipe();
                for (u, _) in chunk {
                    p.cmd("ZRANGE")
                        .arg(keys::queue(u.as_bytes()))
                        .arg(0)
                        .arg(-1);
                }
                let queues: Vec<Vec<Vec<u8>>> = p.query(conn)?;
                for ((u, _), q) in chunk.iter().zip(queues) {
                    self.mirror_members(&gw, u.as_bytes(), &q);
                }
            }
        }
        Ok(())
    }

    /// Reads the live nodes into the dispatcher, forgetting dead ones.
    fn read_nodes(&self, conn: &mut redis::Connection) -> redis::RedisResult<()> {
        let ids: Vec<String> = redis::cmd("SMEMBERS").arg(keys::NODES).query(conn)?;
        if ids.is_empty() {
            self.dispatcher
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .update(Vec::new());
            return Ok(());
        }
        let names: Vec<String> = ids.iter().map(|id| keys::node(id)).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(&names).query(conn)?;
        let mut live = Vec::new();
        for (id, v) in ids.into_iter().zip(values) {
            match v.as_deref().and_then(|v| v.rsplit_once(' ')) {
                Some((addr, n)) => live.push(NodeInfo {
                    id,
                    addr: addr.to_owned(),
                    sessions: n.parse().unwrap_or(0),
                }),
                None => {
                    redis::cmd("SREM")
                        .arg(keys::NODES)
                        .arg(&id)
                        .query::<()>(conn)?;
                }
            }
        }
        self.dispatcher
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .update(live);
        Ok(())
    }

    /// Mirrors a user's queue members read from Redis (skipping expired and foreign ones).
    fn mirror_members(&self, gw: &Gateway, user: &[u8], members: &[Vec<u8>]) {
        for m in members {
            match keys::parse_member(m) {
                Some(m) => self.mirror_and_wake(gw, user, m.id, m.expires_unix_ms, m.envelope),
                None => {
                    self.stats.bus_bad.fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// A session of `user` logged in on this node (called on its loop; queues a job: one that
    /// shares a pipeline with other jobs, except under `single`, whose KICKs depend on what
    /// the registry holds).
    pub(crate) fn login(self: &Arc<Self>, user: &UserName, single: bool) {
        let (c, u) = (Arc::clone(self), Arc::clone(user));
        *self.registering().entry(Arc::clone(user)).or_insert(0) += 1;
        if single {
            self.link.submit(Box::new(move |conn| {
                let (Some(conn), Some(gw)) = (conn, c.gateway()) else {
                    return Ok(()); // the reconnect's refresh registers and reloads
                };
                let r = c.login_job(&gw, conn, &u);
                match &r {
                    Ok(()) => c.registered(&u),
                    Err(e) => c.failed("login", e),
                }
                r
            }));
            return;
        }
        self.link.submit_batch(Box::new(move |p| {
            // Down: the reconnect's refresh registers and reloads.
            let (Some(p), Some(gw)) = (p, c.gateway()) else {
                return None;
            };
            c.register(&gw, p, &u);
            Some(Box::new(move |r| {
                let r = link::all_ok(r).and_then(|v| c.registered_replies(&gw, &u, v));
                match &r {
                    Ok(()) => c.registered(&u),
                    Err(e) => c.failed("login", e),
                }
            }))
        }));
    }

    fn registering(&self) -> std::sync::MutexGuard<'_, HashMap<UserName, u32>> {
        self.registering
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a login of `user` on this node has not been registered in Redis yet.
    fn is_registering(&self, user: &UserName) -> bool {
        self.registering().contains_key(user)
    }

    /// A login job of `user` registered it.
    fn registered(&self, user: &UserName) {
        let mut r = self.registering();
        if let Some(n) = r.get_mut(user) {
            *n -= 1;
            if *n == 0 {
                r.remove(user);
            }
        }
    }

    /// A login under `single`: KICKs the user's sessions on the other nodes the registry
    /// lists, then registers.
    fn login_job(
        &self,
        gw: &Gateway,
        conn: &mut redis::Connection,
        user: &str,
    ) -> redis::RedisResult<()> {
        let me = &self.config.node;
        let key = keys::user(user.as_bytes());
        let others: HashMap<String, Vec<u8>> = redis::cmd("HGETALL").arg(&key).query(conn)?;
        let now = wall_ms();
        let msg = Bus::Kick {
            user: Bytes::copy_from_slice(user.as_bytes()),
            code: kick::REPLACED,
            reason: Bytes::from_static(REPLACED_REASON.as_bytes()),
        }
        .encode(me);
        for (node, v) in &others {
            if node != me && keys::live_sessions(v, now).is_some() {
                redis::cmd("PUBLISH")
                    .arg(keys::channel(node))
                    .arg(&msg)
                    .query::<()>(conn)?;
                redis::cmd("HDEL").arg(&key).arg(node).query::<()>(conn)?;
            }
        }
        let mut p = redis::pipe();
        self.register(gw, &mut p, user);
        let values = conn.req_packed_commands(&p.get_packed_pipeline(), 0, p.len())?;
        self.registered_replies(gw, user, link::all_ok(Ok(values))?)
    }

    /// A login's registration: the entry, its TTL, and reads of the user's queue and rooms
    /// (four commands; their replies go to [`registered_replies`](Self::registered_replies)).
    fn register(&self, gw: &Gateway, p: &mut redis::Pipeline, user: &str) {
        let key = keys::user(user.as_bytes());
        let n = gw.users.count(user);
        let ttl = millis(self.config.ttl());
        p.cmd("HSET")
            .arg(&key)
            .arg(&self.config.node)
            .arg(format!("{n} {}", wall_ms() + ttl))
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ttl)
            .cmd("ZRANGE")
            .arg(keys::queue(user.as_bytes()))
            .arg(0)
            .arg(-1)
            .cmd("SMEMBERS")
            .arg(keys::rooms(user.as_bytes()));
    }

    /// Mirrors the queue and joins the rooms a registration read.
    fn registered_replies(
        &self,
        gw: &Gateway,
        user: &str,
        values: Vec<redis::Value>,
    ) -> redis::RedisResult<()> {
        let mut values = values.into_iter().skip(2);
        let (Some(queue), Some(rooms)) = (values.next(), values.next()) else {
            return Err(redis::RedisError::from(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a registration without its replies",
            )));
        };
        let queue: Vec<Vec<u8>> = link::reply(queue)?;
        let rooms: Vec<Vec<u8>> = link::reply(rooms)?;
        self.mirror_members(gw, user.as_bytes(), &queue);
        for room in rooms {
            gw.assign_local(user, &room, true);
        }
        Ok(())
    }

    /// A session of `user` closed on this node: when it was the user's last one here, the
    /// registry entry and the mirrored queue go (a job, in order after the login's).
    pub(crate) fn logout(self: &Arc<Self>, user: &UserName) {
        let (c, u) = (Arc::clone(self), Arc::clone(user));
        self.link.submit_batch(Box::new(move |p| {
            let gw = c.gateway()?;
            let n = gw.users.count(&u);
            if n == 0 {
                c.registering().remove(&u);
                let (now, _) = Cluster::engine_unix_ms(&gw);
                let _ = crate::store::Store::remove_user(&*c.mirror, u.as_bytes(), now);
            }
            let p = p?;
            let key = keys::user(u.as_bytes());
            let me = &c.config.node;
            if n == 0 {
                p.cmd("HDEL").arg(&key).arg(me);
            } else {
                let exp = wall_ms() + millis(c.config.ttl());
                p.cmd("HSET").arg(&key).arg(me).arg(format!("{n} {exp}"));
            }
            Some(Box::new(move |r| {
                if let Err(e) = link::all_ok(r) {
                    c.failed("logout", &e);
                }
            }))
        }));
    }

    /// `user` acknowledged `id` on this node: delete it in Redis (a job sharing a pipeline).
    /// If Redis is down or the queue full the ACK is lost and counted: the message comes
    /// again at the next login (at least once).
    pub(crate) fn ack(self: &Arc<Self>, user: &str, id: u64) {
        let c = Arc::clone(self);
        let key = keys::queue(user.as_bytes());
        self.link.submit_batch(Box::new(move |p| {
            let Some(p) = p else {
                c.stats.acks_lost.fetch_add(1, Relaxed);
                return None;
            };
            p.cmd("ZREMRANGEBYSCORE").arg(&key).arg(id).arg(id);
            Some(Box::new(move |r| {
                if let Err(e) = link::all_ok(r) {
                    c.stats.acks_lost.fetch_add(1, Relaxed);
                    c.failed("ack", &e);
                }
            }))
        }));
    }
}

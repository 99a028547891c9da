//! Routing: what this node does with a message from another node ([`Cluster::received`]),
//! and the HTTP API's calls in cluster mode (each one job for the Redis worker; see the
//! [module docs](super) for the semantics).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use loopwire::Bytes;

use super::bus::Bus;
use super::keys;
use super::link;
use super::{Cluster, wall_ms};
use crate::api::{
    AssignRoom, Assigned, BackendError, Kicked, Name, Pushed, Qos, Reply, UserOnline,
};
use crate::frame::{PushKind, kick};
use crate::gateway::{Gateway, millis};
use crate::publish::{Outgoing, PushError, Target};

fn down() -> BackendError {
    BackendError::Unavailable("redis is unavailable".into())
}

fn redis_err(e: &redis::RedisError) -> BackendError {
    BackendError::Unavailable(format!("redis: {e}"))
}

type Registry = HashMap<String, Vec<u8>>;

impl Cluster {
    /// Handles a message from the bus.
    pub(crate) fn received(self: &Arc<Self>, bytes: &[u8]) {
        let Some((origin, msg)) = Bus::decode(bytes) else {
            self.stats.bus_bad.fetch_add(1, Relaxed);
            return;
        };
        if &origin[..] == self.config.node.as_bytes() {
            return; // ours, on the shared channel: delivered locally already
        }
        self.stats.bus_in.fetch_add(1, Relaxed);
        let Some(gw) = self.gateway() else { return };
        let text = |b: &Bytes| std::str::from_utf8(b).map(str::to_owned).ok();
        match msg {
            Bus::UserFrame { user, frame } => {
                if let Some(u) = text(&user) {
                    gw.local_frame(&Target::Users(&[&u]), frame);
                }
            }
            Bus::UserStored {
                user,
                id,
                expires_unix_ms,
                envelope,
            } => self.mirror_and_wake(&gw, &user, id, expires_unix_ms, envelope),
            Bus::Kick { user, code, reason } => {
                if let Some(u) = text(&user) {
                    gw.kick_local(&u, code, &String::from_utf8_lossy(&reason));
                }
            }
            Bus::RoomFrame { room, frame } => {
                gw.local_frame(&Target::Room(&room), frame);
            }
            Bus::AllFrame { frame } => {
                gw.local_frame(&Target::All, frame);
            }
            Bus::RoomStored {
                room,
                envelope,
                ttl_ms,
            } => self.store_local(&gw, &Target::Room(&room), envelope, ttl_ms, None, None),
            Bus::AllStored { envelope, ttl_ms } => {
                self.store_local(&gw, &Target::All, envelope, ttl_ms, None, None)
            }
            Bus::Assign { user, room, join } => {
                if let Some(u) = text(&user) {
                    gw.assign_local(&u, &room, join);
                }
            }
        }
    }

    /// Stores `envelope` in Redis for this node's users of `target` and wakes them (a job);
    /// replies with the sessions woken when `reply` is given.
    fn store_local(
        self: &Arc<Self>,
        gw: &Gateway,
        target: &Target<'_>,
        envelope: Bytes,
        ttl_ms: u64,
        reply: Option<Reply<Pushed>>,
        publish: Option<Vec<u8>>,
    ) {
        let users = match gw.local_users(target) {
            Ok(u) => u,
            Err(e) => {
                if let Some(r) = reply {
                    r.err(e.into());
                }
                return;
            }
        };
        let c = Arc::clone(self);
        let job = move |conn: Option<&mut redis::Connection>| {
            let (Some(conn), Some(gw)) = (conn, c.gateway()) else {
                if let Some(r) = reply {
                    r.err(down());
                }
                return Ok(());
            };
            // The other nodes' note first, in the same job: the API answers 200 only when
            // every node was told (a PUBLISH in a job of its own could fail while this one,
            // after a reconnect, succeeds: stored here, never on the others).
            if let Some(bus) = &publish
                && let Err(e) = redis::cmd("PUBLISH")
                    .arg(keys::ALL)
                    .arg(bus)
                    .query::<()>(conn)
            {
                c.failed("publish", &e);
                if let Some(r) = reply {
                    r.err(redis_err(&e));
                }
                return Err(e);
            }
            let mut sessions = 0;
            for chunk in users.chunks(crate::publish::BATCH) {
                let names: Vec<&str> = chunk.iter().map(|u| &**u).collect();
                match c.put_many(&gw, conn, &names, &envelope, ttl_ms) {
                    Ok(stored) => {
                        for (u, (id, exp)) in names.iter().zip(stored) {
                            c.mirror_and_wake(&gw, u.as_bytes(), id, exp, envelope.clone());
                            sessions += gw.online(u);
                        }
                    }
                    Err(e) => {
                        c.failed("put", &e);
                        if let Some(r) = reply {
                            r.err(redis_err(&e));
                        }
                        return Err(e);
                    }
                }
            }
            if let Some(r) = reply {
                r.ok(Pushed {
                    sessions: sessions as u64,
                });
            }
            Ok(())
        };
        self.link.submit(Box::new(job));
    }

    /// Stores `envelope` for each of `users` (one pipeline of the put script); returns each
    /// one's (id, expires_unix_ms).
    fn put_many(
        &self,
        gw: &Gateway,
        conn: &mut redis::Connection,
        users: &[&str],
        envelope: &[u8],
        ttl_ms: u64,
    ) -> redis::RedisResult<Vec<(u64, u64)>> {
        let (_, unix) = Cluster::engine_unix_ms(gw);
        let exp = unix.saturating_add(ttl_ms);
        let cap = self.mirror.config().per_user_cap;
        let mut p = redis::pipe();
        for u in users {
            p.cmd("EVAL")
                .arg(keys::PUT)
                .arg(2)
                .arg(keys::SEQ)
                .arg(keys::queue(u.as_bytes()))
                .arg(exp)
                .arg(ttl_ms)
                .arg(envelope)
                .arg(cap)
                .arg(unix.saturating_mul(1000));
        }
        let ids: Vec<u64> = p.query(conn)?;
        Ok(ids.into_iter().map(|id| (id, exp)).collect())
    }

    fn ttl_ms(&self, ttl: Option<Duration>) -> u64 {
        millis(ttl.unwrap_or(self.mirror.config().default_ttl))
    }

    /// The live registry entries of `users` (one pipeline).
    fn registry(conn: &mut redis::Connection, users: &[&str]) -> redis::RedisResult<Vec<Registry>> {
        let mut p = redis::pipe();
        for u in users {
            p.cmd("HGETALL").arg(keys::user(u.as_bytes()));
        }
        p.query(conn)
    }

    /// Other live nodes of a registry entry, with their sessions.
    fn others<'a>(&self, reg: &'a Registry) -> impl Iterator<Item = (&'a str, u64)> {
        let (me, now) = (self.config.node.clone(), wall_ms());
        reg.iter().filter_map(move |(node, v)| {
            let n = keys::live_sessions(v, now)?;
            (node != &me).then_some((node.as_str(), n))
        })
    }

    /// `/v1/push/user(s)`: local delivery, and the other nodes the registry names; QoS1
    /// stored in Redis first.
    pub(crate) fn push_users(
        self: &Arc<Self>,
        gw: &Gateway,
        users: Vec<Name>,
        msg: Outgoing,
        reply: Reply<Pushed>,
    ) {
        if let Err(e) = self.check_fanout(gw, users.len()) {
            return reply.err(e.into());
        }
        let c = Arc::clone(self);
        let res = match msg.qos {
            Qos::AtMostOnce => gw.qos0_frame(PushKind::User, b"", &msg.payload),
            Qos::AtLeastOnce => gw.qos1_envelope(PushKind::User, b"", &msg.payload),
        };
        let body = match res {
            Ok(b) => b,
            Err(e) => return reply.err(e.into()),
        };
        let ttl_ms = self.ttl_ms(msg.ttl);
        // The same size and TTL checks as one node's store (the mirror's limits).
        if let Some(u) = users.first()
            && let Err(e) = self
                .mirror
                .config()
                .check_put(u.as_bytes(), body.len(), msg.ttl, 0)
        {
            return reply.err(PushError::Store(e).into());
        }
        let qos = msg.qos;
        let job = move |conn: Option<&mut redis::Connection>| {
            let Some(gw) = c.gateway() else {
                reply.err(down());
                return Ok(());
            };
            let names: Vec<&str> = users.iter().map(Name::as_str).collect();
            let Some(conn) = conn else {
                if qos == Qos::AtMostOnce {
                    let n = gw.local_frame(&Target::Users(&names), body);
                    reply.ok(Pushed { sessions: n as u64 });
                } else {
                    reply.err(down());
                }
                return Ok(());
            };
            let r = c.route_users(&gw, conn, &names, qos, &body, ttl_ms);
            match r {
                Ok(n) => reply.ok(Pushed { sessions: n }),
                Err(e) => {
                    c.failed("push", &e);
                    reply.err(redis_err(&e));
                    return Err(e);
                }
            }
            Ok(())
        };
        self.link.submit(Box::new(job));
    }

    fn check_fanout(&self, gw: &Gateway, n: usize) -> Result<(), PushError> {
        let max = gw.config.max_fanout_users;
        if n > max {
            return Err(PushError::TooManyUsers { users: n, max });
        }
        Ok(())
    }

    fn route_users(
        &self,
        gw: &Gateway,
        conn: &mut redis::Connection,
        names: &[&str],
        qos: Qos,
        body: &Bytes,
        ttl_ms: u64,
    ) -> redis::RedisResult<u64> {
        let stored = match qos {
            Qos::AtLeastOnce => Some(self.put_many(gw, conn, names, body, ttl_ms)?),
            Qos::AtMostOnce => None,
        };
        let regs = Self::registry(conn, names)?;
        let me = &self.config.node;
        let mut sessions = 0;
        let mut p = redis::pipe();
        let mut published = false;
        for (i, (u, reg)) in names.iter().zip(&regs).enumerate() {
            let user = Bytes::copy_from_slice(u.as_bytes());
            let msg = match &stored {
                Some(ids) => {
                    let (id, exp) = ids[i];
                    self.mirror_and_wake(gw, u.as_bytes(), id, exp, body.clone());
                    sessions += gw.online(u) as u64;
                    Bus::UserStored {
                        user,
                        id,
                        expires_unix_ms: exp,
                        envelope: body.clone(),
                    }
                }
                None => {
                    sessions += gw.local_frame(&Target::Users(&[u]), body.clone()) as u64;
                    Bus::UserFrame {
                        user,
                        frame: body.clone(),
                    }
                }
            };
            let encoded = msg.encode(me);
            for (node, n) in self.others(reg) {
                p.cmd("PUBLISH")
                    .arg(keys::channel(node))
                    .arg(&encoded)
                    .ignore();
                sessions += n;
                published = true;
            }
        }
        if published {
            p.query::<()>(conn)?;
        }
        Ok(sessions)
    }

    /// `/v1/push/room` and `/v1/push/all`: this node's members at once (QoS0) or stored
    /// (QoS1), and a broadcast on `lw:all` for the others.
    pub(crate) fn push_broadcast(
        self: &Arc<Self>,
        gw: &Gateway,
        room: Option<&[u8]>,
        msg: Outgoing,
        reply: Reply<Pushed>,
    ) {
        let (kind, r) = match room {
            Some(r) => (PushKind::Room, r),
            None => (PushKind::All, &b""[..]),
        };
        let target = match room {
            Some(r) => Target::Room(r),
            None => Target::All,
        };
        let room_bytes = Bytes::copy_from_slice(r);
        match msg.qos {
            Qos::AtMostOnce => {
                let frame = match gw.qos0_frame(kind, r, &msg.payload) {
                    Ok(f) => f,
                    Err(e) => return reply.err(e.into()),
                };
                let n = gw.local_frame(&target, frame.clone());
                let bus = match room {
                    Some(_) => Bus::RoomFrame {
                        room: room_bytes,
                        frame,
                    },
                    None => Bus::AllFrame { frame },
                }
                .encode(&self.config.node);
                self.publish_all(bus);
                reply.ok(Pushed { sessions: n as u64 });
            }
            Qos::AtLeastOnce => {
                if !self.is_up() {
                    return reply.err(down());
                }
                let envelope = match gw.qos1_envelope(kind, r, &msg.payload) {
                    Ok(e) => e,
                    Err(e) => return reply.err(e.into()),
                };
                let ttl_ms = self.ttl_ms(msg.ttl);
                let bus = match room {
                    Some(_) => Bus::RoomStored {
                        room: room_bytes,
                        envelope: envelope.clone(),
                        ttl_ms,
                    },
                    None => Bus::AllStored {
                        envelope: envelope.clone(),
                        ttl_ms,
                    },
                }
                .encode(&self.config.node);
                self.store_local(gw, &target, envelope, ttl_ms, Some(reply), Some(bus));
            }
        }
    }

    /// Publishes a QoS0 room or everyone push's `bus` on [`keys::ALL`] (a job sharing a
    /// pipeline). One that cannot be published (Redis down, the worker reconnecting, the
    /// PUBLISH failed) reached this node's sessions only: at most once allows that, but it is
    /// logged and counted (`cluster_broadcasts_unpublished`), never silent.
    fn publish_all(self: &Arc<Self>, bus: Vec<u8>) {
        let c = Arc::clone(self);
        self.link.submit_batch(Box::new(move |p| {
            let Some(p) = p else {
                c.unpublished(None);
                return None;
            };
            p.cmd("PUBLISH").arg(keys::ALL).arg(&bus);
            Some(Box::new(move |r| {
                if let Err(e) = link::all_ok(r) {
                    c.failed("publish", &e);
                    c.unpublished(Some(&e));
                }
            }))
        }));
    }

    /// A QoS0 broadcast did not reach the other nodes.
    fn unpublished(&self, e: Option<&redis::RedisError>) {
        self.stats.broadcasts_unpublished.fetch_add(1, Relaxed);
        match e {
            Some(e) => tracing::warn!(error = %e, "a QoS0 broadcast reached this node only"),
            None => tracing::warn!("a QoS0 broadcast reached this node only: Redis is down"),
        }
    }

    /// `/v1/kick`: this node's sessions, and a KICK to the other nodes the user is on.
    pub(crate) fn kick(
        self: &Arc<Self>,
        gw: &Gateway,
        user: Name,
        reason: String,
        reply: Reply<Kicked>,
    ) {
        let local = gw.kick_local(user.as_str(), kick::BY_BACKEND, &reason) as u64;
        let c = Arc::clone(self);
        self.link.submit(Box::new(move |conn| {
            let Some(conn) = conn else {
                reply.err(down());
                return Ok(());
            };
            let r = (|| {
                let regs = Cluster::registry(conn, &[user.as_str()])?;
                let msg = Bus::Kick {
                    user: Bytes::copy_from_slice(user.as_bytes()),
                    code: kick::BY_BACKEND,
                    reason: Bytes::from(reason.into_bytes()),
                }
                .encode(&c.config.node);
                let mut n = local;
                for (node, s) in c.others(&regs[0]) {
                    redis::cmd("PUBLISH")
                        .arg(keys::channel(node))
                        .arg(&msg)
                        .query::<()>(conn)?;
                    n += s;
                }
                Ok(n)
            })();
            match r {
                Ok(n) => reply.ok(Kicked { sessions: n }),
                Err(e) => {
                    c.failed("kick", &e);
                    reply.err(redis_err(&e));
                    return Err(e);
                }
            }
            Ok(())
        }));
    }

    /// `/v1/online`: sessions on every node (the registry's for the others).
    pub(crate) fn online(self: &Arc<Self>, users: Vec<Name>, reply: Reply<Vec<UserOnline>>) {
        let c = Arc::clone(self);
        self.link.submit(Box::new(move |conn| {
            let (Some(conn), Some(gw)) = (conn, c.gateway()) else {
                reply.err(down());
                return Ok(());
            };
            let names: Vec<&str> = users.iter().map(Name::as_str).collect();
            match Cluster::registry(conn, &names) {
                Ok(regs) => {
                    let out = users
                        .iter()
                        .zip(&regs)
                        .map(|(u, reg)| UserOnline {
                            user: u.clone(),
                            sessions: gw.online(u.as_str()) as u64
                                + c.others(reg).map(|(_, n)| n).sum::<u64>(),
                        })
                        .collect();
                    reply.ok(out);
                    Ok(())
                }
                Err(e) => {
                    c.failed("online", &e);
                    reply.err(redis_err(&e));
                    Err(e)
                }
            }
        }));
    }

    /// `/v1/rooms/{room}/members`: kept in `lw:ur:{user}`, applied here and broadcast.
    pub(crate) fn assign_room(self: &Arc<Self>, req: AssignRoom, reply: Reply<Assigned>) {
        let c = Arc::clone(self);
        self.link.submit(Box::new(move |conn| {
            let (Some(conn), Some(gw)) = (conn, c.gateway()) else {
                reply.err(down());
                return Ok(());
            };
            let room = req.room.as_bytes();
            let mut p = redis::pipe();
            let mut sessions = 0;
            for (users, join) in [(&req.add, true), (&req.remove, false)] {
                for u in users {
                    let cmd = if join { "SADD" } else { "SREM" };
                    p.cmd(cmd).arg(keys::rooms(u.as_bytes())).arg(room).ignore();
                    let msg = Bus::Assign {
                        user: Bytes::copy_from_slice(u.as_bytes()),
                        room: Bytes::copy_from_slice(room),
                        join,
                    };
                    p.cmd("PUBLISH")
                        .arg(keys::ALL)
                        .arg(msg.encode(&c.config.node))
                        .ignore();
                    sessions += gw.assign_local(u.as_str(), room, join);
                }
            }
            match p.query::<()>(conn) {
                Ok(()) => {
                    reply.ok(Assigned {
                        sessions: sessions as u64,
                    });
                    Ok(())
                }
                Err(e) => {
                    c.failed("assign", &e);
                    reply.err(redis_err(&e));
                    Err(e)
                }
            }
        }));
    }
}

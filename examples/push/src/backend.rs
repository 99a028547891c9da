//! The gateway as the HTTP API's [`Backend`]: pushes ([`publish`](super::publish)), kicks,
//! presence, room sizes and the counters, each answered before the method returns (the
//! gateway has the answer at hand; a QoS1 push has been stored by then).
//!
//! Errors: a request the gateway refuses (a message too large for a frame, a bad TTL, a
//! fan-out over the limit) is `400 invalid`; the engine not running or the store failing is
//! `503 unavailable`; a store that says its own configuration is broken is `500 internal`.

use std::sync::atomic::Ordering::Relaxed;

use super::api::{
    AssignRoom, Assigned, Backend, BackendError, Dispatch, Kick, Kicked, Message, Metric, Online,
    PushAll, PushRoom, PushUser, PushUsers, Pushed, Reply, RoomCount, RoomMembers, UserOnline,
};
use super::frame::kick;
use super::gateway::Gateway;
use super::publish::{Outgoing, PushError};
use super::store::StoreError;

impl From<PushError> for BackendError {
    fn from(e: PushError) -> Self {
        let text = e.to_string();
        match e {
            PushError::NotRunning => BackendError::Unavailable(text),
            PushError::Invalid(_) | PushError::TooManyUsers { .. } => BackendError::Invalid(text),
            PushError::Store(s) => match s {
                StoreError::Backend(_) | StoreError::IdsExhausted => {
                    BackendError::Unavailable(text)
                }
                StoreError::InvalidConfig(_) => BackendError::Internal(text),
                _ => BackendError::Invalid(text),
            },
        }
    }
}

fn outgoing(m: Message) -> Outgoing {
    Outgoing {
        payload: m.payload,
        qos: m.qos,
        ttl: m.ttl,
    }
}

fn answer(reply: Reply<Pushed>, r: Result<usize, PushError>) {
    reply.send(
        r.map(|n| Pushed { sessions: n as u64 })
            .map_err(BackendError::from),
    );
}

impl Gateway {
    /// Ends every session of `user` with KICK code 2 and `reason`; returns how many.
    pub fn kick_user(&self, user: &str, reason: &str) -> usize {
        let sessions = self.users.take_all(user);
        self.kick_all(&sessions, kick::BY_BACKEND, reason);
        Gateway::count(&self.stats.kicks_backend, sessions.len());
        sessions.len()
    }

    /// The gateway's counters and the store's, as `/metrics` shows them (`push_` prefix;
    /// `_total` for counters).
    pub fn metrics(&self) -> Vec<Metric> {
        let snap = self.stats();
        let mut out = Vec::new();
        for (name, help, value) in snap.fields() {
            let gauge = matches!(
                name,
                "connections" | "sessions" | "unacked" | "ack_rtt_p50_us" | "ack_rtt_p99_us"
            );
            out.push(if gauge {
                Metric::gauge(format!("push_{name}"), help, value)
            } else {
                Metric::counter(format!("push_{name}_total"), help, value)
            });
        }
        if let Some(c) = self.cluster.get() {
            for (name, help, v, gauge) in c.metrics() {
                out.push(if gauge {
                    Metric::gauge(format!("push_{name}"), help, v)
                } else {
                    Metric::counter(format!("push_{name}_total"), help, v)
                });
            }
        }
        out.push(Metric::gauge(
            "push_rooms",
            "Rooms with members.",
            self.rooms() as u64,
        ));
        match self.store.stats() {
            Ok(s) => {
                out.push(Metric::gauge(
                    "push_store_messages",
                    "QoS1 messages held by the store.",
                    s.stored,
                ));
                for (name, help, v) in [
                    ("put", "Messages put in the store.", s.put),
                    ("acked", "Store messages removed by an ACK.", s.acked),
                    ("expired", "Store messages whose TTL ran out.", s.expired),
                    (
                        "dropped_cap",
                        "Store messages dropped over the per-user cap.",
                        s.dropped_cap,
                    ),
                    (
                        "dropped_attempts",
                        "Store messages dropped after max_attempts sends.",
                        s.dropped_attempts,
                    ),
                    (
                        "removed",
                        "Store messages removed with their user.",
                        s.removed,
                    ),
                ] {
                    out.push(Metric::counter(format!("push_store_{name}_total"), help, v));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "store stats failed");
                self.stats.store_errors.fetch_add(1, Relaxed);
            }
        }
        out
    }
}

impl Backend for Gateway {
    fn push_user(&self, req: PushUser, reply: Reply<Pushed>) {
        if let Some(c) = self.cluster.get() {
            return c.push_users(self, vec![req.user], outgoing(req.message), reply);
        }
        answer(
            reply,
            Gateway::push_user(self, req.user.as_str(), &outgoing(req.message)),
        );
    }

    fn push_users(&self, req: PushUsers, reply: Reply<Pushed>) {
        if let Some(c) = self.cluster.get() {
            return c.push_users(self, req.users, outgoing(req.message), reply);
        }
        let users: Vec<&str> = req.users.iter().map(|u| u.as_str()).collect();
        answer(
            reply,
            Gateway::push_users(self, &users, &outgoing(req.message)),
        );
    }

    fn push_room(&self, req: PushRoom, reply: Reply<Pushed>) {
        if let Some(c) = self.cluster.get() {
            let room = req.room.as_bytes();
            return c.push_broadcast(self, Some(room), outgoing(req.message), reply);
        }
        answer(
            reply,
            Gateway::push_room(self, req.room.as_bytes(), &outgoing(req.message)),
        );
    }

    fn push_all(&self, req: PushAll, reply: Reply<Pushed>) {
        if let Some(c) = self.cluster.get() {
            return c.push_broadcast(self, None, outgoing(req.message), reply);
        }
        answer(reply, Gateway::push_all(self, &outgoing(req.message)));
    }

    fn kick(&self, req: Kick, reply: Reply<Kicked>) {
        if let Some(c) = self.cluster.get() {
            Gateway::count(&self.stats.kicks_backend, self.online(req.user.as_str()));
            return c.kick(self, req.user, req.reason, reply);
        }
        let n = self.kick_user(req.user.as_str(), &req.reason);
        reply.ok(Kicked { sessions: n as u64 });
    }

    fn online(&self, req: Online, reply: Reply<Vec<UserOnline>>) {
        if let Some(c) = self.cluster.get() {
            return c.online(req.users, reply);
        }
        let users = req
            .users
            .into_iter()
            .map(|user| {
                let sessions = self.users.count(user.as_str()) as u64;
                UserOnline { user, sessions }
            })
            .collect();
        reply.ok(users);
    }

    fn room_count(&self, req: RoomCount, reply: Reply<RoomMembers>) {
        let members = self.room_members(req.room.as_bytes()) as u64;
        reply.ok(RoomMembers { members });
    }

    fn stats(&self, reply: Reply<Vec<Metric>>) {
        reply.ok(self.metrics());
    }

    fn assign_room(&self, req: AssignRoom, reply: Reply<Assigned>) {
        if let Some(c) = self.cluster.get() {
            return c.assign_room(req, reply);
        }
        let room = req.room.as_bytes();
        let mut sessions = 0;
        for (users, join) in [(&req.add, true), (&req.remove, false)] {
            for u in users {
                self.remember_assignment(u.as_str(), room, join);
                sessions += self.assign_local(u.as_str(), room, join);
            }
        }
        reply.ok(Assigned {
            sessions: sessions as u64,
        });
    }

    fn dispatch(&self, req: Dispatch, reply: Reply<Vec<String>>) {
        let Some(c) = self.cluster.get() else {
            return reply.err(BackendError::NotFound(
                "no dispatcher: not in cluster mode".into(),
            ));
        };
        let gateways = c.dispatch(req.uid.as_str());
        if gateways.is_empty() {
            return reply.err(BackendError::Unavailable("no live gateway".into()));
        }
        reply.ok(gateways);
    }
}

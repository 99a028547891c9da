//! [`Bus`]: what nodes tell each other over Redis pub/sub, its encoding, and the subscriber
//! thread that receives it and acts on the local gateway.
//!
//! A message is `kind: u8 | origin | fields`, each of `origin` (the sending node's id) and
//! the fields a `u32` BE length and its bytes; integers are 8-byte BE fields. A node ignores
//! what it published itself on the shared channel (it already delivered locally). Pub/sub is
//! at most once: a node that was not subscribed (Redis restarting, the node cut off) misses
//! messages. QoS0 accepts that; QoS1 does not rely on it: messages are in Redis, and a node
//! that (re)subscribes reloads the queues of its online users (see [`refresh`](super::refresh)).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use loopwire::Bytes;

use super::Cluster;
use super::keys;
use super::link;

/// One message between nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bus {
    /// A QoS0 PUSH frame for the user's sessions on the receiving node.
    UserFrame { user: Bytes, frame: Bytes },
    /// A QoS1 message just stored in Redis for the user: mirror it and wake the sessions.
    UserStored {
        user: Bytes,
        id: u64,
        expires_unix_ms: u64,
        envelope: Bytes,
    },
    /// KICK the user's sessions on the receiving node.
    Kick {
        user: Bytes,
        code: u16,
        reason: Bytes,
    },
    /// A QoS0 frame for the room's members.
    RoomFrame { room: Bytes, frame: Bytes },
    /// A QoS0 frame for everyone.
    AllFrame { frame: Bytes },
    /// A QoS1 envelope for the room's members (each node stores for its own).
    RoomStored {
        room: Bytes,
        envelope: Bytes,
        ttl_ms: u64,
    },
    /// A QoS1 envelope for everyone online (each node stores for its own users).
    AllStored { envelope: Bytes, ttl_ms: u64 },
    /// The room was assigned to (`join`) or withdrawn from the user.
    Assign {
        user: Bytes,
        room: Bytes,
        join: bool,
    },
}

fn put(out: &mut Vec<u8>, field: &[u8]) {
    out.extend_from_slice(&(field.len() as u32).to_be_bytes());
    out.extend_from_slice(field);
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn field(&mut self) -> Option<Bytes> {
        let len = u32::from_be_bytes(self.0.get(..4)?.try_into().ok()?) as usize;
        let f = self.0.get(4..4 + len)?;
        self.0 = &self.0[4 + len..];
        Some(Bytes::copy_from_slice(f))
    }

    fn int(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.field()?.as_ref().try_into().ok()?))
    }
}

impl Bus {
    /// The message as published by node `origin`.
    pub(crate) fn encode(&self, origin: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        let head = |kind: u8, out: &mut Vec<u8>| {
            out.push(kind);
            put(out, origin.as_bytes());
        };
        match self {
            Bus::UserFrame { user, frame } => {
                head(1, &mut out);
                put(&mut out, user);
                put(&mut out, frame);
            }
            Bus::UserStored {
                user,
                id,
                expires_unix_ms,
                envelope,
            } => {
                head(2, &mut out);
                put(&mut out, user);
                put(&mut out, &id.to_be_bytes());
                put(&mut out, &expires_unix_ms.to_be_bytes());
                put(&mut out, envelope);
            }
            Bus::Kick { user, code, reason } => {
                head(3, &mut out);
                put(&mut out, user);
                put(&mut out, &u64::from(*code).to_be_bytes());
                put(&mut out, reason);
            }
            Bus::RoomFrame { room, frame } => {
                head(4, &mut out);
                put(&mut out, room);
                put(&mut out, frame);
            }
            Bus::AllFrame { frame } => {
                head(5, &mut out);
                put(&mut out, frame);
            }
            Bus::RoomStored {
                room,
                envelope,
                ttl_ms,
            } => {
                head(6, &mut out);
                put(&mut out, room);
                put(&mut out, envelope);
                put(&mut out, &ttl_ms.to_be_bytes());
            }
            Bus::AllStored { envelope, ttl_ms } => {
                head(7, &mut out);
                put(&mut out, envelope);
                put(&mut out, &ttl_ms.to_be_bytes());
            }
            Bus::Assign { user, room, join } => {
                head(8, &mut out);
                put(&mut out, user);
                put(&mut out, room);
                put(&mut out, &u64::from(*join).to_be_bytes());
            }
        }
        out
    }

    /// The sender's id and the message, or `None` for bytes that are not one.
    pub(crate) fn decode(b: &[u8]) -> Option<(Bytes, Bus)> {
        let (&kind, rest) = b.split_first()?;
        let mut r = Reader(rest);
        let origin = r.field()?;
        let msg = match kind {
            1 => Bus::UserFrame {
                user: r.field()?,
                frame: r.field()?,
            },
            2 => Bus::UserStored {
                user: r.field()?,
                id: r.int()?,
                expires_unix_ms: r.int()?,
                envelope: r.field()?,
            },
            3 => Bus::Kick {
                user: r.field()?,
                code: u16::try_from(r.int()?).ok()?,
                reason: r.field()?,
            },
            4 => Bus::RoomFrame {
                room: r.field()?,
                frame: r.field()?,
            },
            5 => Bus::AllFrame { frame: r.field()? },
            6 => Bus::RoomStored {
                room: r.field()?,
                envelope: r.field()?,
                ttl_ms: r.int()?,
            },
            7 => Bus::AllStored {
                envelope: r.field()?,
                ttl_ms: r.int()?,
            },
            8 => Bus::Assign {
                user: r.field()?,
                room: r.field()?,
                join: r.int()? != 0,
            },
            _ => return None,
        };
        r.0.is_empty().then_some((origin, msg))
    }
}

/// Starts the subscriber: its own connection, subscribed to this node's channel and
/// [`keys::ALL`], reconnecting with backoff; every (re)subscription bumps `subscribed`.
pub(crate) fn start(
    cluster: &Arc<Cluster>,
    client: redis::Client,
    stop: Arc<AtomicBool>,
    subscribed: Arc<AtomicU64>,
) -> std::io::Result<JoinHandle<()>> {
    let weak = Arc::downgrade(cluster);
    let mine = keys::channel(&cluster.config.node);
    thread::Builder::new()
        .name("push-redis-sub".into())
        .spawn(move || {
            let mut backoff = Duration::from_millis(50);
            while !stop.load(Relaxed) {
                let mut conn = match link::connect(&client) {
                    Ok(c) => c,
                    Err(_) => {
                        thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(2));
                        continue;
                    }
                };
                let mut ps = conn.as_pubsub();
                if ps.subscribe(&[mine.as_str(), keys::ALL]).is_err()
                    || ps
                        .set_read_timeout(Some(Duration::from_millis(100)))
                        .is_err()
                {
                    continue;
                }
                backoff = Duration::from_millis(50);
                subscribed.fetch_add(1, Relaxed);
                while !stop.load(Relaxed) {
                    match ps.get_message() {
                        Ok(m) => {
                            let Some(cluster) = weak.upgrade() else {
                                return;
                            };
                            cluster.received(m.get_payload_bytes());
                        }
                        Err(e) if e.is_timeout() => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "redis subscription lost");
                            break;
                        }
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_and_junk_is_refused() {
        let b = |s: &str| Bytes::copy_from_slice(s.as_bytes());
        let all = [
            Bus::UserFrame {
                user: b("u"),
                frame: b("f"),
            },
            Bus::UserStored {
                user: b("u"),
                id: 7,
                expires_unix_ms: 9,
                envelope: b("e"),
            },
            Bus::Kick {
                user: b("u"),
                code: 1,
                reason: b("r"),
            },
            Bus::RoomFrame {
                room: b("r"),
                frame: b(""),
            },
            Bus::AllFrame { frame: b("f") },
            Bus::RoomStored {
                room: b("r"),
                envelope: b("e"),
                ttl_ms: 5,
            },
            Bus::AllStored {
                envelope: b("e"),
                ttl_ms: 5,
            },
            Bus::Assign {
                user: b("u"),
                room: b("r"),
                join: true,
            },
        ];
        for m in all {
            let bytes = m.encode("node-a");
            let (origin, back) = Bus::decode(&bytes).expect("decodes");
            assert_eq!((&origin[..], &back), (&b"node-a"[..], &m));
            assert_eq!(Bus::decode(&bytes[..bytes.len() - 1]), None);
        }
        assert_eq!(Bus::decode(&[9, 0, 0, 0, 0]), None);
        assert_eq!(Bus::decode(&[]), None);
    }
}

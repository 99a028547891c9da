//! Pushing: to a user, to users, to a room's members, to everyone; QoS0 or QoS1. Callable
//! from any thread once the engine runs (the HTTP API's loop calls it through
//! [`backend`](super::backend)).
//!
//! - **QoS0** (at most once, id 0): the PUSH frame is encoded once and offered to the
//!   [`Mailbox`](super::mailbox::Mailbox) of every target session online now, with one
//!   [`EngineHandle::wake_many`](loopwire::EngineHandle::wake_many) for the sessions that had
//!   no wake pending (one task per loop, whatever the audience's size); never stored. A full
//!   mailbox (a peer not reading) drops it for that session, counted. A push to everyone
//!   walks the session registry the same way rather than using
//!   [`EngineHandle::broadcast`](loopwire::EngineHandle::broadcast): a broadcast would also
//!   reach connections that have not authenticated (which must see nothing before
//!   WELCOME) and bypass the slow-reader hold-back (its bytes go straight to every socket's
//!   backlog, up to the engine's `max_outbound`); the mailbox path costs one mailbox lock per
//!   session on the caller's thread, about 0.1 µs each.
//! - **QoS1** (at least once): store first, then wake. The message is
//!   [`put`](super::store::Store::put) for each target user before the call returns (so the
//!   API answers only once it is safe), then each of the user's online sessions is noted
//!   and woken; their loops pull it ([`delivery`](super::delivery)). A user who is offline
//!   gets it at the next login, within its TTL. For a room or everyone the message is stored
//!   for each distinct user *present at the time of the push* (members of the room, users
//!   online): at least once to those users; a user who joins later does not get it. That
//!   fan-out is bounded by [`Config::max_fanout_users`](super::Config::max_fanout_users)
//!   (refused beyond, before anything is stored), done in batches of [`BATCH`] users: one
//!   [`put_many`](super::store::Store::put_many) for a batch (each store shard locked once),
//!   then one `wake_many` for its sessions, so sessions start pulling while later batches
//!   are stored.
//!
//! Every push answers how many sessions it was handed to.

use std::collections::HashSet;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use loopwire::{Bytes, ConnHandle, EngineHandle};

use super::api::Qos;
use super::frame::{self, ProtocolError, PushKind};
use super::gateway::{Gateway, millis};
use super::mailbox::{Offer, UserName};
use super::store::StoreError;

/// Users stored for, and woken, per batch of a QoS1 fan-out.
pub const BATCH: usize = 256;

/// Why a push did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The gateway's engine has not booted yet.
    #[error("the gateway is not running")]
    NotRunning,
    /// The room name or message cannot be sent.
    #[error(transparent)]
    Invalid(#[from] ProtocolError),
    /// The store refused or failed (a bad TTL or size is the caller's fault; a backend
    /// failure is not).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A QoS1 push to more distinct users than
    /// [`Config::max_fanout_users`](super::Config::max_fanout_users).
    #[error("QoS1 push to {users} users, at most {max} allowed: use QoS0")]
    TooManyUsers {
        /// The users it would reach.
        users: usize,
        /// The limit.
        max: usize,
    },
}

/// A message to push.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The payload.
    pub payload: Bytes,
    /// The delivery guarantee.
    pub qos: Qos,
    /// How long a QoS1 message may wait for its user (`None`: the store's default).
    pub ttl: Option<Duration>,
}

/// Who a push goes to.
pub(crate) enum Target<'a> {
    Users(&'a [&'a str]),
    Room(&'a [u8]),
    All,
}

impl Gateway {
    /// Pushes to every session of `user`; returns the sessions online.
    ///
    /// # Errors
    /// [`PushError`].
    pub fn push_user(&self, user: &str, msg: &Outgoing) -> Result<usize, PushError> {
        self.push(Target::Users(&[user]), msg)
    }

    /// Pushes to every session of each of `users` (duplicates are the caller's to avoid).
    ///
    /// # Errors
    /// [`PushError`]; on a store failure some users may have the message already.
    pub fn push_users(&self, users: &[&str], msg: &Outgoing) -> Result<usize, PushError> {
        self.push(Target::Users(users), msg)
    }

    /// Pushes to the members of `room` (QoS1: to the distinct users among them).
    ///
    /// # Errors
    /// [`PushError`].
    pub fn push_room(&self, room: &[u8], msg: &Outgoing) -> Result<usize, PushError> {
        if room.is_empty() || room.len() > self.config.max_name {
            return Err(ProtocolError::BadName {
                what: "room",
                len: room.len(),
                max: self.config.max_name,
            }
            .into());
        }
        self.push(Target::Room(room), msg)
    }

    /// Pushes to every session (QoS1: to every user online).
    ///
    /// # Errors
    /// [`PushError`].
    pub fn push_all(&self, msg: &Outgoing) -> Result<usize, PushError> {
        self.push(Target::All, msg)
    }

    /// The QoS0 PUSH frame (id 0) of `payload` for a push of `kind` (to `room`).
    ///
    /// # Errors
    /// [`PushError::Invalid`] when it does not fit a frame.
    pub(crate) fn qos0_frame(
        &self,
        kind: PushKind,
        room: &[u8],
        payload: &[u8],
    ) -> Result<Bytes, PushError> {
        let envelope = frame::envelope(kind, room, payload)?;
        let head = frame::push_head(0, envelope.len(), self.config.max_frame)?;
        let mut f = Vec::with_capacity(head.len() + envelope.len());
        f.extend_from_slice(&head);
        f.extend_from_slice(&envelope);
        Ok(Bytes::from(f))
    }

    /// The QoS1 envelope of `payload` (what the store keeps), checked to fit a frame.
    ///
    /// # Errors
    /// [`PushError::Invalid`] when it does not fit a frame.
    pub(crate) fn qos1_envelope(
        &self,
        kind: PushKind,
        room: &[u8],
        payload: &[u8],
    ) -> Result<Bytes, PushError> {
        let envelope = frame::envelope(kind, room, payload)?;
        frame::push_head(0, envelope.len(), self.config.max_frame)?;
        Ok(Bytes::from(envelope))
    }

    /// Offers a QoS0 frame to this process's sessions of `target`; returns how many
    /// (a cluster node's local part of a push). 0 before the engine runs.
    pub(crate) fn local_frame(&self, target: &Target<'_>, frame: Bytes) -> usize {
        match self.engine() {
            Some(engine) => self.push_qos0(engine, target, frame),
            None => 0,
        }
    }

    /// The distinct users of `target` with sessions on this process (a cluster node's
    /// part of a QoS1 room or everyone push).
    ///
    /// # Errors
    /// [`PushError::TooManyUsers`].
    pub(crate) fn local_users(&self, target: &Target<'_>) -> Result<Vec<UserName>, PushError> {
        self.qos1_users(target)
    }

    /// Tells the sessions of `user` on this process that the store holds new messages and
    /// wakes them; returns how many.
    pub(crate) fn wake_user(&self, user: &str) -> usize {
        let (mut n, mut wake) = (0, Vec::new());
        self.users.for_sessions(user, |s| {
            n += 1;
            if s.mailbox.notify_store() {
                wake.push(s.handle);
            }
        });
        if let Some(engine) = self.engine() {
            let _ = engine.wake_many(wake);
        }
        n
    }

    fn push(&self, target: Target<'_>, msg: &Outgoing) -> Result<usize, PushError> {
        let engine = self.engine().ok_or(PushError::NotRunning)?;
        let (kind, room) = match target {
            Target::Users(_) => (PushKind::User, &[][..]),
            Target::Room(r) => (PushKind::Room, r),
            Target::All => (PushKind::All, &[][..]),
        };
        let envelope = frame::envelope(kind, room, &msg.payload)?;
        let head = frame::push_head(0, envelope.len(), self.config.max_frame)?;
        match msg.qos {
            Qos::AtMostOnce => {
                let mut f = Vec::with_capacity(head.len() + envelope.len());
                f.extend_from_slice(&head);
                f.extend_from_slice(&envelope);
                let n = self.push_qos0(engine, &target, Bytes::from(f));
                self.stats.pushes_qos0.fetch_add(1, Relaxed);
                Ok(n)
            }
            Qos::AtLeastOnce => {
                let users = self.qos1_users(&target)?;
                let n = self.store_and_wake(engine, &users, Bytes::from(envelope), msg.ttl)?;
                self.stats.pushes_qos1.fetch_add(1, Relaxed);
                Ok(n)
            }
        }
    }

    fn push_qos0(&self, engine: &EngineHandle, target: &Target<'_>, frame: Bytes) -> usize {
        let cap = self.config.mailbox;
        let (mut n, mut dropped, mut wake) = (0, 0, Vec::<ConnHandle>::new());
        let mut offer = |h: ConnHandle, mb: &super::mailbox::Mailbox| {
            n += 1;
            match mb.offer(frame.clone(), cap) {
                Offer::Queued { wake: true } => wake.push(h),
                Offer::Queued { wake: false } => {}
                Offer::Full => dropped += 1,
            }
        };
        match target {
            Target::Users(users) => {
                for u in *users {
                    self.users.for_sessions(u, |s| offer(s.handle, &s.mailbox));
                }
            }
            Target::Room(room) => {
                if let Some(r) = self.registry.room(room) {
                    for (h, mb) in r.members().iter() {
                        offer(*h, mb);
                    }
                }
            }
            Target::All => self.users.for_each(|_, sessions| {
                for s in sessions {
                    offer(s.handle, &s.mailbox);
                }
            }),
        }
        // One wake task per loop. Handles of sessions closing meanwhile are skipped; `Err`
        // only while the engine stops.
        let _ = engine.wake_many(wake);
        Gateway::count(&self.stats.dropped_mailbox, dropped);
        n
    }

    /// The distinct users a QoS1 push stores for, at most `max_fanout_users`.
    fn qos1_users(&self, target: &Target<'_>) -> Result<Vec<UserName>, PushError> {
        let max = self.config.max_fanout_users;
        let mut set: HashSet<UserName> = HashSet::new();
        let mut over = false;
        match target {
            Target::Users(users) if users.len() > max => {
                return Err(PushError::TooManyUsers {
                    users: users.len(),
                    max,
                });
            }
            Target::Users(users) => return Ok(users.iter().map(|&u| u.into()).collect()),
            Target::Room(room) => {
                if let Some(r) = self.registry.room(room) {
                    for mb in r.members().values() {
                        set.insert(mb.user().clone());
                    }
                }
            }
            Target::All => self.users.for_each(|user, _| {
                over |= set.len() >= max;
                if !over {
                    set.insert(user.clone());
                }
            }),
        }
        if over || set.len() > max {
            let users = if over { max + 1 } else { set.len() };
            return Err(PushError::TooManyUsers { users, max });
        }
        Ok(set.into_iter().collect())
    }

    /// Stores `envelope` for each of `users`, a batch at a time, waking each batch's online
    /// sessions after its puts; returns the sessions woken.
    fn store_and_wake(
        &self,
        engine: &EngineHandle,
        users: &[UserName],
        envelope: Bytes,
        ttl: Option<Duration>,
    ) -> Result<usize, PushError> {
        let mut sessions = 0;
        let mut names: Vec<&[u8]> = Vec::with_capacity(BATCH.min(users.len()));
        let mut wake = Vec::new();
        for batch in users.chunks(BATCH) {
            let now_ms = millis(engine.now());
            names.clear();
            names.extend(batch.iter().map(|u| u.as_bytes()));
            self.store.put_many(&names, envelope.clone(), ttl, now_ms)?;
            Gateway::count(&self.stats.stored, batch.len());
            for u in batch {
                self.users.for_sessions(u, |s| {
                    sessions += 1;
                    if s.mailbox.notify_store() {
                        wake.push(s.handle);
                    }
                });
            }
            let _ = engine.wake_many(wake.drain(..));
        }
        Ok(sessions)
    }
}

//! AUTH: verifying the token, negotiating the heartbeat, registering the session under its
//! user (displacing others as [`Config::policy`](super::Config::policy) says) and WELCOME.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use loopwire::{Conn, ConnHandle};

use super::config::Policy;
use super::delivery::reply;
use super::frame::{ProtocolError, kick, server};
use super::gateway::Gateway;
use super::mailbox::{KickNote, Mailbox, UserName};
use super::session::{Live, Session};
use super::upstream::EventKind;
use super::users::SessionRef;

/// The reason KICK code 1 carries.
pub const REPLACED_REASON: &str = "replaced by a newer login";

impl Gateway {
    /// Handles AUTH: on success the session is live, WELCOME is written, its read deadline
    /// becomes its idle timeout, and it will pull what the store holds for its user.
    ///
    /// # Errors
    /// [`ProtocolError::AuthTwice`]; [`ProtocolError::Auth`] for a refused token.
    pub(crate) fn authenticate(
        &self,
        c: &mut Conn<'_, Session>,
        heartbeat_ms: u32,
        token: &[u8],
    ) -> Result<(), ProtocolError> {
        if c.state().authenticated() {
            return Err(ProtocolError::AuthTwice);
        }
        let identity = match self.verifier.verify(token, self.unix_secs(c.now())) {
            Ok(id) => id,
            Err(e) => {
                self.stats.auth_failures.fetch_add(1, Relaxed);
                return Err(e.into());
            }
        };
        let heartbeat = self.config.negotiate(heartbeat_ms);
        let idle = Live::idle_for(heartbeat);
        let user: UserName = identity.user.into();
        let mailbox = Arc::new(Mailbox::new(Arc::clone(&user)));
        let me = SessionRef {
            handle: c.handle(),
            mailbox: Arc::clone(&mailbox),
        };
        let displaced = self.users.login(&user, me, self.config.policy);
        // Assigned rooms come back from the gateway's state (Redis in a cluster, where the
        // login job also registers the user and loads its queue), joined on this loop.
        match self.cluster.get() {
            Some(cluster) => cluster.login(&user, self.config.policy == Policy::Single),
            None => {
                for room in self.assignments(&user) {
                    mailbox.assign(&room, true);
                }
            }
        }
        self.kick_all(&displaced, kick::REPLACED, REPLACED_REASON);
        Gateway::count(&self.stats.kicks_replaced, displaced.len());

        let hb_ms = u32::try_from(heartbeat.as_millis()).unwrap_or(u32::MAX);
        let window = u16::try_from(self.config.window).unwrap_or(u16::MAX);
        reply(
            c,
            server::WELCOME,
            &[&hb_ms.to_be_bytes(), &window.to_be_bytes(), user.as_bytes()],
        );
        c.set_read_deadline(Some(idle));
        c.state_mut().live = Some(Box::new(Live {
            user,
            mailbox,
            grants: identity.rooms,
            heartbeat,
            retransmit_after: self.config.retransmit_after.unwrap_or(heartbeat),
            cursor: None,
            store_dirty: true,
            device: identity.device.map(Arc::from),
            up_tat: Duration::ZERO,
        }));
        self.presence(c, EventKind::Online);
        self.stats.sessions.fetch_add(1, Relaxed);
        self.stats.logins.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Leaves a KICK in each session's mailbox and wakes them (one task per loop).
    pub(crate) fn kick_all(&self, sessions: &[SessionRef], code: u16, reason: &str) {
        let mut wake: Vec<ConnHandle> = Vec::new();
        for s in sessions {
            let note = KickNote {
                code,
                reason: reason.to_owned(),
            };
            if s.mailbox.kick(note) {
                wake.push(s.handle);
            }
        }
        if let Some(engine) = self.engine() {
            // `Err` only while the engine stops, which closes every session anyway.
            let _ = engine.wake_many(wake);
        }
    }

    /// Adds `n` to a counter.
    pub(crate) fn count(counter: &std::sync::atomic::AtomicU64, n: usize) {
        super::stats::Stats::add(counter, n as u64);
    }
}

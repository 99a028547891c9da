//! Upstream on the loops: UP frames (rate-limited per session) and presence events, offered
//! to the [`Upstream`] queue without blocking (see [`upstream`](super::upstream)).
//!
//! # Rate limit
//!
//! Each session may send [`Config::up_burst`](super::Config::up_burst) UP frames at once,
//! then one every 1 / [`Config::up_rate`](super::Config::up_rate) seconds on average (GCRA,
//! the token bucket as one timestamp in the session's state, on the engine's clock
//! [`Conn::now`]). An UP over the limit is ERROR 13 and the connection closes: a client that
//! floods is misbehaving, and dropping its data silently would hide that from it.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use loopwire::{Bytes, Conn};

use super::frame::ProtocolError;
use super::gateway::{Gateway, millis};
use super::session::{Live, Session};
use super::upstream::{Event, EventKind, Sink, Upstream};

impl Gateway {
    /// Sends UP frames and presence events to `sink`, through a queue of
    /// [`Config::upstream_queue`](super::Config::upstream_queue) events consumed by `workers`
    /// threads (1 keeps the events in order). Call it once, before the engine starts; without
    /// it UP frames are accepted and dropped (counted) and no presence event is made.
    ///
    /// # Errors
    /// When a worker thread cannot be started, or a sink was set already.
    pub fn set_sink(&self, sink: Arc<dyn Sink>, workers: usize) -> std::io::Result<()> {
        let up = Upstream::start(sink, self.config.upstream_queue, workers)?;
        self.upstream
            .set(up)
            .map_err(|_| std::io::Error::other("the upstream sink is already set"))
    }

    /// The upstream queue's counters: `(queued, dropped, delivered, failed)`.
    pub fn upstream_counts(&self) -> (u64, u64, u64, u64) {
        self.upstream.get().map_or((0, 0, 0, 0), |u| {
            let s = u.stats();
            (
                s.queued.load(Relaxed),
                s.dropped.load(Relaxed),
                s.delivered.load(Relaxed),
                s.failed.load(Relaxed),
            )
        })
    }

    /// An UP frame from an authenticated session.
    ///
    /// # Errors
    /// [`ProtocolError::RateLimited`] over the session's rate.
    pub(crate) fn up(
        &self,
        c: &mut Conn<'_, Session>,
        payload: &[u8],
    ) -> Result<(), ProtocolError> {
        let now = c.now();
        let (rate, burst) = (self.config.up_rate, self.config.up_burst.max(1));
        let Some(live) = c.state_mut().live.as_deref_mut() else {
            return Err(ProtocolError::NotAuthenticated);
        };
        if rate > 0 {
            let interval = Duration::from_secs(1) / rate;
            let tat = live.up_tat.max(now);
            if tat - now > interval * (burst - 1) {
                return Err(ProtocolError::RateLimited(rate));
            }
            live.up_tat = tat + interval;
        }
        self.stats.up_frames.fetch_add(1, Relaxed);
        let event = self.event(live, now, EventKind::Up(Bytes::copy_from_slice(payload)));
        self.offer(event);
        Ok(())
    }

    /// A presence event for the session of `c` (after AUTH).
    pub(crate) fn presence(&self, c: &Conn<'_, Session>, kind: EventKind) {
        if let Some(live) = c.state().live.as_deref() {
            self.presence_of(live, c.now(), kind);
        }
    }

    /// A presence event for `live` at `now`.
    pub(crate) fn presence_of(&self, live: &Live, now: Duration, kind: EventKind) {
        if self.upstream.get().is_some() {
            self.offer(self.event(live, now, kind));
        }
    }

    fn event(&self, live: &Live, now: Duration, kind: EventKind) -> Event {
        Event {
            kind,
            user: Arc::clone(&live.user),
            device: live.device.clone(),
            ts_ms: self
                .config
                .unix_epoch_offset_secs
                .saturating_mul(1000)
                .saturating_add(millis(now)),
        }
    }

    fn offer(&self, event: Event) {
        match self.upstream.get() {
            Some(up) => {
                if !up.offer(event) {
                    self.stats.upstream_dropped.fetch_add(1, Relaxed);
                }
            }
            None => {
                self.stats.upstream_dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

//! [`Stats`]: the gateway's counters (relaxed atomics, one cache line of contention at
//! most per event) and a coarse histogram of acknowledgement round trips; [`StatsSnapshot`]
//! lists them with their meaning.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Sub-buckets per power of two in [`Histogram`].
const SUB: usize = 4;
/// Buckets: powers of two up to 2^40 µs (12 days), 4 each.
const BUCKETS: usize = 41 * SUB;

/// A lock-free histogram of durations in microseconds, four buckets per power of two (the
/// value reported for a quantile is its bucket's upper bound: at most 19 % high).
#[derive(Debug)]
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Self {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Histogram {
    fn bucket(us: u64) -> usize {
        if us < SUB as u64 {
            return us as usize;
        }
        let log = 63 - us.leading_zeros() as usize; // >= 2
        let sub = ((us >> (log - 2)) & 3) as usize;
        (log * SUB + sub).min(BUCKETS - 1)
    }

    fn upper(bucket: usize) -> u64 {
        if bucket < SUB {
            return bucket as u64;
        }
        let (log, sub) = (bucket / SUB, (bucket % SUB) as u64);
        ((SUB as u64 + sub + 1) << (log - 2)) - 1
    }

    /// Counts one duration.
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[Self::bucket(us)].fetch_add(1, Relaxed);
    }

    /// The `q` quantile (0..=1) in microseconds, 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return 0;
        }
        let rank = ((total as f64 * q).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::upper(i);
            }
        }
        Self::upper(BUCKETS - 1)
    }
}

/// The gateway's counters.
#[derive(Debug, Default)]
pub struct Stats {
    pub(crate) connections: AtomicU64,
    pub(crate) sessions: AtomicU64,
    pub(crate) logins: AtomicU64,
    pub(crate) auth_failures: AtomicU64,
    pub(crate) auth_timeouts: AtomicU64,
    pub(crate) kicks_replaced: AtomicU64,
    pub(crate) kicks_backend: AtomicU64,
    pub(crate) pushes_qos0: AtomicU64,
    pub(crate) pushes_qos1: AtomicU64,
    pub(crate) stored: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) retransmitted: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) stale_acks: AtomicU64,
    pub(crate) unacked: AtomicU64,
    pub(crate) dropped_mailbox: AtomicU64,
    pub(crate) dropped_attempts: AtomicU64,
    pub(crate) gone: AtomicU64,
    pub(crate) store_errors: AtomicU64,
    pub(crate) purged: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) heartbeat_timeouts: AtomicU64,
    pub(crate) ws_upgrades: AtomicU64,
    pub(crate) ws_handshake_failures: AtomicU64,
    pub(crate) refused_network: AtomicU64,
    pub(crate) refused_ip_limit: AtomicU64,
    pub(crate) up_frames: AtomicU64,
    pub(crate) upstream_dropped: AtomicU64,
    pub(crate) ack_rtt: Histogram,
}

/// A copy of [`Stats`] at one moment. `Display` writes `key=value` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Connections open (authenticated or not).
    pub connections: u64,
    /// Sessions open (AUTH done, not yet closed).
    pub sessions: u64,
    /// Successful AUTHs.
    pub logins: u64,
    /// AUTHs refused (bad, expired or missing token).
    pub auth_failures: u64,
    /// Connections closed for sending no AUTH in time.
    pub auth_timeouts: u64,
    /// Sessions KICKed by a newer login (code 1).
    pub kicks_replaced: u64,
    /// Sessions KICKed by the backend (code 2).
    pub kicks_backend: u64,
    /// QoS0 pushes accepted (user, users, room or all: one each).
    pub pushes_qos0: u64,
    /// QoS1 pushes accepted.
    pub pushes_qos1: u64,
    /// QoS1 messages put in the store (one per user reached).
    pub stored: u64,
    /// PUSH frames written, first sends only (QoS0 and QoS1).
    pub delivered: u64,
    /// QoS1 PUSH frames written again (no ACK in time).
    pub retransmitted: u64,
    /// ACKs that removed a message from the session's window.
    pub acked: u64,
    /// ACKs of no message in the window (a duplicate, or another device's).
    pub stale_acks: u64,
    /// QoS1 messages sent and not acknowledged, over every session.
    pub unacked: u64,
    /// QoS0 frames dropped: the session's mailbox was full.
    pub dropped_mailbox: u64,
    /// QoS1 messages dropped after max_attempts sends without an ACK.
    pub dropped_attempts: u64,
    /// QoS1 messages skipped because the store no longer had them (ACKed by another session, expired).
    pub gone: u64,
    /// Store calls that failed on a session's loop (retried later).
    pub store_errors: u64,
    /// Expired messages purged by the ticker.
    pub purged: u64,
    /// Sessions closed for a protocol violation (auth failures and timeouts excluded).
    pub protocol_errors: u64,
    /// Sessions closed for missing heartbeats (after ERROR 15).
    pub heartbeat_timeouts: u64,
    /// WebSocket handshakes accepted.
    pub ws_upgrades: u64,
    /// WebSocket handshakes refused (an HTTP error was sent).
    pub ws_handshake_failures: u64,
    /// Connections closed at once: the peer's address is denied or not allowed.
    pub refused_network: u64,
    /// Connections refused at once (ERROR 16 or HTTP 429, then the close): their address had
    /// `max_conns_per_ip` open already.
    pub refused_ip_limit: u64,
    /// UP frames accepted (within the rate limit).
    pub up_frames: u64,
    /// Upstream events dropped: the queue was full, or no sink is set.
    pub upstream_dropped: u64,
    /// ACK round trip (first send to ACK), median, µs (bucket upper bound). Measured on the
    /// engine's clock, which counts whole milliseconds.
    pub ack_rtt_p50_us: u64,
    /// ACK round trip, 99th percentile, µs.
    pub ack_rtt_p99_us: u64,
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            connections: self.connections.load(Relaxed),
            sessions: self.sessions.load(Relaxed),
            logins: self.logins.load(Relaxed),
            auth_failures: self.auth_failures.load(Relaxed),
            auth_timeouts: self.auth_timeouts.load(Relaxed),
            kicks_replaced: self.kicks_replaced.load(Relaxed),
            kicks_backend: self.kicks_backend.load(Relaxed),
            pushes_qos0: self.pushes_qos0.load(Relaxed),
            pushes_qos1: self.pushes_qos1.load(Relaxed),
            stored: self.stored.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            retransmitted: self.retransmitted.load(Relaxed),
            acked: self.acked.load(Relaxed),
            stale_acks: self.stale_acks.load(Relaxed),
            unacked: self.unacked.load(Relaxed),
            dropped_mailbox: self.dropped_mailbox.load(Relaxed),
            dropped_attempts: self.dropped_attempts.load(Relaxed),
            gone: self.gone.load(Relaxed),
            store_errors: self.store_errors.load(Relaxed),
            purged: self.purged.load(Relaxed),
            protocol_errors: self.protocol_errors.load(Relaxed),
            heartbeat_timeouts: self.heartbeat_timeouts.load(Relaxed),
            ws_upgrades: self.ws_upgrades.load(Relaxed),
            ws_handshake_failures: self.ws_handshake_failures.load(Relaxed),
            refused_network: self.refused_network.load(Relaxed),
            refused_ip_limit: self.refused_ip_limit.load(Relaxed),
            up_frames: self.up_frames.load(Relaxed),
            upstream_dropped: self.upstream_dropped.load(Relaxed),
            ack_rtt_p50_us: self.ack_rtt.quantile(0.5),
            ack_rtt_p99_us: self.ack_rtt.quantile(0.99),
        }
    }

    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Relaxed);
        }
    }
}

impl StatsSnapshot {
    /// Every counter with its name and help, in `Display` order (the `/metrics` names are
    /// these with a `push_` prefix).
    pub fn fields(&self) -> [(&'static str, &'static str, u64); FIELDS] {
        [
            (
                "connections",
                "Connections open (authenticated or not).",
                self.connections,
            ),
            (
                "sessions",
                "Sessions open (AUTH done, not yet closed).",
                self.sessions,
            ),
            ("logins", "Successful AUTHs.", self.logins),
            (
                "auth_failures",
                "AUTHs refused (bad, expired or missing token).",
                self.auth_failures,
            ),
            (
                "auth_timeouts",
                "Connections closed for sending no AUTH in time.",
                self.auth_timeouts,
            ),
            (
                "kicks_replaced",
                "Sessions KICKed by a newer login (code 1).",
                self.kicks_replaced,
            ),
            (
                "kicks_backend",
                "Sessions KICKed by the backend (code 2).",
                self.kicks_backend,
            ),
            (
                "pushes_qos0",
                "QoS0 pushes accepted (user, users, room or all: one each).",
                self.pushes_qos0,
            ),
            ("pushes_qos1", "QoS1 pushes accepted.", self.pushes_qos1),
            (
                "stored",
                "QoS1 messages put in the store (one per user reached).",
                self.stored,
            ),
            (
                "delivered",
                "PUSH frames written, first sends only (QoS0 and QoS1).",
                self.delivered,
            ),
            (
                "retransmitted",
                "QoS1 PUSH frames written again (no ACK in time).",
                self.retransmitted,
            ),
            (
                "acked",
                "ACKs that removed a message from the session's window.",
                self.acked,
            ),
            (
                "stale_acks",
                "ACKs of no message in the window (a duplicate, or another device's).",
                self.stale_acks,
            ),
            (
                "unacked",
                "QoS1 messages sent and not acknowledged, over every session.",
                self.unacked,
            ),
            (
                "dropped_mailbox",
                "QoS0 frames dropped: the session's mailbox was full.",
                self.dropped_mailbox,
            ),
            (
                "dropped_attempts",
                "QoS1 messages dropped after max_attempts sends without an ACK.",
                self.dropped_attempts,
            ),
            (
                "gone",
                "QoS1 messages skipped because the store no longer had them (ACKed by another session, expired).",
                self.gone,
            ),
            (
                "store_errors",
                "Store calls that failed on a session's loop (retried later).",
                self.store_errors,
            ),
            (
                "purged",
                "Expired messages purged by the ticker.",
                self.purged,
            ),
            (
                "protocol_errors",
                "Sessions closed for a protocol violation (auth failures excluded).",
                self.protocol_errors,
            ),
            (
                "heartbeat_timeouts",
                "Sessions closed for missing heartbeats.",
                self.heartbeat_timeouts,
            ),
            (
                "ws_upgrades",
                "WebSocket handshakes accepted.",
                self.ws_upgrades,
            ),
            (
                "ws_handshake_failures",
                "WebSocket handshakes refused (an HTTP error was sent).",
                self.ws_handshake_failures,
            ),
            (
                "refused_network",
                "Connections closed at once: the peer's address is denied or not allowed.",
                self.refused_network,
            ),
            (
                "refused_ip_limit",
                "Connections closed at once: their address had max_conns_per_ip open already.",
                self.refused_ip_limit,
            ),
            (
                "up_frames",
                "UP frames accepted (within the rate limit).",
                self.up_frames,
            ),
            (
                "upstream_dropped",
                "Upstream events dropped: the queue was full, or no sink is set.",
                self.upstream_dropped,
            ),
            (
                "ack_rtt_p50_us",
                "ACK round trip, median, microseconds.",
                self.ack_rtt_p50_us,
            ),
            (
                "ack_rtt_p99_us",
                "ACK round trip, 99th percentile, microseconds.",
                self.ack_rtt_p99_us,
            ),
        ]
    }
}

/// Number of [`StatsSnapshot::fields`].
pub const FIELDS: usize = 30;

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, _, value)) in self.fields().iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={value}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotone_and_bound_their_values() {
        let mut last = 0;
        for us in 0..100_000u64 {
            let b = Histogram::bucket(us);
            assert!(b >= last);
            last = b;
            assert!(Histogram::upper(b) >= us, "{us}");
            assert!(Histogram::upper(b) as f64 <= us as f64 * 1.25 + 1.0, "{us}");
        }
    }

    #[test]
    fn quantiles() {
        let h = Histogram::default();
        assert_eq!(h.quantile(0.5), 0);
        for us in 1..=100 {
            h.record(Duration::from_micros(us));
        }
        let p50 = h.quantile(0.5);
        assert!((50..=60).contains(&p50), "{p50}");
        assert!(h.quantile(0.99) >= 99);
    }
}

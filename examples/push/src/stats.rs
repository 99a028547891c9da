//! [`Stats`]: the gateway's counters (relaxed atomics, one cache line of contention at
//! most per event) and a coarse histogram of acknowledgement round trips.

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
    pub(crate) sessions: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) delivered: AtomicU64,
    pub(crate) retransmitted: AtomicU64,
    pub(crate) acked: AtomicU64,
    pub(crate) stale_acks: AtomicU64,
    pub(crate) unacked: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) protocol_errors: AtomicU64,
    pub(crate) heartbeat_timeouts: AtomicU64,
    pub(crate) parked: AtomicU64,
    pub(crate) restored: AtomicU64,
    pub(crate) ack_rtt: Histogram,
}

/// A copy of [`Stats`] at one moment. `Display` writes `key=value` pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatsSnapshot {
    /// Sessions open (HELLO done).
    pub sessions: u64,
    /// Messages published (acknowledged delivery).
    pub published: u64,
    /// PUSH frames written, first sends only.
    pub delivered: u64,
    /// PUSH frames written again (no ACK in time, or after a reconnect).
    pub retransmitted: u64,
    /// ACKs that removed a message.
    pub acked: u64,
    /// ACKs of no message in the window (a duplicate after a retransmit).
    pub stale_acks: u64,
    /// Messages sent and not acknowledged, over every session.
    pub unacked: u64,
    /// Messages dropped: a full mailbox, or beyond the window when parking or restoring.
    pub dropped: u64,
    /// Sessions closed for a protocol violation.
    pub protocol_errors: u64,
    /// Sessions closed for missing heartbeats.
    pub heartbeat_timeouts: u64,
    /// Disconnected sessions whose messages were kept.
    pub parked: u64,
    /// Reconnects that got kept messages back.
    pub restored: u64,
    /// ACK round trip (first send to ACK), median, µs (bucket upper bound). Measured on the
    /// engine's clock, which counts whole milliseconds: a round trip within one loop turn's
    /// reading counts as 0.
    pub ack_rtt_p50_us: u64,
    /// ACK round trip, 99th percentile, µs.
    pub ack_rtt_p99_us: u64,
}

impl Stats {
    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            sessions: self.sessions.load(Relaxed),
            published: self.published.load(Relaxed),
            delivered: self.delivered.load(Relaxed),
            retransmitted: self.retransmitted.load(Relaxed),
            acked: self.acked.load(Relaxed),
            stale_acks: self.stale_acks.load(Relaxed),
            unacked: self.unacked.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            protocol_errors: self.protocol_errors.load(Relaxed),
            heartbeat_timeouts: self.heartbeat_timeouts.load(Relaxed),
            parked: self.parked.load(Relaxed),
            restored: self.restored.load(Relaxed),
            ack_rtt_p50_us: self.ack_rtt.quantile(0.5),
            ack_rtt_p99_us: self.ack_rtt.quantile(0.99),
        }
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sessions={} published={} delivered={} retransmitted={} acked={} stale_acks={} \
             unacked={} dropped={} protocol_errors={} heartbeat_timeouts={} parked={} \
             restored={} ack_rtt_p50_us={} ack_rtt_p99_us={}",
            self.sessions,
            self.published,
            self.delivered,
            self.retransmitted,
            self.acked,
            self.stale_acks,
            self.unacked,
            self.dropped,
            self.protocol_errors,
            self.heartbeat_timeouts,
            self.parked,
            self.restored,
            self.ack_rtt_p50_us,
            self.ack_rtt_p99_us
        )
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

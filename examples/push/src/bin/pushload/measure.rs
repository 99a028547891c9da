//! What pushload measures: the targets ([`Classes`]), the payload that carries the publish
//! time, and the latency histograms ([`Report`]).

use std::collections::HashMap;

use hdrhistogram::Histogram;
use loopwire_examples::cli::{Context, Failed};

use super::Args;

/// Targets measured: room `all`, one room per size, then user `u0` (named `user:u0`).
pub(crate) struct Classes {
    pub(crate) rooms: Vec<Vec<u8>>,
    pub(crate) members: Vec<usize>,
}

/// The name of the unicast target.
const UNICAST: &[u8] = b"user:u0";

impl Classes {
    pub(crate) fn new(args: &Args) -> Self {
        let mut rooms = vec![b"all".to_vec()];
        let mut members = vec![args.conns];
        for &s in &args.sizes {
            rooms.push(format!("s{s}-0").into_bytes());
            members.push(s.min(args.conns));
        }
        rooms.push(UNICAST.to_vec());
        members.push(1);
        Self { rooms, members }
    }
}

/// A payload of `len` bytes (at least 20): the publish time in µs (16 digits), the target
/// (3 digits), the mode (1 digit), then padding.
pub(crate) fn payload(t: u64, class: usize, unacked: bool, len: usize) -> String {
    let mut p = format!("{t:016}{class:03}{}", u8::from(unacked));
    p.extend(std::iter::repeat_n('x', len.saturating_sub(p.len())));
    p
}

/// What [`payload`] encoded: time, target, mode.
pub(crate) fn parse_payload(p: &[u8]) -> Option<(u64, usize, bool)> {
    let text = std::str::from_utf8(p.get(..20)?).ok()?;
    let t = text[..16].parse().ok()?;
    let class = text[16..19].parse().ok()?;
    Some((t, class, &text[19..20] == "1"))
}

/// Longest latency kept (an hour); a longer one is recorded as this.
const MAX_US: u64 = 3_600_000_000;

/// An empty latency histogram: 1 µs to [`MAX_US`] at 3 significant digits, under 200 KiB.
pub(crate) fn histogram() -> Result<Histogram<u64>, Failed> {
    Histogram::new_with_bounds(1, MAX_US, 3).context(|| "cannot make a latency histogram")
}

/// The largest value in `h` (to its precision), 0 if it is empty.
pub(crate) fn max_of(h: &Histogram<u64>) -> u64 {
    if h.is_empty() { 0 } else { h.max() }
}

/// What one thread measured.
pub(crate) struct Report {
    /// Publish-to-receipt latencies per (class, mode), µs.
    pub(crate) latency: Vec<Histogram<u64>>,
    /// PING round trips, µs.
    pub(crate) ping_rtt: Histogram<u64>,
    /// Per (class, mode): publish time (µs, from the payload) -> latency of the last
    /// delivery of that publish seen, µs: the time for a publish to reach everyone.
    pub(crate) last: Vec<HashMap<u64, u64>>,
    pub(crate) duplicates: u64,
}

impl Report {
    pub(crate) fn new(classes: &Classes) -> Result<Self, Failed> {
        Ok(Self {
            latency: (0..classes.rooms.len() * 2)
                .map(|_| histogram())
                .collect::<Result<_, _>>()?,
            ping_rtt: histogram()?,
            last: vec![HashMap::new(); classes.rooms.len() * 2],
            duplicates: 0,
        })
    }

    /// Adds `other`'s measurements to these.
    pub(crate) fn merge(&mut self, other: &Report) -> Result<(), Failed> {
        for (a, b) in self.latency.iter_mut().zip(&other.latency) {
            a.add(b).context(|| "cannot merge latency histograms")?;
        }
        self.ping_rtt
            .add(&other.ping_rtt)
            .context(|| "cannot merge latency histograms")?;
        for (a, b) in self.last.iter_mut().zip(&other.last) {
            for (&t, &lat) in b {
                let e = a.entry(t).or_insert(0);
                *e = (*e).max(lat);
            }
        }
        self.duplicates += other.duplicates;
        Ok(())
    }

    /// Records a delivery of the publish stamped `t`, `lat` µs after it, in `slot`.
    pub(crate) fn record(&mut self, slot: usize, t: u64, lat: u64) {
        self.latency[slot].saturating_record(lat);
        let e = self.last[slot].entry(t).or_insert(0);
        *e = (*e).max(lat);
    }

    /// Median and largest, over the publishes of `slot`, of the time to their last
    /// delivery, µs (0, 0 without deliveries).
    pub(crate) fn last_delivery(&self, slot: usize) -> (u64, u64) {
        let mut v: Vec<u64> = self.last[slot].values().copied().collect();
        v.sort_unstable();
        match v.last() {
            Some(&max) => (v[(v.len() - 1) / 2], max),
            None => (0, 0),
        }
    }
}

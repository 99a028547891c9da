//! What the soak samples while it runs (resident memory and open files of every server, once
//! a second) and the checks it prints at the end, one table row each.

use std::fmt::Write as _;

/// Memory a connection with traffic may hold by its watermarks: the engine's default high
/// write watermark (64 KiB; a handler that honours it stops adding beyond) plus one read
/// buffer (64 KiB) of inbound bytes not yet consumed.
pub(crate) const PER_CONN_KIB: u64 = 64 + 64;
/// Connections per server that may hold such a backlog at once: the soak's checked traffic
/// (8), its never-reading, resetting and probing clients, the API and the QoS1 sessions,
/// with room to spare. The slowloris and half-open connections hold a few bytes each.
pub(crate) const ACTIVE_CONNS: u64 = 32;
/// What any other open connection may cost: its slot, its handler state and a partial
/// frame (slowloris and half-open peers send at most a few hundred bytes).
pub(crate) const IDLE_CONN_KIB: u64 = 4;
/// Drained 4 KiB buffers the engine keeps per loop (`pooled_buffers`, 1024), two loops.
pub(crate) const POOL_KIB: u64 = 2 * 1024 * 4;

/// One server's samples.
#[derive(Debug, Default, Clone)]
pub(crate) struct Samples {
    /// Resident memory after start, before any load, KiB.
    pub(crate) base_rss: u64,
    /// Open files after start, before any load.
    pub(crate) base_fds: usize,
    /// (seconds since the load started, RSS KiB, open files).
    pub(crate) points: Vec<(f64, u64, usize)>,
}

impl Samples {
    /// Most open files seen.
    pub(crate) fn peak_fds(&self) -> usize {
        self.points
            .iter()
            .map(|p| p.2)
            .max()
            .unwrap_or(self.base_fds)
    }

    /// Largest RSS in `[from, to)` seconds.
    pub(crate) fn max_rss(&self, from: f64, to: f64) -> Option<u64> {
        self.points
            .iter()
            .filter(|p| p.0 >= from && p.0 < to)
            .map(|p| p.1)
            .max()
    }

    /// The bound on resident memory the watermarks give: the idle process, the buffer pool,
    /// every connection beyond the idle ones at [`IDLE_CONN_KIB`], [`ACTIVE_CONNS`] of them
    /// at [`PER_CONN_KIB`], and `extra_kib` of application data the server is allowed to
    /// keep (a push session's mailbox and window, RESP values). A server that buffered for a
    /// peer that does not read (1 GiB is offered) would pass it.
    pub(crate) fn bound_kib(&self, extra_kib: u64) -> u64 {
        let conns = self.peak_fds().saturating_sub(self.base_fds) as u64;
        self.base_rss + POOL_KIB + conns * IDLE_CONN_KIB + ACTIVE_CONNS * PER_CONN_KIB + extra_kib
    }
}

/// One line of the final table.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) what: String,
    pub(crate) figure: String,
    pub(crate) ok: bool,
}

impl Check {
    pub(crate) fn new(what: impl Into<String>, figure: impl Into<String>, ok: bool) -> Self {
        Self {
            what: what.into(),
            figure: figure.into(),
            ok,
        }
    }
}

/// The checks as a Markdown table.
pub(crate) fn table(checks: &[Check]) -> String {
    let mut s = String::from("| check | figure | verdict |\n|---|---|---|\n");
    for c in checks {
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            c.what,
            c.figure,
            if c.ok { "ok" } else { "**FAILED**" }
        );
    }
    s
}

/// KiB as MiB with one decimal.
pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_counts_connections_beyond_the_idle_ones() {
        let s = Samples {
            base_rss: 1000,
            base_fds: 10,
            points: vec![(0.0, 1500, 12), (1.0, 2000, 110), (2.0, 1800, 10)],
        };
        assert_eq!(s.peak_fds(), 110);
        assert_eq!(
            s.bound_kib(7),
            1000 + POOL_KIB + 100 * IDLE_CONN_KIB + ACTIVE_CONNS * PER_CONN_KIB + 7
        );
        assert_eq!(s.max_rss(0.0, 1.0), Some(1500));
        assert_eq!(s.max_rss(1.0, f64::MAX), Some(2000));
        assert_eq!(s.max_rss(5.0, 6.0), None);
    }
}

//! Least-connections: the target with the fewest open connections.

use crossbeam_utils::CachePadded;

use crate::sync::{AtomicUsize, Ordering};
use crate::{Balancer, ConnInfo, Error};

/// Picks a target with the fewest open connections, counted through
/// [`on_open`](Balancer::on_open) and [`on_close`](Balancer::on_close).
///
/// - **Counters**: one `AtomicUsize` per target, each padded to its own cache line
///   ([`CachePadded`]) so loops closing connections on different targets do not contend.
/// - **Ties**: the scan starts one past the previous pick and takes the first minimum it
///   meets, so a burst of accepts over equally loaded targets goes round-robin instead of
///   piling onto target 0.
/// - **Saturation**: [`on_close`](Balancer::on_close) on a target whose count is already 0
///   (a close without a matching open) leaves it at 0 rather than wrapping around.
///   Out-of-range target indices are ignored by `on_open` and `on_close`.
///
/// Under concurrent opens and closes a pick sees each counter at some recent value; the
/// answer is the minimum of what it saw (counts are relaxed hints, not a lock). The loom model
/// `loom_least_conn` in `loopwire-verify` checks these counters under racing opens, closes and
/// picks (with `--cfg loom` the counters are loom's atomics, so build the balancer inside
/// `loom::model` then).
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::{Balancer, ConnInfo, LeastConnections};
///
/// let lc = LeastConnections::new(3)?;
/// let conn = ConnInfo::default();
/// lc.on_open(0);
/// lc.on_open(1);
/// assert_eq!(lc.pick(&conn), 2);
/// lc.on_close(1);
/// assert_eq!(lc.connections(1), Some(0));
/// # Ok::<(), loopwire_loadbalance::Error>(())
/// ```
#[derive(Debug)]
pub struct LeastConnections {
    counts: Box<[CachePadded<AtomicUsize>]>,
    /// Where the next scan starts: one past the previous pick.
    start: CachePadded<AtomicUsize>,
}

impl LeastConnections {
    /// A least-connections balancer over `targets` targets, all at zero connections.
    ///
    /// # Errors
    ///
    /// [`Error::NoTargets`] if `targets` is 0.
    pub fn new(targets: usize) -> Result<Self, Error> {
        if targets == 0 {
            return Err(Error::NoTargets);
        }
        Ok(Self {
            counts: (0..targets)
                .map(|_| CachePadded::new(AtomicUsize::new(0)))
                .collect(),
            start: CachePadded::new(AtomicUsize::new(0)),
        })
    }

    /// The number of targets.
    pub fn targets(&self) -> usize {
        self.counts.len()
    }

    /// The open-connection count of `target`, or `None` if it is out of range.
    pub fn connections(&self, target: usize) -> Option<usize> {
        self.counts.get(target).map(|c| c.load(Ordering::Relaxed))
    }
}

impl Balancer for LeastConnections {
    #[inline]
    fn pick(&self, _conn: &ConnInfo) -> usize {
        let n = self.counts.len();
        let start = self.start.load(Ordering::Relaxed).min(n - 1);
        // Scan `start..n`, then `0..start`; strict `<` keeps the first minimum in that order.
        let (before, from) = self.counts.split_at(start);
        let mut best = start;
        let mut best_count = usize::MAX;
        for (i, count) in from.iter().enumerate() {
            let c = count.load(Ordering::Relaxed);
            if c < best_count {
                best = start + i;
                best_count = c;
            }
        }
        for (i, count) in before.iter().enumerate() {
            let c = count.load(Ordering::Relaxed);
            if c < best_count {
                best = i;
                best_count = c;
            }
        }
        let next = if best + 1 == n { 0 } else { best + 1 };
        self.start.store(next, Ordering::Relaxed);
        best
    }

    #[inline]
    fn on_open(&self, target: usize) {
        if let Some(count) = self.counts.get(target) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[inline]
    fn on_close(&self, target: usize) {
        if let Some(count) = self.counts.get(target) {
            // `checked_sub` makes a close without an open a no-op at 0.
            let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| c.checked_sub(1));
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn pick(lc: &LeastConnections) -> usize {
        lc.pick(&ConnInfo::default())
    }

    #[test]
    fn zero_targets_is_an_error() {
        assert_eq!(LeastConnections::new(0).unwrap_err(), Error::NoTargets);
    }

    #[test]
    fn a_burst_over_equal_targets_goes_round_robin() {
        let lc = LeastConnections::new(4).unwrap();
        let picks: Vec<usize> = (0..6).map(|_| pick(&lc)).collect();
        assert_eq!(picks, [0, 1, 2, 3, 0, 1]);
    }

    #[test]
    fn picks_the_least_loaded() {
        let lc = LeastConnections::new(3).unwrap();
        for t in [0, 0, 1, 2, 2, 2] {
            lc.on_open(t);
        }
        assert_eq!(pick(&lc), 1);
        lc.on_close(0);
        lc.on_close(0);
        assert_eq!(pick(&lc), 0);
    }

    #[test]
    fn ties_among_non_zero_counts_rotate() {
        let lc = LeastConnections::new(3).unwrap();
        for t in [0, 1, 2, 2] {
            lc.on_open(t);
        }
        let picks: Vec<usize> = (0..4).map(|_| pick(&lc)).collect();
        assert_eq!(picks, [0, 1, 0, 1]);
    }

    #[test]
    fn close_without_open_saturates_at_zero() {
        let lc = LeastConnections::new(2).unwrap();
        lc.on_close(1);
        assert_eq!(lc.connections(1), Some(0));
        lc.on_open(1);
        lc.on_close(1);
        lc.on_close(1);
        assert_eq!(lc.connections(1), Some(0));
    }

    #[test]
    fn out_of_range_targets_are_ignored() {
        let lc = LeastConnections::new(2).unwrap();
        lc.on_open(2);
        lc.on_close(7);
        assert_eq!(lc.connections(2), None);
        assert_eq!((lc.connections(0), lc.connections(1)), (Some(0), Some(0)));
    }

    #[test]
    fn concurrent_opens_and_closes_balance_out() {
        let lc = LeastConnections::new(4).unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        let t = pick(&lc);
                        lc.on_open(t);
                        lc.on_close(t);
                    }
                });
            }
        });
        assert!((0..4).all(|t| lc.connections(t) == Some(0)));
    }
}

//! Round-robin: target `i mod n` for the `i`-th pick.

use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

use crate::{Balancer, ConnInfo, Error};

/// Hands out targets `0, 1, …, n−1, 0, 1, …` in turn.
///
/// One atomic counter (padded to its own cache line) makes it safe to pick from several
/// threads: every pick takes the next number, so after any number of picks, from any number
/// of threads, the pick counts of any two targets differ by at most one. (The counter is a
/// `usize`; on 64-bit targets it does not wrap in practice. On 32-bit targets, after 2³²
/// picks the sequence restarts at `2³² mod n`, a one-time skew of at most one pick per
/// target.)
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::{Balancer, ConnInfo, RoundRobin};
///
/// let rr = RoundRobin::new(3)?;
/// let picks: Vec<usize> = (0..5).map(|_| rr.pick(&ConnInfo::default())).collect();
/// assert_eq!(picks, [0, 1, 2, 0, 1]);
/// # Ok::<(), loopwire_loadbalance::Error>(())
/// ```
#[derive(Debug)]
pub struct RoundRobin {
    next: CachePadded<AtomicUsize>,
    targets: usize,
}

impl RoundRobin {
    /// A round-robin balancer over `targets` targets, starting at target 0.
    ///
    /// # Errors
    ///
    /// [`Error::NoTargets`] if `targets` is 0.
    pub fn new(targets: usize) -> Result<Self, Error> {
        if targets == 0 {
            return Err(Error::NoTargets);
        }
        Ok(Self {
            next: CachePadded::new(AtomicUsize::new(0)),
            targets,
        })
    }

    /// The number of targets.
    pub fn targets(&self) -> usize {
        self.targets
    }

    /// The next target in turn; what [`Balancer::pick`] returns.
    #[inline]
    pub fn next_target(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.targets
    }
}

impl Balancer for RoundRobin {
    #[inline]
    fn pick(&self, _conn: &ConnInfo) -> usize {
        self.next_target()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_targets_is_an_error() {
        assert_eq!(RoundRobin::new(0).unwrap_err(), Error::NoTargets);
    }

    #[test]
    fn cycles_through_every_target() {
        let rr = RoundRobin::new(4).unwrap();
        let picks: Vec<usize> = (0..9).map(|_| rr.pick(&ConnInfo::default())).collect();
        assert_eq!(picks, [0, 1, 2, 3, 0, 1, 2, 3, 0]);
        assert_eq!(rr.targets(), 4);
    }

    #[test]
    fn one_target_always_wins() {
        let rr = RoundRobin::new(1).unwrap();
        assert!((0..10).all(|_| rr.next_target() == 0));
    }

    #[test]
    fn concurrent_picks_stay_balanced() {
        let rr = RoundRobin::new(3).unwrap();
        let counts: Vec<AtomicUsize> = (0..3).map(|_| AtomicUsize::new(0)).collect();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        counts[rr.next_target()].fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        let counts: Vec<usize> = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
        assert_eq!(counts.iter().sum::<usize>(), 4000);
        let (min, max) = (counts.iter().min(), counts.iter().max());
        assert!(
            max.zip(min).is_some_and(|(max, min)| max - min <= 1),
            "{counts:?}"
        );
    }
}

//! Uniformly random targets from a lock-free SplitMix64 stream.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

use crate::hash::reduce;
use crate::{Balancer, ConnInfo, Error};

/// The SplitMix64 increment (2⁶⁴ / φ, odd).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Picks a target uniformly at random.
///
/// The generator is SplitMix64 (Steele, Lea and Flood, "Fast splittable pseudorandom number
/// generators", OOPSLA 2014; constants from Vigna's `splitmix64.c`): the state advances by a
/// fixed odd constant with one atomic `fetch_add`, so concurrent picks never lock and never
/// see the same state, and each output is a bijective mix of its state. The output is mapped
/// onto the targets with a multiply-shift, not a division (bias below `n / 2⁶⁴`).
///
/// Not suitable for anything security-related.
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::{Balancer, ConnInfo, Random};
///
/// let a = Random::with_seed(4, 7)?;
/// let b = Random::with_seed(4, 7)?;
/// let conn = ConnInfo::default();
/// for _ in 0..10 {
///     let t = a.pick(&conn);
///     assert!(t < 4);
///     assert_eq!(t, b.pick(&conn)); // same seed, same sequence
/// }
/// # Ok::<(), loopwire_loadbalance::Error>(())
/// ```
#[derive(Debug)]
pub struct Random {
    state: CachePadded<AtomicU64>,
    targets: usize,
}

impl Random {
    /// A random balancer seeded from the process's random source (the one std uses to key
    /// `HashMap`s), so two processes pick differently.
    ///
    /// # Errors
    ///
    /// [`Error::NoTargets`] if `targets` is 0.
    pub fn new(targets: usize) -> Result<Self, Error> {
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Self::with_seed(targets, seed)
    }

    /// A random balancer with a fixed seed: the same seed gives the same pick sequence.
    ///
    /// # Errors
    ///
    /// [`Error::NoTargets`] if `targets` is 0.
    pub fn with_seed(targets: usize, seed: u64) -> Result<Self, Error> {
        if targets == 0 {
            return Err(Error::NoTargets);
        }
        Ok(Self {
            state: CachePadded::new(AtomicU64::new(seed)),
            targets,
        })
    }

    /// The number of targets.
    pub fn targets(&self) -> usize {
        self.targets
    }
}

impl Balancer for Random {
    #[inline]
    fn pick(&self, _conn: &ConnInfo) -> usize {
        let state = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        reduce(mix64(state), self.targets)
    }
}

/// SplitMix64's output function (David Stafford's "Mix13" variant of the MurmurHash3
/// finalizer).
#[inline]
fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_targets_is_an_error() {
        assert_eq!(Random::new(0).unwrap_err(), Error::NoTargets);
        assert_eq!(Random::with_seed(0, 1).unwrap_err(), Error::NoTargets);
    }

    /// The first SplitMix64 outputs for seed 1234567, from Vigna's reference implementation.
    #[test]
    fn mix_matches_reference_splitmix64() {
        let mut state = 1_234_567u64;
        let mut next = || {
            state = state.wrapping_add(GAMMA);
            mix64(state)
        };
        assert_eq!(next(), 6_457_827_717_110_365_317);
        assert_eq!(next(), 3_203_168_211_198_807_973);
        assert_eq!(next(), 9_817_491_932_198_370_423);
    }

    #[test]
    fn picks_every_target_roughly_equally() {
        let r = Random::with_seed(8, 99).unwrap();
        let mut counts = [0usize; 8];
        for _ in 0..80_000 {
            counts[r.pick(&ConnInfo::default())] += 1;
        }
        // 10 000 expected each; the standard deviation is about 94.
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn unseeded_balancers_differ() {
        let a = Random::new(1 << 20).unwrap();
        let b = Random::new(1 << 20).unwrap();
        let conn = ConnInfo::default();
        let same = (0..8).filter(|_| a.pick(&conn) == b.pick(&conn)).count();
        assert!(same < 8);
    }
}

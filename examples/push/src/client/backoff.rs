//! [`Backoff`]: jittered exponential delays between reconnection attempts, deterministic
//! for a given seed.
//!
//! Attempt `n` (0-based) waits a delay drawn uniformly from `[c/2, c]`, where
//! `c = min(max, initial * multiplier^n)` ("equal jitter": spread so that a crowd of clients
//! dropped together does not come back together, yet never less than half the step). The
//! random numbers come from SplitMix64 seeded by [`BackoffConfig::seed`], so a test can
//! assert the exact schedule.

use std::time::Duration;

/// How a client backs off between connection attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackoffConfig {
    /// The first step (`c` of attempt 0).
    pub initial: Duration,
    /// The largest step.
    pub max: Duration,
    /// Growth of the step per attempt (at least 1).
    pub multiplier: u32,
    /// Attempts after which the client gives up (`None`: never).
    pub max_attempts: Option<u32>,
    /// Seed of the jitter.
    pub seed: u64,
}

impl Default for BackoffConfig {
    /// 100 ms doubling up to 30 s, forever, seeded from the system clock.
    fn default() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Self {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(30),
            multiplier: 2,
            max_attempts: None,
            seed,
        }
    }
}

/// The delay schedule of one client: [`next_delay`](Self::next_delay) per failed attempt,
/// [`reset`](Self::reset) once connected.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// A schedule at attempt 0.
    pub fn new(config: BackoffConfig) -> Self {
        let rng = config.seed;
        Self {
            config,
            attempt: 0,
            rng,
        }
    }

    /// The delay before the next attempt, or `None` once `max_attempts` were used.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self
            .config
            .max_attempts
            .is_some_and(|max| self.attempt >= max)
        {
            return None;
        }
        let factor = u64::from(self.config.multiplier.max(1)).saturating_pow(self.attempt);
        let step = self
            .config
            .initial
            .as_nanos()
            .saturating_mul(u128::from(factor))
            .min(self.config.max.as_nanos());
        let step = u64::try_from(step).unwrap_or(u64::MAX);
        let half = step / 2;
        let jitter = self.next_random() % (step - half + 1);
        self.attempt += 1;
        Some(Duration::from_nanos(half + jitter))
    }

    /// Attempts made since the last [`reset`](Self::reset).
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Back to attempt 0 (the jitter sequence continues).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// SplitMix64 (Steele, Lea, Flood: "Fast splittable pseudorandom number generators").
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seed: u64) -> BackoffConfig {
        BackoffConfig {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(1),
            multiplier: 2,
            max_attempts: Some(6),
            seed,
        }
    }

    #[test]
    fn delays_grow_within_half_to_full_step_and_stop_at_the_limit() {
        let mut b = Backoff::new(config(7));
        let steps = [100, 200, 400, 800, 1000, 1000];
        for step in steps {
            let d = b.next_delay().expect("within max_attempts");
            let step = Duration::from_millis(step);
            assert!(
                d >= step / 2 && d <= step,
                "{d:?} not in [{:?}, {step:?}]",
                step / 2
            );
        }
        assert_eq!(b.next_delay(), None);
        b.reset();
        assert!(
            b.next_delay()
                .is_some_and(|d| d <= Duration::from_millis(100))
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let run = |seed| {
            let mut b = Backoff::new(config(seed));
            std::iter::from_fn(|| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }
}

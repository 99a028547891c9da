//! Sizing policy of a [`RingBuffer`](crate::RingBuffer): how far it may grow and what it shrinks
//! back to when drained.
//!
//! A [`Config`] is validated once, by [`ConfigBuilder::build`], so every buffer built from it can
//! rely on `initial` and `max` being powers of two (or `initial == 0`) with `initial <= max`.

use crate::{CAPACITY_LIMIT, DEFAULT_MAX_CAPACITY, MIN_CAPACITY};

/// The validated sizing policy of a [`RingBuffer`](crate::RingBuffer).
///
/// - `max`: the hard cap on capacity, and so on buffered bytes. Never exceeded.
/// - `initial`: the capacity the buffer shrinks back to when it is drained. `0` (the default)
///   releases all memory, so an idle buffer owns nothing. A buffer never allocates before its
///   first write, whatever `initial` is.
///
/// Both are powers of two; see [`ConfigBuilder::build`] for the rounding rules.
///
/// # Examples
///
/// ```
/// use loopwire_ringbuf::Config;
///
/// let config = Config::builder().initial(4096).max(1 << 20).build()?;
/// assert_eq!((config.initial(), config.max()), (4096, 1 << 20));
///
/// // The default: release everything when drained, grow up to 64 MiB.
/// assert_eq!((Config::new().initial(), Config::new().max()), (0, 64 << 20));
/// # Ok::<(), loopwire_ringbuf::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    initial: usize,
    max: usize,
}

impl Config {
    /// The default policy: shrink to 0 when drained, grow up to [`DEFAULT_MAX_CAPACITY`].
    pub const fn new() -> Self {
        Self {
            initial: 0,
            max: DEFAULT_MAX_CAPACITY,
        }
    }

    /// Starts a builder from the default policy.
    pub const fn builder() -> ConfigBuilder {
        ConfigBuilder {
            initial: 0,
            max: DEFAULT_MAX_CAPACITY,
        }
    }

    /// The capacity a drained buffer shrinks back to (0 or a power of two, `<= max`).
    pub const fn initial(&self) -> usize {
        self.initial
    }

    /// The hard cap on capacity (a power of two).
    pub const fn max(&self) -> usize {
        self.max
    }
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

/// Builds a [`Config`]; obtained from [`Config::builder`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigBuilder {
    initial: usize,
    max: usize,
}

impl ConfigBuilder {
    /// Sets the capacity a drained buffer shrinks back to; `0` releases all memory.
    pub const fn initial(mut self, bytes: usize) -> Self {
        self.initial = bytes;
        self
    }

    /// Sets the hard cap on capacity.
    pub const fn max(mut self, bytes: usize) -> Self {
        self.max = bytes;
        self
    }

    /// Validates and rounds the settings.
    ///
    /// - `max` is rounded **down** to a power of two and clamped to [`CAPACITY_LIMIT`].
    /// - A non-zero `initial` is rounded **up** to a power of two, and up to
    ///   [`MIN_CAPACITY`] (the smallest allocation a buffer makes) unless `max` is smaller.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroMax`] when `max` is 0, and [`ConfigError::InitialAboveMax`] when the
    /// rounded `initial` exceeds the rounded `max`.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_ringbuf::{Config, ConfigError};
    ///
    /// let config = Config::builder().initial(100).max(1000).build()?;
    /// assert_eq!((config.initial(), config.max()), (128, 512));
    ///
    /// assert_eq!(Config::builder().max(0).build(), Err(ConfigError::ZeroMax));
    /// assert!(matches!(
    ///     Config::builder().initial(600).max(1000).build(),
    ///     Err(ConfigError::InitialAboveMax { initial: 1024, max: 512 })
    /// ));
    /// # Ok::<(), ConfigError>(())
    /// ```
    pub const fn build(self) -> Result<Config, ConfigError> {
        if self.max == 0 {
            return Err(ConfigError::ZeroMax);
        }
        let mut max = 1 << (usize::BITS - 1 - self.max.leading_zeros());
        if max > CAPACITY_LIMIT {
            max = CAPACITY_LIMIT;
        }
        let initial = if self.initial == 0 {
            0
        } else {
            let floor = if MIN_CAPACITY < max {
                MIN_CAPACITY
            } else {
                max
            };
            match self.initial.checked_next_power_of_two() {
                Some(p) if p < floor => floor,
                Some(p) => p,
                // Above the largest power of two: certainly above `max`.
                None => usize::MAX,
            }
        };
        if initial > max {
            return Err(ConfigError::InitialAboveMax { initial, max });
        }
        Ok(Config { initial, max })
    }
}

/// Why a [`ConfigBuilder`] was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max` was 0: such a buffer could never hold a byte.
    #[error("a ring buffer's maximum capacity must be at least 1 byte")]
    ZeroMax,
    /// The shrink-back capacity exceeds the maximum (both after rounding); lower `initial` or
    /// raise `max`.
    #[error(
        "initial capacity {initial} exceeds maximum capacity {max} (after rounding to powers of two)"
    )]
    InitialAboveMax {
        /// `initial` after rounding up (`usize::MAX` when it has no power of two above it).
        initial: usize,
        /// `max` after rounding down.
        max: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(initial: usize, max: usize) -> Result<Config, ConfigError> {
        Config::builder().initial(initial).max(max).build()
    }

    #[test]
    fn default_releases_everything_and_caps_at_64_mib() {
        assert_eq!(Config::default(), Config::new());
        assert_eq!(Config::builder().build(), Ok(Config::new()));
        assert_eq!(Config::new().initial(), 0);
        assert_eq!(Config::new().max(), 64 << 20);
    }

    #[test]
    fn max_rounds_down_and_initial_rounds_up() {
        let c = build(65, 1000).unwrap();
        assert_eq!((c.initial(), c.max()), (128, 512));
        let c = build(0, 1).unwrap();
        assert_eq!((c.initial(), c.max()), (0, 1));
        let c = build(4096, 4096).unwrap();
        assert_eq!((c.initial(), c.max()), (4096, 4096));
    }

    #[test]
    fn small_initial_is_raised_to_the_minimum_allocation() {
        assert_eq!(build(1, 1 << 20).unwrap().initial(), MIN_CAPACITY);
        // ... unless max is smaller still.
        assert_eq!(build(1, 16).unwrap().initial(), 16);
        assert_eq!(build(3, 4).unwrap().initial(), 4);
    }

    #[test]
    fn max_is_clamped_to_the_limit() {
        let c = build(0, usize::MAX).unwrap();
        assert_eq!(c.max(), CAPACITY_LIMIT);
    }

    #[test]
    fn rejects_zero_max() {
        assert_eq!(build(0, 0), Err(ConfigError::ZeroMax));
    }

    #[test]
    fn rejects_initial_above_max() {
        assert_eq!(
            build(600, 1000),
            Err(ConfigError::InitialAboveMax {
                initial: 1024,
                max: 512
            })
        );
        assert_eq!(
            build(usize::MAX, usize::MAX),
            Err(ConfigError::InitialAboveMax {
                initial: usize::MAX,
                max: CAPACITY_LIMIT
            })
        );
        assert!(build(5, 4).is_err());
    }
}

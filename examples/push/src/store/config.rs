//! [`StoreConfig`]: the limits every [`Store`](super::Store) implementation enforces, and the
//! input checks they share (so a memory and a Redis store refuse the same calls).

use std::time::Duration;

use super::StoreError;

/// Limits and defaults of a message store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Most messages kept per user; a `put` beyond it drops that user's oldest message
    /// (counted in [`StoreStats::dropped_cap`](super::StoreStats::dropped_cap)). Default 1000.
    pub per_user_cap: usize,
    /// TTL of a message put without one. Default 24 h.
    pub default_ttl: Duration,
    /// Longest TTL a `put` may ask for. Default 7 days.
    pub max_ttl: Duration,
    /// Most times a message is sent without an ACK; the next
    /// [`mark_sent`](super::Store::mark_sent) drops it. Default 5.
    pub max_attempts: u32,
    /// Longest payload in bytes. Default 8 KiB (a PUSH frame with any room name then fits the
    /// gateway's default 16 KiB frame).
    pub max_payload: usize,
    /// Longest user name in bytes (as the protocol's client ids). Default 64.
    pub max_user: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            per_user_cap: 1000,
            default_ttl: Duration::from_secs(24 * 3600),
            max_ttl: Duration::from_secs(7 * 24 * 3600),
            max_attempts: 5,
            max_payload: 8 * 1024,
            max_user: 64,
        }
    }
}

impl StoreConfig {
    /// Checks that the limits are usable.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidConfig`] naming the field when `per_user_cap`, `max_attempts` or
    /// `max_user` is 0, or `default_ttl` is under 1 ms or over `max_ttl`.
    pub fn validate(&self) -> Result<(), StoreError> {
        if self.per_user_cap == 0 {
            return Err(StoreError::InvalidConfig("per_user_cap must be at least 1"));
        }
        if self.max_attempts == 0 {
            return Err(StoreError::InvalidConfig("max_attempts must be at least 1"));
        }
        if self.max_user == 0 {
            return Err(StoreError::InvalidConfig("max_user must be at least 1"));
        }
        if self.default_ttl.as_millis() == 0 || self.default_ttl > self.max_ttl {
            return Err(StoreError::InvalidConfig(
                "default_ttl must be between 1 ms and max_ttl",
            ));
        }
        Ok(())
    }

    /// Checks a user name: 1 to [`max_user`](Self::max_user) bytes.
    ///
    /// # Errors
    ///
    /// [`StoreError::EmptyUser`] or [`StoreError::UserTooLong`].
    pub fn check_user(&self, user: &[u8]) -> Result<(), StoreError> {
        if user.is_empty() {
            return Err(StoreError::EmptyUser);
        }
        if user.len() > self.max_user {
            return Err(StoreError::UserTooLong {
                len: user.len(),
                max: self.max_user,
            });
        }
        Ok(())
    }

    /// Checks a `put`'s arguments and returns the message's `expires_at`: `now_ms` plus the
    /// TTL (`ttl`, or [`default_ttl`](Self::default_ttl) when `None`) in whole milliseconds,
    /// saturating at `u64::MAX`.
    ///
    /// # Errors
    ///
    /// The user's errors ([`check_user`](Self::check_user)), [`StoreError::PayloadTooLarge`],
    /// [`StoreError::TtlTooShort`] (under 1 ms) or [`StoreError::TtlTooLong`].
    pub fn check_put(
        &self,
        user: &[u8],
        payload_len: usize,
        ttl: Option<Duration>,
        now_ms: u64,
    ) -> Result<u64, StoreError> {
        self.check_user(user)?;
        if payload_len > self.max_payload {
            return Err(StoreError::PayloadTooLarge {
                len: payload_len,
                max: self.max_payload,
            });
        }
        let ttl = ttl.unwrap_or(self.default_ttl);
        if ttl > self.max_ttl {
            return Err(StoreError::TtlTooLong {
                ttl,
                max: self.max_ttl,
            });
        }
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if ttl_ms == 0 {
            return Err(StoreError::TtlTooShort(ttl));
        }
        Ok(now_ms.saturating_add(ttl_ms))
    }
}

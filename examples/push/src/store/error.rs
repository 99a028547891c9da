//! [`StoreError`]: why a store refused a call. Bad input is a value, never a panic.

use std::time::Duration;

/// Why a [`Store`](super::Store) call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The user name is empty.
    #[error("empty user name")]
    EmptyUser,
    /// The user name is longer than [`StoreConfig::max_user`](super::StoreConfig::max_user).
    #[error("user name of {len} bytes, at most {max} allowed")]
    UserTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload is longer than [`StoreConfig::max_payload`](super::StoreConfig::max_payload).
    #[error("payload of {len} bytes, at most {max} allowed")]
    PayloadTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The TTL is under one millisecond (the store's time unit), so the message would be
    /// expired when stored.
    #[error("TTL {0:?} is under 1 ms")]
    TtlTooShort(Duration),
    /// The TTL is longer than [`StoreConfig::max_ttl`](super::StoreConfig::max_ttl).
    #[error("TTL {ttl:?} is over the maximum {max:?}")]
    TtlTooLong {
        /// The TTL asked for.
        ttl: Duration,
        /// The limit.
        max: Duration,
    },
    /// No id is left above the last one issued (only reachable with a
    /// [`first_id`](super::MemoryOptions::first_id) near `u64::MAX`).
    #[error("message ids exhausted")]
    IdsExhausted,
    /// The store's configuration is unusable; the text names the field.
    #[error("invalid store configuration: {0}")]
    InvalidConfig(&'static str),
    /// The backing service failed (a network store's I/O or protocol error). Never returned
    /// by [`MemoryStore`](super::MemoryStore).
    #[error("store backend: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

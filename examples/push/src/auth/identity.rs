//! [`Identity`]: who a verified token speaks for, and what it allows.

use super::rooms::RoomGrants;

/// A verified token's holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user id (`sub`): 1 to [`MAX_USER_LEN`](super::MAX_USER_LEN) bytes of UTF-8
    /// without control characters.
    pub user: String,
    /// The device id (`device`), if the token names one; same rules as `user` with
    /// [`MAX_DEVICE_LEN`](super::MAX_DEVICE_LEN).
    pub device: Option<String>,
    /// The rooms it may join (`rooms`).
    pub rooms: RoomGrants,
    /// The token's `exp`, seconds since the Unix epoch: a session may be ended once the
    /// verifier would refuse the token (at `expires_at + leeway`, see the module docs).
    pub expires_at: u64,
}

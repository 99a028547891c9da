//! [`AuthError`]: why a token was refused, with the code the ERROR frame carries.
//!
//! No message contains the token, a claim's value or the secret: the text may be sent to
//! the client and logged.

use thiserror::Error;

/// Why [`Verifier::verify`](super::Verifier::verify) refused a token.
///
/// [`code`](Self::code) is stable and distinct from the protocol's own codes
/// ([`ProtocolError::code`](crate::ProtocolError::code), 1 to 99): auth codes are 100 to 199.
/// The `Display` text names the problem (and, for claims, which claim) but never includes
/// the token, a claim's value or the secret.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token is empty.
    #[error("no token")]
    Missing,
    /// The token is longer than [`MAX_TOKEN_LEN`](super::MAX_TOKEN_LEN).
    #[error("token of {len} bytes is over the limit of {max}")]
    TooLong {
        /// The token's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not three base64url parts, a header that is not JSON or not a JWS header this library
    /// knows (an unknown `alg` such as `none` lands here), or a signed payload that is not a
    /// JSON object.
    #[error("token is not a well-formed JWT")]
    Malformed,
    /// The header's `alg` is a known algorithm other than HS256 (HS384, HS512, RS256, ES256,
    /// ...).
    #[error("token algorithm is not HS256")]
    Algorithm,
    /// The signature does not match: another secret, or a changed header or payload.
    #[error("token signature does not verify")]
    Signature,
    /// `exp` has passed: the client should fetch a new token. See the module docs for the rule.
    #[error("token expired")]
    Expired,
    /// `nbf` is still in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// An issuer is required and `iss` is missing, malformed or another.
    #[error("token issuer missing or not accepted")]
    Issuer,
    /// `aud` is missing while an audience is required, malformed, or does not name ours
    /// (a token with an `aud` is refused by a verifier configured without one).
    #[error("token audience missing or not accepted")]
    Audience,
    /// A claim of ours is missing or invalid.
    #[error("bad claim: {0}")]
    Claim(#[from] ClaimError),
    /// The JWT library failed for a reason unrelated to the token (e.g. another process-wide
    /// jsonwebtoken `CryptoProvider` without HS256 was installed).
    #[error("token verification unavailable")]
    Internal,
}

impl AuthError {
    /// The code sent in the ERROR frame (100 to 199; see the module docs' table).
    pub fn code(&self) -> u16 {
        match self {
            Self::Missing => 100,
            Self::TooLong { .. } => 101,
            Self::Malformed => 102,
            Self::Algorithm => 103,
            Self::Signature => 104,
            Self::Expired => 105,
            Self::NotYetValid => 106,
            Self::Issuer => 107,
            Self::Audience => 108,
            Self::Internal => 109,
            Self::Claim(c) => c.code(),
        }
    }
}

/// Which claim was missing or invalid (inside [`AuthError::Claim`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ClaimError {
    /// No `sub`.
    #[error("`sub` missing")]
    MissingSub,
    /// `sub` is not a string of 1 to [`MAX_USER_LEN`](super::MAX_USER_LEN) bytes without
    /// control characters.
    #[error("`sub` is not a string of 1 to {max} bytes without control characters", max = super::MAX_USER_LEN)]
    BadSub,
    /// No `exp`.
    #[error("`exp` missing")]
    MissingExp,
    /// `exp` is not a non-negative integer.
    #[error("`exp` is not a non-negative integer")]
    BadExp,
    /// `nbf` is present but not a non-negative integer.
    #[error("`nbf` is not a non-negative integer")]
    BadNbf,
    /// `rooms` is present but not a list of strings.
    #[error("`rooms` is not a list of strings")]
    BadRooms,
    /// `rooms` has more than [`MAX_ROOM_GRANTS`](super::MAX_ROOM_GRANTS) entries.
    #[error("`rooms` has more than {max} entries")]
    TooManyRooms {
        /// The limit.
        max: usize,
    },
    /// One entry of `rooms` is not a valid pattern.
    #[error("`rooms` entry {index}: {reason}")]
    BadRoom {
        /// Its position in the list, from 0.
        index: usize,
        /// What is wrong with it.
        reason: PatternError,
    },
    /// `device` is present but not a string of 1 to
    /// [`MAX_DEVICE_LEN`](super::MAX_DEVICE_LEN) bytes without control characters.
    #[error(
        "`device` is not a string of 1 to {max} bytes without control characters",
        max = super::MAX_DEVICE_LEN
    )]
    BadDevice,
}

impl ClaimError {
    /// The code sent in the ERROR frame (110 to 118).
    pub fn code(&self) -> u16 {
        match self {
            Self::MissingSub => 110,
            Self::BadSub => 111,
            Self::MissingExp => 112,
            Self::BadExp => 113,
            Self::BadNbf => 114,
            Self::BadRooms => 115,
            Self::TooManyRooms { .. } => 116,
            Self::BadRoom { .. } => 117,
            Self::BadDevice => 118,
        }
    }
}

/// Why a room pattern is invalid ([`RoomPattern::parse`](super::RoomPattern::parse)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PatternError {
    /// The empty string.
    #[error("empty pattern")]
    Empty,
    /// Longer than [`MAX_PATTERN_LEN`](super::MAX_PATTERN_LEN) bytes.
    #[error("pattern longer than {max} bytes", max = super::MAX_PATTERN_LEN)]
    TooLong,
    /// A `*` anywhere but as the last character.
    #[error("`*` only allowed as the last character")]
    MisplacedStar,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_in_range() {
        let all = [
            AuthError::Missing,
            AuthError::TooLong { len: 1, max: 0 },
            AuthError::Malformed,
            AuthError::Algorithm,
            AuthError::Signature,
            AuthError::Expired,
            AuthError::NotYetValid,
            AuthError::Issuer,
            AuthError::Audience,
            AuthError::Internal,
            ClaimError::MissingSub.into(),
            ClaimError::BadSub.into(),
            ClaimError::MissingExp.into(),
            ClaimError::BadExp.into(),
            ClaimError::BadNbf.into(),
            ClaimError::BadRooms.into(),
            ClaimError::TooManyRooms { max: 32 }.into(),
            ClaimError::BadRoom {
                index: 0,
                reason: PatternError::Empty,
            }
            .into(),
            ClaimError::BadDevice.into(),
        ];
        let mut codes: Vec<u16> = all.iter().map(AuthError::code).collect();
        assert!(codes.iter().all(|c| (100..200).contains(c)));
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
    }
}

//! The claim set: [`Claims`] as a [`Signer`](super::Signer) writes it, and the reading of a
//! verified payload into an [`Identity`].
//!
//! The payload is read from a `serde_json` map rather than straight into a struct, so that a
//! claim of the wrong type gets its own [`ClaimError`] instead of a generic parse failure.

use serde::Serialize;
use serde_json::{Map, Value};

use super::error::ClaimError;
use super::identity::Identity;
use super::rooms::RoomGrants;

/// The longest `sub` (user id), in bytes: the protocol's name limit, so a user id can serve
/// as a client id.
pub const MAX_USER_LEN: usize = 64;

/// The longest `device` id, in bytes.
pub const MAX_DEVICE_LEN: usize = 64;

/// A token's claims, for [`Signer::sign`](super::Signer::sign). The module docs describe
/// each; `None` and empty fields are left out of the token.
///
/// The signer writes what it is given, valid or not (tests mint bad tokens with it); the
/// verifier does the checking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Not before, seconds since the Unix epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Issued at, seconds since the Unix epoch (informational: not checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Audience.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Room patterns the holder may join.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rooms: Vec<String>,
    /// Device id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
}

impl Claims {
    /// Claims for `sub` expiring at `exp`, with no room, device, issuer or audience.
    pub fn new(sub: impl Into<String>, exp: u64) -> Self {
        Self {
            sub: sub.into(),
            exp,
            nbf: None,
            iat: None,
            iss: None,
            aud: None,
            rooms: Vec::new(),
            device: None,
        }
    }
}

/// The time claims of a verified payload.
#[derive(Debug, Clone, Copy)]
pub(super) struct Times {
    pub(super) exp: u64,
    pub(super) nbf: Option<u64>,
}

/// Reads `exp` (required) and `nbf` (optional).
pub(super) fn times(claims: &Map<String, Value>) -> Result<Times, ClaimError> {
    let exp = match claims.get("exp") {
        None => return Err(ClaimError::MissingExp),
        Some(v) => v.as_u64().ok_or(ClaimError::BadExp)?,
    };
    let nbf = match claims.get("nbf") {
        None => None,
        Some(v) => Some(v.as_u64().ok_or(ClaimError::BadNbf)?),
    };
    Ok(Times { exp, nbf })
}

/// Reads `sub`, `device` and `rooms` into an identity expiring at `expires_at`.
pub(super) fn identity(
    claims: &Map<String, Value>,
    expires_at: u64,
) -> Result<Identity, ClaimError> {
    let user = match claims.get("sub") {
        None => return Err(ClaimError::MissingSub),
        Some(v) => id(v, MAX_USER_LEN).ok_or(ClaimError::BadSub)?,
    };
    let device = match claims.get("device") {
        None => None,
        Some(v) => Some(id(v, MAX_DEVICE_LEN).ok_or(ClaimError::BadDevice)?),
    };
    let rooms = match claims.get("rooms") {
        None => RoomGrants::none(),
        Some(Value::Array(list)) => {
            let mut names = Vec::with_capacity(list.len().min(super::MAX_ROOM_GRANTS + 1));
            for v in list {
                names.push(v.as_str().ok_or(ClaimError::BadRooms)?);
            }
            RoomGrants::parse(names)?
        }
        Some(_) => return Err(ClaimError::BadRooms),
    };
    Ok(Identity {
        user,
        device,
        rooms,
        expires_at,
    })
}

/// A string of 1 to `max` bytes without control characters.
fn id(value: &Value, max: usize) -> Option<String> {
    let s = value.as_str()?;
    let ok = !s.is_empty() && s.len() <= max && !s.chars().any(char::is_control);
    ok.then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!("an object literal"),
        }
    }

    #[test]
    fn times_rules() {
        assert_eq!(times(&map(json!({}))).unwrap_err(), ClaimError::MissingExp);
        assert_eq!(
            times(&map(json!({"exp": -1}))).unwrap_err(),
            ClaimError::BadExp
        );
        assert_eq!(
            times(&map(json!({"exp": 1.5}))).unwrap_err(),
            ClaimError::BadExp
        );
        assert_eq!(
            times(&map(json!({"exp": "1"}))).unwrap_err(),
            ClaimError::BadExp
        );
        assert_eq!(
            times(&map(json!({"exp": 1, "nbf": "0"}))).unwrap_err(),
            ClaimError::BadNbf
        );
        let t = times(&map(json!({"exp": 10, "nbf": 5}))).unwrap();
        assert_eq!((t.exp, t.nbf), (10, Some(5)));
    }

    #[test]
    fn identity_rules() {
        let id = |v| identity(&map(v), 9);
        assert_eq!(id(json!({})).unwrap_err(), ClaimError::MissingSub);
        assert_eq!(id(json!({"sub": ""})).unwrap_err(), ClaimError::BadSub);
        assert_eq!(id(json!({"sub": 7})).unwrap_err(), ClaimError::BadSub);
        assert_eq!(id(json!({"sub": "a\nb"})).unwrap_err(), ClaimError::BadSub);
        assert_eq!(
            id(json!({"sub": "x".repeat(65)})).unwrap_err(),
            ClaimError::BadSub
        );
        assert_eq!(
            id(json!({"sub": "u", "device": ""})).unwrap_err(),
            ClaimError::BadDevice
        );
        assert_eq!(
            id(json!({"sub": "u", "rooms": "a"})).unwrap_err(),
            ClaimError::BadRooms
        );
        assert_eq!(
            id(json!({"sub": "u", "rooms": ["a", 1]})).unwrap_err(),
            ClaimError::BadRooms
        );
        let ok = id(json!({"sub": "é".repeat(32), "device": "d", "rooms": ["a", "b:*"]})).unwrap();
        assert_eq!(ok.user, "é".repeat(32));
        assert_eq!(ok.device.as_deref(), Some("d"));
        assert!(ok.rooms.allows(b"b:1") && ok.rooms.allows(b"a") && !ok.rooms.allows(b"b"));
        assert_eq!(ok.expires_at, 9);
    }
}

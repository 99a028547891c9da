//! [`Verifier`]: checks a token against the secret and a caller-supplied time.

use std::collections::HashSet;
use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::claims;
use super::error::AuthError;
use super::identity::Identity;
use super::provider;
use super::secret::Secret;

/// The longest token accepted, in bytes; longer ones are refused before any parsing.
/// Generous: a token with 32 room patterns of 64 bytes is about 3 KiB.
pub const MAX_TOKEN_LEN: usize = 4096;

/// [`VerifierOptions::leeway_secs`]'s default: 30 s of clock skew between the backend that
/// issues tokens and the gateway.
pub const DEFAULT_LEEWAY_SECS: u64 = 30;

/// How a [`Verifier`] judges tokens beyond the signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierOptions {
    /// Seconds of clock skew allowed on `exp` and `nbf` (see the module docs' rule).
    /// Default [`DEFAULT_LEEWAY_SECS`].
    pub leeway_secs: u64,
    /// If set, `iss` must be present and equal to it. Default: not checked.
    pub issuer: Option<String>,
    /// If set, `aud` must be present and be (or, as a list, contain) it. If not set, a token
    /// that has an `aud` is refused (RFC 7519 section 4.1.3). Default: not set.
    pub audience: Option<String>,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        Self {
            leeway_secs: DEFAULT_LEEWAY_SECS,
            issuer: None,
            audience: None,
        }
    }
}

/// Verifies HS256 tokens. Pure computation, no I/O, no clock read, no lock: safe to call
/// from an event loop, and `Sync`, so one can be shared by all loops.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
    options: VerifierOptions,
}

impl Verifier {
    /// A verifier for tokens signed with `secret`, with default options.
    pub fn new(secret: &Secret) -> Self {
        Self::with_options(secret, VerifierOptions::default())
    }

    /// A verifier for tokens signed with `secret`.
    pub fn with_options(secret: &Secret, options: VerifierOptions) -> Self {
        provider::install();
        // Time claims are ours to check (against the caller's time, not the system clock),
        // and so are the required ones; jsonwebtoken checks the header, the signature and,
        // when asked for, `iss` and `aud`.
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        validation.required_spec_claims = HashSet::new();
        if let Some(iss) = &options.issuer {
            validation.set_issuer(&[iss]);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        if let Some(aud) = &options.audience {
            validation.set_audience(&[aud]);
            validation.required_spec_claims.insert("aud".to_owned());
        }
        Self {
            key: decoding_key(secret),
            validation,
            options,
        }
    }

    /// Verifies `token` at `now_unix_secs` (seconds since the Unix epoch, the caller's
    /// clock) and returns whom it identifies.
    ///
    /// Checks, in order: length; header (`alg` must be HS256); signature; `exp`, then `nbf`
    /// against `now_unix_secs` with the leeway; `iss`/`aud` if configured; `sub`, `device`,
    /// `rooms`. Claims are only read once the signature verified, so a forged token always
    /// gets [`AuthError::Signature`] (or an earlier error), never a claim error.
    ///
    /// # Errors
    ///
    /// The first check that failed, as an [`AuthError`]. Never panics, whatever the bytes.
    pub fn verify(&self, token: &[u8], now_unix_secs: u64) -> Result<Identity, AuthError> {
        if token.is_empty() {
            return Err(AuthError::Missing);
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(AuthError::TooLong {
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        let payload: Map<String, Value> = jsonwebtoken::decode(token, &self.key, &self.validation)
            .map_err(|e| map_error(e.kind()))?
            .claims;
        let times = claims::times(&payload)?;
        let leeway = self.options.leeway_secs;
        if now_unix_secs >= times.exp.saturating_add(leeway) {
            return Err(AuthError::Expired);
        }
        if times
            .nbf
            .is_some_and(|nbf| nbf > now_unix_secs.saturating_add(leeway))
        {
            return Err(AuthError::NotYetValid);
        }
        Ok(claims::identity(&payload, times.exp)?)
    }

    /// The options it was made with.
    pub fn options(&self) -> &VerifierOptions {
        &self.options
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("key", &"<redacted>")
            .field("options", &self.options)
            .finish()
    }
}

fn decoding_key(secret: &Secret) -> DecodingKey {
    match DecodingKey::from_secret(secret.expose()) {
        Ok(key) => key,
        // jsonwebtoken refuses only an empty secret, and a Secret has at least MIN_LEN bytes.
        Err(_) => unreachable!("a Secret is never empty"),
    }
}

/// jsonwebtoken's verdicts in our terms (none of its text, which may quote the token).
fn map_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidToken
        | ErrorKind::Base64(_)
        | ErrorKind::Json(_)
        | ErrorKind::Utf8(_)
        | ErrorKind::InvalidAlgorithmName => AuthError::Malformed,
        ErrorKind::InvalidAlgorithm => AuthError::Algorithm,
        ErrorKind::InvalidSignature => AuthError::Signature,
        ErrorKind::InvalidIssuer => AuthError::Issuer,
        ErrorKind::InvalidAudience => AuthError::Audience,
        ErrorKind::MissingRequiredClaim(c) | ErrorKind::InvalidClaimFormat(c) => match c.as_str() {
            "iss" => AuthError::Issuer,
            "aud" => AuthError::Audience,
            _ => AuthError::Malformed,
        },
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        _ => AuthError::Internal,
    }
}

//! Client authentication: verifying the token a client presents, and what it grants.
//!
//! The application's backend (goim's "logic") issues each user a short-lived token; the
//! client hands it to the gateway when it connects, and the gateway checks it with a
//! [`Verifier`] before the session may do anything, then lets it join only the rooms the
//! token grants ([`RoomGrants::allows`]). Verification is pure CPU work (HMAC-SHA256 and a
//! little JSON), reads no clock and does no I/O, so the handler can run it inside an event
//! loop: the caller passes the current time in.
//!
//! # Token
//!
//! A JWT (RFC 7519) signed with HS256 (HMAC-SHA256) and a [`Secret`] shared with the
//! backend: `base64url(header).base64url(claims).base64url(signature)`, at most
//! [`MAX_TOKEN_LEN`] (4 KiB) bytes. The header's `alg` must be `HS256`; anything else
//! (`none`, HS384/HS512, RS256, ...) is refused before the signature is looked at.
//!
//! | claim | type | required | meaning |
//! |---|---|---|---|
//! | `sub` | string | yes | user id: 1 to [`MAX_USER_LEN`] (64) bytes of UTF-8, no control characters |
//! | `exp` | integer | yes | expiry, seconds since the Unix epoch |
//! | `nbf` | integer | no | not before, seconds since the Unix epoch |
//! | `rooms` | list of strings | no | up to [`MAX_ROOM_GRANTS`] (32) room patterns of 1 to [`MAX_PATTERN_LEN`] (64) bytes: `news` (exactly that room), `chat:*` (every room starting with `chat:`), `*` (any room); missing: no room |
//! | `device` | string | no | device id, same rules as `sub` ([`MAX_DEVICE_LEN`], 64 bytes) |
//! | `iss` | string | if configured | issuer, [`VerifierOptions::issuer`] |
//! | `aud` | string or list | if configured | audience, [`VerifierOptions::audience`]; a token with an `aud` is refused by a verifier without one |
//! | `iat` | integer | no | issued at; not checked |
//!
//! Other claims are ignored. Times are JSON integers (a fractional `exp` is refused).
//! Example payload: `{"sub":"u42","exp":1767225600,"rooms":["user:u42","chat:*"],"device":"ios-1"}`.
//!
//! **Time rule**, with `now` the caller's time and `L` the leeway
//! ([`VerifierOptions::leeway_secs`], default [`DEFAULT_LEEWAY_SECS`] = 30 s): a token is
//! valid iff `now < exp + L` and (if it has an `nbf`) `nbf <= now + L`. With `L = 0` a token
//! is accepted at `exp - 1` and refused from `exp` on ([`AuthError::Expired`]), and accepted
//! from `nbf` on ([`AuthError::NotYetValid`] before), as RFC 7519 sections 4.1.4 and 4.1.5
//! say. Sums saturate, so `exp` near `u64::MAX` means "never".
//!
//! # Errors
//!
//! [`AuthError::code`] is what the ERROR frame carries; auth codes are 100 to 199, apart from
//! the protocol's ([`ProtocolError::code`](crate::ProtocolError::code)). The text never
//! contains the token, a claim's value or the secret.
//!
//! | code | error |
//! |---|---|
//! | 100 | [`AuthError::Missing`]: empty token |
//! | 101 | [`AuthError::TooLong`]: over [`MAX_TOKEN_LEN`] |
//! | 102 | [`AuthError::Malformed`]: not a JWT, or an unknown `alg` such as `none` |
//! | 103 | [`AuthError::Algorithm`]: a known `alg` other than HS256 |
//! | 104 | [`AuthError::Signature`]: wrong secret or altered token |
//! | 105 | [`AuthError::Expired`]: the client should fetch a new token |
//! | 106 | [`AuthError::NotYetValid`] |
//! | 107 | [`AuthError::Issuer`] |
//! | 108 | [`AuthError::Audience`] |
//! | 109 | [`AuthError::Internal`]: not the token's fault |
//! | 110 to 118 | [`AuthError::Claim`]: [`ClaimError::code`] (`sub` missing 110 / invalid 111, `exp` missing 112 / invalid 113, `nbf` invalid 114, `rooms` not a list of strings 115 / too many 116 / bad pattern 117, `device` invalid 118) |
//!
//! # Secrets
//!
//! [`Secret::from_file`] or [`Secret::from_env`], never a command-line argument; at least
//! [`Secret::MIN_LEN`] (32) bytes after trimming whitespace; `Debug` is redacted and errors
//! name the file or variable, not the value. [`Secret::development`] is a fixed, public,
//! insecure key for the quick start only: a program using it should warn.
//!
//! # Dependencies
//!
//! `jsonwebtoken` 12 without default features (`use_pem` is for RSA/EC keys) and without
//! either crypto backend feature: `rust_crypto` would build the RSA (RUSTSEC-2023-0071),
//! P-256/P-384 and Ed25519 crates, `aws_lc_rs` a C library with cmake, all for HMAC alone.
//! Instead the private `provider` module supplies HS256 from `ring`, already built for
//! rustls, with a constant-time compare. `serde`/`serde_json` read the claims, `zeroize`
//! wipes the secret.
//!
//! # Cost
//!
//! One `verify` of a typical 211-byte token (two room patterns, a device id) took 3.3 to
//! 4.3 µs on one core of the 2-core AMD EPYC development machine (SHA-NI), measured with
//! `cargo run --release -p loopwire-push --example auth_verify [ITERATIONS]`
//! (`examples/auth_verify.rs`), so one loop verifies some 250,000 tokens a second, or a
//! reconnect storm of 100,000 clients costs about 0.4 s of CPU in all. Not profiled; the
//! HMAC over ~200 bytes should be the small part, next to base64, JSON (the payload is
//! parsed twice, by jsonwebtoken's checks and ours) and small allocations.
//!
//! # Pieces
//!
//! - `secret`: [`Secret`] and [`SecretError`].
//! - `claims`: [`Claims`] and reading a verified payload.
//! - `rooms`: [`RoomPattern`], [`RoomGrants`].
//! - `identity`: [`Identity`].
//! - `verifier`: [`Verifier`], [`VerifierOptions`].
//! - `signer`: [`Signer`].
//! - `error`: [`AuthError`], [`ClaimError`], [`PatternError`].
//! - `provider`: the HS256 backend for jsonwebtoken.

mod claims;
mod error;
mod identity;
mod provider;
mod rooms;
mod secret;
mod signer;
mod verifier;

pub use claims::{Claims, MAX_DEVICE_LEN, MAX_USER_LEN};
pub use error::{AuthError, ClaimError, PatternError};
pub use identity::Identity;
pub use rooms::{MAX_PATTERN_LEN, MAX_ROOM_GRANTS, RoomGrants, RoomPattern};
pub use secret::{Secret, SecretError, SecretSource};
pub use signer::Signer;
pub use verifier::{DEFAULT_LEEWAY_SECS, MAX_TOKEN_LEN, Verifier, VerifierOptions};

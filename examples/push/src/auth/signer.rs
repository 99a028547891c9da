//! [`Signer`]: mints tokens, for tests, the load client and the development quick start.
//! Production tokens come from the application's backend, which holds the same secret.

use std::fmt;

use jsonwebtoken::{Algorithm, EncodingKey, Header};

use super::claims::Claims;
use super::provider;
use super::secret::Secret;

/// Signs [`Claims`] into HS256 tokens a [`Verifier`](super::Verifier) with the same
/// [`Secret`] accepts (if the claims are valid: the signer does not check them).
pub struct Signer {
    key: EncodingKey,
    header: Header,
}

impl Signer {
    /// A signer with `secret`.
    pub fn new(secret: &Secret) -> Self {
        provider::install();
        let key = match EncodingKey::from_secret(secret.expose()) {
            Ok(key) => key,
            // jsonwebtoken refuses only an empty secret, and a Secret has at least MIN_LEN bytes.
            Err(_) => unreachable!("a Secret is never empty"),
        };
        Self {
            key,
            header: Header::new(Algorithm::HS256),
        }
    }

    /// The token for `claims`: `header.payload.signature`, each base64url without padding;
    /// the header is `{"typ":"JWT","alg":"HS256"}`.
    ///
    /// # Panics
    ///
    /// Only if the process installed another jsonwebtoken `CryptoProvider` that cannot do
    /// HS256 (the built-in ones can): the claims always serialize.
    pub fn sign(&self, claims: &Claims) -> String {
        match jsonwebtoken::encode(&self.header, claims, &self.key) {
            Ok(token) => token,
            Err(e) => panic!("signing a token failed: {e}"),
        }
    }
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("key", &"<redacted>")
            .finish()
    }
}

//! The `jsonwebtoken` crypto backend: HS256 only, on ring's HMAC-SHA256.
//!
//! jsonwebtoken 10+ takes its cryptography from a process-wide `CryptoProvider`: either a
//! built-in one chosen by a crate feature (`rust_crypto`, which also builds RSA, P-256,
//! P-384 and Ed25519 crates, or `aws_lc_rs`, a C library built with cmake) or one installed
//! with `CryptoProvider::install_default`. We need HMAC-SHA256 only, and ring (already built
//! for rustls) has a constant-time one, so we install this small provider instead. It is
//! installed by the first [`Verifier`](super::Verifier) or [`Signer`](super::Signer) made;
//! if the process already has another provider (both built-ins do HS256), that one is used.
//!
//! Every other algorithm and the JWK helpers return errors (never panic); the verifier has
//! already refused any `alg` but HS256 before the provider is asked.

use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::jwk::{EllipticCurve, ThumbprintHash};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey};
use ring::{digest, hmac};

/// Installs [`PROVIDER`] unless the process already has one. Idempotent and cheap.
pub(super) fn install() {
    // Err only means a provider is already installed (ours or another): fine either way.
    let _ = PROVIDER.install_default();
}

/// HS256 on ring, no JWK support beyond digests.
static PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils {
        rsa_pub_components_from_private_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        rsa_pub_components_from_public_key: |_| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ec_pub_components_from_private_key: |_, _| Err(ErrorKind::UnsupportedAlgorithm.into()),
        ed_pub_components_from_private_key: ed_unsupported,
        compute_digest,
    },
};

/// An HMAC-SHA256 key, both signer and verifier.
struct Hs256(hmac::Key);

impl Hs256 {
    fn new(alg: &Algorithm, family: AlgorithmFamily, key: &[u8]) -> Result<Self> {
        if *alg != Algorithm::HS256 || family != AlgorithmFamily::Hmac {
            return Err(ErrorKind::UnsupportedAlgorithm.into());
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, key)))
    }
}

impl signature::Signer<Vec<u8>> for Hs256 {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, signature::Error> {
        Ok(hmac::sign(&self.0, msg).as_ref().to_vec())
    }
}

impl signature::Verifier<Vec<u8>> for Hs256 {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> std::result::Result<(), signature::Error> {
        // Constant-time comparison inside ring.
        hmac::verify(&self.0, msg, sig).map_err(|_| signature::Error::new())
    }
}

impl JwtSigner for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

impl JwtVerifier for Hs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::HS256
    }
}

fn new_signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    Ok(Box::new(Hs256::new(alg, key.family(), key.as_bytes())?))
}

fn new_verifier(alg: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(Hs256::new(
        alg,
        key.family(),
        key.try_get_as_bytes()?,
    )?))
}

fn ed_unsupported(_: &[u8], _: &EllipticCurve) -> Result<Vec<u8>> {
    Err(ErrorKind::UnsupportedAlgorithm.into())
}

fn compute_digest(data: &[u8], hash: ThumbprintHash) -> Result<Vec<u8>> {
    let alg = match hash {
        ThumbprintHash::SHA256 => &digest::SHA256,
        ThumbprintHash::SHA384 => &digest::SHA384,
        ThumbprintHash::SHA512 => &digest::SHA512,
        _ => return Err(ErrorKind::UnsupportedAlgorithm.into()),
    };
    Ok(digest::digest(alg, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hs256() {
        let key = DecodingKey::from_secret(b"k").unwrap();
        assert!(new_verifier(&Algorithm::HS256, &key).is_ok());
        assert!(new_verifier(&Algorithm::HS512, &key).is_err());
        assert!(new_verifier(&Algorithm::RS256, &key).is_err());
        assert!((PROVIDER.key_utils.rsa_pub_components_from_public_key)(b"").is_err());
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let key = EncodingKey::from_secret(b"Jefe").unwrap();
        let s = new_signer(&Algorithm::HS256, &key).unwrap();
        let mac = s.try_sign(b"what do ya want for nothing?").unwrap();
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}

//! TLS for the client protocol: a [`ServerConfig`] from PEM files (`push --tls-cert
//! --tls-key`), for [`Config::tls`](super::Config::tls).
//!
//! The engine does TLS itself (loopwire's feature `tls`): the handshake runs in the event
//! loops before `on_open`, within the engine's connect timeout, and the gateway reads and
//! writes plaintext, so nothing else in this crate knows about it. It covers every listener
//! of the gateway's engine: the TCP listener then speaks TLS, and the WebSocket listener
//! `wss`. Admission and the AUTH deadline start after the handshake.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use loopwire::rustls::pki_types::pem::{self, PemObject};
use loopwire::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use loopwire::rustls::{self, ServerConfig};

/// Why [`server_config`] could not make a configuration.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file could not be read, or holds no PEM certificate.
    #[error("cannot read a certificate chain from {path}: {source}")]
    Cert {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: pem::Error,
    },
    /// The key file could not be read, or holds no PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[error("cannot read a private key from {path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: pem::Error,
    },
    /// rustls refused the pair (the key does not match the certificate, an unsupported key
    /// type, ...).
    #[error("cannot use the certificate and key: {0}")]
    Rustls(#[from] rustls::Error),
}

/// A TLS server configuration (TLS 1.2 and 1.3, ring, no client certificates) serving the
/// certificate chain in PEM file `cert` (leaf first) with the private key in PEM file `key`.
///
/// # Errors
/// [`TlsError`] when a file cannot be read or parsed, or rustls refuses the pair.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let cert_err = |source| TlsError::Cert {
        path: cert.to_owned(),
        source,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(cert_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(cert_err)?;
    if chain.is_empty() {
        return Err(cert_err(pem::Error::NoItemsFound));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
        path: key.to_owned(),
        source,
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    Ok(Arc::new(config))
}

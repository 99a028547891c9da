//! [`Secret`]: the HMAC key shared with the application's backend, loaded from a file or an
//! environment variable, never from a command-line argument (those show in `ps` and shell
//! history) and never printed.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;
use zeroize::Zeroizing;

/// The key tokens are signed and verified with (HS256).
///
/// The key is the source's bytes with leading and trailing ASCII whitespace removed (so a
/// file written by `echo` or an editor works); they are used as they are, not decoded, so a
/// backend in another language must use the same bytes. Generate one with, e.g.,
/// `head -c 48 /dev/urandom | base64 > push.secret` (the base64 text is the key).
///
/// At least [`Secret::MIN_LEN`] bytes. `Debug` shows no byte of it; the memory is wiped on
/// drop.
pub struct Secret {
    bytes: Zeroizing<Vec<u8>>,
    development: bool,
}

/// The fixed key of [`Secret::development`]. Public on purpose: anyone can mint tokens for it.
const DEVELOPMENT: &[u8] = b"loopwire-push INSECURE development secret: never use in production";

impl Secret {
    /// The shortest key accepted, in bytes (256 bits, HS256's hash size as RFC 7518
    /// section 3.2 asks).
    pub const MIN_LEN: usize = 32;

    /// Reads the key from a file (see the type docs for trimming).
    ///
    /// # Errors
    ///
    /// [`SecretError::Read`] if the file cannot be read, [`SecretError::Empty`] or
    /// [`SecretError::TooShort`] if it holds fewer than [`MIN_LEN`](Self::MIN_LEN) bytes
    /// after trimming. The message names the file, never its content.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SecretError> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| SecretError::Read {
            path: path.to_path_buf(),
            kind: e.kind(),
        })?);
        Self::checked(&bytes, || SecretSource::File(path.to_path_buf()))
    }

    /// Reads the key from an environment variable (see the type docs for trimming).
    ///
    /// # Errors
    ///
    /// [`SecretError::NotSet`] if the variable is not set, [`SecretError::Empty`] or
    /// [`SecretError::TooShort`] if it holds fewer than [`MIN_LEN`](Self::MIN_LEN) bytes
    /// after trimming. The message names the variable, never its value.
    pub fn from_env(var: &str) -> Result<Self, SecretError> {
        let value = std::env::var_os(var).ok_or_else(|| SecretError::NotSet(var.to_owned()))?;
        let bytes = Zeroizing::new(value.into_encoded_bytes());
        Self::checked(&bytes, || SecretSource::Env(var.to_owned()))
    }

    /// A key from bytes already in memory (trimmed like the others), e.g. from a secrets
    /// manager's client.
    ///
    /// # Errors
    ///
    /// [`SecretError::Empty`] or [`SecretError::TooShort`] as for the others.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        Self::checked(bytes, || SecretSource::Bytes)
    }

    /// A fixed, public, **insecure** key for development and the quick start only: anyone
    /// can sign tokens with it. [`is_development`](Self::is_development) tells it apart so
    /// a program can warn loudly when it runs with it.
    pub fn development() -> Self {
        Self {
            bytes: Zeroizing::new(DEVELOPMENT.to_vec()),
            development: true,
        }
    }

    /// Whether this is [`Secret::development`]'s key (however it was loaded).
    pub fn is_development(&self) -> bool {
        self.development
    }

    /// The key's bytes, for the signer and verifier only.
    pub(super) fn expose(&self) -> &[u8] {
        &self.bytes
    }

    fn checked(raw: &[u8], source: impl FnOnce() -> SecretSource) -> Result<Self, SecretError> {
        let trimmed = raw.trim_ascii();
        if trimmed.is_empty() {
            return Err(SecretError::Empty(source()));
        }
        if trimmed.len() < Self::MIN_LEN {
            return Err(SecretError::TooShort {
                from: source(),
                min: Self::MIN_LEN,
            });
        }
        Ok(Self {
            bytes: Zeroizing::new(trimmed.to_vec()),
            development: trimmed == DEVELOPMENT,
        })
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("bytes", &"<redacted>")
            .field("development", &self.development)
            .finish()
    }
}

/// Where a key was to come from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretSource {
    /// A file.
    File(PathBuf),
    /// An environment variable.
    Env(String),
    /// [`Secret::from_bytes`].
    Bytes,
}

impl fmt::Display for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => write!(f, "secret file {}", p.display()),
            Self::Env(v) => write!(f, "environment variable {v}"),
            Self::Bytes => f.write_str("secret"),
        }
    }
}

/// Why a [`Secret`] could not be loaded. Messages name the file or variable, never the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The file could not be read.
    #[error("cannot read the secret file {}: {kind}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why (`std::io::ErrorKind`, so the error stays `Clone`).
        kind: std::io::ErrorKind,
    },
    /// The environment variable is not set.
    #[error("environment variable {0} (the token secret) is not set")]
    NotSet(String),
    /// Empty, or only whitespace.
    #[error("{0} is empty")]
    Empty(SecretSource),
    /// Fewer than [`Secret::MIN_LEN`] bytes after trimming.
    #[error("{from} is shorter than {min} bytes (after trimming whitespace)")]
    TooShort {
        /// Where it came from.
        from: SecretSource,
        /// The minimum.
        min: usize,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn trims_and_checks_length() {
        let s = Secret::from_bytes(format!("  {KEY}\n").as_bytes()).unwrap();
        assert_eq!(s.expose(), KEY.as_bytes());
        assert!(!s.is_development());
        assert_eq!(
            Secret::from_bytes(&KEY.as_bytes()[1..]).unwrap_err(),
            SecretError::TooShort {
                from: SecretSource::Bytes,
                min: 32
            }
        );
        assert_eq!(
            Secret::from_bytes(b" \n\t").unwrap_err(),
            SecretError::Empty(SecretSource::Bytes)
        );
    }

    #[test]
    fn development_is_labelled() {
        let d = Secret::development();
        assert!(d.is_development());
        assert!(d.expose().len() >= Secret::MIN_LEN);
        assert!(Secret::from_bytes(DEVELOPMENT).unwrap().is_development());
    }
}

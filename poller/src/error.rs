//! [`Error`]: everything registration and polling can refuse, as one typed enum.

use std::io;

use crate::{Backend, Mode, RawSource, Token};

/// The error type of every fallible poller operation.
///
/// Registration mistakes are caught by the poller's own registration table before any system
/// call, so they come back as precise variants on every backend instead of whichever `errno` the
/// platform picks (or none: kqueue happily re-adds a known descriptor).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another registration of this poller already uses the token. Tokens name events, so two
    /// sources cannot share one; deregister the other source or pick a fresh token.
    #[error("token {0:?} is already used by another registration")]
    TokenInUse(Token),
    /// [`Token::RESERVED`] belongs to the poller's waker and cannot be registered.
    #[error("token {0:?} is reserved for the poller's waker")]
    ReservedToken(Token),
    /// The source is already registered with this poller; use `reregister` to change it.
    #[error("source {0} is already registered")]
    AlreadyRegistered(RawSource),
    /// The source is not registered with this poller (never was, or was deregistered).
    #[error("source {0} is not registered")]
    NotRegistered(RawSource),
    /// The backend cannot honour this trigger mode on this platform (for example `mio`, which
    /// is edge-triggered only, refuses [`Mode::Level`]).
    #[error("the {backend} backend does not support {mode} mode on this platform")]
    UnsupportedMode {
        /// The backend that refused.
        backend: Backend,
        /// The mode it was asked for.
        mode: Mode,
    },
    /// The backend does not exist on this platform (for example `epoll` off Linux, or `mio` on
    /// Windows, whose mio cannot register raw sockets), whatever the cargo features. See
    /// [`Backend::available`].
    #[error("the {0} backend is not available on this platform")]
    UnavailableBackend(Backend),
    /// The platform has the backend, but this build of `loopwire-poller` left out the cargo
    /// feature that compiles it: add `feature` to the crate's features in `Cargo.toml`. See
    /// [`Backend::available`] and [`Backend::feature`].
    #[error(
        "the {backend} backend is not built: enable the `{feature}` feature of loopwire-poller"
    )]
    FeatureDisabled {
        /// The backend that was asked for.
        backend: Backend,
        /// The `loopwire-poller` cargo feature that builds it (equal to
        /// [`backend.feature()`](Backend::feature)).
        feature: &'static str,
    },
    /// A backend name that [`Backend::from_str`](std::str::FromStr::from_str) does not know.
    #[error("unknown poller backend {0:?} (expected \"epoll\", \"mio\" or \"polling\")")]
    UnknownBackend(String),
    /// The operating system refused the operation.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Why [`Poller::with_backend`](crate::Poller::with_backend) cannot create `backend`: the
    /// platform lacks it ([`Error::UnavailableBackend`]), or this build left out its feature
    /// ([`Error::FeatureDisabled`]).
    pub(crate) fn unavailable(backend: Backend) -> Error {
        if backend.is_platform_supported() {
            Error::FeatureDisabled {
                backend,
                feature: backend.feature(),
            }
        } else {
            Error::UnavailableBackend(backend)
        }
    }
}

impl From<Error> for io::Error {
    /// Lets code that speaks `io::Error` use `?` on poller results; each variant maps to the
    /// closest [`io::ErrorKind`] and keeps its message.
    fn from(error: Error) -> io::Error {
        let kind = match error {
            Error::Io(inner) => return inner,
            Error::TokenInUse(_) | Error::AlreadyRegistered(_) => io::ErrorKind::AlreadyExists,
            Error::NotRegistered(_) => io::ErrorKind::NotFound,
            Error::UnsupportedMode { .. }
            | Error::UnavailableBackend(_)
            | Error::FeatureDisabled { .. } => io::ErrorKind::Unsupported,
            Error::ReservedToken(_) | Error::UnknownBackend(_) => io::ErrorKind::InvalidInput,
        };
        io::Error::new(kind, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_culprit() {
        assert_eq!(
            Error::TokenInUse(Token(4)).to_string(),
            "token Token(4) is already used by another registration"
        );
        assert_eq!(
            Error::NotRegistered(9).to_string(),
            "source 9 is not registered"
        );
        let mode = Error::UnsupportedMode {
            backend: Backend::Mio,
            mode: Mode::Level,
        };
        assert_eq!(
            mode.to_string(),
            "the mio backend does not support level mode on this platform"
        );
        let disabled = Error::FeatureDisabled {
            backend: Backend::Mio,
            feature: "mio",
        };
        assert_eq!(
            disabled.to_string(),
            "the mio backend is not built: enable the `mio` feature of loopwire-poller"
        );
    }

    #[test]
    fn converts_to_io_errors_by_kind() {
        let cases = [
            (Error::TokenInUse(Token(1)), io::ErrorKind::AlreadyExists),
            (Error::AlreadyRegistered(3), io::ErrorKind::AlreadyExists),
            (Error::NotRegistered(3), io::ErrorKind::NotFound),
            (
                Error::ReservedToken(Token::RESERVED),
                io::ErrorKind::InvalidInput,
            ),
            (
                Error::UnknownBackend("x".into()),
                io::ErrorKind::InvalidInput,
            ),
            (
                Error::UnavailableBackend(Backend::Epoll),
                io::ErrorKind::Unsupported,
            ),
            (
                Error::FeatureDisabled {
                    backend: Backend::Polling,
                    feature: "polling",
                },
                io::ErrorKind::Unsupported,
            ),
        ];
        for (error, kind) in cases {
            let text = error.to_string();
            let io: io::Error = error.into();
            assert_eq!(io.kind(), kind, "{text}");
            assert_eq!(io.to_string(), text);
        }
    }

    #[test]
    fn unavailable_errors_say_why() {
        for backend in Backend::ALL {
            match Error::unavailable(backend) {
                Error::FeatureDisabled {
                    backend: b,
                    feature,
                } => {
                    assert_eq!(b, backend);
                    assert_eq!(feature, backend.feature());
                    assert!(backend.is_platform_supported());
                }
                Error::UnavailableBackend(b) => {
                    assert_eq!(b, backend);
                    assert!(!backend.is_platform_supported());
                }
                other => panic!("{backend}: {other:?}"),
            }
        }
    }

    #[test]
    fn io_errors_pass_through_unwrapped() {
        let io: io::Error = Error::Io(io::Error::from_raw_os_error(9)).into();
        assert_eq!(io.raw_os_error(), Some(9));
    }
}

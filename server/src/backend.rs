//! [`Backend`]: which readiness mechanism the engine's loops poll with.
//!
//! The engine drives sockets level-triggered, so it offers only the poller backends that can
//! do that: native epoll and the portable `polling` crate (kqueue, event ports, `poll(2)`).
//! `loopwire-poller`'s `mio` backend is edge-triggered only: it stays usable on its own but
//! the engine does not offer it.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A readiness backend the engine can drive; set with
/// [`EngineBuilder::backend`](crate::EngineBuilder::backend).
///
/// | backend | platforms | notes |
/// |---|---|---|
/// | `Epoll` | Linux, Android | native, over `libc`; the Linux default |
/// | `Polling` | Unix | the `polling` crate (kqueue, event ports, epoll, `poll(2)`); the default elsewhere; on Linux and Android only with the `polling` feature |
/// | `IoUring` | Linux | io_uring in completion mode (feature `io-uring`); falls back to epoll, with a log line, where the kernel refuses io_uring |
///
/// The environment variable `LOOPWIRE_BACKEND` (a name as [`FromStr`] takes it) overrides
/// the default, so a test suite or a benchmark can run every engine on another backend.
///
/// # Examples
/// ```
/// use loopwire::Backend;
///
/// let b: Backend = "polling".parse()?;
/// assert_eq!(b, Backend::Polling);
/// assert!("mio".parse::<Backend>().is_err(), "edge-triggered only: not offered");
/// assert!(Backend::available().contains(&Backend::default()));
/// # Ok::<(), loopwire::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Native `epoll(7)` (Linux, Android).
    Epoll,
    /// The `polling` crate.
    Polling,
    /// io_uring in completion mode (feature `io-uring`, Linux).
    IoUring,
}

impl Backend {
    /// Every backend the engine knows, available here or not.
    pub const ALL: [Backend; 3] = [Backend::Epoll, Backend::Polling, Backend::IoUring];

    /// The backends the engine can run on here (built into `loopwire-poller` for this
    /// platform and these features), the default first.
    pub fn available() -> Vec<Backend> {
        let mut v: Vec<Backend> = Self::ALL.into_iter().filter(|b| b.is_built()).collect();
        let default = Self::from_env().unwrap_or_else(|| {
            let poller = loopwire_poller::Backend::default();
            v.iter()
                .copied()
                .find(|b| *b != Backend::IoUring && b.poller() == poller)
                .unwrap_or(Backend::Polling)
        });
        v.sort_by_key(|b| *b != default);
        v
    }

    /// Whether this build of the engine can run on it.
    fn is_built(self) -> bool {
        match self {
            Backend::IoUring => cfg!(all(feature = "io-uring", target_os = "linux")),
            b => b.poller().is_available(),
        }
    }

    /// The backend `LOOPWIRE_BACKEND` names, if it names one built here.
    fn from_env() -> Option<Backend> {
        let name = std::env::var("LOOPWIRE_BACKEND").ok()?;
        let b = name.parse::<Backend>().ok().filter(|b| b.is_built());
        if b.is_none() {
            tracing::warn!(%name, "LOOPWIRE_BACKEND names no backend built here; ignored");
        }
        b
    }

    /// The lowercase name, as [`FromStr`] accepts it.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Epoll => "epoll",
            Backend::Polling => "polling",
            Backend::IoUring => "io-uring",
        }
    }

    /// The poller backend behind it (for io_uring: the acceptor thread's, and the fallback).
    pub(crate) fn poller(self) -> loopwire_poller::Backend {
        match self {
            Backend::Epoll | Backend::IoUring => loopwire_poller::Backend::Epoll,
            Backend::Polling => loopwire_poller::Backend::Polling,
        }
    }
}

impl Default for Backend {
    /// Epoll on Linux and Android, `polling` elsewhere (the poller's default, which the engine
    /// can always drive).
    fn default() -> Self {
        Self::available()
            .first()
            .copied()
            .unwrap_or(Backend::Polling)
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(s))
            .ok_or(Error::InvalidOption {
                option: "backend",
                reason: "unknown backend (the engine runs on: epoll, polling, io-uring)",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_mio_is_not_offered() {
        for b in Backend::ALL {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
            assert_eq!(b.to_string(), b.name());
        }
        assert!("mio".parse::<Backend>().is_err());
        assert!("EPOLL".parse::<Backend>().is_ok());
    }

    #[test]
    fn the_default_is_available_and_first() {
        let all = Backend::available();
        assert_eq!(all.first(), Some(&Backend::default()));
        for b in all {
            assert!(b.is_built());
        }
    }
}

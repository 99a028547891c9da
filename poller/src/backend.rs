//! [`Backend`]: the run-time choice of readiness mechanism, and what each one can report.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A readiness backend. Pick one at run time with
/// [`Poller::with_backend`](crate::Poller::with_backend), or take [`Backend::default`].
///
/// | backend | platforms | modes | notes |
/// |---|---|---|---|
/// | `Epoll` | Linux, Android | level, edge, oneshot | native, over `libc`; the Linux default |
/// | `Mio` | Unix | edge, oneshot (emulated) | mio's `Poll`; no level mode; not on Windows |
/// | `Polling` | Unix, Windows | what the OS has (IOCP: level, oneshot) | `polling` crate; the default elsewhere |
///
/// # Examples
///
/// ```
/// use loopwire_poller::Backend;
///
/// let backend: Backend = "polling".parse()?;
/// assert_eq!(backend, Backend::Polling);
/// assert!(Backend::available().contains(&Backend::default()));
/// assert!("kqueue".parse::<Backend>().is_err());
/// # Ok::<(), loopwire_poller::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// Native `epoll(7)` through `libc`, with an eventfd waker (Linux, Android).
    Epoll,
    /// The `mio` crate's `Poll` (epoll, kqueue, event ports, `poll(2)`); Unix only.
    Mio,
    /// The `polling` crate (epoll, kqueue, event ports, IOCP, `poll(2)`).
    Polling,
}

/// Targets whose `polling` crate backend is kqueue, which reports no hang-up flag.
macro_rules! cfg_kqueue {
    () => {
        cfg!(any(
            target_vendor = "apple",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "openbsd",
            target_os = "dragonfly",
        ))
    };
}

impl Backend {
    /// Every backend this version knows, available here or not.
    pub const ALL: [Backend; 3] = [Backend::Epoll, Backend::Mio, Backend::Polling];

    /// The backends that can be created on this platform, the default first.
    pub fn available() -> &'static [Backend] {
        if cfg!(loopwire_poller_force_polling) {
            if cfg!(any(target_os = "linux", target_os = "android")) {
                &[Backend::Polling, Backend::Epoll, Backend::Mio]
            } else if cfg!(unix) {
                &[Backend::Polling, Backend::Mio]
            } else {
                &[Backend::Polling]
            }
        } else if cfg!(any(target_os = "linux", target_os = "android")) {
            &[Backend::Epoll, Backend::Mio, Backend::Polling]
        } else if cfg!(unix) {
            &[Backend::Polling, Backend::Mio]
        } else {
            &[Backend::Polling]
        }
    }

    /// Whether [`Poller::with_backend`](crate::Poller::with_backend) can create this backend
    /// here.
    pub fn is_available(self) -> bool {
        Backend::available().contains(&self)
    }

    /// The lowercase name, as accepted by [`FromStr`].
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Epoll => "epoll",
            Backend::Mio => "mio",
            Backend::Polling => "polling",
        }
    }

    /// Whether the backend flags a peer's `shutdown(Write)` with
    /// [`Event::is_read_closed`](crate::Event::is_read_closed) on this platform.
    ///
    /// Where it does not (`polling`, which asks epoll for no `EPOLLRDHUP` and reads no `EV_EOF`
    /// from kqueue), the half-close still shows as readable and the read returns end-of-file.
    pub const fn reports_read_closed(self) -> bool {
        match self {
            Backend::Epoll | Backend::Mio => true,
            Backend::Polling => false,
        }
    }

    /// Whether the backend flags a full hang-up (`EPOLLHUP`: the peer closed a Unix socket or
    /// the write end of a pipe) with [`Event::is_write_closed`](crate::Event::is_write_closed)
    /// and [`Event::is_read_closed`](crate::Event::is_read_closed) on this platform.
    ///
    /// `polling` over kqueue does not; the read returning end-of-file or the write failing is
    /// then the only signal.
    pub const fn reports_hang_up(self) -> bool {
        match self {
            Backend::Epoll | Backend::Mio => true,
            Backend::Polling => !cfg_kqueue!(),
        }
    }
}

impl Default for Backend {
    /// `Epoll` on Linux and Android, `Polling` everywhere else, and `Polling` everywhere when
    /// built with `RUSTFLAGS="--cfg loopwire_poller_force_polling"`.
    fn default() -> Backend {
        Backend::available()[0]
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;

    /// Parses a backend name, ignoring ASCII case and surrounding whitespace.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownBackend`] for any other name. A known but unavailable backend parses;
    /// creating it fails with [`Error::UnavailableBackend`].
    fn from_str(text: &str) -> Result<Backend, Error> {
        let name = text.trim();
        Backend::ALL
            .into_iter()
            .find(|backend| backend.name().eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::UnknownBackend(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_from_str() {
        for backend in Backend::ALL {
            assert_eq!(backend.to_string().parse::<Backend>().ok(), Some(backend));
        }
        assert_eq!(" EPOLL ".parse::<Backend>().ok(), Some(Backend::Epoll));
    }

    #[test]
    fn unknown_names_are_typed_errors() {
        for bad in ["", "kqueue", "epoll2", "io_uring"] {
            match bad.parse::<Backend>() {
                Err(Error::UnknownBackend(name)) => assert_eq!(name, bad),
                other => panic!("{bad:?} parsed as {other:?}"),
            }
        }
    }

    #[test]
    fn default_is_available_and_listed_once() {
        let available = Backend::available();
        assert_eq!(available[0], Backend::default());
        for backend in available {
            assert_eq!(available.iter().filter(|b| *b == backend).count(), 1);
            assert!(backend.is_available());
        }
        assert!(Backend::Polling.is_available());
    }

    #[cfg(loopwire_poller_force_polling)]
    #[test]
    fn the_cfg_forces_polling() {
        assert_eq!(Backend::default(), Backend::Polling);
    }

    #[cfg(all(target_os = "linux", not(loopwire_poller_force_polling)))]
    #[test]
    fn linux_defaults_to_epoll() {
        assert_eq!(Backend::default(), Backend::Epoll);
        assert_eq!(Backend::available().len(), 3);
    }
}

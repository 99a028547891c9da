//! [`Backend`]: the run-time choice of readiness mechanism, and what each one can report.

use std::fmt;
use std::str::FromStr;

use crate::Error;

/// A readiness backend. Pick one at run time with
/// [`Poller::with_backend`](crate::Poller::with_backend), or take [`Backend::default`].
///
/// | backend | cargo feature | platforms | modes | notes |
/// |---|---|---|---|---|
/// | `Epoll` | `epoll` (default) | Linux, Android | level, edge, oneshot | native, over `libc`; the Linux default |
/// | `Mio` | `mio` | Unix | edge, oneshot (emulated) | mio's `Poll`; no level mode; not on Windows |
/// | `Polling` | `polling` (always built off Linux and Android) | Unix, Windows | what the OS has (IOCP: level, oneshot) | `polling` crate; the default elsewhere |
///
/// Every variant exists in every build, so names parse and match everywhere; which ones can be
/// created depends on the platform and the enabled features (see [`Backend::available`]).
///
/// # Examples
///
/// ```
/// use loopwire_poller::Backend;
///
/// let backend: Backend = "polling".parse()?;
/// assert_eq!(backend, Backend::Polling);
/// assert_eq!(backend.feature(), "polling");
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

    /// The backends this build can create on this platform, the default first; never empty (a
    /// build without any backend stops with a `compile_error!`).
    ///
    /// A backend is available when the platform has it *and* its cargo feature is on (`polling`
    /// needs no feature off Linux and Android). The order is the order of preference for
    /// [`Backend::default`]: `Epoll`, then `Polling`, then `Mio`, which comes last because it
    /// has no level-triggered mode (and so cannot drive loopwire's engine); built with
    /// `--cfg loopwire_poller_force_polling`, `Polling` comes first.
    pub fn available() -> &'static [Backend] {
        AVAILABLE
    }

    /// Whether [`Poller::with_backend`](crate::Poller::with_backend) can create this backend
    /// here: the platform has it and this build compiled it in.
    pub fn is_available(self) -> bool {
        Backend::available().contains(&self)
    }

    /// The cargo feature of `loopwire-poller` that compiles this backend in; it is also the
    /// backend's [`name`](Self::name).
    ///
    /// `epoll` does nothing off Linux and Android, `mio` nothing on Windows, and `polling` is
    /// built off Linux and Android whether the feature is on or not.
    pub const fn feature(self) -> &'static str {
        self.name()
    }

    /// Whether this platform has the backend at all, whatever the features.
    pub(crate) const fn is_platform_supported(self) -> bool {
        match self {
            Backend::Epoll => cfg!(any(target_os = "linux", target_os = "android")),
            Backend::Mio => cfg!(unix),
            Backend::Polling => true,
        }
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
    /// The first of [`Backend::available`]: with the default features `Epoll` on Linux and
    /// Android and `Polling` everywhere else; `Polling` everywhere when built with
    /// `RUSTFLAGS="--cfg loopwire_poller_force_polling"`. On Linux without the `epoll` feature,
    /// `Polling` if its feature is on, else `Mio`.
    fn default() -> Backend {
        DEFAULT
    }
}

/// [`Backend::available`]: the backends this build has (`build.rs` sets the cfgs), in order of
/// preference.
const AVAILABLE: &[Backend] = &[
    #[cfg(all(has_polling, loopwire_poller_force_polling))]
    Backend::Polling,
    #[cfg(has_epoll)]
    Backend::Epoll,
    #[cfg(all(has_polling, not(loopwire_poller_force_polling)))]
    Backend::Polling,
    #[cfg(has_mio)]
    Backend::Mio,
];

/// [`Backend::default`]: the first of [`AVAILABLE`]. A build whose list would be empty stops at
/// the `compile_error!` in `sys/mod.rs`; the fallback is never used, it only keeps that error
/// the only one reported.
const DEFAULT: Backend = match AVAILABLE.first() {
    Some(backend) => *backend,
    None => Backend::Polling,
};

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
    /// [`Error::UnknownBackend`] for any other name. Every backend's name parses, whatever the
    /// platform and features; creating an unavailable one fails with
    /// [`Error::UnavailableBackend`] or [`Error::FeatureDisabled`].
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
            assert!(backend.is_platform_supported());
        }
    }

    #[test]
    fn features_are_the_names() {
        for backend in Backend::ALL {
            assert_eq!(backend.feature(), backend.name());
        }
    }

    #[cfg(loopwire_poller_force_polling)]
    #[test]
    fn the_cfg_forces_polling() {
        assert_eq!(Backend::default(), Backend::Polling);
    }

    #[cfg(all(has_epoll, not(loopwire_poller_force_polling)))]
    #[test]
    fn epoll_is_the_default_where_built() {
        assert_eq!(Backend::default(), Backend::Epoll);
    }

    #[cfg(all(not(has_epoll), has_polling, not(loopwire_poller_force_polling)))]
    #[test]
    fn polling_is_the_default_without_epoll() {
        assert_eq!(Backend::default(), Backend::Polling);
    }

    #[cfg(all(not(has_epoll), not(has_polling)))]
    #[test]
    fn mio_is_the_default_only_alone() {
        assert_eq!(Backend::available(), &[Backend::Mio]);
    }

    /// The cfgs `build.rs` derives agree with the features and the platform.
    #[test]
    fn each_feature_adds_its_backend_where_the_platform_has_it() {
        let linux = cfg!(any(target_os = "linux", target_os = "android"));
        let built = [
            (Backend::Epoll, linux && cfg!(feature = "epoll")),
            (Backend::Mio, cfg!(unix) && cfg!(feature = "mio")),
            (Backend::Polling, !linux || cfg!(feature = "polling")),
        ];
        for (backend, on) in built {
            assert_eq!(backend.is_available(), on, "{backend}");
        }
        let enabled = built.iter().filter(|(_, on)| *on).count();
        assert_eq!(Backend::available().len(), enabled);
    }
}

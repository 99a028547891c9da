//! [`Poller`] and [`Waker`]: the backends behind one run-time choice, dispatched by `match`.
//!
//! The enum costs one predictable branch per call (per poll, not per event: `poll` fills the
//! whole [`Events`] buffer inside the chosen backend). Code that knows its backend at compile
//! time can use the backend type directly, or be generic over [`Selector`](crate::Selector).

use std::io;
use std::time::Duration;

use crate::selector::forward_selector;
#[cfg(has_epoll)]
use crate::sys::epoll::{EpollPoller, EpollWaker};
#[cfg(has_mio)]
use crate::sys::mio::{MioPoller, MioWaker};
#[cfg(has_polling)]
use crate::sys::polling::{PollingPoller, PollingWaker};
use crate::{Backend, Error, Events, Interest, Mode, RawSource, Result, Token};

/// A readiness poller over the backend chosen at run time.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use std::io::{Read, Write};
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// use loopwire_poller::{Backend, Events, Interest, Mode, Poller, Token};
///
/// for &backend in Backend::available() {
///     let (mut a, mut b) = UnixStream::pair()?;
///     a.set_nonblocking(true)?;
///     let mut poller = Poller::with_backend(backend)?;
///     // SAFETY: `a` stays open until it is deregistered below.
///     unsafe { poller.register(a.as_raw_fd(), Token(7), Interest::READABLE, Mode::Oneshot)? };
///
///     b.write_all(b"ping")?;
///     let mut events = Events::with_capacity(64);
///     poller.poll(&mut events, Some(Duration::from_secs(5)))?;
///     let event = events.iter().next().expect("one event");
///     assert_eq!(event.token(), Token(7));
///     assert!(event.is_readable());
///
///     let mut buf = [0; 4];
///     a.read_exact(&mut buf)?;
///     poller.deregister(a.as_raw_fd())?;
/// }
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Poller {
    /// Native epoll (Linux, Android; feature `epoll`).
    #[cfg(has_epoll)]
    Epoll(EpollPoller),
    /// mio (Unix; feature `mio`).
    #[cfg(has_mio)]
    Mio(MioPoller),
    /// The `polling` crate (feature `polling` on Linux and Android, always elsewhere).
    #[cfg(has_polling)]
    Polling(PollingPoller),
}

/// Runs `$body` with `$inner` bound to whichever backend `$value` (a `Poller` or `Waker`)
/// holds.
macro_rules! dispatch {
    ($enum:ident, $value:expr, $inner:ident => $body:expr) => {
        match $value {
            #[cfg(has_epoll)]
            $enum::Epoll($inner) => $body,
            #[cfg(has_mio)]
            $enum::Mio($inner) => $body,
            #[cfg(has_polling)]
            $enum::Polling($inner) => $body,
            // A build without backends stops at the `compile_error!` in `sys/mod.rs`; this arm
            // (the enums are empty then) keeps it the only error reported.
            #[cfg(not(any(has_epoll, has_mio, has_polling)))]
            none => match *none {},
        }
    };
}

impl Poller {
    /// Creates a poller over [`Backend::default`].
    ///
    /// # Errors
    ///
    /// The OS error of creating the backend.
    pub fn new() -> Result<Poller> {
        Poller::with_backend(Backend::default())
    }

    /// Creates a poller over `backend`.
    ///
    /// # Errors
    ///
    /// * [`Error::FeatureDisabled`] if this platform has the backend but this build left out the
    ///   cargo feature that compiles it (named in the error, and by [`Backend::feature`]);
    /// * [`Error::UnavailableBackend`] if the backend does not exist on this platform (`Epoll`
    ///   off Linux and Android, `Mio` on Windows), whatever the features;
    /// * [`Error::Io`] if the OS refuses to create it.
    ///
    /// [`Backend::available`] lists exactly the backends that get past the first two.
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_poller::{Backend, Error, Poller};
    ///
    /// for backend in Backend::ALL {
    ///     match Poller::with_backend(backend) {
    ///         Ok(poller) => assert_eq!(poller.backend(), backend),
    ///         Err(Error::FeatureDisabled { feature, .. }) => {
    ///             assert_eq!(feature, backend.feature());
    ///             assert!(!backend.is_available());
    ///         }
    ///         Err(Error::UnavailableBackend(_)) => assert!(!backend.is_available()),
    ///         Err(other) => return Err(other),
    ///     }
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn with_backend(backend: Backend) -> Result<Poller> {
        match backend {
            #[cfg(has_epoll)]
            Backend::Epoll => EpollPoller::new().map(Poller::Epoll),
            #[cfg(has_mio)]
            Backend::Mio => MioPoller::new().map(Poller::Mio),
            #[cfg(has_polling)]
            Backend::Polling => PollingPoller::new().map(Poller::Polling),
            #[allow(
                unreachable_patterns,
                reason = "unreachable when every backend is built"
            )]
            unavailable => Err(Error::unavailable(unavailable)),
        }
    }

    /// Which backend this poller runs.
    pub fn backend(&self) -> Backend {
        dispatch!(Poller, self, p => p.backend())
    }

    /// Whether [`register`](Self::register) accepts `mode` here.
    pub fn supports_mode(&self, mode: Mode) -> bool {
        dispatch!(Poller, self, p => p.supports_mode(mode))
    }

    /// How many sources are registered (the waker not counted).
    pub fn registered(&self) -> usize {
        dispatch!(Poller, self, p => p.registered())
    }

    /// Starts watching `fd` for `interest` under `token`.
    ///
    /// # Safety
    ///
    /// `fd` must be open, and must stay open until it is deregistered or the poller is dropped:
    /// **deregister before close** (see [`RawSource`]).
    ///
    /// # Errors
    ///
    /// [`Error::ReservedToken`], [`Error::AlreadyRegistered`], [`Error::TokenInUse`],
    /// [`Error::UnsupportedMode`], or [`Error::Io`]. A failed registration leaves nothing
    /// behind.
    pub unsafe fn register(
        &mut self,
        fd: RawSource,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()> {
        // SAFETY: the caller upholds the same contract for every backend.
        dispatch!(Poller, self, p => unsafe { p.register(fd, token, interest, mode) })
    }

    /// Changes the token, interest or mode of `fd`, or re-arms a oneshot registration.
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`], a token used by another registration, a reserved token or an
    /// unsupported mode, or [`Error::Io`]. On error the old registration is unchanged.
    pub fn reregister(
        &mut self,
        fd: RawSource,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()> {
        dispatch!(Poller, self, p => p.reregister(fd, token, interest, mode))
    }

    /// Stops watching `fd`. Call it before closing `fd`.
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`], or [`Error::Io`]; the registration is forgotten either way.
    pub fn deregister(&mut self, fd: RawSource) -> Result<()> {
        dispatch!(Poller, self, p => p.deregister(fd))
    }

    /// Waits until a source is ready, a waker wakes, or `timeout` passes.
    ///
    /// See [`Selector::poll`](crate::Selector::poll) for the exact contract (timeouts never
    /// return early and round up; wake-ups are not events; `EINTR` is retried).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if waiting fails.
    pub fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> Result<()> {
        dispatch!(Poller, self, p => p.poll(events, timeout))
    }

    /// Returns a waker for this poller.
    ///
    /// # Errors
    ///
    /// None of the current backends fails here.
    pub fn waker(&self) -> Result<Waker> {
        dispatch!(Poller, self, p => p.waker().map(Waker::from))
    }
}

/// Wakes a [`Poller`] from any thread. Cloning is cheap (an `Arc`); wakes coalesce.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use loopwire_poller::{Events, Poller};
///
/// let mut poller = Poller::new()?;
/// let waker = poller.waker()?;
/// let remote = waker.clone();
/// let thread = std::thread::spawn(move || remote.wake());
/// let mut events = Events::with_capacity(16);
/// poller.poll(&mut events, Some(Duration::from_secs(10)))?;
/// assert!(events.is_empty());
/// thread.join().expect("waking thread")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Waker {
    /// Waker of an [`EpollPoller`].
    #[cfg(has_epoll)]
    Epoll(EpollWaker),
    /// Waker of a [`MioPoller`].
    #[cfg(has_mio)]
    Mio(MioWaker),
    /// Waker of a [`PollingPoller`].
    #[cfg(has_polling)]
    Polling(PollingWaker),
}

impl Waker {
    /// Makes the poller's current or next poll return.
    ///
    /// # Errors
    ///
    /// The OS error of signalling the poller; a later wake tries again.
    pub fn wake(&self) -> io::Result<()> {
        dispatch!(Waker, self, w => w.wake())
    }
}

forward_selector!(Poller, Waker);

/// `From` conversions from each backend's poller and waker into the enums.
macro_rules! from_backend {
    ($(#[$cfg:meta])* $variant:ident, $poller:ty, $waker:ty) => {
        $(#[$cfg])*
        impl From<$poller> for Poller {
            fn from(poller: $poller) -> Poller {
                Poller::$variant(poller)
            }
        }

        $(#[$cfg])*
        impl From<$waker> for Waker {
            fn from(waker: $waker) -> Waker {
                Waker::$variant(waker)
            }
        }
    };
}

from_backend!(
    #[cfg(has_epoll)]
    Epoll,
    EpollPoller,
    EpollWaker
);
from_backend!(
    #[cfg(has_mio)]
    Mio,
    MioPoller,
    MioWaker
);
from_backend!(
    #[cfg(has_polling)]
    Polling,
    PollingPoller,
    PollingWaker
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_available_backend_is_created_as_itself() {
        for &backend in Backend::available() {
            let poller = Poller::with_backend(backend).expect("available backend");
            assert_eq!(poller.backend(), backend);
            assert!(poller.supports_mode(Mode::Oneshot));
        }
    }

    #[test]
    fn unavailable_backends_are_typed_errors() {
        for backend in Backend::ALL {
            if backend.is_available() {
                continue;
            }
            match Poller::with_backend(backend) {
                Err(Error::UnavailableBackend(b)) => {
                    assert_eq!(b, backend);
                    assert!(!backend.is_platform_supported());
                }
                Err(Error::FeatureDisabled {
                    backend: b,
                    feature,
                }) => {
                    assert_eq!(b, backend);
                    assert_eq!(feature, backend.feature());
                    assert!(backend.is_platform_supported());
                }
                other => panic!("{backend}: {other:?}"),
            }
        }
    }

    #[test]
    fn new_uses_the_default_backend() {
        assert_eq!(
            Poller::new().expect("default").backend(),
            Backend::default()
        );
    }

    #[test]
    fn wakers_are_send_sync_clone() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<Waker>();
        fn assert_send<T: Send>() {}
        assert_send::<Poller>();
    }
}

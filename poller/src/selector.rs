//! [`Selector`] and [`Wake`]: the one readiness interface every backend implements.
//!
//! Code that wants a backend chosen at compile time is generic over `S: Selector` and gets the
//! backend's methods inlined; code that chooses at run time holds a [`Poller`](crate::Poller),
//! an enum that implements the same trait with one `match` per call (never a `dyn` call per
//! event). Both traits are sealed: backends live in this crate, next to the conformance suite
//! that holds them to one behaviour.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::{Backend, Events, Interest, Mode, RawSource, Result, Token};

pub(crate) mod sealed {
    /// Keeps [`Selector`](super::Selector) and [`Wake`](super::Wake) implementable only here.
    pub trait Sealed {}
}

/// A readiness poller: register sources, then wait for them to become ready.
///
/// One poller belongs to one thread (its event loop): every method takes `&mut self`, so the
/// registration table needs no lock. Other threads interrupt a blocked [`poll`](Self::poll)
/// through a [`Waker`](Self::Waker).
pub trait Selector: sealed::Sealed + fmt::Debug + Send {
    /// The handle other threads use to interrupt [`poll`](Self::poll).
    type Waker: Wake;

    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Whether [`register`](Self::register) accepts `mode` on this backend and platform.
    fn supports_mode(&self, mode: Mode) -> bool;

    /// How many sources are registered (the waker not counted).
    fn registered(&self) -> usize;

    /// Starts watching `fd` for `interest`, reporting it under `token`.
    ///
    /// # Safety
    ///
    /// `fd` must be open, and must stay open until it is deregistered or the poller is dropped
    /// (see [`RawSource`]'s module docs for why).
    ///
    /// # Errors
    ///
    /// [`Error::ReservedToken`](crate::Error::ReservedToken),
    /// [`Error::AlreadyRegistered`](crate::Error::AlreadyRegistered),
    /// [`Error::TokenInUse`](crate::Error::TokenInUse),
    /// [`Error::UnsupportedMode`](crate::Error::UnsupportedMode), or
    /// [`Error::Io`](crate::Error::Io) if the OS refuses the source (e.g. a regular file under
    /// epoll). A failed registration leaves nothing behind.
    unsafe fn register(
        &mut self,
        fd: RawSource,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()>;

    /// Changes the token, interest or mode of a registered `fd`; re-arms a [`Mode::Oneshot`]
    /// registration.
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`](crate::Error::NotRegistered), a token already used by *another*
    /// registration, a reserved token or unsupported mode (as for `register`), or
    /// [`Error::Io`](crate::Error::Io). On error the old registration is unchanged.
    fn reregister(
        &mut self,
        fd: RawSource,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()>;

    /// Stops watching `fd`; its token is free again once this returns.
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`](crate::Error::NotRegistered), or
    /// [`Error::Io`](crate::Error::Io) if the OS call fails; the registration is forgotten
    /// either way.
    fn deregister(&mut self, fd: RawSource) -> Result<()>;

    /// Waits until a source is ready, the waker is woken, or `timeout` passes, and fills
    /// `events` (cleared first) with at most `events.capacity()` events.
    ///
    /// `None` waits without limit; `Some(Duration::ZERO)` only collects what is ready now.
    /// Otherwise an empty return means the timeout passed: it never returns earlier, and
    /// timeouts below the backend's resolution are rounded up (epoll and mio: to the next
    /// millisecond) rather than spun on. Waker wake-ups are absorbed, never reported as events,
    /// and any number of wakes before a poll make it return once. Signals (`EINTR`) are retried
    /// with the time left.
    ///
    /// # Errors
    ///
    /// [`Error::Io`](crate::Error::Io) if waiting fails for a reason other than a signal.
    fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> Result<()>;

    /// Returns a waker for this poller; all wakers of one poller share one wake-up state.
    ///
    /// # Errors
    ///
    /// Reserved for backends whose waker needs a system call to set up; the current ones create
    /// it with the poller and never fail here.
    fn waker(&self) -> Result<Self::Waker>;
}

/// A cloneable handle that makes its poller's current or next [`poll`](Selector::poll) return.
///
/// Wakes coalesce: between two polls, only the first wake reaches the kernel; the rest are one
/// atomic swap each.
pub trait Wake: sealed::Sealed + Clone + Send + Sync + fmt::Debug + 'static {
    /// Makes the poller's current or next poll return.
    ///
    /// # Errors
    ///
    /// The OS error if signalling the poller fails (practically never; the wake-up state is
    /// reset so a later wake tries again).
    fn wake(&self) -> io::Result<()>;
}

/// Implements [`Selector`] and [`Wake`] for a backend by forwarding to its inherent methods,
/// which carry the documentation and examples.
macro_rules! forward_selector {
    ($poller:ty, $waker:ty) => {
        impl $crate::selector::sealed::Sealed for $poller {}
        impl $crate::selector::sealed::Sealed for $waker {}

        impl $crate::Selector for $poller {
            type Waker = $waker;

            #[inline]
            fn backend(&self) -> $crate::Backend {
                <$poller>::backend(self)
            }

            #[inline]
            fn supports_mode(&self, mode: $crate::Mode) -> bool {
                <$poller>::supports_mode(self, mode)
            }

            #[inline]
            fn registered(&self) -> usize {
                <$poller>::registered(self)
            }

            #[inline]
            unsafe fn register(
                &mut self,
                fd: $crate::RawSource,
                token: $crate::Token,
                interest: $crate::Interest,
                mode: $crate::Mode,
            ) -> $crate::Result<()> {
                // SAFETY: the caller upholds `Selector::register`'s contract, which is the
                // inherent method's contract word for word.
                unsafe { <$poller>::register(self, fd, token, interest, mode) }
            }

            #[inline]
            fn reregister(
                &mut self,
                fd: $crate::RawSource,
                token: $crate::Token,
                interest: $crate::Interest,
                mode: $crate::Mode,
            ) -> $crate::Result<()> {
                <$poller>::reregister(self, fd, token, interest, mode)
            }

            #[inline]
            fn deregister(&mut self, fd: $crate::RawSource) -> $crate::Result<()> {
                <$poller>::deregister(self, fd)
            }

            #[inline]
            fn poll(
                &mut self,
                events: &mut $crate::Events,
                timeout: Option<::std::time::Duration>,
            ) -> $crate::Result<()> {
                <$poller>::poll(self, events, timeout)
            }

            #[inline]
            fn waker(&self) -> $crate::Result<$waker> {
                <$poller>::waker(self)
            }
        }

        impl $crate::Wake for $waker {
            #[inline]
            fn wake(&self) -> ::std::io::Result<()> {
                <$waker>::wake(self)
            }
        }
    };
}
pub(crate) use forward_selector;

//! The `mio` backend: mio's `Poll` and `Registry` over raw descriptors (`SourceFd`). Unix only.
//!
//! mio is edge-triggered everywhere, so the modes map as follows:
//!
//! * [`Mode::Edge`] is mio's own behaviour.
//! * [`Mode::Oneshot`] is emulated faithfully: when a oneshot registration fires, the backend
//!   deregisters it from mio and drops anything more for that token until `reregister`, which
//!   registers it again. A fresh epoll or kqueue registration reports readiness that is already
//!   present, so re-arming a still-ready source reports it again, as `EPOLLONESHOT` does. The
//!   cost is one extra system call per fired event (delete, then add, where epoll does one
//!   modify); the bookkeeping runs only while oneshot registrations exist.
//! * [`Mode::Level`] is refused with [`Error::UnsupportedMode`]. Emulating it would mean
//!   re-checking every level source with `poll(2)` after each wait, which is neither cheap nor
//!   faithful under concurrent reads.
//!
//! Built with the `mio` feature. mio on Windows registers only its own socket types (it needs to
//! own the AFD state), not raw sockets, so this backend is not built there and `Backend::Mio` is
//! [`Error::UnavailableBackend`] whatever the features.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::time::Duration;

use ::mio::unix::SourceFd;
use ::mio::{Registry, event};

use crate::deadline::Deadline;
use crate::event::flags;
use crate::selector::forward_selector;
use crate::table::{Registration, Table};
use crate::wake_flag::WakeFlag;
use crate::{Backend, Error, Event, Events, Interest, Mode, Result, Token};

/// mio token of the waker: [`Token::RESERVED`], which the registration table refuses to callers.
const WAKER_TOKEN: ::mio::Token = ::mio::Token(Token::RESERVED.0);

/// Oneshot state in the registration table: `ARMED`, or the poll round in which the
/// registration fired (it stays deliverable for the rest of that round, since kqueue reports
/// the read and write filters of one descriptor as separate events).
type Round = u64;
const ARMED: Round = 0;

/// A poller over a `mio::Poll`.
///
/// Built with the `mio` feature on Unix.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use loopwire_poller::{Error, Events, Interest, MioPoller, Mode, Token};
///
/// let (a, mut b) = UnixStream::pair()?;
/// a.set_nonblocking(true)?;
/// let mut poller = MioPoller::new()?;
/// let level = unsafe { poller.register(a.as_raw_fd(), Token(1), Interest::READABLE, Mode::Level) };
/// assert!(matches!(level, Err(Error::UnsupportedMode { .. })));
/// // SAFETY: `a` outlives its registration: it is deregistered before it is dropped.
/// unsafe { poller.register(a.as_raw_fd(), Token(1), Interest::READABLE, Mode::Edge)? };
/// b.write_all(b"x")?;
/// let mut events = Events::with_capacity(8);
/// poller.poll(&mut events, None)?;
/// assert!(events.iter().any(|e| e.token() == Token(1) && e.is_readable()));
/// poller.deregister(a.as_raw_fd())?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MioPoller {
    poll: ::mio::Poll,
    events: ::mio::Events,
    waker: MioWaker,
    table: Table<Round>,
    /// Number of oneshot registrations; the per-event bookkeeping is skipped while it is 0.
    oneshots: usize,
    /// Poll rounds so far, starting at 1 (so no round equals `ARMED`).
    round: Round,
}

impl MioPoller {
    /// Creates a `mio::Poll` and its waker.
    ///
    /// # Errors
    ///
    /// The OS error of creating the selector or the waker.
    pub fn new() -> Result<MioPoller> {
        let poll = ::mio::Poll::new()?;
        let waker = ::mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        Ok(MioPoller {
            poll,
            events: ::mio::Events::with_capacity(1),
            waker: MioWaker {
                shared: Arc::new(Shared {
                    waker,
                    flag: WakeFlag::default(),
                }),
            },
            table: Table::new(),
            oneshots: 0,
            round: ARMED,
        })
    }

    /// Always [`Backend::Mio`].
    pub fn backend(&self) -> Backend {
        Backend::Mio
    }

    /// `true` for [`Mode::Edge`] and (emulated) [`Mode::Oneshot`]; `false` for [`Mode::Level`].
    pub fn supports_mode(&self, mode: Mode) -> bool {
        mode != Mode::Level
    }

    /// How many sources are registered (the waker not counted).
    pub fn registered(&self) -> usize {
        self.table.len()
    }

    /// Starts watching `fd`; see [`Selector::register`](crate::Selector::register).
    ///
    /// # Safety
    ///
    /// `fd` must be open, and stay open until it is deregistered or the poller is dropped.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedMode`] for [`Mode::Level`], the typed registration errors, or
    /// [`Error::Io`] from the selector.
    pub unsafe fn register(
        &mut self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()> {
        self.check_mode(mode)?;
        self.table.check_insert(fd, token)?;
        self.poll.registry().register(
            &mut SourceFd(&fd),
            mio_token(token),
            mio_interest(interest),
        )?;
        self.table.insert(fd, registration(token, interest, mode));
        self.oneshots += usize::from(mode == Mode::Oneshot);
        Ok(())
    }

    /// Changes or re-arms the registration of `fd`; see
    /// [`Selector::reregister`](crate::Selector::reregister).
    ///
    /// # Errors
    ///
    /// As [`register`](Self::register), with [`Error::NotRegistered`] for an unknown `fd`.
    pub fn reregister(
        &mut self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()> {
        self.check_mode(mode)?;
        let current = *self.table.check_update(fd, token)?;
        let registry = self.poll.registry();
        let (source, token_, interest_) =
            (&mut SourceFd(&fd), mio_token(token), mio_interest(interest));
        if current.extra == ARMED {
            registry.reregister(source, token_, interest_)?;
        } else {
            // A fired oneshot was deregistered from mio; re-arming registers it afresh.
            registry.register(source, token_, interest_)?;
        }
        self.table.update(fd, registration(token, interest, mode));
        self.oneshots -= usize::from(current.mode == Mode::Oneshot);
        self.oneshots += usize::from(mode == Mode::Oneshot);
        Ok(())
    }

    /// Stops watching `fd`; see [`Selector::deregister`](crate::Selector::deregister).
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`], or [`Error::Io`] from the selector.
    pub fn deregister(&mut self, fd: RawFd) -> Result<()> {
        let current = self.table.remove(fd)?;
        self.oneshots -= usize::from(current.mode == Mode::Oneshot);
        if current.extra == ARMED {
            self.poll.registry().deregister(&mut SourceFd(&fd))?;
        }
        Ok(())
    }

    /// Waits for readiness; see [`Selector::poll`](crate::Selector::poll).
    ///
    /// # Errors
    ///
    /// The OS error of waiting (other than `EINTR`, which is retried), or of deregistering a
    /// oneshot registration that fired.
    pub fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> Result<()> {
        events.clear();
        if self.events.capacity() != events.capacity() {
            self.events = ::mio::Events::with_capacity(events.capacity());
        }
        let deadline = Deadline::new(timeout);
        loop {
            match self.poll.poll(&mut self.events, deadline.remaining()) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => self.events.clear(),
                Err(e) => return Err(e.into()),
            }
            self.round += 1;
            let mut woken = false;
            for event in self.events.iter() {
                if event.token() == WAKER_TOKEN {
                    woken = true;
                    continue;
                }
                let token = Token(event.token().0);
                if self.oneshots > 0
                    && !fire_oneshot(&mut self.table, self.poll.registry(), token, self.round)?
                {
                    continue;
                }
                events.push(Event::new(token, readiness(event)));
            }
            if woken {
                self.waker.shared.flag.clear();
            }
            if !events.is_empty() || woken || deadline.expired() {
                return Ok(());
            }
        }
    }

    /// Returns a waker sharing this poller's `mio::Waker`.
    ///
    /// # Errors
    ///
    /// Never: the waker is created with the poller.
    pub fn waker(&self) -> Result<MioWaker> {
        Ok(self.waker.clone())
    }

    fn check_mode(&self, mode: Mode) -> Result<()> {
        if self.supports_mode(mode) {
            Ok(())
        } else {
            Err(Error::UnsupportedMode {
                backend: Backend::Mio,
                mode,
            })
        }
    }
}

/// Applies oneshot semantics to an event for `token`; `false` if it must be dropped.
///
/// An armed oneshot registration fires: it is deregistered from mio and marked with this
/// round. Events of the same round still pass; later ones cannot arrive (mio no longer watches
/// the descriptor) and would be dropped.
fn fire_oneshot(
    table: &mut Table<Round>,
    registry: &Registry,
    token: Token,
    round: Round,
) -> Result<bool> {
    match table.by_token_mut(token) {
        Some((fd, registration)) if registration.mode == Mode::Oneshot => {
            if registration.extra == ARMED {
                registry.deregister(&mut SourceFd(&fd))?;
                registration.extra = round;
            }
            Ok(registration.extra == round)
        }
        _ => Ok(true),
    }
}

/// Wakes a [`MioPoller`] from any thread; coalesced, then `mio::Waker::wake`.
#[derive(Debug, Clone)]
pub struct MioWaker {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    waker: ::mio::Waker,
    flag: WakeFlag,
}

impl MioWaker {
    /// Makes the poller's current or next poll return.
    ///
    /// # Errors
    ///
    /// The OS error of `mio::Waker::wake` (the flag is reset so a later wake retries).
    pub fn wake(&self) -> io::Result<()> {
        if !self.shared.flag.raise() {
            return Ok(());
        }
        self.shared.waker.wake().inspect_err(|_| {
            self.shared.flag.clear();
        })
    }
}

forward_selector!(MioPoller, MioWaker);

fn registration(token: Token, interest: Interest, mode: Mode) -> Registration<Round> {
    Registration {
        token,
        interest,
        mode,
        extra: ARMED,
    }
}

fn mio_token(token: Token) -> ::mio::Token {
    ::mio::Token(token.0)
}

fn mio_interest(interest: Interest) -> ::mio::Interest {
    match (interest.is_readable(), interest.is_writable()) {
        (true, true) => ::mio::Interest::READABLE | ::mio::Interest::WRITABLE,
        (true, false) => ::mio::Interest::READABLE,
        _ => ::mio::Interest::WRITABLE,
    }
}

fn readiness(event: &event::Event) -> u8 {
    let mut out = 0;
    if event.is_readable() {
        out |= flags::READABLE;
    }
    if event.is_writable() {
        out |= flags::WRITABLE;
    }
    if event.is_read_closed() {
        out |= flags::READ_CLOSED;
    }
    if event.is_write_closed() {
        out |= flags::WRITE_CLOSED;
    }
    if event.is_error() {
        out |= flags::ERROR;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interests_map_one_to_one() {
        assert_eq!(mio_interest(Interest::READABLE), ::mio::Interest::READABLE);
        assert_eq!(mio_interest(Interest::WRITABLE), ::mio::Interest::WRITABLE);
        assert_eq!(
            mio_interest(Interest::READABLE | Interest::WRITABLE),
            ::mio::Interest::READABLE | ::mio::Interest::WRITABLE
        );
    }

    #[test]
    fn level_mode_is_refused_before_any_syscall() {
        let mut poller = MioPoller::new().expect("mio poller");
        assert!(!poller.supports_mode(Mode::Level));
        // -1 is never a valid descriptor: had the mode check not come first, mio would fail
        // with EBADF instead.
        // SAFETY: the call fails before it could register anything.
        let result = unsafe { poller.register(-1, Token(1), Interest::READABLE, Mode::Level) };
        assert!(matches!(
            result,
            Err(Error::UnsupportedMode {
                backend: Backend::Mio,
                mode: Mode::Level
            })
        ));
    }
}

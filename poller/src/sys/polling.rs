//! The `polling` backend: the `polling` crate's `Poller` (epoll, kqueue, event ports, IOCP,
//! `poll(2)`). Always built off Linux and Android, where it is the default; opt-in there (the
//! `polling` feature).
//!
//! Modes map one to one onto `polling::PollMode`; whether level and edge exist is asked of the
//! platform (`supports_level`, `supports_edge`: IOCP and `poll(2)` have no edge mode, event ports
//! have only oneshot), and a missing one is refused with
//! [`Error::UnsupportedMode`]. Oneshot exists everywhere.
//!
//! What `polling` does not tell is not invented: it asks epoll for no `EPOLLRDHUP`, so a peer's
//! `shutdown(Write)` shows as readable only, and over kqueue it reports no hang-up or error
//! flags at all (see [`Backend::reports_read_closed`] and [`Backend::reports_hang_up`]).
//!
//! The waker is `polling::Poller::notify` behind the shared [`WakeFlag`], which also tells
//! `poll` whether an empty return was a wake-up (return) or early (wait for the rest of the
//! timeout).

use std::io;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::time::Duration;

use ::polling::PollMode;

use crate::deadline::Deadline;
use crate::event::flags;
use crate::selector::forward_selector;
use crate::table::{Registration, Table};
use crate::wake_flag::WakeFlag;
use crate::{Backend, Error, Event, Events, Interest, Mode, RawSource, Result, Token};

/// A poller over a `polling::Poller`.
///
/// Built off Linux and Android always, and there with the `polling` feature.
///
/// # Examples
///
/// ```
/// # #[cfg(unix)] {
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use loopwire_poller::{Events, Interest, Mode, PollingPoller, Token};
///
/// let (a, mut b) = UnixStream::pair()?;
/// let mut poller = PollingPoller::new()?;
/// // SAFETY: `a` outlives its registration: it is deregistered before it is dropped.
/// unsafe { poller.register(a.as_raw_fd(), Token(1), Interest::READABLE, Mode::Oneshot)? };
/// b.write_all(b"x")?;
/// let mut events = Events::with_capacity(8);
/// poller.poll(&mut events, None)?;
/// assert!(events.iter().any(|e| e.token() == Token(1) && e.is_readable()));
/// poller.deregister(a.as_raw_fd())?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PollingPoller {
    shared: Arc<Shared>,
    events: ::polling::Events,
    table: Table,
}

/// The `polling::Poller` and wake flag shared by a poller and its wakers.
#[derive(Debug)]
struct Shared {
    poller: ::polling::Poller,
    flag: WakeFlag,
}

impl PollingPoller {
    /// Creates a `polling::Poller`.
    ///
    /// # Errors
    ///
    /// The OS error of creating it.
    pub fn new() -> Result<PollingPoller> {
        Ok(PollingPoller {
            shared: Arc::new(Shared {
                poller: ::polling::Poller::new()?,
                flag: WakeFlag::default(),
            }),
            events: ::polling::Events::with_capacity(NonZeroUsize::MIN),
            table: Table::new(),
        })
    }

    /// Always [`Backend::Polling`].
    pub fn backend(&self) -> Backend {
        Backend::Polling
    }

    /// Oneshot always; level and edge where the platform's mechanism has them.
    pub fn supports_mode(&self, mode: Mode) -> bool {
        match mode {
            Mode::Level => self.shared.poller.supports_level(),
            Mode::Edge => self.shared.poller.supports_edge(),
            Mode::Oneshot => true,
        }
    }

    /// How many sources are registered (the waker not counted).
    pub fn registered(&self) -> usize {
        self.table.len()
    }

    /// Starts watching `fd`; see [`Selector::register`](crate::Selector::register).
    ///
    /// # Safety
    ///
    /// `fd` must be open, and stay open until it is deregistered or the poller is dropped. This
    /// is `polling::Poller::add`'s own contract.
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedMode`], the typed registration errors, or [`Error::Io`].
    pub unsafe fn register(
        &mut self,
        fd: RawSource,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()> {
        self.check_mode(mode)?;
        self.table.check_insert(fd, token)?;
        // SAFETY: the caller keeps `fd` open until it is deregistered, which is exactly what
        // `polling::Poller::add` requires.
        unsafe {
            self.shared.poller.add_with_mode(
                fd,
                polling_event(token, interest),
                poll_mode(mode),
            )?;
        }
        self.table.insert(fd, registration(token, interest, mode));
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
        fd: RawSource,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()> {
        self.check_mode(mode)?;
        self.table.check_update(fd, token)?;
        // SAFETY: `fd` is in the registration table, so by `register`'s contract it is open.
        let source = unsafe { borrow(fd) };
        self.shared.poller.modify_with_mode(
            source,
            polling_event(token, interest),
            poll_mode(mode),
        )?;
        self.table.update(fd, registration(token, interest, mode));
        Ok(())
    }

    /// Stops watching `fd`; see [`Selector::deregister`](crate::Selector::deregister).
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`], or [`Error::Io`].
    pub fn deregister(&mut self, fd: RawSource) -> Result<()> {
        self.table.remove(fd)?;
        // SAFETY: `fd` was in the registration table, so by `register`'s contract it is open.
        let source = unsafe { borrow(fd) };
        self.shared.poller.delete(source)?;
        Ok(())
    }

    /// Waits for readiness; see [`Selector::poll`](crate::Selector::poll).
    ///
    /// # Errors
    ///
    /// The OS error of waiting (`polling` retries `EINTR` itself).
    pub fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> Result<()> {
        events.clear();
        if self.events.capacity().get() != events.capacity() {
            let capacity = NonZeroUsize::new(events.capacity()).unwrap_or(NonZeroUsize::MIN);
            self.events = ::polling::Events::with_capacity(capacity);
        }
        let deadline = Deadline::new(timeout);
        loop {
            self.events.clear();
            self.shared
                .poller
                .wait(&mut self.events, deadline.remaining())?;
            let woken = self.shared.flag.clear();
            for event in self.events.iter() {
                events.push(Event::new(Token(event.key), readiness(&event)));
            }
            if !events.is_empty() || woken || deadline.expired() {
                return Ok(());
            }
        }
    }

    /// Returns a waker sharing this poller.
    ///
    /// # Errors
    ///
    /// Never: the notifier is created with the poller.
    pub fn waker(&self) -> Result<PollingWaker> {
        Ok(PollingWaker {
            shared: Arc::clone(&self.shared),
        })
    }

    fn check_mode(&self, mode: Mode) -> Result<()> {
        if self.supports_mode(mode) {
            Ok(())
        } else {
            Err(Error::UnsupportedMode {
                backend: Backend::Polling,
                mode,
            })
        }
    }
}

/// Wakes a [`PollingPoller`] from any thread; coalesced, then `polling::Poller::notify`.
#[derive(Debug, Clone)]
pub struct PollingWaker {
    shared: Arc<Shared>,
}

impl PollingWaker {
    /// Makes the poller's current or next poll return.
    ///
    /// # Errors
    ///
    /// The OS error of `notify` (the flag is reset so a later wake retries).
    pub fn wake(&self) -> io::Result<()> {
        if !self.shared.flag.raise() {
            return Ok(());
        }
        self.shared.poller.notify().inspect_err(|_| {
            self.shared.flag.clear();
        })
    }
}

forward_selector!(PollingPoller, PollingWaker);

/// Borrows a registered raw source for `polling`'s `modify` and `delete`.
///
/// # Safety
///
/// `fd` must be open for the lifetime of the borrow.
#[cfg(unix)]
unsafe fn borrow<'a>(fd: RawSource) -> std::os::fd::BorrowedFd<'a> {
    // SAFETY: forwarded to the caller.
    unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }
}

/// Borrows a registered raw socket for `polling`'s `modify` and `delete`.
///
/// # Safety
///
/// `fd` must be an open socket for the lifetime of the borrow.
#[cfg(windows)]
unsafe fn borrow<'a>(fd: RawSource) -> std::os::windows::io::BorrowedSocket<'a> {
    // SAFETY: forwarded to the caller.
    unsafe { std::os::windows::io::BorrowedSocket::borrow_raw(fd) }
}

fn registration(token: Token, interest: Interest, mode: Mode) -> Registration {
    Registration {
        token,
        interest,
        mode,
        extra: (),
    }
}

fn polling_event(token: Token, interest: Interest) -> ::polling::Event {
    ::polling::Event::new(token.0, interest.is_readable(), interest.is_writable())
}

fn poll_mode(mode: Mode) -> PollMode {
    match mode {
        Mode::Level => PollMode::Level,
        Mode::Edge => PollMode::Edge,
        Mode::Oneshot => PollMode::Oneshot,
    }
}

fn readiness(event: &::polling::Event) -> u8 {
    let mut out = 0;
    if event.readable {
        out |= flags::READABLE;
    }
    if event.writable {
        out |= flags::WRITABLE;
    }
    if event.is_interrupt() {
        out |= flags::READ_CLOSED | flags::WRITE_CLOSED;
    }
    if event.is_err() == Some(true) {
        out |= flags::ERROR;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_map_one_to_one() {
        assert_eq!(poll_mode(Mode::Level), PollMode::Level);
        assert_eq!(poll_mode(Mode::Edge), PollMode::Edge);
        assert_eq!(poll_mode(Mode::Oneshot), PollMode::Oneshot);
    }

    #[test]
    fn events_carry_token_and_interest() {
        let event = polling_event(Token(5), Interest::READABLE | Interest::WRITABLE);
        assert_eq!(event.key, 5);
        assert!(event.readable && event.writable);
        let event = polling_event(Token(6), Interest::WRITABLE);
        assert!(!event.readable && event.writable);
    }

    #[test]
    fn readiness_keeps_readable_and_writable() {
        let event = ::polling::Event::new(1, true, false);
        assert_eq!(readiness(&event), flags::READABLE);
        let event = ::polling::Event::new(1, false, true);
        assert_eq!(readiness(&event), flags::WRITABLE);
    }

    #[test]
    fn oneshot_is_always_supported() {
        let poller = PollingPoller::new().expect("polling poller");
        assert!(poller.supports_mode(Mode::Oneshot));
    }
}

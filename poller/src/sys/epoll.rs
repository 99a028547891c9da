//! The native `epoll(7)` backend over `libc`: level, edge and oneshot modes, `EPOLLRDHUP`, and a
//! coalescing eventfd waker. The Linux default; built with the `epoll` feature (a default one).
//!
//! One `epoll_wait` per poll and no allocation: the kernel fills a reused `epoll_event` buffer
//! that is translated into [`Event`]s in one pass. The waker's eventfd is registered
//! edge-triggered under a data word no caller token can produce ([`Token::RESERVED`]): every
//! write to it is a new edge, so a wake-up costs one `write` and nothing on the polling side
//! but clearing the wake flag (see [`crate::wake_flag`]); the counter is never read, only reset
//! in the practically unreachable case that it saturates (as mio's eventfd waker does).
//!
//! Timeouts are rounded *up* to whole milliseconds, as `epoll_wait` counts them, so a 100 µs
//! timeout sleeps about 1 ms instead of spinning on zero; `EINTR` is retried with the time left.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;
use std::{fmt, io, ptr};

use libc::c_int;

use crate::deadline::Deadline;
use crate::event::flags;
use crate::selector::forward_selector;
use crate::table::{Registration, Table};
use crate::wake_flag::WakeFlag;
use crate::{Backend, Event, Events, Interest, Mode, Result, Token};

/// The `epoll_event.u64` of the waker's eventfd: [`Token::RESERVED`], which the registration
/// table refuses to callers.
const WAKER_DATA: u64 = Token::RESERVED.0 as u64;

/// The most events one `epoll_wait` may be asked for (`INT_MAX / sizeof(struct epoll_event)`;
/// the kernel answers `EINVAL` above it).
const MAX_EVENTS: usize = c_int::MAX as usize / size_of::<libc::epoll_event>();

/// A poller over a native epoll instance.
///
/// Built with the `epoll` feature (a default one) on Linux and Android.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use std::io::Write;
/// use std::os::fd::AsRawFd;
/// use std::os::unix::net::UnixStream;
/// use loopwire_poller::{EpollPoller, Events, Interest, Mode, Token};
///
/// let (a, mut b) = UnixStream::pair()?;
/// let mut poller = EpollPoller::new()?;
/// // SAFETY: `a` outlives its registration: it is deregistered before it is dropped.
/// unsafe { poller.register(a.as_raw_fd(), Token(1), Interest::READABLE, Mode::Level)? };
/// b.write_all(b"x")?;
/// let mut events = Events::with_capacity(8);
/// poller.poll(&mut events, None)?;
/// assert!(events.iter().any(|e| e.token() == Token(1) && e.is_readable()));
/// poller.deregister(a.as_raw_fd())?;
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EpollPoller {
    epoll: OwnedFd,
    waker: EpollWaker,
    buffer: Vec<libc::epoll_event>,
    table: Table,
}

impl EpollPoller {
    /// Creates an epoll instance and its eventfd waker, both close-on-exec.
    ///
    /// # Errors
    ///
    /// The OS error of `epoll_create1`, `eventfd` or `epoll_ctl` (typically `EMFILE`).
    pub fn new() -> Result<EpollPoller> {
        // SAFETY: `epoll_create1` takes only a flags word.
        let raw = syscall!(epoll_create1(libc::EPOLL_CLOEXEC))?;
        // SAFETY: `epoll_create1` succeeded, so `raw` is a fresh descriptor nothing else owns.
        let epoll = unsafe { OwnedFd::from_raw_fd(raw) };
        let waker = EpollWaker::new()?;
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: WAKER_DATA,
        };
        let eventfd = waker.shared.eventfd.as_raw_fd();
        // SAFETY: both descriptors are open (owned just above) and `event` is a live, valid
        // `epoll_event` for the duration of the call.
        syscall!(epoll_ctl(
            epoll.as_raw_fd(),
            libc::EPOLL_CTL_ADD,
            eventfd,
            &mut event
        ))?;
        Ok(EpollPoller {
            epoll,
            waker,
            buffer: Vec::new(),
            table: Table::new(),
        })
    }

    /// Always [`Backend::Epoll`].
    pub fn backend(&self) -> Backend {
        Backend::Epoll
    }

    /// epoll has every mode: always `true`.
    pub fn supports_mode(&self, _mode: Mode) -> bool {
        true
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
    /// The typed registration errors, or [`Error::Io`](crate::Error::Io) from `epoll_ctl`
    /// (`EPERM` for a regular file, which epoll cannot watch).
    pub unsafe fn register(
        &mut self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()> {
        self.table.check_insert(fd, token)?;
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, interest, mode)?;
        self.table.insert(fd, registration(token, interest, mode));
        Ok(())
    }

    /// Changes or re-arms the registration of `fd`; see
    /// [`Selector::reregister`](crate::Selector::reregister).
    ///
    /// # Errors
    ///
    /// The typed registration errors, or [`Error::Io`](crate::Error::Io) from `epoll_ctl`.
    pub fn reregister(
        &mut self,
        fd: RawFd,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> Result<()> {
        self.table.check_update(fd, token)?;
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, interest, mode)?;
        self.table.update(fd, registration(token, interest, mode));
        Ok(())
    }

    /// Stops watching `fd`; see [`Selector::deregister`](crate::Selector::deregister).
    ///
    /// # Errors
    ///
    /// [`Error::NotRegistered`](crate::Error::NotRegistered), or the OS error of `epoll_ctl`.
    pub fn deregister(&mut self, fd: RawFd) -> Result<()> {
        self.table.remove(fd)?;
        // SAFETY: the epoll descriptor is open (owned by `self`); `EPOLL_CTL_DEL` ignores the
        // event pointer, which may be null since Linux 2.6.9.
        syscall!(epoll_ctl(
            self.epoll.as_raw_fd(),
            libc::EPOLL_CTL_DEL,
            fd,
            ptr::null_mut()
        ))?;
        Ok(())
    }

    /// Waits for readiness; see [`Selector::poll`](crate::Selector::poll).
    ///
    /// # Errors
    ///
    /// The OS error of `epoll_wait` (other than `EINTR`, which is retried).
    pub fn poll(&mut self, events: &mut Events, timeout: Option<Duration>) -> Result<()> {
        events.clear();
        let max = events.capacity().min(MAX_EVENTS);
        self.buffer.clear();
        self.buffer.reserve_exact(max);
        let deadline = Deadline::new(timeout);
        loop {
            let millis = deadline.remaining().map_or(-1, ceil_millis);
            // SAFETY: the epoll descriptor is open, and `buffer` has room for `max` events
            // (reserved above), which bounds what the kernel writes. `max` ≤ MAX_EVENTS fits a
            // c_int.
            let ready = match syscall!(epoll_wait(
                self.epoll.as_raw_fd(),
                self.buffer.as_mut_ptr(),
                max as c_int,
                millis
            )) {
                Ok(n) => n as usize,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
                Err(e) => return Err(e.into()),
            };
            debug_assert!(ready <= max);
            // SAFETY: `epoll_wait` initialised the first `ready` ≤ `max` ≤ capacity entries.
            unsafe { self.buffer.set_len(ready) };
            let mut woken = false;
            for event in &self.buffer {
                // Copy the fields out: `epoll_event` is packed on x86_64.
                let (bits, data) = (event.events, event.u64);
                if data == WAKER_DATA {
                    woken = true;
                } else {
                    events.push(Event::new(Token(data as usize), readiness(bits)));
                }
            }
            self.buffer.clear();
            if woken {
                // Edge-triggered: nothing to read; the next write is a new edge.
                self.waker.shared.flag.clear();
            }
            if ready > 0 || deadline.expired() {
                return Ok(());
            }
        }
    }

    /// Returns a waker sharing this poller's eventfd.
    ///
    /// # Errors
    ///
    /// Never: the eventfd is created with the poller.
    pub fn waker(&self) -> Result<EpollWaker> {
        Ok(self.waker.clone())
    }

    fn ctl(
        &self,
        op: c_int,
        fd: RawFd,
        token: Token,
        interest: Interest,
        mode: Mode,
    ) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: epoll_flags(interest, mode),
            u64: token.0 as u64,
        };
        // SAFETY: the epoll descriptor is open (owned by `self`), `fd` is open by `register`'s
        // contract (or epoll answers EBADF), and `event` is live for the call.
        syscall!(epoll_ctl(self.epoll.as_raw_fd(), op, fd, &mut event)).map(drop)
    }
}

impl fmt::Debug for EpollPoller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpollPoller")
            .field("epoll", &self.epoll)
            .field("waker", &self.waker)
            .field("registrations", &self.table.len())
            .finish_non_exhaustive()
    }
}

/// Wakes an [`EpollPoller`] from any thread through its eventfd.
///
/// The first wake since the poller last returned writes the eventfd; later ones only find the
/// "already woken" flag set.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use std::time::Duration;
/// use loopwire_poller::{EpollPoller, Events};
///
/// let mut poller = EpollPoller::new()?;
/// let waker = poller.waker()?;
/// std::thread::spawn(move || {
///     for _ in 0..100 {
///         waker.wake().expect("wake");
///     }
/// });
/// let mut events = Events::with_capacity(8);
/// poller.poll(&mut events, Some(Duration::from_secs(10)))?;
/// assert!(events.is_empty(), "wake-ups are not events");
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct EpollWaker {
    shared: Arc<EventFd>,
}

/// The eventfd and wake flag shared by a poller and its wakers.
struct EventFd {
    eventfd: OwnedFd,
    flag: WakeFlag,
}

impl EpollWaker {
    fn new() -> io::Result<EpollWaker> {
        // SAFETY: `eventfd` takes an initial count and a flags word.
        let raw = syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?;
        // SAFETY: `eventfd` succeeded, so `raw` is a fresh descriptor nothing else owns.
        let eventfd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(EpollWaker {
            shared: Arc::new(EventFd {
                eventfd,
                flag: WakeFlag::default(),
            }),
        })
    }

    /// Makes the poller's current or next poll return.
    ///
    /// # Errors
    ///
    /// The OS error of writing the eventfd (the flag is reset so a later wake retries).
    pub fn wake(&self) -> io::Result<()> {
        if !self.shared.flag.raise() {
            return Ok(());
        }
        self.shared.signal().inspect_err(|_| {
            self.shared.flag.clear();
        })
    }
}

impl EventFd {
    /// Adds one to the counter: a new edge for the poller.
    fn signal(&self) -> io::Result<()> {
        match self.write(1) {
            // The counter is saturated (after 2^64 - 2 wake-ups): reset it and signal again.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.reset()?;
                self.write(1)
            }
            result => result,
        }
    }

    fn write(&self, count: u64) -> io::Result<()> {
        // SAFETY: the eventfd is open (owned by `self`) and `count` is 8 readable bytes, the
        // size an eventfd write requires.
        syscall!(write(
            self.eventfd.as_raw_fd(),
            (&raw const count).cast(),
            size_of::<u64>()
        ))
        .map(drop)
    }

    fn reset(&self) -> io::Result<()> {
        let mut count: u64 = 0;
        // SAFETY: the eventfd is open and `count` is 8 writable bytes, the size an eventfd read
        // requires.
        match syscall!(read(
            self.eventfd.as_raw_fd(),
            (&raw mut count).cast(),
            size_of::<u64>()
        )) {
            Ok(_) => Ok(()),
            // Another waker reset it first.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl fmt::Debug for EpollWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EpollWaker")
            .field("eventfd", &self.shared.eventfd)
            .finish()
    }
}

forward_selector!(EpollPoller, EpollWaker);

fn registration(token: Token, interest: Interest, mode: Mode) -> Registration {
    Registration {
        token,
        interest,
        mode,
        extra: (),
    }
}

/// The `epoll_event.events` word for a registration.
fn epoll_flags(interest: Interest, mode: Mode) -> u32 {
    let mut bits = match mode {
        Mode::Level => 0,
        Mode::Edge => libc::EPOLLET,
        Mode::Oneshot => libc::EPOLLONESHOT,
    };
    if interest.is_readable() {
        bits |= libc::EPOLLIN | libc::EPOLLRDHUP;
    }
    if interest.is_writable() {
        bits |= libc::EPOLLOUT;
    }
    bits as u32
}

/// Translates reported epoll bits into [`Event`] bits (the mapping mio uses).
fn readiness(bits: u32) -> u8 {
    let has = |flag: c_int| bits & flag as u32 != 0;
    let mut out = 0;
    if has(libc::EPOLLIN | libc::EPOLLPRI) {
        out |= flags::READABLE;
    }
    if has(libc::EPOLLOUT) {
        out |= flags::WRITABLE;
    }
    if has(libc::EPOLLHUP | libc::EPOLLRDHUP) {
        out |= flags::READ_CLOSED;
    }
    // An error alone, or with writability, means writing cannot succeed; EPOLLERR on a
    // readable socket may be a transient ICMP error and is reported only as an error.
    if has(libc::EPOLLHUP)
        || (has(libc::EPOLLOUT) && has(libc::EPOLLERR))
        || bits == libc::EPOLLERR as u32
    {
        out |= flags::WRITE_CLOSED;
    }
    if has(libc::EPOLLERR) {
        out |= flags::ERROR;
    }
    out
}

/// A timeout in whole milliseconds for `epoll_wait`, rounded up so that a sub-millisecond
/// timeout sleeps instead of spinning, and saturated at `c_int::MAX` (about 24.8 days).
///
/// Plain `u64` arithmetic: `as_nanos().div_ceil(..)` would divide a `u128`, a library call that
/// showed in the wake benchmark (every zero-timeout poll goes through here).
fn ceil_millis(timeout: Duration) -> c_int {
    let sub_millis = timeout.subsec_nanos().div_ceil(1_000_000);
    let millis = timeout
        .as_secs()
        .saturating_mul(1_000)
        .saturating_add(u64::from(sub_millis));
    c_int::try_from(millis).unwrap_or(c_int::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(ceil_millis(Duration::ZERO), 0);
        assert_eq!(ceil_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ceil_millis(Duration::from_micros(999)), 1);
        assert_eq!(ceil_millis(Duration::from_millis(1)), 1);
        assert_eq!(ceil_millis(Duration::from_nanos(1_000_001)), 2);
        assert_eq!(ceil_millis(Duration::from_secs(3)), 3000);
        assert_eq!(ceil_millis(Duration::new(3, 1)), 3001);
        assert_eq!(ceil_millis(Duration::new(1, 999_999_999)), 2000);
        assert_eq!(ceil_millis(Duration::MAX), c_int::MAX);
    }

    #[test]
    fn registration_flags_follow_interest_and_mode() {
        let read = epoll_flags(Interest::READABLE, Mode::Level);
        assert_eq!(read, (libc::EPOLLIN | libc::EPOLLRDHUP) as u32);
        let write_edge = epoll_flags(Interest::WRITABLE, Mode::Edge);
        assert_eq!(write_edge, (libc::EPOLLOUT | libc::EPOLLET) as u32);
        let both_once = epoll_flags(Interest::READABLE | Interest::WRITABLE, Mode::Oneshot);
        assert_eq!(
            both_once,
            (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLOUT | libc::EPOLLONESHOT) as u32
        );
    }

    #[test]
    fn readiness_maps_like_mio() {
        let bits = |flags: c_int| readiness(flags as u32);
        assert_eq!(bits(libc::EPOLLIN), flags::READABLE);
        assert_eq!(bits(libc::EPOLLPRI), flags::READABLE);
        assert_eq!(bits(libc::EPOLLOUT), flags::WRITABLE);
        assert_eq!(
            bits(libc::EPOLLIN | libc::EPOLLRDHUP),
            flags::READABLE | flags::READ_CLOSED
        );
        assert_eq!(
            bits(libc::EPOLLHUP),
            flags::READ_CLOSED | flags::WRITE_CLOSED
        );
        assert_eq!(bits(libc::EPOLLERR), flags::WRITE_CLOSED | flags::ERROR);
        assert_eq!(
            bits(libc::EPOLLOUT | libc::EPOLLERR),
            flags::WRITABLE | flags::WRITE_CLOSED | flags::ERROR
        );
        assert_eq!(
            bits(libc::EPOLLIN | libc::EPOLLERR),
            flags::READABLE | flags::ERROR
        );
    }

    #[test]
    fn a_saturated_eventfd_is_reset_and_still_wakes() {
        let mut poller = EpollPoller::new().expect("epoll");
        let shared = &poller.waker.shared;
        // The largest value an eventfd counter holds is 2^64 - 2.
        shared.write(u64::MAX - 1).expect("saturate");
        let mut events = Events::with_capacity(4);
        poller
            .poll(&mut events, Some(Duration::ZERO))
            .expect("poll");
        poller
            .waker()
            .expect("waker")
            .wake()
            .expect("wake resets and signals");
        let start = std::time::Instant::now();
        poller
            .poll(&mut events, Some(Duration::from_secs(5)))
            .expect("poll");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the wake was lost"
        );
    }

    #[test]
    fn waker_data_is_the_reserved_token() {
        assert_eq!(WAKER_DATA as usize, Token::RESERVED.0);
    }
}

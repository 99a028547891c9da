//! [`RawSource`]: what a poller watches, and the contract that keeps it sound.
//!
//! Registration takes the raw OS handle (`RawFd` on Unix, `RawSocket` on Windows), so any
//! socket, pipe or other pollable handle can be driven without wrapping it in a crate-specific
//! type. The price is a contract the caller keeps, stated once here and on each `register`:
//!
//! 1. the handle is open when it is registered, and
//! 2. it stays open until it is deregistered (or the poller is dropped): **deregister before
//!    close**.
//!
//! Breaking rule 2 is why `register` is an `unsafe fn`. With epoll a registration lives on the
//! open file description, not the number: if the handle was duplicated, closing one copy leaves
//! the registration reporting events under a stale token. With the `polling` crate's IOCP
//! backend the poller keeps using the handle, which is undefined behaviour once it is closed
//! (the reason `polling::Poller::add` is unsafe too). Given the contract, `reregister` and
//! `deregister` are safe: they only act on handles the poller's registration table still knows,
//! and answer [`Error::NotRegistered`](crate::Error::NotRegistered) for any other.

/// A raw file descriptor (Unix): a socket, a pipe end, an eventfd, a tty...
#[cfg(unix)]
pub type RawSource = std::os::fd::RawFd;

/// A raw socket handle (Windows). Only sockets can be polled there.
#[cfg(windows)]
pub type RawSource = std::os::windows::io::RawSocket;

//! The socket layer: every call the engine makes to the OS about sockets goes through here.
//!
//! - [`listen`]: binding TCP, UDP and Unix addresses; accepting with `accept4`
//!   (non-blocking and close-on-exec in one call).
//! - [`stream`]: connected streams and their byte I/O (`recv`, `send`, `sendmsg` with
//!   `MSG_NOSIGNAL`) through `socket2`'s safe wrappers; which errors are transient and which
//!   mean the process ran out of descriptors.
//! - [`udp`]: datagram sockets' `recv_from` / `send_to`.
//! - [`dial`]: non-blocking connects for `EngineHandle::dial`, and streams handed over by
//!   `enroll`.
//! - [`affinity`]: pinning loop threads to CPUs the process may run on.
//!
//! The reactor and the engine never call `libc` or `std::net` I/O themselves, so a completion
//! backend or a user-space TCP/IP stack replaces this module, not the loops.

pub(crate) mod affinity;
pub(crate) mod dial;
pub(crate) mod listen;
pub(crate) mod stream;
pub(crate) mod udp;

pub(crate) use dial::Dialed;
pub(crate) use listen::{Listener, bind_tcp, bind_udp, bind_unix};
pub(crate) use stream::{Stream, StreamOptions, is_fd_exhaustion, is_transient};
pub(crate) use udp::Datagram;

/// A socket option handle on a borrowed descriptor, as [`Conn::socket`](crate::Conn::socket)
/// gives it to handlers.
pub(crate) fn socket_ref<'a>(fd: &'a std::os::fd::BorrowedFd<'a>) -> socket2::SockRef<'a> {
    socket2::SockRef::from(fd)
}

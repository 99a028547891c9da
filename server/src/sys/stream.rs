//! Connected stream sockets and the byte-moving calls on them.
//!
//! [`SockIo`] is what the reactor and the ring buffers read from and write to: `recv`, `send`
//! and `sendmsg` through `socket2`'s safe wrappers (no `unsafe` here). Sends pass
//! `MSG_NOSIGNAL` where the platform has it, so a peer that went away yields `EPIPE` instead of
//! killing the process with `SIGPIPE`.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use socket2::SockRef;

/// Socket options applied to every accepted or dialed stream.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StreamOptions {
    pub(crate) nodelay: bool,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) send_buffer: Option<usize>,
    pub(crate) recv_buffer: Option<usize>,
}

impl StreamOptions {
    /// Applies the options; failures are logged, not fatal (the connection still works).
    pub(crate) fn apply(&self, stream: &Stream) {
        let sock = SockRef::from(stream);
        let tcp = matches!(stream, Stream::Tcp(_));
        let mut res = Ok(());
        if tcp && self.nodelay {
            res = res.and(sock.set_tcp_nodelay(true));
        }
        if tcp && let Some(idle) = self.keepalive {
            let ka = socket2::TcpKeepalive::new().with_time(idle);
            res = res.and(sock.set_tcp_keepalive(&ka));
        }
        if let Some(n) = self.send_buffer {
            res = res.and(sock.set_send_buffer_size(n));
        }
        if let Some(n) = self.recv_buffer {
            res = res.and(sock.set_recv_buffer_size(n));
        }
        if let Err(e) = res {
            tracing::debug!(error = %e, "setting socket options failed");
        }
    }
}

/// A connected stream socket of the OS.
#[derive(Debug)]
#[allow(unreachable_pub)] // re-exported as `loopwire::transport::OsStream`
pub enum Stream {
    /// A TCP stream.
    Tcp(TcpStream),
    /// A Unix stream socket.
    Unix(UnixStream),
}

impl AsFd for Stream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
        }
    }
}

impl Stream {
    /// The local address of a TCP stream.
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr().ok(),
            Stream::Unix(_) => None,
        }
    }

    /// The outcome of a non-blocking connect that the poller reported finished (writable or
    /// in error): `Ok` once connected, else the error (`SO_ERROR`, or `ENOTCONN` for a socket
    /// that turned writable without connecting).
    pub(crate) fn connect_outcome(&self) -> io::Result<()> {
        match SockRef::from(self).take_error() {
            Ok(None) => match self {
                // Writable without an error but not connected (a hang-up): the peer address
                // is the test.
                Stream::Tcp(s) => s.peer_addr().map(drop),
                Stream::Unix(_) => Ok(()),
            },
            Ok(Some(e)) | Err(e) => Err(e),
        }
    }

    /// Byte I/O on this stream.
    pub(crate) fn io(&self) -> SockIo<'_> {
        SockIo(self.as_fd())
    }
}

/// Byte I/O on a borrowed socket with the engine's flags (`Read` / `Write` for ring buffers).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SockIo<'a>(pub(crate) BorrowedFd<'a>);

#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
const SEND_FLAGS: libc::c_int = libc::MSG_NOSIGNAL;
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
const SEND_FLAGS: libc::c_int = 0;

/// Most buffers one `sendmsg` takes (`IOV_MAX` is 1024 on Linux, macOS and the BSDs).
const IOV_MAX: usize = 1024;

impl Read for SockIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // `Read for &Socket` is `recv(fd, buf, len, 0)`.
        (&*SockRef::from(&self.0)).read(buf)
    }
}

impl Write for SockIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        SockRef::from(&self.0).send_with_flags(buf, SEND_FLAGS)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let bufs = &bufs[..bufs.len().min(IOV_MAX)];
        SockRef::from(&self.0).send_vectored_with_flags(bufs, SEND_FLAGS)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Errors after which the operation is simply retried at the next readiness event.
pub(crate) fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// `EMFILE` / `ENFILE` / `ENOBUFS` / `ENOMEM` on accept: the process or the system is out of
/// file descriptors or socket memory, and accepting must pause rather than spin.
pub(crate) fn is_fd_exhaustion(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_moves_bytes_both_ways_and_vectored() {
        let (a, b) = UnixStream::pair().unwrap();
        let (a, b) = (Stream::Unix(a), Stream::Unix(b));
        assert_eq!(a.io().write(b"hello").unwrap(), 5);
        let parts = [IoSlice::new(b" wor"), IoSlice::new(b"ld")];
        assert_eq!(a.io().write_vectored(&parts).unwrap(), 6);
        let mut buf = [0u8; 32];
        let n = b.io().read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hello world");
        drop(a);
        assert_eq!(b.io().read(&mut buf).unwrap(), 0, "end of stream");
    }

    #[test]
    fn a_send_to_a_vanished_peer_is_an_error_not_a_signal() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let a = Stream::Unix(a);
        let e = a.io().write(b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn error_classes() {
        assert!(is_transient(&io::Error::from(io::ErrorKind::WouldBlock)));
        assert!(!is_transient(&io::Error::from(io::ErrorKind::BrokenPipe)));
        assert!(is_fd_exhaustion(&io::Error::from_raw_os_error(
            libc::EMFILE
        )));
        assert!(!is_fd_exhaustion(&io::Error::from_raw_os_error(
            libc::ECONNRESET
        )));
    }
}

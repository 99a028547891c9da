//! The socket-operations seam: every socket syscall of the engine goes through here.
//!
//! Binding listeners (via `socket2`), accepting, and the byte-moving calls (`recv`, `send`,
//! `sendmsg`) live in this one file, so a completion backend or a user-space TCP/IP stack can
//! replace them without touching the loops. Sends use `MSG_NOSIGNAL` where the platform has it, so
//! a peer that went away yields `EPIPE` instead of killing the process with `SIGPIPE`.

use std::io::{self, IoSlice, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use crate::error::{Error, Result};

/// Socket options applied to every accepted stream.
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

/// A connected stream socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
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
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Stream::Tcp(s) => s.local_addr().ok(),
            Stream::Unix(_) => None,
        }
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

fn cvt(r: isize) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

impl Read for SockIo<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // SAFETY: the fd is borrowed (open for the call) and `buf` is a valid writable region of
        // `buf.len()` bytes.
        let r = unsafe { libc::recv(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        cvt(r)
    }
}

impl Write for SockIo<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // SAFETY: the fd is borrowed (open for the call) and `buf` is a valid readable region of
        // `buf.len()` bytes.
        let r = unsafe {
            libc::send(
                self.0.as_raw_fd(),
                buf.as_ptr().cast(),
                buf.len(),
                SEND_FLAGS,
            )
        };
        cvt(r)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let iovcnt = bufs.len().min(IOV_MAX);
        // SAFETY: an all-zero msghdr is valid (null name, no control data).
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // `IoSlice` is guaranteed ABI-compatible with `iovec` on Unix.
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = iovcnt as _;
        // SAFETY: `msg` points at `iovcnt` valid iovecs that outlive the call; the fd is open.
        let r = unsafe { libc::sendmsg(self.0.as_raw_fd(), &msg, SEND_FLAGS) };
        cvt(r)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A listening stream socket.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    /// A Unix listener and its socket file, removed when the listener is dropped.
    Unix(UnixListener, PathBuf),
}

impl AsFd for Listener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Listener::Tcp(l) => l.as_fd(),
            Listener::Unix(l, _) => l.as_fd(),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Listener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Listener {
    /// Accepts one connection, non-blocking and close-on-exec.
    pub(crate) fn accept(&self) -> io::Result<(Stream, Option<SocketAddr>)> {
        match self {
            Listener::Tcp(l) => {
                let (s, peer) = l.accept()?;
                s.set_nonblocking(true)?;
                Ok((Stream::Tcp(s), Some(peer)))
            }
            Listener::Unix(l, _) => {
                let (s, _) = l.accept()?;
                s.set_nonblocking(true)?;
                Ok((Stream::Unix(s), None))
            }
        }
    }
}

fn inet_socket(
    addr: SocketAddr,
    ty: Type,
    proto: Protocol,
    reuse_port: bool,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.set_reuse_address(true)?;
    if reuse_port {
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
        socket.set_reuse_port(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

/// Binds a non-blocking TCP listener.
pub(crate) fn bind_tcp(
    addr: SocketAddr,
    reuse_port: bool,
    backlog: i32,
) -> io::Result<TcpListener> {
    let socket = inet_socket(addr, Type::STREAM, Protocol::TCP, reuse_port)?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

/// Binds a non-blocking UDP socket.
pub(crate) fn bind_udp(addr: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let socket = inet_socket(addr, Type::DGRAM, Protocol::UDP, reuse_port)?;
    Ok(socket.into())
}

/// Binds a non-blocking Unix listener. A stale socket file (nothing accepts on it) is replaced;
/// a live one is an error.
pub(crate) fn bind_unix(path: &Path, backlog: i32, url: &str) -> Result<Listener> {
    let bind_err = |source| Error::Bind {
        url: url.to_owned(),
        source,
    };
    if path.exists() {
        match UnixStream::connect(path) {
            Ok(_) => {
                return Err(Error::UnixPathInUse {
                    path: path.to_owned(),
                });
            }
            Err(_) => std::fs::remove_file(path).map_err(bind_err)?,
        }
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(bind_err)?;
    socket.set_nonblocking(true).map_err(bind_err)?;
    let addr = socket2::SockAddr::unix(path).map_err(bind_err)?;
    socket.bind(&addr).map_err(bind_err)?;
    if let Err(e) = socket.listen(backlog) {
        let _ = std::fs::remove_file(path);
        return Err(bind_err(e));
    }
    let listener = UnixListener::from(std::os::fd::OwnedFd::from(socket));
    Ok(Listener::Unix(listener, path.to_owned()))
}

//! Listening sockets: binding TCP, UDP and Unix addresses, and accepting connections.
//!
//! Accepting takes one system call per connection where the platform has `accept4`: the new
//! socket comes back non-blocking and close-on-exec (`SOCK_NONBLOCK | SOCK_CLOEXEC`). Elsewhere
//! (macOS) it is `accept` plus the flags set afterwards.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use socket2::{Domain, Protocol, SockAddr, SockRef, Socket, Type};

use super::stream::Stream;
use crate::error::{Error, Result};

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
    /// Accepts one connection, non-blocking and close-on-exec: the stream, and the peer's
    /// address for TCP.
    pub(crate) fn accept(&self) -> io::Result<(Stream, Option<SocketAddr>)> {
        let (socket, peer) = accept_nonblocking(self.as_fd())?;
        Ok(match self {
            Listener::Tcp(_) => (Stream::Tcp(TcpStream::from(socket)), peer.as_socket()),
            Listener::Unix(..) => (Stream::Unix(UnixStream::from(OwnedFd::from(socket))), None),
        })
    }
}

#[cfg(any(
    target_os = "android",
    target_os = "dragonfly",
    target_os = "freebsd",
    target_os = "illumos",
    target_os = "linux",
    target_os = "netbsd",
    target_os = "openbsd",
))]
fn accept_nonblocking(fd: BorrowedFd<'_>) -> io::Result<(Socket, SockAddr)> {
    SockRef::from(&fd).accept4(libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC)
}

#[cfg(not(any(
    target_os = "android",
    target_os = "dragonfly",
    target_os = "freebsd",
    target_os = "illumos",
    target_os = "linux",
    target_os = "netbsd",
    target_os = "openbsd",
)))]
fn accept_nonblocking(fd: BorrowedFd<'_>) -> io::Result<(Socket, SockAddr)> {
    // `Socket::accept` sets close-on-exec (and SO_NOSIGPIPE on Apple platforms).
    let (socket, peer) = SockRef::from(&fd).accept()?;
    socket.set_nonblocking(true)?;
    Ok((socket, peer))
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
    let addr = SockAddr::unix(path).map_err(bind_err)?;
    socket.bind(&addr).map_err(bind_err)?;
    if let Err(e) = socket.listen(backlog) {
        let _ = std::fs::remove_file(path);
        return Err(bind_err(e));
    }
    let listener = UnixListener::from(OwnedFd::from(socket));
    Ok(Listener::Unix(listener, path.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;

    fn flags(fd: BorrowedFd<'_>) -> (bool, bool) {
        // SAFETY: F_GETFL / F_GETFD on an open, borrowed fd only read its flags.
        let fl = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) };
        // SAFETY: as above.
        let fd_flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        (fl & libc::O_NONBLOCK != 0, fd_flags & libc::FD_CLOEXEC != 0)
    }

    #[test]
    fn accepted_tcp_streams_are_nonblocking_and_close_on_exec() {
        let l = bind_tcp("127.0.0.1:0".parse().unwrap(), false, 16).unwrap();
        let addr = l.local_addr().unwrap();
        let l = Listener::Tcp(l);
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        let (stream, peer) = loop {
            match l.accept() {
                Ok(r) => break r,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::yield_now(),
                Err(e) => panic!("accept: {e}"),
            }
        };
        assert_eq!(peer, Some(client.local_addr().unwrap()));
        assert_eq!(flags(stream.as_fd()), (true, true));
        let mut buf = [0u8; 4];
        let e = stream.io().read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "non-blocking read");
        client.write_all(b"ping").unwrap();
        assert!(matches!(l.accept(), Err(e) if e.kind() == io::ErrorKind::WouldBlock));
    }

    #[test]
    fn accepted_unix_streams_are_nonblocking_and_close_on_exec() {
        let path = std::env::temp_dir().join(format!("lw-accept4-{}.sock", std::process::id()));
        let url = format!("unix://{}", path.display());
        let l = bind_unix(&path, 16, &url).unwrap();
        let _client = UnixStream::connect(&path).unwrap();
        let (stream, peer) = l.accept().unwrap();
        assert_eq!(peer, None);
        assert_eq!(flags(stream.as_fd()), (true, true));
        drop(l);
        assert!(!path.exists(), "the socket file goes with the listener");
    }
}

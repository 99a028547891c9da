//! Datagram sockets: the loop's `recv_from` and `send_to`.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};

/// A bound, non-blocking UDP socket served by one loop.
#[derive(Debug)]
pub(crate) struct Datagram(UdpSocket);

impl Datagram {
    /// Wraps a bound, non-blocking socket.
    pub(crate) fn new(socket: UdpSocket) -> Self {
        Self(socket)
    }

    /// The address it is bound to.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }

    /// Receives one datagram into `buf` (the excess of a longer one is dropped): its length and
    /// sender.
    pub(crate) fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.recv_from(buf)
    }

    /// Sends `data` as one datagram to `peer`.
    pub(crate) fn send_to(&self, data: &[u8], peer: SocketAddr) -> io::Result<usize> {
        self.0.send_to(data, peer)
    }
}

impl AsFd for Datagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

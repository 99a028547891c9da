//! Outgoing connections: the socket side of [`EngineHandle::dial`] and
//! [`EngineHandle::enroll`](crate::EngineHandle::enroll).
//!
//! [`start`] starts a non-blocking `connect` on the calling thread and hands the socket, still
//! connecting, to the loop the load balancer picks; the loop waits for it to become writable,
//! reads `SO_ERROR`, and then serves it like an accepted connection (`on_open`, ...), or
//! reports the failure through `on_close` with
//! [`CloseReason::ConnectFailed`](crate::CloseReason::ConnectFailed). Nothing blocks but name
//! resolution, which only happens for host names (IP literals and Unix paths need none).
//!
//! [`EngineHandle::dial`]: crate::EngineHandle::dial

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;

use socket2::{Domain, SockAddr, Socket, Type};

use super::stream::Stream;
use crate::addr::{ListenAddr, Network};
use crate::error::{Error, Result};

/// A stream socket connected, or still connecting, to a peer.
#[derive(Debug)]
pub(crate) struct Dialed {
    pub(crate) stream: Stream,
    /// The peer's address (TCP), or `None` (Unix).
    pub(crate) peer: Option<SocketAddr>,
    pub(crate) network: Network,
    /// The `connect` is still in progress: the socket turns writable when it is done.
    pub(crate) connecting: bool,
}

/// Starts connecting to `url` (`tcp://`, `tcp4://`, `tcp6://` or `unix://`) without blocking
/// (but for resolving a host name). The result is ready to hand to a loop: connected at once
/// (a Unix socket, or a fast loopback TCP connect) or still connecting.
///
/// # Errors
/// [`Error::InvalidAddr`] for a bad URL, a datagram scheme, an empty host or port 0;
/// [`Error::Resolve`] when a host name does not resolve; [`Error::Connect`] when the connect
/// fails at once (no route, refused by a Unix listener, a full Unix backlog).
pub(crate) fn start(url: &str) -> Result<Dialed> {
    let bad = |reason| Error::InvalidAddr {
        url: url.to_owned(),
        reason,
    };
    let addr = ListenAddr::parse(url)?;
    let network = addr.network();
    if network.is_udp() {
        return Err(bad("dial takes tcp, tcp4, tcp6 or unix"));
    }
    let failed = |source| Error::Connect {
        url: url.to_owned(),
        source,
    };
    match &addr {
        ListenAddr::Unix(path) => {
            let socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(failed)?;
            socket.set_nonblocking(true).map_err(failed)?;
            let target = SockAddr::unix(path).map_err(failed)?;
            // A Unix connect completes at once or fails (EAGAIN: the listener's backlog is full).
            socket.connect(&target).map_err(failed)?;
            Ok(Dialed {
                stream: Stream::Unix(UnixStream::from(socket)),
                peer: None,
                network,
                connecting: false,
            })
        }
        ListenAddr::Inet { host, port, .. } => {
            if host.is_empty() || *port == 0 {
                return Err(bad("dial needs a host and a port other than 0"));
            }
            let peer = addr
                .resolve()?
                .into_iter()
                .next()
                .ok_or_else(|| bad("no address to dial"))?;
            let (stream, connecting) = connect_tcp(peer).map_err(failed)?;
            Ok(Dialed {
                stream: Stream::Tcp(stream),
                peer: Some(peer),
                network,
                connecting,
            })
        }
    }
}

/// A non-blocking TCP connect to `peer`: the socket, and whether it is still connecting.
fn connect_tcp(peer: SocketAddr) -> io::Result<(TcpStream, bool)> {
    let socket = Socket::new(Domain::for_address(peer), Type::STREAM, None)?;
    socket.set_nonblocking(true)?;
    let connecting = match socket.connect(&peer.into()) {
        Ok(()) => false,
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => true,
        Err(e) => return Err(e),
    };
    Ok((TcpStream::from(socket), connecting))
}

/// Prepares a connected stream given to `enroll`: non-blocking, with its addresses.
pub(crate) fn enrolled(stream: Stream) -> Result<Dialed> {
    let (peer, network) = match &stream {
        Stream::Tcp(s) => {
            s.set_nonblocking(true)?;
            let peer = s.peer_addr()?;
            let network = if peer.is_ipv4() {
                Network::Tcp4
            } else {
                Network::Tcp6
            };
            (Some(peer), network)
        }
        Stream::Unix(s) => {
            s.set_nonblocking(true)?;
            (None, Network::Unix)
        }
    };
    Ok(Dialed {
        stream,
        peer,
        network,
        connecting: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_urls_are_typed_errors() {
        for url in [
            "udp://127.0.0.1:9",
            "tcp://:9000",
            "tcp://127.0.0.1:0",
            "nope",
        ] {
            assert!(
                matches!(start(url), Err(Error::InvalidAddr { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn a_refused_unix_connect_fails_at_once() {
        let path = std::env::temp_dir().join(format!("lw-dial-none-{}.sock", std::process::id()));
        let url = format!("unix://{}", path.display());
        assert!(matches!(start(&url), Err(Error::Connect { .. })));
    }
}

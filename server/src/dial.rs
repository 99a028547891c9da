//! Outgoing connections: the socket side of [`EngineHandle::dial`] and
//! [`EngineHandle::enroll`](crate::EngineHandle::enroll).
//!
//! `dial` starts a non-blocking `connect` on the calling thread and hands the socket, still
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

use crate::addr::{ListenAddr, Network};
use crate::error::{Error, Result};
use crate::socket::Stream;
use crate::task::Accepted;

/// Starts connecting to `url` (`tcp://`, `tcp4://`, `tcp6://` or `unix://`) without blocking
/// (but for resolving a host name). The result is ready to hand to a loop: connected at once
/// (a Unix socket, or a fast loopback TCP connect) or still connecting.
///
/// # Errors
/// [`Error::InvalidAddr`] for a bad URL, a datagram scheme, an empty host or port 0;
/// [`Error::Resolve`] when a host name does not resolve; [`Error::Connect`] when the connect
/// fails at once (no route, refused by a Unix listener, a full Unix backlog).
pub(crate) fn start(url: &str, tag: u64) -> Result<Accepted> {
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
            Ok(Accepted {
                stream: Stream::Unix(UnixStream::from(socket)),
                peer: None,
                network,
                origin: Origin::Dialed {
                    tag,
                    connecting: false,
                },
                #[cfg(feature = "tls")]
                client_tls: None,
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
            Ok(Accepted {
                stream: Stream::Tcp(stream),
                peer: Some(peer),
                network,
                origin: Origin::Dialed { tag, connecting },
                #[cfg(feature = "tls")]
                client_tls: None,
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

/// Where a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A listener accepted it.
    Accepted,
    /// [`EngineHandle::enroll`](crate::EngineHandle::enroll) handed it over, connected.
    Enrolled { tag: u64 },
    /// [`EngineHandle::dial`](crate::EngineHandle::dial) opened it.
    Dialed {
        /// The caller's tag, shown by [`Conn::tag`](crate::Conn::tag).
        tag: u64,
        /// The `connect` is still in progress.
        connecting: bool,
    },
}

impl Origin {
    /// The caller's tag, for enrolled and dialed connections.
    pub(crate) fn tag(self) -> Option<u64> {
        match self {
            Origin::Accepted => None,
            Origin::Enrolled { tag } | Origin::Dialed { tag, .. } => Some(tag),
        }
    }

    /// Whether the socket is still connecting.
    pub(crate) fn connecting(self) -> bool {
        matches!(
            self,
            Origin::Dialed {
                connecting: true,
                ..
            }
        )
    }
}

/// Prepares a connected stream given to `enroll`: non-blocking, with its addresses.
pub(crate) fn enrolled(stream: Stream, tag: u64) -> Result<Accepted> {
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
    Ok(Accepted {
        stream,
        peer,
        network,
        origin: Origin::Enrolled { tag },
        #[cfg(feature = "tls")]
        client_tls: None,
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
                matches!(start(url, 0), Err(Error::InvalidAddr { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn a_refused_unix_connect_fails_at_once() {
        let path = std::env::temp_dir().join(format!("lw-dial-none-{}.sock", std::process::id()));
        let url = format!("unix://{}", path.display());
        assert!(matches!(start(&url, 0), Err(Error::Connect { .. })));
    }

    #[test]
    fn origin_tags() {
        assert_eq!(Origin::Accepted.tag(), None);
        assert_eq!(Origin::Enrolled { tag: 3 }.tag(), Some(3));
        let dialing = Origin::Dialed {
            tag: 4,
            connecting: true,
        };
        assert_eq!(dialing.tag(), Some(4));
        assert!(dialing.connecting());
        assert!(!Origin::Enrolled { tag: 3 }.connecting());
    }
}

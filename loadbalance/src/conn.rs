//! What a balancer knows about a connection when it picks a target.

use std::net::SocketAddr;

/// The addresses of an accepted connection, as far as they are known at accept time.
///
/// Both are `None` for Unix-domain sockets (which have no [`SocketAddr`]); the hashing
/// balancers then fall back to round-robin.
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::ConnInfo;
///
/// let tcp = ConnInfo::new(Some("192.0.2.7:50000".parse()?), Some("0.0.0.0:80".parse()?));
/// assert!(tcp.peer.is_some());
/// let unix = ConnInfo::default();
/// assert!(unix.peer.is_none() && unix.local.is_none());
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ConnInfo {
    /// The remote address, if the socket has one.
    pub peer: Option<SocketAddr>,
    /// The local address the connection was accepted on, if the socket has one.
    pub local: Option<SocketAddr>,
}

impl ConnInfo {
    /// Connection info from its two addresses.
    pub const fn new(peer: Option<SocketAddr>, local: Option<SocketAddr>) -> Self {
        Self { peer, local }
    }

    /// Connection info with only the peer address known.
    pub const fn from_peer(peer: SocketAddr) -> Self {
        Self {
            peer: Some(peer),
            local: None,
        }
    }
}

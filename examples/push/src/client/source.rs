//! [`Sources`]: the local addresses a load client binds its connections to before it connects
//! (`pushload --source`), so that one machine can hold more connections to one gateway port
//! than one source address has ephemeral ports (`net.ipv4.ip_local_port_range`, about 28 000
//! on Linux, applies per source address): 127.0.0.x are all local on Linux.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;

/// Why a `--source` value was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// Not an IP address, nor a range `A-B` of IPv4 addresses.
    #[error("{0:?} is not an IP address or a range of IPv4 addresses (127.0.0.2-127.0.0.11)")]
    Syntax(String),
    /// A range whose end is before its start.
    #[error("the range {0:?} ends before it starts")]
    Reversed(String),
    /// A range of more addresses than a client binds to ([`MAX_RANGE`]).
    #[error("the range {0:?} has more than {MAX_RANGE} addresses")]
    TooLong(String),
}

/// Most addresses one range may name.
pub const MAX_RANGE: u32 = 65_536;

/// A list of source addresses, used in turn.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources(Vec<IpAddr>);

impl Sources {
    /// The addresses, in the order given.
    pub fn addrs(&self) -> &[IpAddr] {
        &self.0
    }

    /// Adds one `--source` value: an address (`127.0.0.2`) or an inclusive range of IPv4
    /// addresses (`127.0.0.2-127.0.0.11`).
    ///
    /// # Errors
    /// [`SourceError`] when the value is neither, or the range is reversed or too long.
    pub fn push(&mut self, value: &str) -> Result<(), SourceError> {
        let syntax = || SourceError::Syntax(value.to_owned());
        match value.split_once('-') {
            None => self
                .0
                .push(IpAddr::from_str(value.trim()).map_err(|_| syntax())?),
            Some((a, b)) => {
                let a = u32::from(Ipv4Addr::from_str(a.trim()).map_err(|_| syntax())?);
                let b = u32::from(Ipv4Addr::from_str(b.trim()).map_err(|_| syntax())?);
                if b < a {
                    return Err(SourceError::Reversed(value.to_owned()));
                }
                if b - a >= MAX_RANGE {
                    return Err(SourceError::TooLong(value.to_owned()));
                }
                self.0
                    .extend((a..=b).map(|x| IpAddr::V4(Ipv4Addr::from(x))));
            }
        }
        Ok(())
    }

    /// The address connection number `i` binds to (the list in turn), `None` when empty.
    pub fn for_conn(&self, i: usize) -> Option<IpAddr> {
        (!self.0.is_empty()).then(|| self.0[i % self.0.len()])
    }
}

impl FromStr for Sources {
    type Err = SourceError;

    /// Parses one value ([`Sources::push`]).
    fn from_str(s: &str) -> Result<Self, SourceError> {
        let mut out = Self::default();
        out.push(s)?;
        Ok(out)
    }
}

/// A TCP connection to `addr`, bound first to `source` (port 0: the kernel picks one of that
/// address's ephemeral ports) when given; `TCP_NODELAY` set. Blocks until connected.
///
/// # Errors
/// When the socket cannot be made, bound (`EADDRNOTAVAIL`: not a local address;
/// `EADDRINUSE`: that address's ephemeral ports are used up) or connected.
pub fn connect_from(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<std::net::TcpStream> {
    let s = bound(addr, source)?;
    s.connect(&socket2::SockAddr::from(addr))?;
    Ok(s.into())
}

/// [`connect_from`] without waiting: non-blocking, the connect started and maybe not done
/// (wait for writability; writes before then fail with `WouldBlock`, a refused connect shows
/// as an error on the first read or write).
///
/// # Errors
/// As [`connect_from`], for what fails at once.
pub fn connect_nonblocking(
    addr: SocketAddr,
    source: Option<IpAddr>,
) -> io::Result<std::net::TcpStream> {
    let s = bound(addr, source)?;
    s.set_nonblocking(true)?;
    match s.connect(&socket2::SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(e) => return Err(e),
    }
    Ok(s.into())
}

/// A TCP socket for `addr`'s family with `TCP_NODELAY`, bound to `source` when given.
fn bound(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<socket2::Socket> {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_tcp_nodelay(true)?;
    if let Some(ip) = source {
        s.bind(&SockAddr::from(SocketAddr::new(ip, 0)))?;
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_ranges_are_listed_in_order() {
        let mut s = Sources::default();
        s.push("127.0.0.9").unwrap();
        s.push("127.0.0.254-127.0.1.1").unwrap();
        let want: Vec<IpAddr> = [
            "127.0.0.9",
            "127.0.0.254",
            "127.0.0.255",
            "127.0.1.0",
            "127.0.1.1",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        assert_eq!(s.addrs(), want.as_slice());
        assert_eq!(s.for_conn(6), Some(want[1]));
        assert_eq!(Sources::default().for_conn(0), None);
    }

    #[test]
    fn bad_values_are_typed_errors() {
        assert_eq!("x".parse::<Sources>(), Err(SourceError::Syntax("x".into())));
        assert_eq!(
            "127.0.0.3-127.0.0.2".parse::<Sources>(),
            Err(SourceError::Reversed("127.0.0.3-127.0.0.2".into()))
        );
        assert!(matches!(
            "10.0.0.0-10.2.0.0".parse::<Sources>(),
            Err(SourceError::TooLong(_))
        ));
        assert!(matches!(
            "::1-::2".parse::<Sources>(),
            Err(SourceError::Syntax(_))
        ));
    }

    #[test]
    fn a_bound_connection_comes_from_its_source() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a: IpAddr = "127.0.0.7".parse().unwrap();
        let b: IpAddr = "127.0.0.8".parse().unwrap();
        let _c = connect_nonblocking(l.local_addr().unwrap(), Some(a)).unwrap();
        let _d = connect_from(l.local_addr().unwrap(), Some(b)).unwrap();
        let mut peers = [l.accept().unwrap().1.ip(), l.accept().unwrap().1.ip()];
        peers.sort();
        assert_eq!(peers, [a, b]);
    }
}

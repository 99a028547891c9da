//! Listen addresses as URLs: `tcp://host:port`, `tcp4://`, `tcp6://`, `udp://` (`udp4`,
//! `udp6`) and `unix:///path/to/socket`.
//!
//! Parsing checks the form only; host names resolve when the engine binds. An empty host
//! (`tcp://:9000`) means every interface of the family. Port 0 asks the OS for a free port; the
//! bound address is reported by [`EngineHandle::addrs`](crate::EngineHandle::addrs).

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The transport of a listen address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Network {
    /// TCP over IPv4 or IPv6, as the host resolves.
    Tcp,
    /// TCP over IPv4 only.
    Tcp4,
    /// TCP over IPv6 only.
    Tcp6,
    /// UDP over IPv4 or IPv6.
    Udp,
    /// UDP over IPv4 only.
    Udp4,
    /// UDP over IPv6 only.
    Udp6,
    /// Unix domain stream socket.
    Unix,
}

impl Network {
    /// The URL scheme of this network.
    pub fn scheme(self) -> &'static str {
        match self {
            Network::Tcp => "tcp",
            Network::Tcp4 => "tcp4",
            Network::Tcp6 => "tcp6",
            Network::Udp => "udp",
            Network::Udp4 => "udp4",
            Network::Udp6 => "udp6",
            Network::Unix => "unix",
        }
    }

    /// Whether this is a datagram (UDP) network.
    pub fn is_udp(self) -> bool {
        matches!(self, Network::Udp | Network::Udp4 | Network::Udp6)
    }

    fn accepts(self, addr: &SocketAddr) -> bool {
        match self {
            Network::Tcp4 | Network::Udp4 => addr.is_ipv4(),
            Network::Tcp6 | Network::Udp6 => addr.is_ipv6(),
            _ => true,
        }
    }
}

/// A parsed listen address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP or UDP address, not yet resolved.
    Inet {
        /// TCP or UDP, and the address family.
        network: Network,
        /// Host name or IP literal (without brackets); empty for every interface.
        host: String,
        /// Port; 0 asks the OS for a free one.
        port: u16,
    },
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl ListenAddr {
    /// Parses a URL such as `tcp://127.0.0.1:9000`, `udp://[::1]:0` or `unix:///tmp/a.sock`.
    ///
    /// # Errors
    /// [`Error::InvalidAddr`] for an unknown scheme, a missing or non-numeric port, an empty
    /// Unix path, or a `[` or `]` inside the host (other than the IPv6 brackets).
    ///
    /// # Examples
    /// ```
    /// use loopwire::{ListenAddr, Network};
    /// let a = ListenAddr::parse("tcp4://127.0.0.1:0").unwrap();
    /// assert_eq!(a.network(), Network::Tcp4);
    /// assert!(ListenAddr::parse("foo://a").is_err());
    /// ```
    pub fn parse(url: &str) -> Result<Self> {
        let bad = |reason| Error::InvalidAddr {
            url: url.to_owned(),
            reason,
        };
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://address"))?;
        let network = match scheme.to_ascii_lowercase().as_str() {
            "tcp" => Network::Tcp,
            "tcp4" => Network::Tcp4,
            "tcp6" => Network::Tcp6,
            "udp" => Network::Udp,
            "udp4" => Network::Udp4,
            "udp6" => Network::Udp6,
            "unix" => Network::Unix,
            _ => {
                return Err(bad(
                    "unknown scheme (tcp, tcp4, tcp6, udp, udp4, udp6, unix)",
                ));
            }
        };
        if network == Network::Unix {
            if rest.is_empty() {
                return Err(bad("empty unix socket path"));
            }
            return Ok(ListenAddr::Unix(PathBuf::from(rest)));
        }
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("missing port (host:port)"))?;
        if port.is_empty() {
            return Err(bad("missing port (host:port)"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("port is not a number from 0 to 65535"))?;
        let host = match host.strip_prefix('[') {
            Some(inner) => inner
                .strip_suffix(']')
                .ok_or_else(|| bad("unclosed [ in IPv6 host"))?,
            None if host.contains(':') => return Err(bad("IPv6 hosts must be in brackets")),
            None => host,
        };
        // No host name or IP literal has one, and `Display` could not write it back.
        if host.contains(['[', ']']) {
            return Err(bad("[ or ] inside the host"));
        }
        Ok(ListenAddr::Inet {
            network,
            host: host.to_owned(),
            port,
        })
    }

    /// The network of this address.
    pub fn network(&self) -> Network {
        match self {
            ListenAddr::Inet { network, .. } => *network,
            ListenAddr::Unix(_) => Network::Unix,
        }
    }

    /// Resolves a TCP or UDP address to the socket addresses it names, filtered by family.
    pub(crate) fn resolve(&self) -> Result<Vec<SocketAddr>> {
        let ListenAddr::Inet {
            network,
            host,
            port,
        } = self
        else {
            return Ok(Vec::new());
        };
        let host = if host.is_empty() {
            match network {
                Network::Tcp6 | Network::Udp6 => "::",
                _ => "0.0.0.0",
            }
        } else {
            host.as_str()
        };
        let resolved = (host, *port)
            .to_socket_addrs()
            .map_err(|source| Error::Resolve {
                url: self.to_string(),
                source,
            })?;
        let addrs: Vec<SocketAddr> = resolved.filter(|a| network.accepts(a)).collect();
        if addrs.is_empty() {
            return Err(Error::Resolve {
                url: self.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no address of the requested family",
                ),
            });
        }
        Ok(addrs)
    }
}

impl FromStr for ListenAddr {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        ListenAddr::parse(s)
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Inet {
                network,
                host,
                port,
            } if host.contains(':') => write!(f, "{}://[{host}]:{port}", network.scheme()),
            ListenAddr::Inet {
                network,
                host,
                port,
            } => write!(f, "{}://{host}:{port}", network.scheme()),
            ListenAddr::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

/// An address the engine is serving, with the port the OS chose.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundAddr {
    /// The network served.
    pub network: Network,
    /// The socket address (TCP/UDP), or `None` for a Unix socket.
    pub addr: Option<SocketAddr>,
    /// The Unix socket path, for Unix sockets.
    pub path: Option<PathBuf>,
}

impl fmt::Display for BoundAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.addr, &self.path) {
            (Some(a), _) => write!(f, "{}://{a}", self.network.scheme()),
            (None, Some(p)) => write!(f, "unix://{}", p.display()),
            (None, None) => write!(f, "{}://?", self.network.scheme()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_scheme() {
        let a = ListenAddr::parse("tcp://127.0.0.1:9000").unwrap();
        assert_eq!(
            a,
            ListenAddr::Inet {
                network: Network::Tcp,
                host: "127.0.0.1".into(),
                port: 9000
            }
        );
        assert_eq!(a.to_string(), "tcp://127.0.0.1:9000");
        let b = ListenAddr::parse("udp6://[::1]:0").unwrap();
        assert_eq!(b.to_string(), "udp6://[::1]:0");
        assert_eq!(b.resolve().unwrap()[0], "[::1]:0".parse().unwrap());
        let c = ListenAddr::parse("unix:///tmp/x.sock").unwrap();
        assert_eq!(c, ListenAddr::Unix("/tmp/x.sock".into()));
        let d = ListenAddr::parse("TCP4://:80").unwrap();
        assert_eq!(d.resolve().unwrap()[0], "0.0.0.0:80".parse().unwrap());
    }

    /// Found by `fuzz/fuzz_targets/addr.rs`: `[[x]` was accepted as the host `[x`, which
    /// `Display` wrote as `udp6://[x:0`, a URL that does not parse.
    #[test]
    fn brackets_inside_the_host_are_refused_so_every_address_prints_back() {
        for url in [
            "udp6://[[x]:0",
            "tcp://[a]b]:1",
            "tcp://a]:1",
            "tcp://a[b:1",
            "tcp://[]]:1",
        ] {
            assert!(ListenAddr::parse(url).is_err(), "{url}");
        }
        for url in [
            "tcp://[::1]:1",
            "udp6://[fe80::1%eth0]:0",
            "tcp://[]:1",
            "tcp://host:1",
        ] {
            let a = ListenAddr::parse(url).unwrap();
            assert_eq!(ListenAddr::parse(&a.to_string()).unwrap(), a, "{url}");
        }
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "tcp://nope:x",
            "foo://a",
            "tcp://127.0.0.1",
            "tcp://127.0.0.1:",
            "tcp://127.0.0.1:70000",
            "127.0.0.1:80",
            "unix://",
            "tcp://::1:80",
            "tcp://[::1:80",
        ] {
            assert!(
                matches!(ListenAddr::parse(url), Err(Error::InvalidAddr { .. })),
                "{url} should be refused"
            );
        }
    }

    #[test]
    fn family_filter_refuses_mismatch() {
        let a = ListenAddr::parse("tcp6://127.0.0.1:0").unwrap();
        assert!(matches!(a.resolve(), Err(Error::Resolve { .. })));
    }
}

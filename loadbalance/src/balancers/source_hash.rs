//! Source-address hash: the same peer address always lands on the same target.

use crate::balancers::RoundRobin;
use crate::hash::{hash_socket_addr, reduce};
use crate::{Balancer, ConnInfo, Error};

/// Which part of the peer address the hashing balancers hash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceKey {
    /// IP and port: every connection is placed on its own, so many connections from one
    /// host still spread over all targets (what gnet's source-address hash does). The
    /// default.
    #[default]
    IpAndPort,
    /// IP only: all connections from one host go to the same target (nginx's `ip_hash`
    /// affinity).
    Ip,
}

impl SourceKey {
    pub(crate) fn hash(self, conn: &ConnInfo) -> Option<u64> {
        conn.peer
            .map(|peer| hash_socket_addr(&peer, self == SourceKey::IpAndPort))
    }
}

/// Hashes the peer address onto the targets: `target = ⌊hash · n / 2⁶⁴⌋`, with the crate's
/// [fixed hash](crate::hash) over the address's explicit bytes, so the mapping is the same
/// in every process and on every platform for the same target count.
///
/// This is plain modular hashing: changing the target count remaps almost every address.
/// Use [`ConsistentHash`](crate::ConsistentHash) when placements should survive a change in
/// the number of targets.
///
/// Connections without a peer address (Unix-domain sockets) are placed round-robin.
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::{Balancer, ConnInfo, SourceHash};
///
/// let sh = SourceHash::new(8)?;
/// let conn = ConnInfo::from_peer("198.51.100.4:40000".parse()?);
/// assert_eq!(sh.pick(&conn), sh.pick(&conn));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SourceHash {
    targets: usize,
    key: SourceKey,
    fallback: RoundRobin,
}

impl SourceHash {
    /// A source-hash balancer over `targets` targets hashing IP and port.
    ///
    /// # Errors
    ///
    /// [`Error::NoTargets`] if `targets` is 0.
    pub fn new(targets: usize) -> Result<Self, Error> {
        Self::with_key(targets, SourceKey::default())
    }

    /// A source-hash balancer hashing the given part of the peer address.
    ///
    /// # Errors
    ///
    /// [`Error::NoTargets`] if `targets` is 0.
    pub fn with_key(targets: usize, key: SourceKey) -> Result<Self, Error> {
        Ok(Self {
            targets,
            key,
            fallback: RoundRobin::new(targets)?,
        })
    }

    /// The number of targets.
    pub fn targets(&self) -> usize {
        self.targets
    }
}

impl Balancer for SourceHash {
    #[inline]
    fn pick(&self, conn: &ConnInfo) -> usize {
        match self.key.hash(conn) {
            Some(hash) => reduce(hash, self.targets),
            None => self.fallback.next_target(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn peer(s: &str) -> ConnInfo {
        ConnInfo::from_peer(s.parse::<SocketAddr>().unwrap())
    }

    #[test]
    fn zero_targets_is_an_error() {
        assert_eq!(SourceHash::new(0).unwrap_err(), Error::NoTargets);
    }

    #[test]
    fn same_peer_same_target_and_all_targets_used() {
        let sh = SourceHash::new(4).unwrap();
        let mut seen = [false; 4];
        for port in 1000..1100 {
            let conn = peer(&format!("203.0.113.9:{port}"));
            let t = sh.pick(&conn);
            assert_eq!(t, sh.pick(&conn));
            seen[t] = true;
        }
        assert_eq!(seen, [true; 4]);
    }

    #[test]
    fn ip_key_ignores_the_port() {
        let sh = SourceHash::with_key(16, SourceKey::Ip).unwrap();
        let t = sh.pick(&peer("203.0.113.9:1"));
        assert!((2..200).all(|p| sh.pick(&peer(&format!("203.0.113.9:{p}"))) == t));
    }

    /// Regression vectors computed once: the mapping must not change between releases.
    #[test]
    fn fixed_mapping() {
        let sh = SourceHash::new(8).unwrap();
        let got: Vec<usize> = [
            "192.0.2.1:80",
            "192.0.2.2:80",
            "[2001:db8::1]:443",
            "10.0.0.1:5",
        ]
        .iter()
        .map(|a| sh.pick(&peer(a)))
        .collect();
        assert_eq!(got, [0, 6, 6, 5]);
    }

    #[test]
    fn no_peer_falls_back_to_round_robin() {
        let sh = SourceHash::new(3).unwrap();
        let picks: Vec<usize> = (0..4).map(|_| sh.pick(&ConnInfo::default())).collect();
        assert_eq!(picks, [0, 1, 2, 0]);
    }
}

//! Consistent hash over the targets: Maglev keyed by the peer address.

use crate::balancers::{RoundRobin, SourceKey};
use crate::chash::Maglev;
use crate::{Balancer, ConnInfo, Error};

/// Places each connection with a [`Maglev`] table over the target indices, keyed by the
/// peer address (IP and port by default; see [`SourceKey`]).
///
/// Unlike [`SourceHash`](crate::SourceHash), a peer keeps its target when the target count
/// changes (say a server restarts with 9 loops instead of 8) unless its slot moved: about
/// `1/n` of peers move instead of nearly all. Lookups are one table read after hashing.
///
/// Targets are the nodes `0..n` (hashed as 64-bit little-endian integers), so the mapping is
/// the same in every process for the same `n`, table size and key. Connections without a
/// peer address (Unix-domain sockets) are placed round-robin.
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::{Balancer, ConnInfo, ConsistentHash};
///
/// let eight = ConsistentHash::new(8)?;
/// let nine = ConsistentHash::new(9)?;
/// let moved = (0..1000u16)
///     .map(|port| ConnInfo::from_peer(([192, 0, 2, 1], 10_000 + port).into()))
///     .filter(|c| eight.pick(c) != nine.pick(c))
///     .count();
/// assert!(moved < 250, "{moved} of 1000 peers moved"); // about 1/9 expected
/// # Ok::<(), loopwire_loadbalance::Error>(())
/// ```
#[derive(Debug)]
pub struct ConsistentHash {
    table: Maglev<usize>,
    key: SourceKey,
    fallback: RoundRobin,
}

impl ConsistentHash {
    /// A consistent-hash balancer over `targets` targets with the default Maglev table
    /// (65 537 slots) hashing IP and port.
    ///
    /// # Errors
    ///
    /// [`Error::NoTargets`] if `targets` is 0; [`Error::TableTooSmall`] above 65 537 targets.
    pub fn new(targets: usize) -> Result<Self, Error> {
        Self::with_table(targets, SourceKey::default(), Maglev::new())
    }

    /// A consistent-hash balancer hashing the given part of the peer address.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_key(targets: usize, key: SourceKey) -> Result<Self, Error> {
        Self::with_table(targets, key, Maglev::new())
    }

    /// A consistent-hash balancer with a Maglev table of `table_size` slots (prime; about
    /// 100 × `targets` or more for good balance).
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), and as [`Maglev::with_table_size`].
    pub fn with_table_size(
        targets: usize,
        key: SourceKey,
        table_size: usize,
    ) -> Result<Self, Error> {
        Self::with_table(targets, key, Maglev::with_table_size(table_size)?)
    }

    fn with_table(targets: usize, key: SourceKey, mut table: Maglev<usize>) -> Result<Self, Error> {
        let fallback = RoundRobin::new(targets)?;
        table.try_extend((0..targets).map(|t| (t, 1)))?;
        Ok(Self {
            table,
            key,
            fallback,
        })
    }

    /// The number of targets.
    pub fn targets(&self) -> usize {
        self.table.len()
    }
}

impl Balancer for ConsistentHash {
    #[inline]
    fn pick(&self, conn: &ConnInfo) -> usize {
        match self.key.hash(conn) {
            // The table holds every target, so `get_by_hash` always answers.
            Some(hash) => self.table.get_by_hash(hash).copied().unwrap_or(0),
            None => self.fallback.next_target(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn peer(i: u32) -> ConnInfo {
        ConnInfo::from_peer(SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 443)))
    }

    #[test]
    fn bad_sizes_are_errors() {
        assert_eq!(ConsistentHash::new(0).unwrap_err(), Error::NoTargets);
        assert!(matches!(
            ConsistentHash::with_table_size(20, SourceKey::Ip, 13).unwrap_err(),
            Error::TableTooSmall { .. }
        ));
        assert_eq!(
            ConsistentHash::with_table_size(2, SourceKey::Ip, 12).unwrap_err(),
            Error::TableSizeNotPrime(12)
        );
    }

    #[test]
    fn same_peer_same_target_and_all_targets_used() {
        let ch = ConsistentHash::new(5).unwrap();
        let mut seen = [false; 5];
        for i in 0..500 {
            let t = ch.pick(&peer(i));
            assert_eq!(t, ch.pick(&peer(i)));
            seen[t] = true;
        }
        assert_eq!(seen, [true; 5]);
        assert_eq!(ch.targets(), 5);
    }

    #[test]
    fn no_peer_falls_back_to_round_robin() {
        let ch = ConsistentHash::new(2).unwrap();
        let picks: Vec<usize> = (0..3).map(|_| ch.pick(&ConnInfo::default())).collect();
        assert_eq!(picks, [0, 1, 0]);
    }

    #[test]
    fn growing_the_target_count_moves_few_peers() {
        let small = ConsistentHash::new(10).unwrap();
        let big = ConsistentHash::new(11).unwrap();
        let moved = (0..10_000)
            .filter(|&i| small.pick(&peer(i)) != big.pick(&peer(i)))
            .count();
        // 1/11 ≈ 909 of 10 000 must move to the new target; Maglev moves a few more.
        assert!((800..1300).contains(&moved), "{moved} moved");
    }
}

//! Maglev hashing: a prime-sized lookup table filled from per-node permutations.

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;

use crate::Error;
use crate::chash::node_hash;
use crate::hash::{hash_key, hash_pair, reduce};

/// Marks an unfilled table slot during population.
const EMPTY: u32 = u32::MAX;

/// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network
/// Load Balancer", NSDI 2016, section 3.4).
///
/// Every node derives a permutation of the `M` table slots from two hashes of itself,
/// `offset ∈ [0, M)` and `skip ∈ [1, M)` (`M` prime, so every `skip` visits every slot). The
/// nodes then take turns claiming the next free slot of their permutation until the table is
/// full. A lookup hashes the key to a slot and reads its owner: O(1), one table read.
///
/// - **Balance**: each node owns `⌊M/N⌋` or `⌈M/N⌉` slots (for equal weights), so with
///   `M ≫ N` loads are nearly equal. The paper recommends `M > 100·N`.
/// - **Disruption**: removing a node moves its keys and, unlike a ring, a small number of
///   others (the permutations of the remaining nodes shift); the crate README quantifies it.
/// - **Weights**: a node of weight `w` takes a turn in a round only when its accumulated
///   credit (`w` per round) reaches the largest weight, so it owns about `M·w/Σw` slots.
/// - **Determinism**: nodes take turns in the order of their [stable hash](crate::hash), not
///   insertion order, so the table depends only on the set of nodes, their weights and `M`.
///
/// Adding or removing a node rebuilds the table: O(M log M) expected time. Build many nodes
/// at once with [`try_extend`](Self::try_extend).
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::chash::Maglev;
///
/// let mut m = Maglev::new();
/// m.try_extend(["gw-a", "gw-b", "gw-c"].map(|n| (n, 1)))?;
/// let home = m.get(&"user-42").copied();
/// assert!(home.is_some());
/// m.remove(&"gw-b")?;
/// assert_ne!(m.get(&"user-42"), Some(&"gw-b"));
/// # Ok::<(), loopwire_loadbalance::Error>(())
/// ```
#[derive(Clone)]
pub struct Maglev<N> {
    /// Nodes sorted by `(hash, insertion)`; the table stores indices into this.
    nodes: Vec<Entry<N>>,
    /// Slot → index into `nodes`; empty while there are no nodes.
    table: Vec<u32>,
    size: usize,
}

#[derive(Clone, Debug)]
struct Entry<N> {
    node: N,
    weight: u32,
    hash: u64,
}

impl<N: Hash + Eq + Clone> Maglev<N> {
    /// The default table size: 65 537, the Maglev paper's smaller table, prime, good for up
    /// to a few hundred nodes.
    pub const DEFAULT_TABLE_SIZE: usize = 65_537;

    /// The largest table size accepted (2²⁴ slots, 64 MiB of table).
    pub const MAX_TABLE_SIZE: usize = 1 << 24;

    /// An empty Maglev table of [`DEFAULT_TABLE_SIZE`](Self::DEFAULT_TABLE_SIZE) slots.
    pub fn new() -> Self {
        Self {
            nodes: Vec::new(),
            table: Vec::new(),
            size: Self::DEFAULT_TABLE_SIZE,
        }
    }

    /// An empty Maglev table of `size` slots.
    ///
    /// # Errors
    ///
    /// [`Error::TableSizeNotPrime`] unless `size` is prime;
    /// [`Error::TableSizeTooLarge`] above [`MAX_TABLE_SIZE`](Self::MAX_TABLE_SIZE).
    ///
    /// # Examples
    ///
    /// ```
    /// use loopwire_loadbalance::{Error, chash::Maglev};
    ///
    /// assert!(Maglev::<u32>::with_table_size(251).is_ok());
    /// assert_eq!(Maglev::<u32>::with_table_size(256).unwrap_err(), Error::TableSizeNotPrime(256));
    /// ```
    pub fn with_table_size(size: usize) -> Result<Self, Error> {
        if size > Self::MAX_TABLE_SIZE {
            return Err(Error::TableSizeTooLarge {
                size,
                max: Self::MAX_TABLE_SIZE,
            });
        }
        if !is_prime(size) {
            return Err(Error::TableSizeNotPrime(size));
        }
        Ok(Self {
            size,
            ..Self::new()
        })
    }

    /// The table size `M`.
    pub fn table_size(&self) -> usize {
        self.size
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Whether `node` is present.
    pub fn contains(&self, node: &N) -> bool {
        self.position(node).is_some()
    }

    /// The weight of `node`, or `None` if it is not present.
    pub fn weight(&self, node: &N) -> Option<u32> {
        self.position(node).map(|i| self.nodes[i].weight)
    }

    /// The nodes and their weights, in table order (by stable hash).
    pub fn nodes(&self) -> impl Iterator<Item = (&N, u32)> {
        self.nodes.iter().map(|e| (&e.node, e.weight))
    }

    /// Adds `node` with weight 1 and rebuilds the table.
    ///
    /// # Errors
    ///
    /// See [`add_weighted`](Self::add_weighted).
    pub fn add(&mut self, node: N) -> Result<(), Error> {
        self.add_weighted(node, 1)
    }

    /// Adds `node` with `weight` and rebuilds the table.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroWeight`], [`Error::DuplicateNode`], or [`Error::TableTooSmall`] when
    /// there would be more nodes than slots. The table is unchanged on error.
    pub fn add_weighted(&mut self, node: N, weight: u32) -> Result<(), Error> {
        self.try_extend([(node, weight)])
    }

    /// Adds several `(node, weight)` pairs and rebuilds the table once.
    ///
    /// # Errors
    ///
    /// As [`add_weighted`](Self::add_weighted), also for a node repeated within `nodes`.
    /// Nothing is added unless every node is valid.
    pub fn try_extend<I: IntoIterator<Item = (N, u32)>>(&mut self, nodes: I) -> Result<(), Error> {
        let mut added: Vec<Entry<N>> = Vec::new();
        for (node, weight) in nodes {
            if weight == 0 {
                return Err(Error::ZeroWeight);
            }
            if self.contains(&node) {
                return Err(Error::DuplicateNode);
            }
            let hash = node_hash(&node);
            added.push(Entry { node, weight, hash });
        }
        let mut seen = HashSet::with_capacity(added.len());
        if !added.iter().all(|e| seen.insert(&e.node)) {
            return Err(Error::DuplicateNode);
        }
        let total = self.nodes.len() + added.len();
        if total > self.size {
            return Err(Error::TableTooSmall {
                size: self.size,
                nodes: total,
            });
        }
        for entry in added {
            // After every entry of equal hash, so equal hashes keep insertion order.
            let at = self.nodes.partition_point(|e| e.hash <= entry.hash);
            self.nodes.insert(at, entry);
        }
        self.rebuild();
        Ok(())
    }

    /// Removes `node`, rebuilds the table and returns the node's weight.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownNode`] if `node` is not present.
    pub fn remove(&mut self, node: &N) -> Result<u32, Error> {
        let i = self.position(node).ok_or(Error::UnknownNode)?;
        let entry = self.nodes.remove(i);
        self.rebuild();
        Ok(entry.weight)
    }

    /// The node that `key` maps to, hashing the key with [`hash_key`]; `None` when empty.
    #[inline]
    pub fn get<K: Hash + ?Sized>(&self, key: &K) -> Option<&N> {
        self.get_by_hash(hash_key(key))
    }

    /// The node that a key with this hash maps to; `None` when empty. Pair it with
    /// [`hash_bytes`](crate::hash::hash_bytes) to hash keys as explicit bytes.
    #[inline]
    pub fn get_by_hash(&self, hash: u64) -> Option<&N> {
        let owner = *self.table.get(reduce(hash, self.table.len()))?;
        self.nodes.get(owner as usize).map(|e| &e.node)
    }

    fn position(&self, node: &N) -> Option<usize> {
        self.nodes.iter().position(|e| e.node == *node)
    }

    /// Fills the table from the nodes' permutations (the paper's `Populate`, with weighted
    /// turns). `size >= nodes.len()` and `size` prime hold on entry.
    fn rebuild(&mut self) {
        self.table.clear();
        if self.nodes.is_empty() {
            return;
        }
        let m = self.size as u64;
        // `next[i]` is node i's next candidate slot; `skip[i]` steps through its permutation.
        let mut next: Vec<u64> = self
            .nodes
            .iter()
            .map(|e| hash_pair(e.hash, 0) % m)
            .collect();
        let skip: Vec<u64> = self
            .nodes
            .iter()
            .map(|e| hash_pair(e.hash, 1) % (m - 1).max(1) + 1)
            .collect();
        let max_weight = self.nodes.iter().map(|e| u64::from(e.weight)).max();
        let max_weight = max_weight.unwrap_or(1);
        let mut credit = vec![0u64; self.nodes.len()];
        let mut table = vec![EMPTY; self.size];
        let mut filled = 0usize;
        'fill: loop {
            for (i, entry) in self.nodes.iter().enumerate() {
                credit[i] += u64::from(entry.weight);
                if credit[i] < max_weight {
                    continue;
                }
                credit[i] -= max_weight;
                // A full permutation of a table with a free slot always reaches one.
                loop {
                    let slot = next[i] as usize;
                    next[i] += skip[i];
                    if next[i] >= m {
                        next[i] -= m;
                    }
                    if table[slot] == EMPTY {
                        table[slot] = i as u32;
                        break;
                    }
                }
                filled += 1;
                if filled == self.size {
                    break 'fill;
                }
            }
        }
        self.table = table;
    }

    /// How many table slots each node owns, in [`nodes`](Self::nodes) order. O(M).
    pub fn slot_counts(&self) -> Vec<usize> {
        let mut counts = vec![0usize; self.nodes.len()];
        for &owner in &self.table {
            if let Some(c) = counts.get_mut(owner as usize) {
                *c += 1;
            }
        }
        counts
    }
}

impl<N: Hash + Eq + Clone> Default for Maglev<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<N: fmt::Debug> fmt::Debug for Maglev<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Maglev")
            .field("table_size", &self.size)
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

/// Trial division; table sizes are at most 2²⁴, so at most 2¹¹ divisions.
fn is_prime(n: usize) -> bool {
    if n < 2 {
        return false;
    }
    if n.is_multiple_of(2) {
        return n == 2;
    }
    let mut d = 3;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 2;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(nodes: std::ops::Range<u32>, size: usize) -> Maglev<u32> {
        let mut m = Maglev::with_table_size(size).unwrap();
        m.try_extend(nodes.map(|n| (n, 1))).unwrap();
        m
    }

    #[test]
    fn primality() {
        let primes: Vec<usize> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(primes, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        assert!(is_prime(65_537));
        assert!(!is_prime(65_535));
        assert!(!is_prime(1 << 24));
    }

    #[test]
    fn bad_table_sizes() {
        assert_eq!(
            Maglev::<u8>::with_table_size(0).unwrap_err(),
            Error::TableSizeNotPrime(0)
        );
        assert_eq!(
            Maglev::<u8>::with_table_size(1).unwrap_err(),
            Error::TableSizeNotPrime(1)
        );
        assert!(matches!(
            Maglev::<u8>::with_table_size(usize::MAX).unwrap_err(),
            Error::TableSizeTooLarge { .. }
        ));
    }

    #[test]
    fn empty_table_answers_none() {
        let m = Maglev::<u32>::new();
        assert_eq!(m.get(&1u64), None);
        assert!(m.is_empty());
    }

    #[test]
    fn bad_nodes_leave_the_table_unchanged() {
        let mut m = built(0..3, 7);
        let before: Vec<Option<u32>> = (0..50u64).map(|k| m.get(&k).copied()).collect();
        assert_eq!(m.add(1).unwrap_err(), Error::DuplicateNode);
        assert_eq!(m.add_weighted(9, 0).unwrap_err(), Error::ZeroWeight);
        assert_eq!(
            m.try_extend([(8, 1), (8, 1)]).unwrap_err(),
            Error::DuplicateNode
        );
        assert_eq!(m.remove(&5).unwrap_err(), Error::UnknownNode);
        assert_eq!(
            m.try_extend((10..15).map(|n| (n, 1))).unwrap_err(),
            Error::TableTooSmall { size: 7, nodes: 8 }
        );
        let after: Vec<Option<u32>> = (0..50u64).map(|k| m.get(&k).copied()).collect();
        assert_eq!(before, after);
        assert_eq!(m.len(), 3);
    }

    #[test]
    fn every_slot_is_filled_and_shares_differ_by_at_most_one() {
        for n in [1u32, 2, 5, 13, 64] {
            let m = built(0..n, 65_537);
            assert_eq!(m.table.len(), 65_537);
            assert!(m.table.iter().all(|&o| o < n));
            let counts = m.slot_counts();
            let (min, max) = (counts.iter().min(), counts.iter().max());
            assert!(
                max.zip(min).is_some_and(|(a, b)| a - b <= 1),
                "n={n}: {counts:?}"
            );
        }
    }

    #[test]
    fn a_full_table_of_nodes_still_fills() {
        let m = built(0..7, 7);
        assert_eq!(m.slot_counts(), [1; 7]);
    }

    #[test]
    fn weights_scale_shares() {
        let mut m = Maglev::new();
        m.try_extend([("a", 1), ("b", 2), ("c", 5)]).unwrap();
        let counts = m.slot_counts();
        let share = |node: &str| {
            let i = m.nodes().position(|(n, _)| *n == node).unwrap();
            counts[i] as f64 / 65_537.0
        };
        assert!((share("a") - 1.0 / 8.0).abs() < 0.002, "{counts:?}");
        assert!((share("b") - 2.0 / 8.0).abs() < 0.002, "{counts:?}");
        assert!((share("c") - 5.0 / 8.0).abs() < 0.002, "{counts:?}");
        assert_eq!(m.weight(&"c"), Some(5));
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let mut a = Maglev::with_table_size(1009).unwrap();
        let mut b = Maglev::with_table_size(1009).unwrap();
        a.try_extend((0..10u32).map(|n| (n, 1))).unwrap();
        for n in (0..10u32).rev() {
            b.add(n).unwrap();
        }
        assert_eq!(a.table, b.table);
    }

    #[test]
    fn remove_then_readd_restores_the_table() {
        let mut m = built(0..10, 1009);
        let before = m.table.clone();
        assert_eq!(m.remove(&4), Ok(1));
        assert!(!m.contains(&4));
        assert!(m.table.iter().all(|&o| m.nodes[o as usize].node != 4));
        m.add(4).unwrap();
        assert_eq!(m.table, before);
    }

    /// Regression vector computed once: placements must not change between releases.
    #[test]
    fn fixed_placements() {
        let m = built(0..5, 65_537);
        let got: Vec<u32> = (0..8u64).map(|k| *m.get(&k).unwrap()).collect();
        assert_eq!(got, [4, 4, 1, 2, 1, 4, 4, 4]);
    }
}

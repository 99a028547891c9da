//! A consistent-hash ring with virtual nodes and weights.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;

use crate::Error;
use crate::chash::node_hash;
use crate::hash::{hash_key, hash_pair};

/// Consistent hashing on a ring (Karger et al., "Consistent Hashing and Random Trees", STOC
/// 1997), with virtual nodes as in libketama.
///
/// Every node of weight `w` places `vnodes · w` points on a 64-bit ring, point `i` at
/// `H(H(node), i)` with the crate's [stable hash](crate::hash). A key belongs to the node
/// owning the first point at or after `H(key)`, wrapping around. Points are kept in one
/// sorted array with a bucket index over the top bits of the hash (about one point per
/// bucket), so a lookup is one index read and a search of a bucket: O(1) expected.
///
/// - **Removing** a node moves exactly the keys it owned: no other key's first point changes.
/// - **Adding** a node moves only keys onto the new node, about `w/Σw` of them.
/// - **Balance** depends on the virtual-node count: a node's share has a relative standard
///   deviation of roughly `1/√vnodes`. The default, [`DEFAULT_VNODES`](Self::DEFAULT_VNODES),
///   keeps max/mean load below 1.25 for 2 to 64 nodes (figures in the crate README).
/// - **Determinism**: points with equal position are ordered by their node's hash, so the
///   ring depends only on the set of nodes and weights, not on insertion order.
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::chash::HashRing;
///
/// let mut ring = HashRing::new();
/// ring.add("10.0.0.1:7000")?;
/// ring.add_weighted("10.0.0.2:7000", 2)?;
/// let node = ring.get(&"user-42").copied();
/// assert!(node.is_some());
/// ring.remove(&"10.0.0.1:7000")?;
/// assert_eq!(ring.get(&"user-42"), Some(&"10.0.0.2:7000"));
/// # Ok::<(), loopwire_loadbalance::Error>(())
/// ```
#[derive(Clone)]
pub struct HashRing<N> {
    /// Node storage; a slot index never changes while its node is present.
    slots: Vec<Option<Slot<N>>>,
    free: Vec<u32>,
    len: usize,
    /// Point positions, ascending (ties ordered by owner hash).
    points: Vec<u64>,
    /// `owners[i]` is the slot owning `points[i]`.
    owners: Vec<u32>,
    /// Bucket index over the top `64 - shift` bits of a hash: the points whose top bits
    /// equal `b` are `points[index[b]..index[b + 1]]`. Turns the binary search over all
    /// points into a search of a bucket of about one point.
    index: Vec<u32>,
    shift: u32,
    vnodes: u32,
}

#[derive(Clone, Debug)]
pub(crate) struct Slot<N> {
    pub(crate) node: N,
    pub(crate) weight: u32,
    hash: u64,
}

impl<N: Hash + Eq + Clone> HashRing<N> {
    /// Virtual nodes per unit of weight by default. 256 points per node keep a node's share
    /// within about ±6 % (one standard deviation) of its fair share, at about 4 KiB per node
    /// (points, owners and bucket index).
    pub const DEFAULT_VNODES: u32 = 256;

    /// The most ring points one node may own (`vnodes · weight`).
    pub const MAX_POINTS_PER_NODE: u64 = MAX_POINTS_PER_NODE;

    /// An empty ring with [`DEFAULT_VNODES`](Self::DEFAULT_VNODES) virtual nodes per unit of
    /// weight.
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            points: Vec::new(),
            owners: Vec::new(),
            index: Vec::new(),
            shift: 63,
            vnodes: Self::DEFAULT_VNODES,
        }
    }

    /// An empty ring with `vnodes` virtual nodes per unit of weight.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroVirtualNodes`] if `vnodes` is 0; [`Error::WeightTooLarge`] if even weight
    /// 1 would exceed [`MAX_POINTS_PER_NODE`](Self::MAX_POINTS_PER_NODE).
    pub fn with_vnodes(vnodes: u32) -> Result<Self, Error> {
        if vnodes == 0 {
            return Err(Error::ZeroVirtualNodes);
        }
        check_points(vnodes, 1)?;
        Ok(Self {
            vnodes,
            ..Self::new()
        })
    }

    /// Virtual nodes per unit of weight.
    pub fn vnodes(&self) -> u32 {
        self.vnodes
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The total number of points on the ring.
    pub fn points(&self) -> usize {
        self.points.len()
    }

    /// Whether `node` is present.
    pub fn contains(&self, node: &N) -> bool {
        self.slot_of(node).is_some()
    }

    /// The weight of `node`, or `None` if it is not present.
    pub fn weight(&self, node: &N) -> Option<u32> {
        self.slot_of(node)
            .and_then(|s| self.slot(s))
            .map(|s| s.weight)
    }

    /// The nodes and their weights, in no particular order.
    pub fn nodes(&self) -> impl Iterator<Item = (&N, u32)> {
        self.slots.iter().flatten().map(|s| (&s.node, s.weight))
    }

    /// Adds `node` with weight 1.
    ///
    /// # Errors
    ///
    /// See [`add_weighted`](Self::add_weighted).
    pub fn add(&mut self, node: N) -> Result<(), Error> {
        self.add_weighted(node, 1)
    }

    /// Adds `node` with `weight`, placing `vnodes · weight` points. O(P) to merge them in.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroWeight`], [`Error::WeightTooLarge`] or [`Error::DuplicateNode`]; the
    /// ring is unchanged on error.
    pub fn add_weighted(&mut self, node: N, weight: u32) -> Result<(), Error> {
        self.add_slot(node, weight).map(|_| ())
    }

    /// Adds several `(node, weight)` pairs with one sort of the whole ring: O(P log P).
    ///
    /// # Errors
    ///
    /// As [`add_weighted`](Self::add_weighted), also for a node repeated within `nodes`.
    /// Nothing is added unless every node is valid.
    pub fn try_extend<I: IntoIterator<Item = (N, u32)>>(&mut self, nodes: I) -> Result<(), Error> {
        let nodes: Vec<(N, u32)> = nodes.into_iter().collect();
        let mut added = 0;
        let mut seen = HashSet::with_capacity(nodes.len());
        for (node, weight) in &nodes {
            added += self.check_new(node, *weight, added)?;
            if !seen.insert(node) {
                return Err(Error::DuplicateNode);
            }
        }
        let mut all: Vec<(u64, u64, u32)> = self.tagged_points().collect();
        for (node, weight) in nodes {
            let slot = self.insert_slot(node, weight);
            let hash = self.slot_hash(slot);
            all.extend(self.points_of(slot).into_iter().map(|(p, s)| (p, hash, s)));
        }
        all.sort_unstable();
        self.points = all.iter().map(|&(p, _, _)| p).collect();
        self.owners = all.iter().map(|&(_, _, s)| s).collect();
        self.reindex();
        Ok(())
    }

    /// Removes `node` and its points; returns its weight. O(P).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownNode`] if `node` is not present.
    pub fn remove(&mut self, node: &N) -> Result<u32, Error> {
        let slot = self.slot_of(node).ok_or(Error::UnknownNode)?;
        self.remove_slot(slot)
            .map(|s| s.weight)
            .ok_or(Error::UnknownNode)
    }

    /// The node owning `key`, hashing the key with [`hash_key`]; `None` when empty.
    #[inline]
    pub fn get<K: Hash + ?Sized>(&self, key: &K) -> Option<&N> {
        self.get_by_hash(hash_key(key))
    }

    /// The node owning a key with this hash; `None` when empty. Pair it with
    /// [`hash_bytes`](crate::hash::hash_bytes) to hash keys as explicit bytes.
    #[inline]
    pub fn get_by_hash(&self, hash: u64) -> Option<&N> {
        let owner = *self.owners.get(self.position(hash))?;
        self.slot(owner).map(|s| &s.node)
    }

    // ---- crate-internal slot API (used by `BoundedLoad`) ----

    /// [`add_weighted`](Self::add_weighted), returning the new node's slot.
    pub(crate) fn add_slot(&mut self, node: N, weight: u32) -> Result<u32, Error> {
        self.check_new(&node, weight, 0)?;
        let slot = self.insert_slot(node, weight);
        let mut new = self.points_of(slot);
        new.sort_unstable();
        self.merge(&new);
        Ok(slot)
    }

    /// The slot holding `node`.
    pub(crate) fn slot_of(&self, node: &N) -> Option<u32> {
        let i = self
            .slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.node == *node))?;
        Some(i as u32)
    }

    /// The node in `slot`, if occupied.
    pub(crate) fn slot(&self, slot: u32) -> Option<&Slot<N>> {
        self.slots.get(slot as usize).and_then(Option::as_ref)
    }

    /// One past the highest slot index in use.
    pub(crate) fn slot_bound(&self) -> usize {
        self.slots.len()
    }

    /// The slot owning a key with this hash.
    pub(crate) fn owner_by_hash(&self, hash: u64) -> Option<u32> {
        self.owners.get(self.position(hash)).copied()
    }

    /// The owners of one full lap of points, starting at the point owning `hash`.
    pub(crate) fn walk(&self, hash: u64) -> impl Iterator<Item = u32> + '_ {
        let start = self.position(hash);
        let (before, after) = self.owners.split_at(start.min(self.owners.len()));
        after.iter().chain(before).copied()
    }

    /// Removes the node in `slot` and its points; `None` if the slot is empty.
    pub(crate) fn remove_slot(&mut self, slot: u32) -> Option<Slot<N>> {
        let taken = self.slots.get_mut(slot as usize).and_then(Option::take)?;
        let mut kept = 0;
        for i in 0..self.points.len() {
            if self.owners[i] != slot {
                self.points[kept] = self.points[i];
                self.owners[kept] = self.owners[i];
                kept += 1;
            }
        }
        self.points.truncate(kept);
        self.owners.truncate(kept);
        self.reindex();
        self.free.push(slot);
        self.len -= 1;
        Some(taken)
    }

    // ---- internals ----

    /// Index of the first point at or after `hash`, wrapping to 0 past the end.
    #[inline]
    fn position(&self, hash: u64) -> usize {
        let bucket = (hash >> self.shift) as usize;
        let (lo, hi) = match (self.index.get(bucket), self.index.get(bucket + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => return 0,
        };
        // Points of lower buckets are all below `hash`, those of higher buckets above it.
        let i = lo + self.points[lo..hi].partition_point(|&p| p < hash);
        if i == self.points.len() { 0 } else { i }
    }

    /// Rebuilds `index` for the current points: about one bucket per point, at most 2²⁴
    /// buckets.
    fn reindex(&mut self) {
        let bits = self.points.len().max(2).ilog2().min(24);
        self.shift = 64 - bits;
        let buckets = 1usize << bits;
        self.index.clear();
        self.index.reserve(buckets + 1);
        let mut i = 0;
        for b in 0..buckets {
            while self
                .points
                .get(i)
                .is_some_and(|&p| ((p >> self.shift) as usize) < b)
            {
                i += 1;
            }
            self.index.push(i as u32);
        }
        self.index.push(self.points.len() as u32);
    }

    /// Validates a node to add alongside `pending` other new points; returns its point
    /// count.
    fn check_new(&self, node: &N, weight: u32, pending: u64) -> Result<u64, Error> {
        if weight == 0 {
            return Err(Error::ZeroWeight);
        }
        let points = check_points(self.vnodes, weight)?;
        if self.points.len() as u64 + pending + points > MAX_POINTS {
            return Err(Error::TooManyPoints { max: MAX_POINTS });
        }
        if self.contains(node) {
            return Err(Error::DuplicateNode);
        }
        Ok(points)
    }

    fn insert_slot(&mut self, node: N, weight: u32) -> u32 {
        let hash = node_hash(&node);
        let slot = Slot { node, weight, hash };
        self.len += 1;
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(slot);
                i
            }
            None => {
                self.slots.push(Some(slot));
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn slot_hash(&self, slot: u32) -> u64 {
        self.slot(slot).map_or(0, |s| s.hash)
    }

    /// The `(position, slot)` points of the node in `slot`, unsorted.
    fn points_of(&self, slot: u32) -> Vec<(u64, u32)> {
        let Some(s) = self.slot(slot) else {
            return Vec::new();
        };
        let count = u64::from(self.vnodes) * u64::from(s.weight);
        (0..count).map(|i| (hash_pair(s.hash, i), slot)).collect()
    }

    /// Every point as `(position, owner hash, owner slot)`, the ring's sort key.
    fn tagged_points(&self) -> impl Iterator<Item = (u64, u64, u32)> + '_ {
        self.points
            .iter()
            .zip(&self.owners)
            .map(|(&p, &s)| (p, self.slot_hash(s), s))
    }

    /// Merges one node's sorted points into the ring.
    fn merge(&mut self, new: &[(u64, u32)]) {
        let total = self.points.len() + new.len();
        let mut points = Vec::with_capacity(total);
        let mut owners = Vec::with_capacity(total);
        let (mut i, mut j) = (0, 0);
        while i < self.points.len() || j < new.len() {
            let take_old = match (self.points.get(i), new.get(j)) {
                (Some(&p), Some(&(q, s))) => {
                    let old_key = (p, self.slot_hash(self.owners[i]), self.owners[i]);
                    old_key.cmp(&(q, self.slot_hash(s), s)) != Ordering::Greater
                }
                (Some(_), None) => true,
                _ => false,
            };
            if take_old {
                points.push(self.points[i]);
                owners.push(self.owners[i]);
                i += 1;
            } else {
                points.push(new[j].0);
                owners.push(new[j].1);
                j += 1;
            }
        }
        self.points = points;
        self.owners = owners;
        self.reindex();
    }
}

/// See [`HashRing::MAX_POINTS_PER_NODE`].
const MAX_POINTS_PER_NODE: u64 = 1 << 20;

/// The most points a ring may hold, so that positions fit the `u32` bucket index.
const MAX_POINTS: u64 = u32::MAX as u64;

/// The point count `vnodes · weight`, if one node may own that many.
fn check_points(vnodes: u32, weight: u32) -> Result<u64, Error> {
    let max = MAX_POINTS_PER_NODE;
    let points = u64::from(vnodes) * u64::from(weight);
    if points > max {
        return Err(Error::WeightTooLarge {
            weight,
            vnodes,
            max,
        });
    }
    Ok(points)
}

impl<N: Hash + Eq + Clone> Default for HashRing<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<N: fmt::Debug> fmt::Debug for HashRing<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HashRing")
            .field("vnodes", &self.vnodes)
            .field("points", &self.points.len())
            .field("nodes", &self.slots.iter().flatten().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(nodes: std::ops::Range<u32>) -> HashRing<u32> {
        let mut r = HashRing::new();
        r.try_extend(nodes.map(|n| (n, 1))).unwrap();
        r
    }

    fn placements(r: &HashRing<u32>, keys: u64) -> Vec<Option<u32>> {
        (0..keys).map(|k| r.get(&k).copied()).collect()
    }

    #[test]
    fn empty_ring_answers_none() {
        let r = HashRing::<u32>::new();
        assert_eq!(r.get("x"), None);
        assert!(r.is_empty());
        assert_eq!(r.walk(5).count(), 0);
    }

    #[test]
    fn bad_input_is_rejected_and_changes_nothing() {
        assert_eq!(
            HashRing::<u8>::with_vnodes(0).unwrap_err(),
            Error::ZeroVirtualNodes
        );
        assert!(matches!(
            HashRing::<u8>::with_vnodes(u32::MAX).unwrap_err(),
            Error::WeightTooLarge { .. }
        ));
        let mut r = ring(0..4);
        let before = placements(&r, 200);
        assert_eq!(r.add(2).unwrap_err(), Error::DuplicateNode);
        assert_eq!(r.add_weighted(7, 0).unwrap_err(), Error::ZeroWeight);
        assert!(matches!(
            r.add_weighted(7, u32::MAX).unwrap_err(),
            Error::WeightTooLarge { .. }
        ));
        assert_eq!(
            r.try_extend([(5, 1), (5, 1)]).unwrap_err(),
            Error::DuplicateNode
        );
        assert_eq!(r.remove(&9).unwrap_err(), Error::UnknownNode);
        assert_eq!(placements(&r, 200), before);
        assert_eq!((r.len(), r.points()), (4, 4 * 256));
    }

    #[test]
    fn add_and_extend_build_the_same_ring() {
        let a = ring(0..6);
        let mut b = HashRing::new();
        for n in (0..6).rev() {
            b.add(n).unwrap();
        }
        assert_eq!(a.points, b.points);
        let nodes = |r: &HashRing<u32>| -> Vec<u32> {
            r.owners.iter().map(|&s| r.slot(s).unwrap().node).collect()
        };
        assert_eq!(nodes(&a), nodes(&b));
    }

    #[test]
    fn removal_moves_only_the_removed_nodes_keys() {
        let mut r = ring(0..5);
        let before = placements(&r, 2000);
        assert_eq!(r.remove(&3), Ok(1));
        let after = placements(&r, 2000);
        for (b, a) in before.iter().zip(&after) {
            assert!(b == a || *b == Some(3), "{b:?} -> {a:?}");
            assert_ne!(*a, Some(3));
        }
        assert_eq!(r.points(), 4 * 256);
    }

    #[test]
    fn slots_are_reused_after_removal() {
        let mut r = ring(0..3);
        let slot = r.slot_of(&1).unwrap();
        r.remove(&1).unwrap();
        r.add(10).unwrap();
        assert_eq!(r.slot_of(&10), Some(slot));
        assert_eq!(r.slot_bound(), 3);
    }

    #[test]
    fn weights_scale_points_and_shares() {
        let mut r = HashRing::with_vnodes(64).unwrap();
        r.add_weighted("a", 1).unwrap();
        r.add_weighted("b", 3).unwrap();
        assert_eq!(r.points(), 4 * 64);
        assert_eq!(r.weight(&"b"), Some(3));
        let b = (0..20_000u64).filter(|k| r.get(k) == Some(&"b")).count();
        assert!((13_000..17_000).contains(&b), "b got {b} of 20000");
    }

    #[test]
    fn walk_visits_every_point_once_from_the_owner() {
        let r = ring(0..3);
        for h in [0, 1 << 40, u64::MAX]
            .into_iter()
            .chain((0..100u64).map(|k| hash_key(&k)))
        {
            let lap: Vec<u32> = r.walk(h).collect();
            assert_eq!(lap.len(), r.points());
            assert_eq!(Some(lap[0]), r.owner_by_hash(h));
            // The lap is the owners rotated to start at the key's point.
            let start = r.position(h);
            assert_eq!(lap[..r.points() - start], r.owners[start..]);
            assert_eq!(lap[r.points() - start..], r.owners[..start]);
        }
    }

    /// The bucket index must find exactly the point a plain binary search finds.
    #[test]
    fn indexed_position_matches_binary_search() {
        let naive = |r: &HashRing<u32>, h: u64| {
            let i = r.points.partition_point(|&p| p < h);
            if i == r.points.len() { 0 } else { i }
        };
        let mut r = HashRing::with_vnodes(3).unwrap();
        for n in 0..40u32 {
            r.add(n).unwrap();
            if n % 3 == 2 {
                r.remove(&(n - 1)).unwrap();
            }
            let probes = (0..200u64).map(|k| hash_key(&k));
            // The points themselves and their neighbours are the edge cases.
            let edges = r
                .points
                .iter()
                .flat_map(|&p| [p.wrapping_sub(1), p, p.wrapping_add(1)]);
            for h in probes.chain(edges).chain([0, u64::MAX]) {
                assert_eq!(
                    r.position(h),
                    naive(&r, h),
                    "hash {h:#x} with {} points",
                    r.points()
                );
            }
        }
    }

    #[test]
    fn too_many_points_is_an_error() {
        let mut r = HashRing::with_vnodes(1 << 20).unwrap();
        let err = r.try_extend((0..5000u32).map(|n| (n, 1))).unwrap_err();
        assert_eq!(
            err,
            Error::TooManyPoints {
                max: u64::from(u32::MAX)
            }
        );
        assert!(r.is_empty());
    }

    /// Regression vector computed once: placements must not change between releases.
    #[test]
    fn fixed_placements() {
        let r = ring(0..5);
        let got: Vec<u32> = (0..8u64).map(|k| *r.get(&k).unwrap()).collect();
        assert_eq!(got, [0, 4, 2, 4, 3, 1, 0, 3]);
    }
}

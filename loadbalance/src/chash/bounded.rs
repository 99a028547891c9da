//! Consistent hashing with bounded loads: a ring that also tracks which keys sit where, so
//! that no node ever holds more than ⌈c · mean⌉ of them.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use crate::Error;
use crate::chash::HashRing;
use crate::hash::hash_key;

/// A key that changed node, reported by every operation that moves keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Moved<K, N> {
    /// The key that moved.
    pub key: K,
    /// The node it was on.
    pub from: N,
    /// The node it is on now.
    pub to: N,
}

/// Where an assigned key sits.
#[derive(Clone, Copy, Debug)]
struct Placement {
    /// Ring slot of its node.
    slot: u32,
    /// Index in that node's key list.
    pos: usize,
    hash: u64,
}

/// Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, "Consistent
/// Hashing with Bounded Loads", SODA 2018): keys are placed on a [`HashRing`], but a key
/// whose ring node is full walks on clockwise to the first node with room.
///
/// With `m` keys assigned, a node of weight `w` (out of total weight `W`) holds at most
/// `⌈c · m · w / W⌉` keys; with equal weights that is `⌈c · mean⌉`. The capacity factor `c`
/// defaults to [`DEFAULT_CAPACITY_FACTOR`](Self::DEFAULT_CAPACITY_FACTOR) (1.25) and is used
/// to 6 decimal places (capacities are computed exactly in integers).
///
/// The bound holds after every operation, which sometimes means moving keys; each operation
/// that can move keys returns the [`Moved`] list so the caller can migrate them:
///
/// - [`assign`](Self::assign) places a new key; never moves others.
/// - [`release`](Self::release) removes a key; the mean drops, so keys leave nodes that are
///   now above their bound.
/// - [`add_node`](Self::add_node) takes over the keys whose ring position now falls on the
///   new node (as far as its capacity allows), then sheds as for `release`.
/// - [`remove_node`](Self::remove_node) re-places the removed node's keys only.
///
/// Keys are moved only when needed: a key pushed off its first-choice node earlier stays
/// where it is when room frees up later.
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::chash::BoundedLoad;
///
/// let mut lb = BoundedLoad::new();
/// for gw in ["gw-a", "gw-b", "gw-c"] {
///     lb.add_node(gw)?;
/// }
/// for user in 0..300u32 {
///     lb.assign(user)?;
/// }
/// // ⌈1.25 · 300 / 3⌉ = 125
/// assert!(lb.loads().all(|(_, load)| load <= 125));
/// let moved = lb.remove_node(&"gw-b")?;
/// assert!(moved.iter().all(|m| m.from == "gw-b"));
/// # Ok::<(), loopwire_loadbalance::Error>(())
/// ```
pub struct BoundedLoad<N, K> {
    ring: HashRing<N>,
    factor: f64,
    /// `factor` in millionths.
    factor_ppm: u64,
    total_weight: u64,
    /// Keys on each ring slot, indexed by slot.
    keys_on: Vec<Vec<K>>,
    placed: HashMap<K, Placement>,
}

impl<N: Hash + Eq + Clone, K: Hash + Eq + Clone> BoundedLoad<N, K> {
    /// The capacity factor `c` by default.
    pub const DEFAULT_CAPACITY_FACTOR: f64 = 1.25;

    /// The largest capacity factor accepted.
    pub const MAX_CAPACITY_FACTOR: f64 = 1000.0;

    /// An empty structure with the default ring and capacity factor 1.25.
    pub fn new() -> Self {
        Self {
            ring: HashRing::new(),
            factor: Self::DEFAULT_CAPACITY_FACTOR,
            factor_ppm: 1_250_000,
            total_weight: 0,
            keys_on: Vec::new(),
            placed: HashMap::new(),
        }
    }

    /// An empty structure with capacity factor `c`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCapacityFactor`] unless `1.0 <= c <= 1000.0`.
    pub fn with_capacity_factor(c: f64) -> Result<Self, Error> {
        Self::from_ring(HashRing::new(), c)
    }

    /// Bounded loads over an existing ring (its virtual-node count, nodes and weights), with
    /// capacity factor `c` and no keys yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCapacityFactor`] unless `1.0 <= c <= 1000.0`.
    pub fn from_ring(ring: HashRing<N>, c: f64) -> Result<Self, Error> {
        if !(1.0..=Self::MAX_CAPACITY_FACTOR).contains(&c) {
            return Err(Error::InvalidCapacityFactor(c.to_string()));
        }
        let total_weight = ring.nodes().map(|(_, w)| u64::from(w)).sum();
        let keys_on = (0..ring.slot_bound()).map(|_| Vec::new()).collect();
        Ok(Self {
            ring,
            factor: c,
            factor_ppm: (c * 1e6).round() as u64,
            total_weight,
            keys_on,
            placed: HashMap::new(),
        })
    }

    /// The capacity factor `c`.
    pub fn capacity_factor(&self) -> f64 {
        self.factor
    }

    /// The underlying ring.
    pub fn ring(&self) -> &HashRing<N> {
        &self.ring
    }

    /// The number of nodes.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The number of keys assigned.
    pub fn assigned(&self) -> usize {
        self.placed.len()
    }

    /// The node `key` is assigned to, if it is assigned.
    pub fn get(&self, key: &K) -> Option<&N> {
        self.placed.get(key).and_then(|p| self.node(p.slot))
    }

    /// How many keys `node` holds, or `None` if it is not present.
    pub fn load(&self, node: &N) -> Option<usize> {
        self.ring.slot_of(node).map(|s| self.load_of(s))
    }

    /// The most keys `node` may hold right now, `⌈c · m · w / W⌉`, or `None` if it is not
    /// present.
    pub fn capacity(&self, node: &N) -> Option<usize> {
        let slot = self.ring.slot_of(node)?;
        Some(self.capacity_of(slot, self.placed.len()))
    }

    /// Every node with the number of keys it holds, in no particular order.
    pub fn loads(&self) -> impl Iterator<Item = (&N, usize)> {
        (0..self.ring.slot_bound() as u32)
            .filter_map(|s| self.node(s).map(|n| (n, self.load_of(s))))
    }

    /// Adds `node` with weight 1; see [`add_weighted_node`](Self::add_weighted_node).
    ///
    /// # Errors
    ///
    /// As [`HashRing::add_weighted`].
    pub fn add_node(&mut self, node: N) -> Result<Vec<Moved<K, N>>, Error> {
        self.add_weighted_node(node, 1)
    }

    /// Adds `node` with `weight`. Keys whose ring position now falls on the new node move to
    /// it while it has room; then keys leave any node above its (now lower) bound. Returns the
    /// keys that moved. O(m log P) for m assigned keys.
    ///
    /// # Errors
    ///
    /// As [`HashRing::add_weighted`]; nothing changes on error.
    pub fn add_weighted_node(&mut self, node: N, weight: u32) -> Result<Vec<Moved<K, N>>, Error> {
        let new = self.ring.add_slot(node, weight)?;
        self.total_weight += u64::from(weight);
        if self.keys_on.len() < self.ring.slot_bound() {
            self.keys_on.resize_with(self.ring.slot_bound(), Vec::new);
        }
        let m = self.placed.len();
        let cap = self.capacity_of(new, m);
        let mut moves = Vec::new();
        for slot in 0..self.keys_on.len() as u32 {
            if slot == new {
                continue;
            }
            // Backwards, so `swap_remove` only moves keys already looked at.
            for pos in (0..self.keys_on[slot as usize].len()).rev() {
                if self.load_of(new) >= cap {
                    break;
                }
                let key = &self.keys_on[slot as usize][pos];
                let Some(hash) = self.placed.get(key).map(|p| p.hash) else {
                    continue;
                };
                if self.ring.owner_by_hash(hash) == Some(new) {
                    let key = self.remove_at(slot, pos);
                    self.place(key.clone(), new, hash);
                    self.record(&mut moves, key, slot, new);
                }
            }
        }
        self.shed(m, &mut moves);
        Ok(moves)
    }

    /// Removes `node` and re-places its keys (only those), each on the first node clockwise
    /// from the key with room. Returns the keys that moved.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownNode`] if `node` is not present; [`Error::WouldStrandKeys`] if it is
    /// the last node and keys are still assigned. Nothing changes on error.
    pub fn remove_node(&mut self, node: &N) -> Result<Vec<Moved<K, N>>, Error> {
        let slot = self.ring.slot_of(node).ok_or(Error::UnknownNode)?;
        if self.ring.len() == 1 && !self.placed.is_empty() {
            return Err(Error::WouldStrandKeys {
                keys: self.placed.len(),
            });
        }
        let keys = std::mem::take(&mut self.keys_on[slot as usize]);
        let removed = self.ring.remove_slot(slot).ok_or(Error::UnknownNode)?;
        self.total_weight -= u64::from(removed.weight);
        let m = self.placed.len();
        let mut moves = Vec::with_capacity(keys.len());
        for key in keys {
            let Some(hash) = self.placed.get(&key).map(|p| p.hash) else {
                continue;
            };
            let to = self.find_room(hash, m);
            self.place(key.clone(), to, hash);
            if let Some(to) = self.node(to) {
                moves.push(Moved {
                    key,
                    from: removed.node.clone(),
                    to: to.clone(),
                });
            }
        }
        Ok(moves)
    }

    /// Assigns `key` to the first node clockwise from its hash that is below its bound, and
    /// returns that node. A key that is already assigned stays where it is.
    ///
    /// # Errors
    ///
    /// [`Error::NoNodes`] if there are no nodes.
    pub fn assign(&mut self, key: K) -> Result<&N, Error> {
        if let Some(slot) = self.placed.get(&key).map(|p| p.slot) {
            return self.node(slot).ok_or(Error::NoNodes);
        }
        if self.ring.is_empty() {
            return Err(Error::NoNodes);
        }
        let hash = hash_key(&key);
        let slot = self.find_room(hash, self.placed.len() + 1);
        self.place(key, slot, hash);
        self.node(slot).ok_or(Error::NoNodes)
    }

    /// Releases `key`; keys leave any node that is now above its bound. Returns the keys that
    /// moved.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownKey`] if `key` is not assigned.
    pub fn release(&mut self, key: &K) -> Result<Vec<Moved<K, N>>, Error> {
        let p = self.placed.get(key).copied().ok_or(Error::UnknownKey)?;
        self.remove_at(p.slot, p.pos);
        self.placed.remove(key);
        let mut moves = Vec::new();
        self.shed(self.placed.len(), &mut moves);
        Ok(moves)
    }

    // ---- internals ----

    fn node(&self, slot: u32) -> Option<&N> {
        self.ring.slot(slot).map(|s| &s.node)
    }

    fn load_of(&self, slot: u32) -> usize {
        self.keys_on.get(slot as usize).map_or(0, Vec::len)
    }

    /// `⌈c · m · w / W⌉` in exact integer arithmetic.
    fn capacity_of(&self, slot: u32, m: usize) -> usize {
        let Some(weight) = self.ring.slot(slot).map(|s| s.weight) else {
            return 0;
        };
        if self.total_weight == 0 {
            return 0;
        }
        let num = u128::from(self.factor_ppm) * m as u128 * u128::from(weight);
        let den = 1_000_000 * u128::from(self.total_weight);
        usize::try_from(num.div_ceil(den)).unwrap_or(usize::MAX)
    }

    /// The first slot clockwise from `hash` below its bound for `m` keys.
    ///
    /// Such a slot exists whenever fewer than `m` keys are placed: the bounds add up to at
    /// least `c · m ≥ m`. The fallback (the key's ring owner) is never taken.
    fn find_room(&self, hash: u64, m: usize) -> u32 {
        let room = self
            .ring
            .walk(hash)
            .find(|&s| self.load_of(s) < self.capacity_of(s, m));
        debug_assert!(room.is_some(), "bounded load found no room");
        room.or_else(|| self.ring.owner_by_hash(hash)).unwrap_or(0)
    }

    fn place(&mut self, key: K, slot: u32, hash: u64) {
        let list = &mut self.keys_on[slot as usize];
        let pos = list.len();
        list.push(key.clone());
        self.placed.insert(key, Placement { slot, pos, hash });
    }

    /// Takes the key at `pos` out of `slot`'s list; its `placed` entry is left for the
    /// caller to overwrite or remove.
    fn remove_at(&mut self, slot: u32, pos: usize) -> K {
        let list = &mut self.keys_on[slot as usize];
        let key = list.swap_remove(pos);
        if let Some(moved) = list.get(pos)
            && let Some(p) = self.placed.get_mut(moved)
        {
            p.pos = pos;
        }
        key
    }

    /// Moves keys off every node above its bound for `m` keys.
    fn shed(&mut self, m: usize, moves: &mut Vec<Moved<K, N>>) {
        for slot in 0..self.keys_on.len() as u32 {
            while self.load_of(slot) > self.capacity_of(slot, m) {
                let last = self.load_of(slot) - 1;
                let key = self.remove_at(slot, last);
                let Some(hash) = self.placed.get(&key).map(|p| p.hash) else {
                    continue;
                };
                let to = self.find_room(hash, m);
                self.place(key.clone(), to, hash);
                self.record(moves, key, slot, to);
            }
        }
    }

    fn record(&self, moves: &mut Vec<Moved<K, N>>, key: K, from: u32, to: u32) {
        if let (Some(from), Some(to)) = (self.node(from), self.node(to)) {
            moves.push(Moved {
                key,
                from: from.clone(),
                to: to.clone(),
            });
        }
    }
}

impl<N: Hash + Eq + Clone, K: Hash + Eq + Clone> Default for BoundedLoad<N, K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<N: fmt::Debug, K> fmt::Debug for BoundedLoad<N, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedLoad")
            .field("capacity_factor", &self.factor)
            .field("assigned", &self.placed.len())
            .field("ring", &self.ring)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_nodes(n: u32, c: f64) -> BoundedLoad<u32, u64> {
        let mut b = BoundedLoad::with_capacity_factor(c).unwrap();
        for node in 0..n {
            assert!(b.add_node(node).unwrap().is_empty());
        }
        b
    }

    /// Every node within its bound, every key's placement consistent with the key lists.
    fn check(b: &BoundedLoad<u32, u64>) {
        let m = b.assigned();
        let n = b.len();
        let bound = (b.capacity_factor() * m as f64 / n.max(1) as f64).ceil() as usize;
        let total: usize = b.loads().map(|(_, l)| l).sum();
        assert_eq!(total, m);
        for (node, load) in b.loads() {
            assert!(load <= bound, "node {node} holds {load} > {bound}");
        }
        for (slot, keys) in b.keys_on.iter().enumerate() {
            for (pos, key) in keys.iter().enumerate() {
                let p = b.placed[key];
                assert_eq!((p.slot as usize, p.pos), (slot, pos));
            }
        }
    }

    #[test]
    fn bad_factors_are_rejected() {
        for c in [0.5, 0.999, f64::NAN, f64::INFINITY, 1000.5] {
            assert!(matches!(
                BoundedLoad::<u8, u8>::with_capacity_factor(c).unwrap_err(),
                Error::InvalidCapacityFactor(_)
            ));
        }
        assert!(BoundedLoad::<u8, u8>::with_capacity_factor(1.0).is_ok());
    }

    #[test]
    fn errors_for_missing_nodes_and_keys() {
        let mut b = BoundedLoad::<u32, u64>::new();
        assert_eq!(b.assign(1).unwrap_err(), Error::NoNodes);
        assert_eq!(b.release(&1).unwrap_err(), Error::UnknownKey);
        assert_eq!(b.remove_node(&1).unwrap_err(), Error::UnknownNode);
        b.add_node(1).unwrap();
        assert_eq!(b.add_node(1).unwrap_err(), Error::DuplicateNode);
        assert_eq!(b.add_weighted_node(2, 0).unwrap_err(), Error::ZeroWeight);
        b.assign(5).unwrap();
        assert_eq!(
            b.remove_node(&1).unwrap_err(),
            Error::WouldStrandKeys { keys: 1 }
        );
        b.release(&5).unwrap();
        assert!(b.remove_node(&1).unwrap().is_empty());
        assert!(b.is_empty());
    }

    #[test]
    fn assign_is_idempotent() {
        let mut b = with_nodes(3, 1.25);
        let first = *b.assign(42).unwrap();
        assert_eq!(*b.assign(42).unwrap(), first);
        assert_eq!(b.assigned(), 1);
        assert_eq!(b.get(&42), Some(&first));
    }

    #[test]
    fn loads_stay_bounded_as_keys_come_and_go() {
        let mut b = with_nodes(5, 1.1);
        for k in 0..500 {
            b.assign(k).unwrap();
            check(&b);
        }
        for k in (0..500).step_by(3) {
            b.release(&k).unwrap();
            check(&b);
        }
        assert_eq!(b.get(&3), None);
    }

    #[test]
    fn keys_go_to_their_ring_node_while_it_has_room() {
        let mut b = BoundedLoad::<u32, u64>::with_capacity_factor(1000.0).unwrap();
        let mut ring = HashRing::new();
        for node in 0..7 {
            b.add_node(node).unwrap();
            ring.add(node).unwrap();
        }
        for k in 0..500 {
            assert_eq!(b.assign(k).unwrap(), ring.get(&k).unwrap(), "key {k}");
        }
    }

    #[test]
    fn capacity_factor_one_fills_exactly() {
        let mut b = with_nodes(4, 1.0);
        for k in 0..400 {
            b.assign(k).unwrap();
        }
        assert!(b.loads().all(|(_, l)| l == 100));
        assert_eq!(b.capacity(&0), Some(100));
    }

    #[test]
    fn release_reports_the_keys_it_moves() {
        let mut b = with_nodes(4, 1.0);
        for k in 0..8 {
            b.assign(k).unwrap();
        }
        let moved = b.release(&0).unwrap();
        check(&b);
        for m in &moved {
            assert_ne!(m.from, m.to);
            assert_eq!(b.get(&m.key), Some(&m.to));
        }
    }

    #[test]
    fn node_changes_keep_the_bound_and_report_moves() {
        let mut b = with_nodes(4, 1.25);
        for k in 0..1000 {
            b.assign(k).unwrap();
        }
        let before: Vec<Option<u32>> = (0..1000).map(|k| b.get(&k).copied()).collect();
        let moved = b.add_node(9).unwrap();
        check(&b);
        assert!(!moved.is_empty());
        let after: Vec<Option<u32>> = (0..1000).map(|k| b.get(&k).copied()).collect();
        let changed = before.iter().zip(&after).filter(|(x, y)| x != y).count();
        assert_eq!(changed, moved.len());
        assert!(b.load(&9).is_some_and(|l| l > 0));

        let on_two = b.load(&2).unwrap();
        let moved = b.remove_node(&2).unwrap();
        check(&b);
        assert_eq!(moved.len(), on_two);
        assert!(moved.iter().all(|m| m.from == 2 && m.to != 2));
    }

    #[test]
    fn weights_scale_capacity() {
        let mut b = BoundedLoad::<&str, u64>::with_capacity_factor(1.0).unwrap();
        b.add_weighted_node("big", 3).unwrap();
        b.add_node("small").unwrap();
        for k in 0..400 {
            b.assign(k).unwrap();
        }
        assert_eq!(b.capacity(&"big"), Some(300));
        assert_eq!(b.capacity(&"small"), Some(100));
        assert_eq!((b.load(&"big"), b.load(&"small")), (Some(300), Some(100)));
    }

    #[test]
    fn from_ring_keeps_the_rings_nodes() {
        let mut ring = HashRing::with_vnodes(16).unwrap();
        ring.add("a").unwrap();
        ring.add("b").unwrap();
        let mut b = BoundedLoad::<&str, u32>::from_ring(ring, 2.0).unwrap();
        assert_eq!(b.len(), 2);
        b.assign(1).unwrap();
        assert_eq!(b.capacity(&"a"), Some(1));
    }
}

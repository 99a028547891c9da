//! General consistent hashing: map keys (user ids, session ids) to nodes (servers, gateway
//! instances) so that a change in the node set moves few keys.
//!
//! | structure | lookup | balance | on node removal | use it for |
//! |---|---|---|---|---|
//! | [`HashRing`] | O(1) expected: bucket index, then a short search | max/mean ≈ 1 + 2.5/√vnodes | exactly the removed node's keys move | the classic; replica walks; cheap single-node changes |
//! | [`Maglev`] | O(1), one table read | slots differ by ≤ 1 per node | the removed node's keys plus a few more | fastest lookups, near-perfect balance |
//! | [`BoundedLoad`] | O(1) for assigned keys | no node above ⌈c · mean⌉ | the removed node's keys | tracked keys (sessions, users) that must not overload a node |
//!
//! Nodes can be any `N: Hash + Eq + Clone`; each has a weight (≥ 1) that scales its share.
//! Placement uses the crate's [fixed hash](crate::hash), so every process that knows the same
//! nodes maps a key to the same node, and results do not depend on the order nodes were added.
//!
//! Keys are hashed through their [`Hash`](std::hash::Hash) impl by `get`; for keys that must
//! map identically across compiler versions too, hash their bytes with
//! [`hash_bytes`](crate::hash::hash_bytes) and call `get_by_hash`.

mod bounded;
mod maglev;
mod ring;

pub use bounded::{BoundedLoad, Moved};
pub use maglev::Maglev;
pub use ring::HashRing;

/// A node's own hash, from which its ring points or Maglev permutation derive.
#[inline]
fn node_hash<N: std::hash::Hash + ?Sized>(node: &N) -> u64 {
    crate::hash::hash_key(node)
}

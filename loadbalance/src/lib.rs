//! Load balancers for picking an event loop (or backend) per connection, and a general
//! consistent-hash library for mapping keys to nodes.
//!
//! Part of [loopwire](https://example.invalid/loopwire), usable on its own.
//!
//! # Accept-time balancers
//!
//! A [`Balancer`] picks a target index in `0..n` for each new connection from its
//! [`ConnInfo`] and hears about opens and closes. Pick one by name with [`LoadBalance`] and
//! build it into an [`AnyBalancer`] (static dispatch), or use a type directly:
//!
//! | policy | type | picks |
//! |---|---|---|
//! | `round-robin` (default) | [`RoundRobin`] | `0, 1, …, n−1, 0, …` |
//! | `random` | [`Random`] | uniformly at random |
//! | `least-conn` | [`LeastConnections`] | a target with the fewest open connections |
//! | `source-hash` | [`SourceHash`] | a fixed hash of the peer address mod `n` |
//! | `consistent-hash` | [`ConsistentHash`] | Maglev over the targets, keyed by peer address |
//!
//! The hashing balancers fall back to round-robin for connections without a peer address
//! (Unix-domain sockets).
//!
//! # Consistent hashing
//!
//! [`chash`] maps keys of any hashable type to nodes of any type, with weights and
//! add/remove: [`HashRing`](chash::HashRing) (virtual nodes),
//! [`Maglev`](chash::Maglev) (lookup table), and [`BoundedLoad`](chash::BoundedLoad)
//! (no node above ⌈c · mean⌉ keys).
//!
//! # Determinism
//!
//! Every hash is the crate's fixed SipHash-1-3 ([`hash`]), never `RandomState`: the same
//! nodes and key give the same answer in every process, on every platform.
//!
//! # Examples
//!
//! ```
//! use loopwire_loadbalance::chash::HashRing;
//! use loopwire_loadbalance::{Balancer, ConnInfo, LoadBalance};
//!
//! // Spread connections over 4 event loops.
//! let balancer = LoadBalance::LeastConnections.build(4)?;
//! let conn = ConnInfo::from_peer("203.0.113.5:52000".parse().expect("valid address"));
//! let lp = balancer.pick(&conn);
//! balancer.on_open(lp);
//! // ... and when the connection closes:
//! balancer.on_close(lp);
//!
//! // Route users to gateway instances.
//! let mut gateways = HashRing::new();
//! gateways.add("gw-1.internal:9000")?;
//! gateways.add("gw-2.internal:9000")?;
//! let home = gateways.get(&"user:1001");
//! assert!(home.is_some());
//! # Ok::<(), loopwire_loadbalance::Error>(())
//! ```

#![forbid(unsafe_code)]

mod balancer;
mod balancers;
pub mod chash;
mod conn;
mod error;
pub mod hash;
mod policy;
mod sync;

pub use balancer::Balancer;
pub use balancers::{ConsistentHash, LeastConnections, Random, RoundRobin, SourceHash, SourceKey};
pub use conn::ConnInfo;
pub use error::Error;
pub use policy::{AnyBalancer, LoadBalance};

/// Compiles and runs the README's examples as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

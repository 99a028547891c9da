//! The accept-time balancers: one file each, all implementing [`Balancer`](crate::Balancer)
//! for a fixed number of targets.

mod consistent;
mod least_conn;
mod random;
mod round_robin;
mod source_hash;

pub use consistent::ConsistentHash;
pub use least_conn::LeastConnections;
pub use random::Random;
pub use round_robin::RoundRobin;
pub use source_hash::{SourceHash, SourceKey};

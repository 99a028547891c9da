//! The crate's one error type.

/// Everything that can go wrong when building a balancer or changing a consistent-hash
/// structure. Lookups never fail: an empty structure answers `None`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A balancer was asked for zero targets; there is nothing to pick from.
    #[error("a load balancer needs at least one target")]
    NoTargets,
    /// The name given to [`LoadBalance::from_str`](crate::LoadBalance) is none of
    /// `round-robin`, `random`, `least-conn`, `source-hash`, `consistent-hash`.
    #[error(
        "unknown load-balancing policy {name:?} (expected round-robin, random, least-conn, \
         source-hash or consistent-hash)"
    )]
    UnknownPolicy {
        /// The name that was given.
        name: String,
    },
    /// The node is already in the structure; remove it first to change its weight.
    #[error("node is already present")]
    DuplicateNode,
    /// The node to remove (or look up) is not in the structure.
    #[error("node is not present")]
    UnknownNode,
    /// Weights must be at least 1: a node that should take no keys is simply not added.
    #[error("node weight must be at least 1")]
    ZeroWeight,
    /// The weight asks for more virtual nodes than one node may own
    /// ([`HashRing::MAX_POINTS_PER_NODE`](crate::chash::HashRing::MAX_POINTS_PER_NODE)).
    #[error("weight {weight} with {vnodes} virtual nodes per unit exceeds {max} ring points")]
    WeightTooLarge {
        /// The weight asked for.
        weight: u32,
        /// Virtual nodes per unit of weight.
        vnodes: u32,
        /// The most points one node may own.
        max: u64,
    },
    /// Adding the node would put more than `max` points on the ring.
    #[error("a ring holds at most {max} points")]
    TooManyPoints {
        /// The most points a ring may hold.
        max: u64,
    },
    /// A ring needs at least one virtual node per unit of weight.
    #[error("virtual nodes per unit of weight must be at least 1")]
    ZeroVirtualNodes,
    /// A Maglev table size must be prime, so that every node's probe sequence visits every
    /// slot.
    #[error("Maglev table size {0} is not prime")]
    TableSizeNotPrime(usize),
    /// A Maglev table size above
    /// [`Maglev::MAX_TABLE_SIZE`](crate::chash::Maglev::MAX_TABLE_SIZE).
    #[error("Maglev table size {size} exceeds the maximum {max}")]
    TableSizeTooLarge {
        /// The size asked for.
        size: usize,
        /// The largest size accepted.
        max: usize,
    },
    /// A Maglev table must have at least as many slots as nodes (and should have about 100
    /// times as many for good balance).
    #[error("Maglev table of {size} slots cannot hold {nodes} nodes")]
    TableTooSmall {
        /// The table size.
        size: usize,
        /// The node count that did not fit.
        nodes: usize,
    },
    /// A bounded-load capacity factor must be a finite number of at least 1.0.
    #[error("capacity factor must be finite and at least 1.0, got {0}")]
    InvalidCapacityFactor(String),
    /// A key cannot be assigned because the structure has no nodes.
    #[error("no nodes to assign keys to")]
    NoNodes,
    /// The key to release was never assigned (or was already released).
    #[error("key is not assigned")]
    UnknownKey,
    /// Removing the last node would leave assigned keys with nowhere to go; release them
    /// first.
    #[error("removing the last node would strand {keys} assigned keys")]
    WouldStrandKeys {
        /// How many keys are still assigned.
        keys: usize,
    },
}

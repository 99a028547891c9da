//! Choosing a balancer by name or enum: [`LoadBalance`] and the statically dispatched
//! [`AnyBalancer`] it builds.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::{
    Balancer, ConnInfo, ConsistentHash, Error, LeastConnections, Random, RoundRobin, SourceHash,
};

/// Which balancer to use: the option an engine takes, and a factory for [`AnyBalancer`].
///
/// Parses from (and displays as) `round-robin`, `random`, `least-conn`, `source-hash`,
/// `consistent-hash`; `Custom` displays as `custom` and cannot be parsed.
///
/// # Examples
///
/// ```
/// use loopwire_loadbalance::{Balancer, ConnInfo, LoadBalance};
///
/// let policy: LoadBalance = "least-conn".parse()?;
/// assert_eq!(policy, LoadBalance::LeastConnections);
/// let balancer = policy.build(4)?;
/// let target = balancer.pick(&ConnInfo::default());
/// assert!(target < 4);
/// # Ok::<(), loopwire_loadbalance::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum LoadBalance {
    /// [`RoundRobin`]; the default.
    #[default]
    RoundRobin,
    /// [`Random`], seeded per process.
    Random,
    /// [`LeastConnections`].
    LeastConnections,
    /// [`SourceHash`] over IP and port.
    SourceHash,
    /// [`ConsistentHash`] (Maglev) over IP and port.
    ConsistentHash,
    /// A balancer of your own. It must have been built for the same target count; picks at or
    /// beyond it are wrapped modulo the count by [`AnyBalancer`].
    Custom(Arc<dyn Balancer>),
}

impl LoadBalance {
    /// Builds the balancer for `targets` targets.
    ///
    /// # Errors
    ///
    /// [`Error::NoTargets`] if `targets` is 0; [`Error::TableTooSmall`] for a consistent
    /// hash over more than 65 537 targets.
    pub fn build(&self, targets: usize) -> Result<AnyBalancer, Error> {
        if targets == 0 {
            return Err(Error::NoTargets);
        }
        let kind = match self {
            Self::RoundRobin => Kind::RoundRobin(RoundRobin::new(targets)?),
            Self::Random => Kind::Random(Random::new(targets)?),
            Self::LeastConnections => Kind::LeastConnections(LeastConnections::new(targets)?),
            Self::SourceHash => Kind::SourceHash(SourceHash::new(targets)?),
            Self::ConsistentHash => Kind::ConsistentHash(ConsistentHash::new(targets)?),
            Self::Custom(b) => Kind::Custom(Arc::clone(b)),
        };
        Ok(AnyBalancer { kind, targets })
    }

    /// The policy's name, as parsed and displayed.
    pub fn name(&self) -> &'static str {
        match self {
            Self::RoundRobin => "round-robin",
            Self::Random => "random",
            Self::LeastConnections => "least-conn",
            Self::SourceHash => "source-hash",
            Self::ConsistentHash => "consistent-hash",
            Self::Custom(_) => "custom",
        }
    }
}

/// Equal policies; two `Custom` policies are equal when they share the same balancer.
impl PartialEq for LoadBalance {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Custom(a), Self::Custom(b)) => Arc::ptr_eq(a, b),
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

impl fmt::Display for LoadBalance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for LoadBalance {
    type Err = Error;

    /// # Errors
    ///
    /// [`Error::UnknownPolicy`] for any other name.
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "round-robin" => Self::RoundRobin,
            "random" => Self::Random,
            "least-conn" => Self::LeastConnections,
            "source-hash" => Self::SourceHash,
            "consistent-hash" => Self::ConsistentHash,
            _ => return Err(Error::UnknownPolicy { name: s.to_owned() }),
        })
    }
}

/// A built balancer of any [`LoadBalance`] kind, dispatched with a `match` rather than a
/// virtual call (only `Custom` goes through `dyn`).
///
/// [`pick`](Balancer::pick) always answers below [`targets`](Self::targets), even for a
/// `Custom` balancer that does not (its answer is wrapped modulo the count), so a caller
/// can index its targets with the result.
#[derive(Debug)]
pub struct AnyBalancer {
    kind: Kind,
    targets: usize,
}

#[derive(Debug)]
enum Kind {
    RoundRobin(RoundRobin),
    Random(Random),
    LeastConnections(LeastConnections),
    SourceHash(SourceHash),
    ConsistentHash(ConsistentHash),
    Custom(Arc<dyn Balancer>),
}

impl AnyBalancer {
    /// The number of targets it was built for.
    pub fn targets(&self) -> usize {
        self.targets
    }
}

impl Balancer for AnyBalancer {
    #[inline]
    fn pick(&self, conn: &ConnInfo) -> usize {
        match &self.kind {
            Kind::RoundRobin(b) => b.pick(conn),
            Kind::Random(b) => b.pick(conn),
            Kind::LeastConnections(b) => b.pick(conn),
            Kind::SourceHash(b) => b.pick(conn),
            Kind::ConsistentHash(b) => b.pick(conn),
            Kind::Custom(b) => {
                let target = b.pick(conn);
                if target < self.targets {
                    target
                } else {
                    target % self.targets
                }
            }
        }
    }

    #[inline]
    fn on_open(&self, target: usize) {
        match &self.kind {
            Kind::LeastConnections(b) => b.on_open(target),
            Kind::Custom(b) => b.on_open(target),
            _ => {}
        }
    }

    #[inline]
    fn on_close(&self, target: usize) {
        match &self.kind {
            Kind::LeastConnections(b) => b.on_close(target),
            Kind::Custom(b) => b.on_close(target),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const ALL: [LoadBalance; 5] = [
        LoadBalance::RoundRobin,
        LoadBalance::Random,
        LoadBalance::LeastConnections,
        LoadBalance::SourceHash,
        LoadBalance::ConsistentHash,
    ];

    #[test]
    fn names_round_trip() {
        for policy in ALL {
            assert_eq!(policy.to_string().parse::<LoadBalance>(), Ok(policy));
        }
        assert_eq!(LoadBalance::default(), LoadBalance::RoundRobin);
    }

    #[test]
    fn unknown_names_are_errors() {
        for name in ["", "Round-Robin", "least-connections ", "custom", "maglev"] {
            assert_eq!(
                name.parse::<LoadBalance>(),
                Err(Error::UnknownPolicy { name: name.into() })
            );
        }
    }

    #[test]
    fn every_policy_builds_and_picks_in_range() {
        let conns = [
            ConnInfo::default(),
            ConnInfo::from_peer(([127, 0, 0, 1], 9).into()),
        ];
        for policy in ALL {
            assert_eq!(policy.build(0).unwrap_err(), Error::NoTargets);
            let b = policy.build(3).unwrap();
            assert_eq!(b.targets(), 3);
            for conn in &conns {
                for _ in 0..10 {
                    let t = b.pick(conn);
                    assert!(t < 3, "{policy}: {t}");
                    b.on_open(t);
                    b.on_close(t);
                }
            }
        }
    }

    #[derive(Debug, Default)]
    struct Wild {
        opened: AtomicUsize,
    }

    impl Balancer for Wild {
        fn pick(&self, _conn: &ConnInfo) -> usize {
            7
        }
        fn on_open(&self, _target: usize) {
            self.opened.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn custom_picks_are_wrapped_and_events_forwarded() {
        let wild = Arc::new(Wild::default());
        let policy = LoadBalance::Custom(wild.clone());
        assert_eq!(policy.to_string(), "custom");
        assert_eq!(policy, policy.clone());
        assert_ne!(policy, LoadBalance::Custom(Arc::new(Wild::default())));
        let b = policy.build(3).unwrap();
        assert_eq!(b.pick(&ConnInfo::default()), 1);
        b.on_open(1);
        b.on_close(1);
        assert_eq!(wild.opened.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn least_conn_counts_through_any_balancer() {
        let b = LoadBalance::LeastConnections.build(2).unwrap();
        b.on_open(0);
        assert_eq!(b.pick(&ConnInfo::default()), 1);
    }
}

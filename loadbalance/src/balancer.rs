//! The [`Balancer`] trait: the contract between a load balancer and whoever accepts
//! connections.

use std::fmt::Debug;

use crate::ConnInfo;

/// Picks a target (an event loop, a backend) for each new connection.
///
/// A balancer is built for a fixed number of targets `n` and answers indices in `0..n`.
/// It is shared: the acceptor thread calls [`pick`](Self::pick) and
/// [`on_open`](Self::on_open) while the loops that own connections call
/// [`on_close`](Self::on_close), so every method takes `&self` and implementations use atomics
/// for whatever state they keep.
///
/// The expected call sequence per connection is `pick` → `on_open(target)` as soon as the
/// connection is handed to that target → `on_close(target)` when it closes. `pick` itself
/// changes no connection counts, so an accept burst between `pick` and `on_open` sees the same
/// counts each time; stateful balancers spread such bursts themselves.
///
/// # Examples
///
/// A custom balancer that sends everything to target 0:
///
/// ```
/// use loopwire_loadbalance::{Balancer, ConnInfo};
///
/// #[derive(Debug)]
/// struct First;
///
/// impl Balancer for First {
///     fn pick(&self, _conn: &ConnInfo) -> usize {
///         0
///     }
/// }
///
/// assert_eq!(First.pick(&ConnInfo::default()), 0);
/// ```
pub trait Balancer: Send + Sync + Debug {
    /// Chooses the target for a new connection. Returns an index below the target count the
    /// balancer was built for.
    fn pick(&self, conn: &ConnInfo) -> usize;

    /// A connection was opened on `target`. The default does nothing.
    fn on_open(&self, target: usize) {
        let _ = target;
    }

    /// A connection on `target` was closed. The default does nothing.
    fn on_close(&self, target: usize) {
        let _ = target;
    }
}

//! [`Dispatcher`]: the ordered gateway addresses a user should try, from the nodes alive in
//! Redis (their heartbeat keys), so that a user lands on the same node after a blip and a
//! node joining or leaving moves few users.
//!
//! - **First**: the node [`Maglev`] (loopwire-loadbalance) maps the user to among all live
//!   nodes. **Second**: the node Maglev maps the user to among the others (a table per
//!   left-out node, rebuilt only when the node set changes): where the user goes if the
//!   first one fails, and what Maglev itself would pick once it is gone, so a client that
//!   falls back lands where everyone will agree. **Then** the rest, by rendezvous hash of
//!   (user, node): deterministic, stable under changes.
//! - **Bounded load**: a node whose reported sessions reach ⌈c · mean⌉ (c =
//!   [`BoundedLoad::DEFAULT_CAPACITY_FACTOR`], 1.25, as loopwire-loadbalance's bounded-load
//!   hash) is moved to the end of the list, order kept. Loads come from the heartbeats, so
//!   they lag by one refresh interval. The bounded-load structure itself tracks every key it
//!   placed; a dispatcher that answers stateless lookups for millions of users applies the
//!   same capacity rule to the loads the nodes report instead.

use std::collections::HashMap;

use loopwire_loadbalance::chash::{BoundedLoad, Maglev};
use loopwire_loadbalance::hash::hash_bytes;

/// A live node as its heartbeat says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The node id.
    pub id: String,
    /// The gateway address clients connect to.
    pub addr: String,
    /// Sessions it holds.
    pub sessions: u64,
}

/// Maps users to an ordered list of gateways; see the [module docs](self).
#[derive(Default)]
pub struct Dispatcher {
    nodes: Vec<NodeInfo>,
    all: Option<Maglev<String>>,
    without: HashMap<String, Maglev<String>>,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("nodes", &self.nodes)
            .finish_non_exhaustive()
    }
}

fn table(ids: impl Iterator<Item = String>) -> Option<Maglev<String>> {
    let mut m = Maglev::with_table_size(4099).ok()?;
    m.try_extend(ids.map(|id| (id, 1))).ok()?;
    (!m.is_empty()).then_some(m)
}

impl Dispatcher {
    /// Sets the live nodes; rebuilds the tables only when the set of ids changed.
    pub fn update(&mut self, mut nodes: Vec<NodeInfo>) {
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        let same = nodes.len() == self.nodes.len()
            && nodes.iter().zip(&self.nodes).all(|(a, b)| a.id == b.id);
        if !same {
            self.all = table(nodes.iter().map(|n| n.id.clone()));
            self.without = nodes
                .iter()
                .filter_map(|left| {
                    let t = table(
                        nodes
                            .iter()
                            .filter(|n| n.id != left.id)
                            .map(|n| n.id.clone()),
                    )?;
                    Some((left.id.clone(), t))
                })
                .collect();
        }
        self.nodes = nodes;
    }

    /// The live nodes, by id.
    pub fn nodes(&self) -> &[NodeInfo] {
        &self.nodes
    }

    /// The gateway addresses for `user`, best first (empty when no node is alive).
    pub fn order(&self, user: &str) -> Vec<String> {
        let Some(all) = &self.all else {
            return Vec::new();
        };
        let mut ids: Vec<&str> = Vec::with_capacity(self.nodes.len());
        if let Some(first) = all.get(user) {
            ids.push(first);
            if let Some(second) = self.without.get(first).and_then(|t| t.get(user)) {
                ids.push(second);
            }
        }
        let mut rest: Vec<&NodeInfo> = self
            .nodes
            .iter()
            .filter(|n| !ids.contains(&n.id.as_str()))
            .collect();
        rest.sort_by_key(|n| hash_bytes(format!("{user}\u{0}{}", n.id).as_bytes()));
        ids.extend(rest.iter().map(|n| n.id.as_str()));
        let total: u64 = self.nodes.iter().map(|n| n.sessions).sum();
        let c = BoundedLoad::<String, String>::DEFAULT_CAPACITY_FACTOR;
        let cap = (c * total as f64 / self.nodes.len() as f64).ceil() as u64;
        let by_id: HashMap<&str, &NodeInfo> =
            self.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
        let (ok, full): (Vec<&NodeInfo>, Vec<&NodeInfo>) = ids
            .iter()
            .filter_map(|id| by_id.get(id).copied())
            .partition(|n| total == 0 || n.sessions < cap.max(1));
        ok.into_iter().chain(full).map(|n| n.addr.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(ids: &[&str]) -> Vec<NodeInfo> {
        ids.iter()
            .map(|id| NodeInfo {
                id: id.to_string(),
                addr: format!("{id}:7000"),
                sessions: 0,
            })
            .collect()
    }

    #[test]
    fn orders_are_stable_and_a_leaving_node_moves_only_its_users() {
        let mut d = Dispatcher::default();
        d.update(nodes(&["a", "b", "c", "d"]));
        let users: Vec<String> = (0..2000).map(|i| format!("user-{i}")).collect();
        let before: Vec<Vec<String>> = users.iter().map(|u| d.order(u)).collect();
        // Same set in another order: same answers; every list names every node once.
        d.update(nodes(&["d", "c", "b", "a"]));
        for (u, b) in users.iter().zip(&before) {
            assert_eq!(&d.order(u), b);
            let mut s = b.clone();
            s.sort();
            assert_eq!(s, ["a:7000", "b:7000", "c:7000", "d:7000"]);
        }
        d.update(nodes(&["a", "b", "d"]));
        let mut moved = 0;
        for (u, b) in users.iter().zip(&before) {
            let now = d.order(u);
            if b[0] == "c:7000" {
                // Its users go where their list said second.
                assert_eq!(now[0], b[1]);
            } else if now[0] != b[0] {
                moved += 1;
            }
        }
        // Maglev moves a few keys besides the removed node's: well under 5 % here.
        assert!(
            moved * 20 < users.len(),
            "{moved} users of other nodes moved"
        );
    }

    #[test]
    fn an_overloaded_node_goes_last() {
        let mut d = Dispatcher::default();
        let mut n = nodes(&["a", "b"]);
        d.update(n.clone());
        let u = "someone";
        let first = d.order(u)[0].clone();
        for node in &mut n {
            node.sessions = if node.addr == first { 100 } else { 10 };
        }
        d.update(n);
        assert_ne!(d.order(u)[0], first);
        assert_eq!(d.order(u)[1], first);
        assert!(Dispatcher::default().order(u).is_empty());
    }
}

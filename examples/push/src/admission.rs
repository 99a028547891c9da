//! [`Admission`]: who may connect. Networks first (a [`Config::deny`](super::Config::deny)
//! match refuses, deny winning over allow; a non-empty [`Config::allow`](super::Config::allow)
//! admits only its networks), then at most
//! [`Config::max_conns_per_ip`](super::Config::max_conns_per_ip) open connections per peer
//! IP. A refused connection is closed in `on_open`, before it is read, and counted; one over
//! the per-IP limit is first told why (ERROR 16, or HTTP 429 on the WebSocket listener), a
//! network refusal is not.
//!
//! The counts are kept per IP address (IPv4-mapped IPv6 addresses count as their IPv4
//! address) in 16 mutex-guarded maps chosen by the address's hash: one short lock at
//! accept and one at close, never on the traffic path. An address leaves its map when its
//! last connection closes, so the maps hold only addresses with open connections.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::sync::Mutex;

use ipnet::IpNet;

/// Shards of the per-IP counts.
const SHARDS: usize = 16;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The peer's address is in a denied network, or in none of the allowed ones.
    #[error("peer address not allowed")]
    Network,
    /// The peer's address already has the most connections allowed.
    #[error("too many connections from this address")]
    TooMany,
}

/// Network lists and per-IP connection counts (see the module docs).
#[derive(Debug)]
pub struct Admission {
    allow: Vec<IpNet>,
    deny: Vec<IpNet>,
    /// 0: no limit (and nothing counted).
    max_per_ip: usize,
    hasher: RandomState,
    counts: [Mutex<HashMap<IpAddr, usize>>; SHARDS],
}

impl Admission {
    /// Admission by these lists and this limit (0: none).
    pub fn new(allow: Vec<IpNet>, deny: Vec<IpNet>, max_per_ip: usize) -> Self {
        Self {
            allow,
            deny,
            max_per_ip,
            hasher: RandomState::new(),
            counts: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }

    /// Whether `ip` passes the network lists: not denied, and allowed (an empty allow list
    /// allows every address).
    pub fn network_allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        if self.deny.iter().any(|n| n.contains(&ip)) {
            return false;
        }
        self.allow.is_empty() || self.allow.iter().any(|n| n.contains(&ip))
    }

    /// Admits a connection from `ip` and counts it; [`release`](Self::release) it when it
    /// closes (only if admitted).
    ///
    /// # Errors
    /// [`Refusal`] when it may not connect (nothing is counted then).
    pub fn admit(&self, ip: IpAddr) -> Result<(), Refusal> {
        if !self.network_allows(ip) {
            return Err(Refusal::Network);
        }
        if self.max_per_ip == 0 {
            return Ok(());
        }
        let ip = ip.to_canonical();
        let mut counts = self.shard(ip);
        let n = counts.entry(ip).or_insert(0);
        if *n >= self.max_per_ip {
            return Err(Refusal::TooMany);
        }
        *n += 1;
        Ok(())
    }

    /// Forgets one admitted connection from `ip`.
    pub fn release(&self, ip: IpAddr) {
        if self.max_per_ip == 0 {
            return;
        }
        let ip = ip.to_canonical();
        let mut counts = self.shard(ip);
        if let Some(n) = counts.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.remove(&ip);
            }
        }
    }

    /// Open connections counted for `ip` (0 without a limit).
    pub fn count(&self, ip: IpAddr) -> usize {
        let ip = ip.to_canonical();
        self.shard(ip).get(&ip).copied().unwrap_or(0)
    }

    fn shard(&self, ip: IpAddr) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        let i = (self.hasher.hash_one(ip) as usize) % SHARDS;
        // A poisoned shard only means a panic elsewhere while it was held; the counts in
        // it are still whole numbers.
        self.counts[i]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Parses a network: CIDR (`10.0.0.0/8`, `2001:db8::/32`) or a single address (`/32`,
/// `/128`). Host bits are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
///
/// # Errors
/// The text when it is neither.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<IpNet>() {
        return Ok(n.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| format!("{s:?} is not a network (CIDR such as 10.0.0.0/8) or an address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| parse_net(s).unwrap()).collect()
    }

    #[test]
    fn deny_wins_and_an_empty_allow_list_allows_all() {
        let a = Admission::new(vec![], nets(&["10.0.0.0/8", "2001:db8::/32"]), 0);
        assert!(a.network_allows(ip("11.0.0.1")));
        assert!(!a.network_allows(ip("10.9.9.9")));
        assert!(!a.network_allows(ip("2001:db8::1")));
        assert!(!a.network_allows(ip("::ffff:10.0.0.1")), "IPv4-mapped");
        assert!(a.network_allows(ip("::1")));
        let a = Admission::new(nets(&["10.0.0.0/8", "::1"]), nets(&["10.0.0.7"]), 0);
        assert!(a.network_allows(ip("10.0.0.6")));
        assert!(!a.network_allows(ip("10.0.0.7")));
        assert!(!a.network_allows(ip("192.168.0.1")));
        assert!(a.network_allows(ip("::1")));
        assert!(!a.network_allows(ip("::2")));
    }

    #[test]
    fn counts_per_ip_up_to_the_limit_and_back() {
        let a = Admission::new(vec![], vec![], 2);
        let (x, y) = (ip("127.0.0.2"), ip("::ffff:127.0.0.2"));
        assert_eq!(a.admit(x), Ok(()));
        assert_eq!(a.admit(y), Ok(()));
        assert_eq!(a.admit(x), Err(Refusal::TooMany));
        assert_eq!(a.admit(ip("127.0.0.3")), Ok(()));
        a.release(x);
        assert_eq!(a.count(x), 1);
        assert_eq!(a.admit(x), Ok(()));
        for _ in 0..3 {
            a.release(x);
        }
        assert_eq!(a.count(x), 0);
        assert_eq!(Admission::new(vec![], vec![], 0).admit(x), Ok(()));
    }

    #[test]
    fn networks_parse() {
        assert_eq!(parse_net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_net("::1").unwrap().to_string(), "::1/128");
        assert_eq!(parse_net("1.2.3.4").unwrap().to_string(), "1.2.3.4/32");
        assert!(parse_net("10.0.0.0/33").is_err());
        assert!(parse_net("nope").is_err());
    }
}

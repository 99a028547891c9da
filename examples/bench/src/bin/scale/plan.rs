//! How a run of N sessions is laid out: gateways, load processes and source addresses, each
//! under its limit (the machine's 20 000 open files per process; ~28 000 ephemeral ports per
//! source address).

use std::net::Ipv4Addr;

/// Sessions one gateway holds on average at most, also after one gateway was killed and its
/// users moved to the others. Kept well under 16 000 (the file limit is 20 000): the moved
/// users do not spread evenly (30 000 sessions on 3 gateways, one killed: its 9 900 users
/// went 6 400 / 3 600 to the other two, which then held 16 533 and 13 504).
pub(crate) const PER_GATEWAY: usize = 13_000;
/// Sessions one load process holds at most (same limit).
pub(crate) const PER_WORKER: usize = 15_000;
/// Sessions bound to one source address at most: a third of its ~28 000 ephemeral ports
/// stays free for the reconnects (closed ports wait in TIME_WAIT for 60 s).
pub(crate) const PER_SOURCE: usize = 10_000;
/// First source address: 127.0.0.2 (127.0.0.1 stays for the API and Redis).
const FIRST_SOURCE: u32 = 0x7f00_0002;

/// One load process: users `first .. first + count`, bound to `sources` in turn.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub(crate) first: usize,
    pub(crate) count: usize,
    pub(crate) sources: (Ipv4Addr, Ipv4Addr),
}

/// The layout of one run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) sessions: usize,
    pub(crate) gateways: usize,
    pub(crate) loads: Vec<Load>,
}

impl Plan {
    /// The layout for `sessions`: `gateways` (at least 2) or enough that the others hold
    /// everyone once one is killed.
    pub(crate) fn new(sessions: usize, gateways: Option<usize>) -> Result<Self, String> {
        if sessions == 0 {
            return Err("--sessions must be at least 1".into());
        }
        let need = sessions.div_ceil(PER_GATEWAY) + 1;
        let gateways = match gateways {
            Some(g) if g < need => {
                return Err(format!(
                    "{g} gateways cannot hold {sessions} sessions after one is killed \
                     ({PER_GATEWAY} each at most): at least {need}"
                ));
            }
            Some(g) => g,
            None => need.max(2),
        };
        let workers = sessions.div_ceil(PER_WORKER);
        let mut loads = Vec::with_capacity(workers);
        let mut next = FIRST_SOURCE;
        for w in 0..workers {
            let first = w * (sessions / workers) + w.min(sessions % workers);
            let count = sessions / workers + usize::from(w < sessions % workers);
            let n = count.div_ceil(PER_SOURCE) as u32;
            let last = next + n - 1;
            if last > 0x7fff_fffe {
                return Err("more source addresses than 127.0.0.0/8 has".into());
            }
            loads.push(Load {
                first,
                count,
                sources: (Ipv4Addr::from(next), Ipv4Addr::from(last)),
            });
            next = last + 1;
        }
        Ok(Self {
            sessions,
            gateways,
            loads,
        })
    }

    /// Source addresses in all.
    pub(crate) fn source_count(&self) -> usize {
        self.loads
            .iter()
            .map(|l| (u32::from(l.sources.1) - u32::from(l.sources.0) + 1) as usize)
            .sum()
    }

    /// One line for the output.
    pub(crate) fn describe(&self) -> String {
        let first = self.loads.first().map(|l| l.sources.0);
        let last = self.loads.last().map(|l| l.sources.1);
        let max_load = self.loads.iter().map(|l| l.count).max().unwrap_or(0);
        format!(
            "{} sessions: {} gateways (~{} each, ~{} after one is killed), {} load processes \
             (<= {max_load} each), {} source addresses {}..{} (<= {PER_SOURCE} each)",
            self.sessions,
            self.gateways,
            self.sessions.div_ceil(self.gateways),
            self.sessions.div_ceil(self.gateways - 1),
            self.loads.len(),
            self.source_count(),
            first.map_or(String::new(), |a| a.to_string()),
            last.map_or(String::new(), |a| a.to_string()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_sessions_fit_the_limits() {
        let p = Plan::new(1_000_000, None).unwrap();
        assert_eq!(p.gateways, 78);
        assert!(1_000_000usize.div_ceil(p.gateways - 1) <= PER_GATEWAY);
        assert_eq!(p.loads.len(), 67);
        assert_eq!(p.loads.iter().map(|l| l.count).sum::<usize>(), 1_000_000);
        assert!(p.loads.iter().all(|l| l.count <= PER_WORKER));
        assert_eq!(p.source_count(), 134);
        assert_eq!(p.loads[0].sources.0, Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(p.loads[66].sources.1, Ipv4Addr::new(127, 0, 0, 135));
        for w in p.loads.windows(2) {
            assert_eq!(w[0].first + w[0].count, w[1].first);
        }
    }

    #[test]
    fn the_default_run_and_too_few_gateways() {
        let p = Plan::new(100_000, None).unwrap();
        assert_eq!((p.gateways, p.loads.len(), p.source_count()), (9, 7, 14));
        assert!(Plan::new(100_000, Some(8)).is_err());
        assert_eq!(Plan::new(5_000, None).unwrap().gateways, 2);
    }
}

//! The interleaved rounds: within a round every server of a load is started in turn, measured
//! on every case of the load (e.g. pipeline 1 and 16), and stopped; the servers' order is
//! reversed every other round, so drift in the machine's load falls on all of them alike.
//! Each measurement's server CPU time (from `/proc`) is divided by the operations it served.

use crate::Error;
use crate::parse::ToolReport;
use crate::procfs::{self, CpuTicks};
use crate::server::{Server, Spec};

/// One measured run of one server on one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Median latency, µs (when the tool gave one).
    pub p50_us: Option<f64>,
    /// 99th-percentile latency, µs (when the tool gave one).
    pub p99_us: Option<f64>,
    /// Server user CPU time per operation, ns.
    pub cpu_user_ns: f64,
    /// Server system CPU time per operation, ns.
    pub cpu_sys_ns: f64,
}

impl Sample {
    /// A sample from a tool's `report` and the server's CPU ticks before and after it
    /// (`hz` ticks a second).
    pub fn new(report: &ToolReport, before: CpuTicks, after: CpuTicks, hz: f64) -> Self {
        let per_op = |ticks: u64| ticks as f64 / hz * 1e9 / report.ops.max(1.0);
        Self {
            ops_per_sec: report.ops_per_sec,
            p50_us: report.p50_us,
            p99_us: report.p99_us,
            cpu_user_ns: per_op(after.user.saturating_sub(before.user)),
            cpu_sys_ns: per_op(after.sys.saturating_sub(before.sys)),
        }
    }
}

/// Every sample of a run, by case and server, in the order first seen.
#[derive(Debug, Default)]
pub struct Samples {
    /// `(case, server, samples)`.
    pub rows: Vec<(String, String, Vec<Sample>)>,
}

impl Samples {
    /// Adds `s` for `server` on `case`.
    pub fn add(&mut self, case: &str, server: &str, s: Sample) {
        match self
            .rows
            .iter_mut()
            .find(|(c, n, _)| c == case && n == server)
        {
            Some((_, _, v)) => v.push(s),
            None => self
                .rows
                .push((case.to_owned(), server.to_owned(), vec![s])),
        }
    }
}

/// A load's plan: its servers, its cases (the table's label of each), how to warm a server up
/// and how to measure one case.
pub struct Plan<'a, C> {
    /// The load's name in progress lines.
    pub load: &'a str,
    /// The servers, the reference (loopwire) first.
    pub servers: Vec<Spec>,
    /// `(label, case)`; the label names the row group in the table (`echo -P 16`).
    pub cases: Vec<(String, C)>,
    /// Unmeasured load run once after each start (errors ignored).
    pub warm_up: &'a dyn Fn(&Server),
    /// Measures one case against a running server.
    pub measure: &'a dyn Fn(&Server, &C) -> Result<ToolReport, Error>,
}

impl<C> std::fmt::Debug for Plan<'_, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("load", &self.load)
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

/// Runs `plan` for `rounds` rounds into `samples`, with a progress line per measurement on
/// stderr. A server that fails to start, or a case whose tool reports nothing, is an error.
///
/// # Errors
/// The first failure, naming the server and the case.
pub fn run<C>(plan: &Plan<'_, C>, rounds: usize, samples: &mut Samples) -> Result<(), Error> {
    let hz = procfs::ticks_per_sec();
    for round in 1..=rounds {
        let mut order: Vec<&Spec> = plan.servers.iter().collect();
        if round % 2 == 0 {
            order.reverse();
        }
        for spec in order {
            let server = Server::start(spec)?;
            (plan.warm_up)(&server);
            for (label, case) in &plan.cases {
                let ctx = |e: Error| Error::msg(format!("{label}, {}: {e}", spec.name));
                let before =
                    procfs::cpu_ticks(server.pid()).map_err(|e| ctx(Error::io("cpu", e)))?;
                let report = (plan.measure)(&server, case).map_err(ctx)?;
                let after =
                    procfs::cpu_ticks(server.pid()).map_err(|e| ctx(Error::io("cpu", e)))?;
                let s = Sample::new(&report, before, after, hz);
                eprintln!(
                    "[{} round {round}/{rounds}] {label} {}: {:.0} ops/s, p50 {} µs, CPU {:.0} ns/op",
                    plan.load,
                    spec.name,
                    s.ops_per_sec,
                    s.p50_us.map_or("n/a".to_owned(), |v| format!("{v:.0}")),
                    s.cpu_user_ns + s.cpu_sys_ns
                );
                samples.add(label, &spec.name, s);
            }
            server.stop();
        }
    }
    Ok(())
}

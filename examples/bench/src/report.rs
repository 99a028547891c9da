//! Medians across rounds, ratios to the reference server of each case (the first one, always a
//! loopwire build) and the Markdown tables.

use std::fmt::Write;

use crate::rounds::{Sample, Samples};

/// One row of the table: a server on a case, medians of its rounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The case (`echo -P 1`, `http -P 16`, `resp SET -P 1`, ...).
    pub case: String,
    /// The server.
    pub server: String,
    /// Rounds measured.
    pub rounds: usize,
    /// Median operations per second.
    pub ops_per_sec: f64,
    /// This server's ops/s ÷ the reference's.
    pub ratio: f64,
    /// Median p50 latency, µs (over the rounds that had one).
    pub p50_us: Option<f64>,
    /// Median p99 latency, µs.
    pub p99_us: Option<f64>,
    /// Median server CPU per operation, user, ns.
    pub cpu_user_ns: f64,
    /// Median server CPU per operation, system, ns.
    pub cpu_sys_ns: f64,
    /// Median total server CPU per operation, ns.
    pub cpu_ns: f64,
    /// This server's CPU per operation ÷ the reference's.
    pub cpu_ratio: f64,
}

/// The median of `v` (the mean of the middle two for an even count); `None` when empty.
pub fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The rows of `samples`: medians, and ratios to each case's first server.
pub fn rows(samples: &Samples) -> Vec<Row> {
    let med =
        |v: &[Sample], f: fn(&Sample) -> Option<f64>| median(v.iter().filter_map(f).collect());
    let mut out: Vec<Row> = Vec::new();
    for (case, server, v) in &samples.rows {
        let ops = med(v, |s| Some(s.ops_per_sec)).unwrap_or(0.0);
        let cpu = med(v, |s| Some(s.cpu_user_ns + s.cpu_sys_ns)).unwrap_or(0.0);
        let reference = out.iter().find(|r| &r.case == case);
        let ratio = |a: f64, b: Option<f64>| match b {
            Some(b) if b > 0.0 => a / b,
            Some(_) => 0.0,
            None => 1.0,
        };
        out.push(Row {
            case: case.clone(),
            server: server.clone(),
            rounds: v.len(),
            ops_per_sec: ops,
            ratio: ratio(ops, reference.map(|r| r.ops_per_sec)),
            p50_us: med(v, |s| s.p50_us),
            p99_us: med(v, |s| s.p99_us),
            cpu_user_ns: med(v, |s| Some(s.cpu_user_ns)).unwrap_or(0.0),
            cpu_sys_ns: med(v, |s| Some(s.cpu_sys_ns)).unwrap_or(0.0),
            cpu_ns: cpu,
            cpu_ratio: ratio(cpu, reference.map(|r| r.cpu_ns)),
        });
    }
    // Group by case, cases and servers in the order first seen (the sort is stable).
    let cases: Vec<String> = samples.rows.iter().map(|(c, _, _)| c.clone()).collect();
    out.sort_by_key(|r| cases.iter().position(|c| *c == r.case));
    out
}

/// `v` rounded, with a thin space between thousands (`1 575 376`).
fn grouped(v: f64) -> String {
    let s = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The Markdown table of `rows`.
pub fn table(rows: &[Row]) -> String {
    let mut t = String::from(
        "| load | server | ops/s | ÷ loopwire | p50 µs | p99 µs | server CPU ns/op (user + sys) | CPU ÷ loopwire |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    let lat = |v: Option<f64>| v.map_or("n/a".to_owned(), grouped);
    for r in rows {
        // Writing to a String cannot fail.
        let _ = writeln!(
            t,
            "| {} | {} | {} | {:.2} | {} | {} | {} ({} + {}) | {:.2} |",
            r.case,
            r.server,
            grouped(r.ops_per_sec),
            r.ratio,
            lat(r.p50_us),
            lat(r.p99_us),
            grouped(r.cpu_ns),
            grouped(r.cpu_user_ns),
            grouped(r.cpu_sys_ns),
            r.cpu_ratio
        );
    }
    t
}

/// The Markdown table of idle memory: `(server, bytes per idle connection)`.
pub fn idle_table(rows: &[(String, f64)]) -> String {
    let mut t = String::from("| server | bytes per idle connection |\n|---|---:|\n");
    for (server, bytes) in rows {
        let _ = writeln!(t, "| {server} | {} |", grouped(*bytes));
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ops: f64, cpu: f64) -> Sample {
        Sample {
            ops_per_sec: ops,
            p50_us: Some(10.0),
            p99_us: None,
            cpu_user_ns: cpu / 2.0,
            cpu_sys_ns: cpu / 2.0,
        }
    }

    #[test]
    fn medians_and_ratios() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        let mut samples = Samples::default();
        for (ops, cpu) in [(100.0, 10.0), (300.0, 30.0), (200.0, 20.0)] {
            samples.add("echo -P 1", "loopwire", s(ops, cpu));
            samples.add("echo -P 1", "tokio", s(ops / 2.0, cpu * 2.0));
        }
        let rows = rows(&samples);
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].ops_per_sec, rows[0].ratio), (200.0, 1.0));
        assert_eq!((rows[1].ops_per_sec, rows[1].ratio), (100.0, 0.5));
        assert_eq!(rows[1].cpu_ratio, 2.0);
        let t = table(&rows);
        assert!(
            t.contains("| echo -P 1 | tokio | 100 | 0.50 | 10 | n/a | 40 (20 + 20) | 2.00 |"),
            "{t}"
        );
        assert_eq!(grouped(1575376.4), "1 575 376");
    }
}

//! Parsers for what the load tools print: `wrk --latency` reports, `redis-benchmark --csv`
//! (and `-q`) output, and `loadgen`'s one result line. Each turns text into a [`ToolReport`]
//! record or says what was missing; none panics on any input. Their unit tests use outputs
//! recorded from the tools (`parse/tests.rs`).

/// What one measured run of a load tool reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToolReport {
    /// Operations (requests, messages) per second.
    pub ops_per_sec: f64,
    /// Operations completed in the run (for CPU per operation).
    pub ops: f64,
    /// Median latency in µs, when the tool gave one (wrk's pipelined percentiles can read 0).
    pub p50_us: Option<f64>,
    /// 99th-percentile latency in µs, when the tool gave one.
    pub p99_us: Option<f64>,
}

/// A latency as wrk prints it (`676.00us`, `1.43ms`, `2.01s`), in µs.
fn wrk_duration_us(s: &str) -> Option<f64> {
    let (num, scale) = if let Some(v) = s.strip_suffix("us") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e6)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>().ok().map(|v| v * scale)
}

/// A positive latency, or `None` (wrk prints `0.00us` for percentiles it did not measure,
/// wg/wrk#236).
fn positive(v: Option<f64>) -> Option<f64> {
    v.filter(|&v| v > 0.0)
}

/// Parses a `wrk --latency` report: `Requests/sec:`, `N requests in`, and the `50%` / `99%`
/// lines of the latency distribution. `None` if the rate or the count is missing.
pub fn wrk(report: &str) -> Option<ToolReport> {
    let (mut rps, mut n, mut p50, mut p99) = (None, None, None, None);
    for line in report.lines() {
        let mut words = line.split_whitespace();
        let (Some(a), Some(b)) = (words.next(), words.next()) else {
            continue;
        };
        match (a, b) {
            ("Requests/sec:", v) => rps = v.parse::<f64>().ok(),
            ("50%", v) => p50 = positive(wrk_duration_us(v)),
            ("99%", v) => p99 = positive(wrk_duration_us(v)),
            (v, "requests") if words.next() == Some("in") => n = v.parse::<f64>().ok(),
            _ => {}
        }
    }
    Some(ToolReport {
        ops_per_sec: rps?,
        ops: n?,
        p50_us: p50,
        p99_us: p99,
    })
}

/// The unquoted fields of one CSV line (redis-benchmark quotes every field, no commas inside).
fn csv_fields(line: &str) -> Vec<&str> {
    line.split(',')
        .map(|f| f.trim().trim_matches('"'))
        .collect()
}

/// Parses `redis-benchmark --csv` output: the row of test `test` (e.g. `SET`, matched
/// case-insensitively; an `LRANGE_100` run's `LPUSH` fill row is skipped). Redis 7's columns
/// are `test, rps, avg, min, p50, p95, p99, max` (latencies in ms); `requests` is the `-n`
/// the run was given.
pub fn redis_csv(out: &str, test: &str, requests: u64) -> Option<ToolReport> {
    let mut header: Option<Vec<&str>> = None;
    for line in out.lines() {
        let fields = csv_fields(line);
        if fields.first() == Some(&"test") {
            header = Some(fields);
            continue;
        }
        if !fields.first().is_some_and(|t| t.eq_ignore_ascii_case(test)) {
            continue;
        }
        let col = |name: &str| -> Option<f64> {
            let i = match &header {
                Some(h) => h.iter().position(|c| *c == name)?,
                // Older redis-benchmark prints no header: just test, rps.
                None if name == "rps" => 1,
                None => return None,
            };
            fields.get(i)?.parse::<f64>().ok()
        };
        let ms = |name: &str| positive(col(name).map(|v| v * 1e3));
        return Some(ToolReport {
            ops_per_sec: col("rps")?,
            // Requests are whole numbers well within f64's exact range.
            ops: requests as f64,
            p50_us: ms("p50_latency_ms"),
            p99_us: ms("p99_latency_ms"),
        });
    }
    None
}

/// Parses `redis-benchmark -q` output (`SET: 14492.75 requests per second, p50=0.063 msec`,
/// progress lines ending in `\r` before it) for test `test`: the rate and the p50.
pub fn redis_quiet(out: &str, test: &str, requests: u64) -> Option<ToolReport> {
    let line = out.split(['\r', '\n']).map(str::trim).find(|l| {
        l.contains("requests per second")
            && l.split(':')
                .next()
                .is_some_and(|t| t.eq_ignore_ascii_case(test))
    })?;
    let rest = line.split_once(':')?.1.trim();
    let rps = rest.split_whitespace().next()?.parse::<f64>().ok()?;
    let p50 = rest
        .split_once("p50=")
        .and_then(|(_, v)| v.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|ms| ms * 1e3);
    Some(ToolReport {
        ops_per_sec: rps,
        ops: requests as f64,
        p50_us: positive(p50),
        p99_us: None,
    })
}

/// Parses `loadgen`'s result line (`msgs_per_sec=N bytes_per_sec=N p50_us=N p99_us=N
/// p999_us=N errors=N`); `secs` is the measured duration it ran for. `None` without a rate,
/// or when it counted errors.
pub fn loadgen(line: &str, secs: f64) -> Option<ToolReport> {
    let field = |name: &str| -> Option<f64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse::<f64>().ok())
    };
    if field("errors").is_some_and(|e| e > 0.0) {
        return None;
    }
    let rate = field("msgs_per_sec")?;
    Some(ToolReport {
        ops_per_sec: rate,
        ops: rate * secs,
        p50_us: positive(field("p50_us")),
        p99_us: positive(field("p99_us")),
    })
}

#[cfg(test)]
mod tests;

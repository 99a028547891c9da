//! The API's own counters ([`ApiMetrics`]), the gateway's as the backend reports them
//! ([`Metric`]), and both rendered for `/metrics` (Prometheus' text exposition format 0.0.4)
//! and `/v1/stats` (JSON).
//!
//! The API's metrics, all prefixed `push_api_`:
//!
//! | name | type | what |
//! |---|---|---|
//! | `push_api_connections` | gauge | open API connections |
//! | `push_api_connections_total` | counter | API connections accepted |
//! | `push_api_requests_total{endpoint,code}` | counter | responses, by endpoint and status |
//! | `push_api_requests_partial` | gauge | requests being received (head or body incomplete) |
//! | `push_api_backend_pending` | gauge | requests waiting for a backend's late reply |
//!
//! `endpoint` is one of `health`, `metrics`, `stats`, `push_user`, `push_users`,
//! `push_room`, `push_all`, `kick`, `online`, `room_count`, or `none` (a request refused
//! before it was routed: malformed, unauthorized, unknown path, timed out).
//!
//! The gateway's metrics follow, as named by the backend; a name that is not a valid
//! Prometheus name (`[a-zA-Z_:][a-zA-Z0-9_:]*`) is left out.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, PoisonError};

/// Whether a [`Metric`] only grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only grows (Prometheus convention: the name ends in `_total`).
    Counter,
    /// Goes up and down.
    Gauge,
}

/// One of the gateway's numbers, as [`Backend::stats`](super::Backend::stats) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metric {
    /// The Prometheus name (`push_sessions`, `push_published_total`, ...).
    pub name: String,
    /// One line saying what it counts.
    pub help: String,
    /// Counter or gauge.
    pub kind: MetricKind,
    /// The value now.
    pub value: u64,
}

impl Metric {
    /// A counter.
    pub fn counter(name: impl Into<String>, help: impl Into<String>, value: u64) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            kind: MetricKind::Counter,
            value,
        }
    }

    /// A gauge.
    pub fn gauge(name: impl Into<String>, help: impl Into<String>, value: u64) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            kind: MetricKind::Gauge,
            value,
        }
    }
}

/// The API's counters, shared by every loop and every [`Reply`](super::Reply).
#[derive(Debug, Default)]
pub struct ApiMetrics {
    connections: AtomicU64,
    connections_total: AtomicU64,
    partial: AtomicU64,
    pending: AtomicU64,
    /// Responses by (endpoint, status). A mutex: the API serves backends, not the world.
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
}

/// A copy of [`ApiMetrics`] at one moment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiStats {
    /// Open API connections.
    pub connections: u64,
    /// API connections accepted.
    pub connections_total: u64,
    /// Requests being received (head or body incomplete).
    pub requests_partial: u64,
    /// Requests waiting for a backend's late reply.
    pub backend_pending: u64,
    /// Responses by (endpoint, status).
    pub requests: BTreeMap<(&'static str, u16), u64>,
}

impl ApiStats {
    /// Responses to `endpoint` with `status`.
    pub fn count(&self, endpoint: &str, status: u16) -> u64 {
        self.requests
            .iter()
            .filter(|((e, s), _)| *e == endpoint && *s == status)
            .map(|(_, n)| n)
            .sum()
    }

    /// Every response.
    pub fn requests_total(&self) -> u64 {
        self.requests.values().sum()
    }
}

impl ApiMetrics {
    pub(crate) fn opened(&self) {
        self.connections.fetch_add(1, Relaxed);
        self.connections_total.fetch_add(1, Relaxed);
    }

    pub(crate) fn closed(&self) {
        self.connections.fetch_sub(1, Relaxed);
    }

    /// A request started arriving (`true`) or no longer is (`false`).
    pub(crate) fn partial(&self, up: bool) {
        if up {
            self.partial.fetch_add(1, Relaxed);
        } else {
            self.partial.fetch_sub(1, Relaxed);
        }
    }

    /// A request started waiting for a late reply (`true`) or no longer is (`false`).
    pub(crate) fn pending(&self, up: bool) {
        if up {
            self.pending.fetch_add(1, Relaxed);
        } else {
            self.pending.fetch_sub(1, Relaxed);
        }
    }

    /// Counts a response.
    pub(crate) fn answered(&self, endpoint: &'static str, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        *m.entry((endpoint, status)).or_default() += 1;
    }

    /// The counters now.
    pub fn snapshot(&self) -> ApiStats {
        ApiStats {
            connections: self.connections.load(Relaxed),
            connections_total: self.connections_total.load(Relaxed),
            requests_partial: self.partial.load(Relaxed),
            backend_pending: self.pending.load(Relaxed),
            requests: self
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        }
    }
}

/// Whether `name` is a valid Prometheus metric name.
fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// `help` as a HELP line's text: backslashes and line feeds escaped.
fn escape_help(help: &str) -> String {
    help.replace('\\', "\\\\").replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, help: &str, kind: MetricKind) {
    let kind = match kind {
        MetricKind::Counter => "counter",
        MetricKind::Gauge => "gauge",
    };
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The API's metrics, then the gateway's, in Prometheus' text format.
pub(crate) fn prometheus(api: &ApiStats, gateway: &[Metric]) -> String {
    use MetricKind::{Counter, Gauge};
    let mut out = String::with_capacity(2048);
    let simple = [
        (
            "push_api_connections",
            "Open API connections.",
            Gauge,
            api.connections,
        ),
        (
            "push_api_connections_total",
            "API connections accepted.",
            Counter,
            api.connections_total,
        ),
        (
            "push_api_requests_partial",
            "API requests being received (head or body incomplete).",
            Gauge,
            api.requests_partial,
        ),
        (
            "push_api_backend_pending",
            "API requests waiting for a late backend reply.",
            Gauge,
            api.backend_pending,
        ),
    ];
    for (name, help, kind, value) in simple {
        family(&mut out, name, help, kind);
        let _ = writeln!(out, "{name} {value}");
    }
    let name = "push_api_requests_total";
    family(
        &mut out,
        name,
        "API responses, by endpoint and status code.",
        Counter,
    );
    for ((endpoint, code), n) in &api.requests {
        // Endpoints are this module's constants: no label escaping needed.
        let _ = writeln!(out, "{name}{{endpoint=\"{endpoint}\",code=\"{code}\"}} {n}");
    }
    for m in gateway.iter().filter(|m| valid_name(&m.name)) {
        family(&mut out, &m.name, &m.help, m.kind);
        let _ = writeln!(out, "{} {}", m.name, m.value);
    }
    out
}

/// The API's metrics and the gateway's as one JSON object:
/// `{"api": {...}, "gateway": {"name": value, ...}}`.
pub(crate) fn stats_json(api: &ApiStats, gateway: &[Metric]) -> serde_json::Value {
    let mut requests = serde_json::Map::new();
    for ((endpoint, code), n) in &api.requests {
        let by_code = requests
            .entry(endpoint.to_string())
            .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
        if let Some(by_code) = by_code.as_object_mut() {
            by_code.insert(code.to_string(), (*n).into());
        }
    }
    let gateway: serde_json::Map<String, serde_json::Value> = gateway
        .iter()
        .map(|m| (m.name.clone(), m.value.into()))
        .collect();
    serde_json::json!({
        "api": {
            "connections": api.connections,
            "connections_total": api.connections_total,
            "requests_partial": api.requests_partial,
            "backend_pending": api.backend_pending,
            "requests": requests,
        },
        "gateway": gateway,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_help_escaped() {
        assert!(valid_name("push_sessions") && valid_name(":a_1") && valid_name("_x"));
        assert!(!valid_name("") && !valid_name("1a") && !valid_name("a-b") && !valid_name("é"));
        assert_eq!(escape_help("a\\b\nc"), "a\\\\b\\nc");
    }

    #[test]
    fn renders_families_and_samples() {
        let m = ApiMetrics::default();
        m.opened();
        m.answered("health", 200);
        m.answered("health", 200);
        m.answered("none", 401);
        let text = prometheus(
            &m.snapshot(),
            &[
                Metric::gauge("push_sessions", "Sessions\nopen.", 7),
                Metric::counter("bad name", "skipped", 1),
            ],
        );
        assert!(text.contains("push_api_connections 1\n"));
        assert!(text.contains("push_api_requests_total{endpoint=\"health\",code=\"200\"} 2\n"));
        assert!(text.contains("# HELP push_sessions Sessions\\nopen.\n"));
        assert!(text.contains("# TYPE push_sessions gauge\npush_sessions 7\n"));
        assert!(!text.contains("bad name"));
        let json = stats_json(&m.snapshot(), &[Metric::gauge("push_sessions", "", 7)]);
        assert_eq!(json["api"]["requests"]["health"]["200"], 2);
        assert_eq!(json["gateway"]["push_sessions"], 7);
    }
}

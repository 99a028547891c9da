//! [`Config`]: the gateway's limits and timings, with the defaults of a phone gateway, the
//! session policy, and the clocks they run on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use ipnet::IpNet;
use loopwire::Clock;
use loopwire::codec::CodecError;
use loopwire::rustls::ServerConfig;

/// How many sessions one user may have at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// One: a new login KICKs the user's existing session (code 1, "replaced") and is served.
    Single,
    /// Up to `max` (at least 1): a login beyond it KICKs the user's oldest session.
    Multi {
        /// Most sessions per user.
        max: usize,
    },
}

impl Policy {
    /// Most sessions per user.
    pub fn max(self) -> usize {
        match self {
            Self::Single => 1,
            Self::Multi { max } => max.max(1),
        }
    }
}

/// The gateway's knobs. Every per-session quantity is bounded by one of them.
#[derive(Debug, Clone)]
pub struct Config {
    /// The heartbeat interval of a client that asks for none (AUTH with 0). Default 30 s.
    pub heartbeat: Duration,
    /// The shortest heartbeat interval a client may ask for (shorter requests are raised
    /// to it). Default 5 s.
    pub min_heartbeat: Duration,
    /// The longest (longer requests are lowered to it). Default 10 min.
    pub max_heartbeat: Duration,
    /// An unacknowledged message is sent again when the client is next heard from at least
    /// this long after it was last sent. `None` (the default): the session's negotiated
    /// heartbeat interval.
    pub retransmit_after: Option<Duration>,
    /// How long a new connection has to send its AUTH. Default 10 s.
    pub auth_timeout: Duration,
    /// Sessions per user.
    pub policy: Policy,
    /// Most QoS1 messages a session may have sent and not yet acknowledged; 1 to 65 535.
    /// Default 64.
    pub window: usize,
    /// Most QoS0 messages waiting in a session's mailbox (its peer not reading). A QoS0
    /// push that finds it full is dropped for that session and counted. Default 256.
    pub mailbox: usize,
    /// Longest frame, length field included, either way; longer ones close the connection.
    /// Default 16 KiB.
    pub max_frame: usize,
    /// Longest room name (at most 255). Default 64.
    pub max_name: usize,
    /// Most rooms one session may be in. Default 16.
    pub max_rooms: usize,
    /// Most distinct users a QoS1 push to a room or to everyone stores messages for; a push
    /// reaching more is refused (use QoS0 for such audiences). Default 100 000.
    pub max_fanout_users: usize,
    /// Most expired messages the store purges per tick of the engine's ticker. Default 10 000.
    pub purge_budget: usize,
    /// Time between two purges. Default 1 s.
    pub purge_every: Duration,
    /// Seconds since the Unix epoch when the engine's clock read 0: token times (`exp`,
    /// `nbf`) are checked at `unix_epoch_offset_secs + Conn::now()`. Default: the wall
    /// clock when the `Config` was made (the binary sets it right before starting the
    /// engine); tests set a fixed value and so run token expiry on the test clock.
    pub unix_epoch_offset_secs: u64,
    /// The WebSocket listener: browsers connect here and speak the same protocol, one frame
    /// per binary message (`PROTOCOL.md`, "WebSocket"). [`Gateway::configure`](super::Gateway::configure)
    /// adds it to the engine as its last address. `None` (default): no WebSocket.
    pub ws_addr: Option<SocketAddr>,
    /// `Origin`s allowed to open a WebSocket (ASCII case-insensitive, e.g.
    /// `https://app.example.com`); a request without `Origin` (not from a browser) is allowed.
    /// Empty (default): any origin.
    pub ws_origins: Vec<String>,
    /// Most open connections per peer IP address (IPv4-mapped IPv6 counting as IPv4); a
    /// connection beyond it is told so at once, before it is read (ERROR 16; HTTP 429 on the
    /// WebSocket listener), closed and counted (`refused_ip_limit`). 0 (default): no limit.
    pub max_conns_per_ip: usize,
    /// If not empty, only peers in these networks may connect (others are closed at once
    /// and counted in `refused_network`). Default: empty, every address.
    pub allow: Vec<IpNet>,
    /// Peers in these networks may not connect, even if [`allow`](Self::allow)ed. Default:
    /// empty.
    pub deny: Vec<IpNet>,
    /// Capacity of the upstream queue (UP frames, online / offline events) between the loops
    /// and the sink's workers; an event that finds it full is dropped and counted. Default
    /// 10 000.
    pub upstream_queue: usize,
    /// UP frames per second a session may send on average; 0: no limit. Default 10.
    pub up_rate: u32,
    /// UP frames a session may send at once before the rate applies (at least 1). Default 20.
    pub up_burst: u32,
    /// The clock the engine, and so every timing above, runs on (set on the engine by
    /// [`Gateway::configure`](super::Gateway::configure)). Default: the system's monotonic
    /// clock. Tests give a [`TestClock`](loopwire::TestClock) and move it by hand.
    pub clock: Clock,
    /// TLS for every listener of the gateway's engine (the TCP listener, and the WebSocket
    /// listener, which becomes `wss`); see [`tls`](super::tls). `None` (default): plain TCP.
    pub tls: Option<Arc<ServerConfig>>,
}

/// The wall clock now, in seconds since the Unix epoch (0 if it is set before 1970).
pub fn unix_now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A [`Config`] the gateway cannot run with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_frame` is too small for any frame.
    #[error("max_frame: {0}")]
    Codec(#[from] CodecError),
    /// A setting is out of its range; the text says which.
    #[error("invalid gateway configuration: {0}")]
    Invalid(&'static str),
}

impl Config {
    /// The defaults, with this default heartbeat interval (the bounds widened to include it).
    pub fn with_heartbeat(heartbeat: Duration) -> Self {
        let d = Self::default();
        Self {
            heartbeat,
            min_heartbeat: d.min_heartbeat.min(heartbeat),
            max_heartbeat: d.max_heartbeat.max(heartbeat),
            ..d
        }
    }

    /// The heartbeat a client asking for `requested_ms` gets: the default for 0, otherwise
    /// clamped to [`min_heartbeat`](Self::min_heartbeat)..=[`max_heartbeat`](Self::max_heartbeat).
    pub fn negotiate(&self, requested_ms: u32) -> Duration {
        if requested_ms == 0 {
            return self.heartbeat;
        }
        Duration::from_millis(u64::from(requested_ms)).clamp(self.min_heartbeat, self.max_heartbeat)
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first setting out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |what| Err(ConfigError::Invalid(what));
        let max_ms = Duration::from_millis(u64::from(u32::MAX));
        if self.min_heartbeat.as_millis() == 0 || self.min_heartbeat > self.max_heartbeat {
            return bad("min_heartbeat must be at least 1 ms and at most max_heartbeat");
        }
        if self.max_heartbeat > max_ms {
            return bad("max_heartbeat must fit WELCOME's u32 milliseconds");
        }
        if self.heartbeat < self.min_heartbeat || self.heartbeat > self.max_heartbeat {
            return bad("heartbeat must be within min_heartbeat..=max_heartbeat");
        }
        if self.auth_timeout.as_millis() == 0 {
            return bad("auth_timeout must be at least 1 ms");
        }
        if self.window == 0 || self.window > usize::from(u16::MAX) {
            return bad("window must be 1 to 65535");
        }
        if self.max_name == 0 || self.max_name > 255 {
            return bad("max_name must be 1 to 255");
        }
        if matches!(self.policy, Policy::Multi { max: 0 }) {
            return bad("policy multi needs a maximum of at least 1 session");
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            heartbeat: Duration::from_secs(30),
            min_heartbeat: Duration::from_secs(5),
            max_heartbeat: Duration::from_secs(600),
            retransmit_after: None,
            auth_timeout: Duration::from_secs(10),
            policy: Policy::Multi { max: 4 },
            window: 64,
            mailbox: 256,
            max_frame: 16 * 1024,
            max_name: 64,
            max_rooms: 16,
            max_fanout_users: 100_000,
            purge_budget: 10_000,
            purge_every: Duration::from_secs(1),
            unix_epoch_offset_secs: unix_now_secs(),
            ws_addr: None,
            ws_origins: Vec::new(),
            max_conns_per_ip: 0,
            allow: Vec::new(),
            deny: Vec::new(),
            upstream_queue: 10_000,
            up_rate: 10,
            up_burst: 20,
            clock: Clock::system(),
            tls: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeats_are_negotiated_within_the_bounds() {
        let c = Config::default();
        assert_eq!(c.negotiate(0), c.heartbeat);
        assert_eq!(c.negotiate(1), c.min_heartbeat);
        assert_eq!(c.negotiate(u32::MAX), c.max_heartbeat);
        assert_eq!(c.negotiate(45_000), Duration::from_secs(45));
        assert_eq!(c.validate(), Ok(()));
        let bad = Config {
            window: 0,
            ..Config::default()
        };
        assert!(bad.validate().is_err());
    }
}

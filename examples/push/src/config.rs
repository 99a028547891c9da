//! [`Config`]: the gateway's limits and timings, with the defaults of a phone gateway, and
//! the clock they run on.

use std::time::Duration;

use loopwire::Clock;

/// The gateway's knobs. Every per-session quantity is bounded by one of them.
#[derive(Debug, Clone)]
pub struct Config {
    /// How often a client must send something (typically a PING). Announced in WELCOME.
    pub heartbeat: Duration,
    /// A session that sent nothing for this long is closed (the engine's idle timeout: no
    /// timer operation per packet). Default: 1.5 × `heartbeat`, one late heartbeat's grace.
    pub idle_timeout: Duration,
    /// An unacknowledged message is sent again when the client is next heard from (any
    /// frame, usually its PING) at least this long after it was last sent. Default:
    /// `heartbeat`.
    pub retransmit_after: Duration,
    /// Most messages a session may have sent and not yet acknowledged; at most 65 535.
    /// Further messages wait in its mailbox.
    pub window: usize,
    /// Most messages waiting in a session's mailbox (not yet sent: its window is full or the
    /// peer is not reading). A publish that finds it full is dropped for that session and
    /// counted in [`StatsSnapshot::dropped`](super::StatsSnapshot::dropped).
    pub mailbox: usize,
    /// Longest frame, length field included, either way; longer ones close the connection.
    pub max_frame: usize,
    /// Longest client id and room name (at most 255).
    pub max_name: usize,
    /// Most rooms one session may be in.
    pub max_rooms: usize,
    /// Most disconnected sessions whose unacknowledged messages are kept for a reconnect
    /// with the same client id (oldest dropped first).
    pub parked_sessions: usize,
    /// How long such messages are kept.
    pub parked_ttl: Duration,
    /// Whether clients may PUBLISH (an admin connection, the load generator). Off by default:
    /// on a real gateway publishing comes from the back end, [`Gateway::publish`](super::Gateway::publish).
    pub admin: bool,
    /// The clock the engine, and so every timing above, runs on (set on the engine by
    /// [`Gateway::configure`](super::Gateway::configure)). Default: the system's monotonic
    /// clock. Tests give a [`TestClock`](loopwire::TestClock) (`clock.clone().into()`) and
    /// move it by hand, so heartbeats, retransmissions and parking expire at the readings the
    /// test sets, however slow the machine.
    pub clock: Clock,
}

impl Config {
    /// The defaults around a heartbeat interval.
    pub fn with_heartbeat(heartbeat: Duration) -> Self {
        Self {
            heartbeat,
            idle_timeout: heartbeat + heartbeat / 2,
            retransmit_after: heartbeat,
            ..Self::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let heartbeat = Duration::from_secs(30);
        Self {
            heartbeat,
            idle_timeout: heartbeat + heartbeat / 2,
            retransmit_after: heartbeat,
            window: 64,
            mailbox: 256,
            max_frame: 16 * 1024,
            max_name: 64,
            max_rooms: 16,
            parked_sessions: 100_000,
            parked_ttl: Duration::from_secs(300),
            admin: false,
            clock: Clock::system(),
        }
    }
}

//! [`Mode`]: how often a registration reports the same readiness.

use std::fmt;

/// The trigger mode of a registration.
///
/// Which modes a backend supports is listed on [`Backend`](crate::Backend) and can be asked at run
/// time with `supports_mode`; registering with a mode the backend cannot honour fails with
/// [`Error::UnsupportedMode`](crate::Error::UnsupportedMode) rather than silently degrading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Report the source on every poll for as long as it is ready (`epoll` without `EPOLLET`,
    /// `poll(2)` semantics). The caller need not drain the source before polling again.
    Level,
    /// Report the source once per transition to ready (`EPOLLET`, `EV_CLEAR`). The caller must
    /// read or write until `WouldBlock` before it can expect another event.
    Edge,
    /// Report the source once, then disable it until it is re-armed with `reregister`
    /// (`EPOLLONESHOT`, `EV_ONESHOT`). Re-arming a source that is still ready reports it again.
    Oneshot,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Level => "level",
            Mode::Edge => "edge",
            Mode::Oneshot => "oneshot",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_lowercase_names() {
        assert_eq!(Mode::Level.to_string(), "level");
        assert_eq!(Mode::Edge.to_string(), "edge");
        assert_eq!(Mode::Oneshot.to_string(), "oneshot");
    }
}

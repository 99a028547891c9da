//! The engine's error type.

use std::io;
use std::path::PathBuf;

/// Everything the engine reports to its user.
///
/// Errors from the builder name the address or option at fault; errors from an
/// [`EngineHandle`](crate::EngineHandle) call say why the call could not be carried out.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An address URL could not be parsed: unknown scheme, missing or bad port, empty path.
    #[error("invalid address {url:?}: {reason}")]
    InvalidAddr {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A host name in an address URL did not resolve to any address of the wanted family.
    #[error("address {url:?} did not resolve: {source}")]
    Resolve {
        /// The URL as given.
        url: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// Binding or listening on an address failed (port in use, permission, missing directory).
    #[error("cannot listen on {url}: {source}")]
    Bind {
        /// The URL being bound.
        url: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A Unix socket path is already served by a live listener.
    #[error("unix socket {path:?} is in use by another listener")]
    UnixPathInUse {
        /// The socket file.
        path: PathBuf,
    },
    /// [`EngineHandle::dial`](crate::EngineHandle::dial) failed at once (no route, a Unix
    /// socket nobody listens on, a full Unix backlog). A TCP connect that fails later is
    /// reported to the handler as [`CloseReason::ConnectFailed`](crate::CloseReason::ConnectFailed).
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL dialed.
        url: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// [`EngineHandle::dial`](crate::EngineHandle::dial) was called while
    /// [`max_pending_dials`](crate::EngineBuilder::max_pending_dials) dials were still in
    /// flight; nothing was opened. Retry once one has connected or failed.
    #[error("too many dials in flight (at most {max})")]
    TooManyDials {
        /// The bound.
        max: usize,
    },
    /// The builder was given an option value it cannot use.
    #[error("invalid option {option}: {reason}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Why the value is refused.
        reason: &'static str,
    },
    /// The builder was given no address to serve.
    #[error("no address to listen on")]
    NoAddress,
    /// The load balancer could not be built.
    #[error("load balancer: {0}")]
    LoadBalance(#[from] loopwire_loadbalance::Error),
    /// The poller could not be created or refused a registration.
    #[error("poller: {0}")]
    Poller(#[from] loopwire_poller::Error),
    /// The connection behind a [`ConnHandle`](crate::ConnHandle) is closed (its slot may
    /// already serve another connection, which the call never reaches).
    #[error("connection closed")]
    Closed,
    /// The engine is stopping or stopped.
    #[error("engine stopped")]
    Stopped,
    /// A thread could not be spawned, or another I/O failure outside a connection.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

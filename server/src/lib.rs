//! loopwire: a multi-reactor, event-driven networking engine.
//!
//! A few OS threads, each running one event loop over the kernel's readiness API (epoll on
//! Linux, kqueue or IOCP through the portable backends), serve many thousands of TCP, UDP and
//! Unix-socket connections with no thread or task per connection, no lock on the hot path and
//! no allocation per message. You implement [`EventHandler`]; [`Engine::builder`] does the rest.
//!
//! ```no_run
//! use loopwire::{Action, Conn, Engine, EventHandler};
//!
//! struct Echo;
//!
//! impl EventHandler for Echo {
//!     type State = ();
//!     fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
//!         let data = c.next(usize::MAX);
//!         c.write(data);
//!         Action::None
//!     }
//! }
//!
//! fn main() -> Result<(), loopwire::Error> {
//!     Engine::builder().addr("tcp://127.0.0.1:9000").loops(2).run(Echo)
//! }
//! ```
//!
//! - [`Engine`], [`EngineBuilder`]: configure and start; [`EngineHandle`]: stop, write to,
//!   wake or close connections, broadcast, from any thread.
//! - [`EventHandler`]: the callbacks; [`Conn`]: a connection inside a callback;
//!   [`ConnHandle`]: a connection's name outside one.
//! - [`ListenAddr`]: `tcp://`, `udp://`, `unix://` URLs.
//! - [`codec`]: Netty-compatible frame codecs (line, delimiter, fixed length, length field),
//!   decoded in place from [`Conn::next_frame`], written with [`Conn::write_frame`].
//! - [`transport`]: the seam between the loops and the OS (accept, receive, send, close,
//!   wait, wake), with an in-memory implementation that runs the engine with no sockets.
//! - [`WorkerPool`]: a bounded pool of threads for blocking work, fed without blocking.
//! - Backpressure: [`EngineBuilder::write_watermarks`], [`Conn::is_writable`],
//!   [`EventHandler::on_writability_changed`], [`Conn::pause_reading`] /
//!   [`Conn::resume_reading`].
//!
//! The engine is Unix-only for now (Linux, macOS, the BSDs); Windows support through the
//! `polling` backend needs a socket seam over `RawSocket` and is not built yet.

#![cfg(unix)]

// The public API.
mod addr;
mod backend;
mod builder;
pub mod codec;
mod conn;
mod engine;
mod error;
mod flow;
mod handle;
mod handler;
pub mod time;
pub mod transport;
mod workers;

// How an engine runs: its validated settings, its start, its loops, the state its threads
// share, and the socket layer under all of them.
mod config;
mod launch;
mod reactor;
mod shared;
mod sys;
#[cfg(feature = "tls")]
mod tls;

/// Internals exposed only to the loom models in `loopwire-verify` (built with `--cfg loom`),
/// so the models check the engine's real code rather than a copy.
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_api {
    pub use crate::shared::LoopShared;
    pub use crate::shared::dials::{DialCount, DialPermit};
    pub use crate::shared::gen_table::GenTable;
    pub use crate::shared::queue::{Notify, TaskQueue};
    pub use crate::shared::stop::StopState;
    pub use crate::workers::queue::{JobQueue, Refused};

    use crate::ConnHandle;

    /// The handle of the connection of `generation` in `slot` of loop `loop_id`, as the loop
    /// makes it when it registers that connection.
    pub fn conn_handle(loop_id: usize, slot: usize, generation: u64) -> ConnHandle {
        ConnHandle::new(loop_id, slot, generation)
    }
}

/// The engine's socket-free inbound and outbound bookkeeping (and the io_uring transport's
/// completion bookkeeping), exposed behind the `internals`
/// feature (not a stable API) so the property suites in `loopwire-verify` run the real code.
#[cfg(feature = "internals")]
#[doc(hidden)]
pub mod internals {
    pub use crate::reactor::inbound::{Overflow, deliver, redeliver};
    pub use crate::reactor::outbound::{SendError, WriteOwned, drain, send, send_owned};
    pub use crate::reactor::spill::Spill;
    pub use crate::transport::completion::{
        Book, IN_FLIGHT_MAX, Op, Provided, Recv, SendDone, Sqe, ud, ud_parts,
    };
    pub use loopwire_ringbuf::BufferPool;
}

pub use addr::{BoundAddr, ListenAddr, Network};
pub use backend::Backend;
pub use builder::{
    DEFAULT_BACKLOG, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_BUFFERED, DEFAULT_MAX_CONNECTIONS,
    DEFAULT_MAX_PENDING_DIALS, DEFAULT_POOLED_BUFFERS, DEFAULT_READ_BUFFER, Engine, EngineBuilder,
};
pub use bytes::Bytes;
pub use conn::Conn;
pub use engine::EngineHandle;
pub use error::{Error, Result};
pub use flow::{DEFAULT_HIGH_WATERMARK, DEFAULT_LOW_WATERMARK};
pub use handle::ConnHandle;
pub use handler::{Action, CloseReason, EventHandler, Timeout};
pub use loopwire_loadbalance::LoadBalance;
#[cfg(feature = "tls")]
pub use rustls;
pub use time::{Clock, TestClock};
pub use workers::{RejectReason, Rejected, WorkerPool};

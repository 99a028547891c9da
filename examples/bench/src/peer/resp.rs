//! The RESP peers' protocol: loopwire-resp's parser, commands, shared store and expiry sweep,
//! driven through [`loopwire_resp::serve`], the same entry point loopwire's own handler uses,
//! so every server in a RESP table answers every command the same way.
//!
//! Expiry times are milliseconds since the server started (`Instant`, monotonic), as
//! loopwire's engine clock; the sweep is the protocol's [`tick`](Protocol::tick).

use std::time::{Duration, Instant};

use loopwire_resp::serve::{ConnState, Stop as RespStop, max_buffered, serve, sweep};
use loopwire_resp::{Limits, Store};

use super::{OUT_HIGH, Protocol, Served, Stop};

/// The RESP key-value server: one store shared by every connection and thread.
#[derive(Debug)]
pub struct Resp {
    store: Store,
    limits: Limits,
    epoch: Instant,
}

impl Resp {
    /// A server with an empty store and these request limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            store: Store::new(),
            limits,
            epoch: Instant::now(),
        }
    }

    /// Milliseconds since the server started.
    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Protocol for Resp {
    type State = ConnState;

    fn serve(&self, st: &mut ConnState, input: &[u8], out: &mut Vec<u8>) -> Served {
        let s = serve(&self.store, &self.limits, self.now(), st, input, out, |o| {
            o.len() < OUT_HIGH
        });
        let stop = match s.stop {
            RespStop::Incomplete if s.consumed < input.len() => Stop::Incomplete,
            RespStop::Incomplete => Stop::Idle,
            RespStop::Full => Stop::Full,
            RespStop::Close => Stop::Close,
        };
        Served {
            consumed: s.consumed,
            stop,
        }
    }

    fn max_inbound(&self) -> usize {
        max_buffered(&self.limits)
    }

    fn tick(&self) -> Option<Duration> {
        Some(sweep(&self.store, self.now()))
    }
}

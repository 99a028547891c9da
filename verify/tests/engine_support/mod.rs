//! Shared by the suites that drive the engine's socket-free paths (`loopwire::internals`).

#![allow(dead_code, unreachable_pub)]

use loopwire::internals::BufferPool;
use loopwire_ringbuf::Config;

/// A small pool of spill buffers (64 B rings growing to 1 MiB), as a loop keeps one.
pub fn pool() -> BufferPool {
    let config = Config::builder()
        .initial(64)
        .max(1 << 20)
        .build()
        .expect("valid ring config");
    BufferPool::new(config, 4 * 64)
}

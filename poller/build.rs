//! Declares the crate's custom `cfg` so `unexpected_cfgs` knows it.
//!
//! `--cfg loopwire_poller_force_polling` (through `RUSTFLAGS`) makes `Backend::default()` pick the
//! portable `polling` backend on every platform, so a CI job can run everything built on
//! `Poller::new()` over the fallback path.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(loopwire_poller_force_polling)");
}

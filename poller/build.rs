//! Declares the crate's custom `cfg`s so `unexpected_cfgs` knows them, and turns "feature on
//! *and* platform able" into one short `cfg` per backend.
//!
//! * `--cfg loopwire_poller_force_polling` (through `RUSTFLAGS`) makes `Backend::default()` pick
//!   the portable `polling` backend on every platform, so a CI job can run everything built on
//!   `Poller::new()` over the fallback path. It needs the `polling` backend (on Linux and
//!   Android, the `polling` feature).
//! * `has_epoll`: the `epoll` feature is on and the target is Linux or Android.
//! * `has_mio`: the `mio` feature is on and the target is Unix (mio on Windows cannot register
//!   raw sockets).
//! * `has_polling`: the target is not Linux or Android (where `polling` is a non-optional
//!   dependency), or the `polling` feature is on.
//!
//! These aliases apply to the library, its tests, benches and doc tests; `src/lib.rs` stops the
//! build with a `compile_error!` when none of them is set (only possible on Linux and Android).

use std::env;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rustc-check-cfg=cfg(loopwire_poller_force_polling)");
    println!("cargo::rustc-check-cfg=cfg(has_epoll, has_mio, has_polling)");

    let feature =
        |name: &str| env::var_os(format!("CARGO_FEATURE_{}", name.to_uppercase())).is_some();
    // Cargo sets these for the target being built, not the host running this script.
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let unix = env::var_os("CARGO_CFG_UNIX").is_some();

    let linux = matches!(target_os.as_str(), "linux" | "android");

    if feature("epoll") && linux {
        println!("cargo::rustc-cfg=has_epoll");
    }
    if feature("mio") && unix {
        println!("cargo::rustc-cfg=has_mio");
    }
    // Must agree with the target tables of `Cargo.toml`, which make `polling` optional on Linux
    // and Android only.
    if feature("polling") || !linux {
        println!("cargo::rustc-cfg=has_polling");
    }
}

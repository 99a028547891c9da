//! The codec decode benchmark (see `linux.rs`). Its same-run peers and criterion are
//! Linux-only dev-dependencies, so the workspace's cross-target checks (which compile every
//! target of the engine for macOS and FreeBSD) need no C cross-compiler for them.

#[cfg(target_os = "linux")]
mod linux;

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("the codec benchmark runs on Linux only");
}

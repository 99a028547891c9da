//! Where the kernel refuses io_uring (the `io_uring_disabled` sysctl, a seccomp filter
//! answering `EPERM`, an old kernel), an engine asked for `Backend::IoUring` runs its loops on
//! epoll instead and says so in a log line. The refusal is simulated with
//! `LOOPWIRE_REFUSE_IO_URING`, so this file holds one test: the variable is process-wide.

#![cfg(all(feature = "io-uring", target_os = "linux"))]

mod util;

use std::io::Write;

use loopwire::{Backend, Engine};
use util::{Echo, connect, io_uring_echo, read_n, tcp_addr};

#[test]
fn a_refused_io_uring_falls_back_to_epoll_and_still_serves() {
    let engine = io_uring_echo(2);
    engine.stop();

    // SAFETY: the only test of this binary, and no engine thread is running: nothing reads
    // the environment concurrently.
    unsafe { std::env::set_var("LOOPWIRE_REFUSE_IO_URING", "1") };
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .backend(Backend::IoUring)
        .start(Echo)
        .expect("an engine starts anyway");
    assert_eq!(engine.backend(), Some(Backend::Epoll), "fell back");
    let mut c = connect(tcp_addr(&engine));
    c.write_all(b"still served").unwrap();
    assert_eq!(read_n(&mut c, 12), b"still served");
    engine.stop();
}

//! Helpers shared by the engine's integration tests.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use loopwire::{Action, Conn, EngineHandle, EventHandler, Network};

/// Upper bound for any single wait in these tests.
pub const WAIT: Duration = Duration::from_secs(20);

/// The first TCP address the engine serves.
pub fn tcp_addr(e: &EngineHandle) -> SocketAddr {
    e.addrs()
        .iter()
        .find(|a| matches!(a.network, Network::Tcp | Network::Tcp4 | Network::Tcp6))
        .and_then(|a| a.addr)
        .expect("engine serves a TCP address")
}

/// The first UDP address the engine serves.
pub fn udp_addr(e: &EngineHandle) -> SocketAddr {
    e.addrs()
        .iter()
        .find(|a| a.network.is_udp())
        .and_then(|a| a.addr)
        .expect("engine serves a UDP address")
}

/// Connects to `addr` with read/write timeouts so a broken engine fails the test, not hangs it.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT)).unwrap();
    s
}

/// A client whose kernel buffers are small (set before connecting, so the window is small
/// from the start): loopback's autotuning would otherwise soak up megabytes.
pub fn small_window_client(addr: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        None,
    )
    .expect("socket");
    socket.set_send_buffer_size(32 * 1024).expect("SO_SNDBUF");
    socket.set_recv_buffer_size(32 * 1024).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let stream = TcpStream::from(socket);
    stream.set_read_timeout(Some(WAIT)).expect("timeout");
    stream.set_write_timeout(Some(WAIT)).expect("timeout");
    stream
}

/// Reads exactly `n` bytes.
pub fn read_n(s: &mut impl Read, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    s.read_exact(&mut buf).expect("read_exact");
    buf
}

/// Reads until EOF.
pub fn read_to_end(s: &mut impl Read) -> Vec<u8> {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read_to_end");
    buf
}

/// Writes all of `data`.
pub fn write_all(s: &mut impl Write, data: &[u8]) {
    s.write_all(data).expect("write_all");
}

/// A unique Unix socket path in the temp directory.
pub fn sock_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("lw-{tag}-{}-{n}.sock", std::process::id()))
}

/// Open file descriptors of this process.
pub fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// The engine's threads in this process: those named `loopwire-*` (loops, acceptor, workers),
/// from `/proc/self/task/*/comm`; the test harness's own threads, which come and go while a
/// test runs, are not counted.
pub fn engine_thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, |d| {
        d.filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
            .filter(|name| name.starts_with("loopwire"))
            .count()
    })
}

/// Polls `cond` until it holds or [`WAIT`] passes; returns whether it held.
pub fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    cond()
}

/// A small deterministic PRNG (xorshift64*), so failures replay.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Writes back every byte it receives.
pub struct Echo;

impl EventHandler for Echo {
    type State = ();
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let data = c.next(usize::MAX);
        c.write(data);
        Action::None
    }
}

/// An [`Echo`] engine of `loops` loops on io_uring, asserting the kernel allowed it.
#[cfg(all(feature = "io-uring", target_os = "linux"))]
pub fn io_uring_echo(loops: usize) -> EngineHandle {
    let engine = loopwire::Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(loops)
        .backend(loopwire::Backend::IoUring)
        .start(Echo)
        .expect("start on io_uring");
    assert_eq!(
        engine.backend(),
        Some(loopwire::Backend::IoUring),
        "this kernel allows io_uring"
    );
    engine
}

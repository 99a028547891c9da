//! The small loopwire examples, and the plumbing every example program shares.
//!
//! The programs are in `src/bin/`: `echo` is the README's main example, `tls_echo` the same
//! handler behind TLS. The other applications are crates of their own beside this one, and
//! use this library: `loopwire-http` (`examples/http`), `loopwire-resp` (`examples/resp`),
//! `loopwire-push` (`examples/push`) and `loopwire-bench` (`examples/bench`: load generators,
//! same-run peers and the bench scripts).
//!
//! What they share, and nothing more:
//! - [`EngineArgs`]: the engine options every server takes on its command line;
//! - [`init_tracing`], [`tcp_url`], [`announce`] / [`stop_on_signals`]: start-up plumbing;
//! - [`Sink`]: where a protocol's replies are written (a connection, or a `Vec` in a peer or
//!   a test);
//! - [`testing`]: the in-process server and the backpressure probe of the integration tests.

mod sink;
pub mod testing;

pub use sink::Sink;

use std::sync::OnceLock;

use loopwire::{EngineBuilder, EngineHandle};

/// The engine options every example server takes on its command line (flattened into each
/// program's own `Args`; the address stays with the program, whose default differs).
#[derive(Debug, Clone, clap::Args)]
pub struct EngineArgs {
    /// Event loops (0 = one per core).
    #[arg(long, default_value_t = 0)]
    pub loops: usize,
    /// Load balancer: round-robin, random, least-conn, source-hash, consistent-hash.
    #[arg(long, default_value = "round-robin")]
    pub lb: loopwire::LoadBalance,
    /// Every loop accepts on its own SO_REUSEPORT listener.
    #[arg(long)]
    pub reuse_port: bool,
    /// Keep polling this many microseconds after each burst before sleeping (0: off).
    #[arg(long, default_value_t = 0)]
    pub busy_poll_us: u64,
}

impl EngineArgs {
    /// Sets these options on `builder`.
    pub fn apply<'b>(&self, builder: &'b mut EngineBuilder) -> &'b mut EngineBuilder {
        builder
            .loops(self.loops)
            .load_balance(self.lb.clone())
            .reuse_port(self.reuse_port)
            .busy_poll(std::time::Duration::from_micros(self.busy_poll_us))
    }
}

/// The `p` quantile (0 to 1) of `sorted` (ascending), nearest rank; 0 for no samples. The load
/// generators report their latency percentiles with it.
pub fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Sets up `tracing` as every example program does: to stderr, filtered by `RUST_LOG`.
pub fn init_tracing() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
}

/// `host:port` as a `tcp://` URL; a URL (anything containing `://`) as it is.
pub fn tcp_url(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("tcp://{addr}")
    }
}

/// Makes SIGINT and SIGTERM stop `engine` gracefully ([`stop_on_signals`]) and prints
/// `listening on <url><suffix>` for every bound address, the line the bench scripts wait for.
///
/// # Errors
/// As [`stop_on_signals`], or when stdout cannot be written.
pub fn announce(engine: &EngineHandle, suffix: &str) -> std::io::Result<()> {
    use std::io::Write;
    stop_on_signals(engine)?;
    let mut out = std::io::stdout().lock();
    for a in engine.addrs() {
        writeln!(out, "listening on {a}{suffix}")?;
    }
    out.flush()
}

/// Write end of the self-pipe the signal handler pokes.
static SIGNAL_PIPE: OnceLock<libc::c_int> = OnceLock::new();

extern "C" fn on_signal(_sig: libc::c_int) {
    // Only async-signal-safe work in a signal handler: one write(2) to the self-pipe. The
    // watcher thread reading the other end does the actual (blocking) stop.
    if let Some(&fd) = SIGNAL_PIPE.get() {
        let b = [1u8];
        // SAFETY: write(2) is async-signal-safe; `b` is a valid one-byte buffer.
        unsafe { libc::write(fd, b.as_ptr().cast(), 1) };
    }
}

/// Stops `engine` gracefully (every connection closed, `on_shutdown` run) when the process
/// receives SIGINT or SIGTERM; the program's `engine.wait()` then returns and it exits 0.
///
/// # Errors
/// When the self-pipe or the watcher thread cannot be created.
pub fn stop_on_signals(engine: &EngineHandle) -> std::io::Result<()> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe(2) to fill.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    if SIGNAL_PIPE.set(write_fd).is_err() {
        return Err(std::io::Error::other("stop_on_signals may be called once"));
    }
    let engine = engine.clone();
    std::thread::Builder::new()
        .name("signal-watcher".into())
        .spawn(move || {
            let mut b = [0u8; 1];
            // SAFETY: `read_fd` is the pipe's read end, used only by this thread; `b` is a
            // valid one-byte buffer.
            let n = unsafe { libc::read(read_fd, b.as_mut_ptr().cast(), 1) };
            if n > 0 {
                engine.stop();
            }
        })?;
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let handler = on_signal as extern "C" fn(libc::c_int) as *const () as libc::sighandler_t;
        // SAFETY: the handler only calls async-signal-safe functions.
        unsafe { libc::signal(sig, handler) };
    }
    Ok(())
}

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
//! - [`cli`]: how a program reports a failure (one line on stderr, its causes, a non-zero
//!   exit status);
//! - [`Sink`]: where a protocol's replies are written (a connection, or a `Vec` in a peer or
//!   a test);
//! - [`testing`]: the in-process server, the backpressure probe and the recorder (what each
//!   connection was shown, when it closed) of the integration tests.

pub mod cli;
mod signals;
mod sink;
pub mod testing;

pub use signals::{announce, stop_on_signals};
pub use sink::Sink;

use loopwire::EngineBuilder;

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
    /// What the loops run on, by the engine's name for it: epoll, polling or io-uring
    /// (`--list-backends` prints the ones this build offers, the default first; the
    /// default honours LOOPWIRE_BACKEND). io-uring falls back to epoll, with a log line,
    /// where the kernel refuses it.
    #[arg(long, default_value_t = loopwire::Backend::default())]
    pub backend: loopwire::Backend,
    /// Print the backends this build offers, one a line, the default first, and exit (the
    /// bench harness runs a load once per line).
    #[arg(long)]
    pub list_backends: bool,
}

impl EngineArgs {
    /// Sets these options on `builder`.
    pub fn apply<'b>(&self, builder: &'b mut EngineBuilder) -> &'b mut EngineBuilder {
        builder
            .loops(self.loops)
            .load_balance(self.lb.clone())
            .reuse_port(self.reuse_port)
            .busy_poll(std::time::Duration::from_micros(self.busy_poll_us))
            .backend(self.backend)
    }

    /// With `--list-backends`: the backends this build offers, one a line, the default first
    /// (what the program should print before exiting); without it, `None`.
    pub fn backend_list(&self) -> Option<String> {
        self.list_backends.then(|| {
            loopwire::Backend::available()
                .into_iter()
                .map(|b| format!("{b}\n"))
                .collect()
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Args {
        #[command(flatten)]
        engine: EngineArgs,
    }

    #[test]
    fn backend_is_parsed_by_the_engines_names() {
        let a = Args::try_parse_from(["x"]).expect("defaults");
        assert_eq!(a.engine.backend, loopwire::Backend::default());
        for b in loopwire::Backend::available() {
            let a = Args::try_parse_from(["x", "--backend", b.name()]).expect("a known backend");
            assert_eq!(a.engine.backend, b);
        }
        let e = Args::try_parse_from(["x", "--backend", "nope"]).expect_err("unknown");
        assert!(e.to_string().contains("unknown backend"), "{e}");
    }

    #[test]
    fn list_backends_names_every_available_one_default_first() {
        let a = Args::try_parse_from(["x"]).expect("defaults");
        assert_eq!(a.engine.backend_list(), None);
        let a = Args::try_parse_from(["x", "--list-backends"]).expect("the flag");
        let list = a.engine.backend_list().expect("a list");
        let names: Vec<&str> = list.lines().collect();
        let want: Vec<&str> = loopwire::Backend::available()
            .into_iter()
            .map(|b| b.name())
            .collect();
        assert_eq!(names, want);
        assert_eq!(
            names.first().copied(),
            Some(loopwire::Backend::default().name())
        );
        for n in names {
            let a = Args::try_parse_from(["x", "--backend", n]).expect("a listed backend parses");
            assert_eq!(a.engine.backend.name(), n);
        }
    }
}

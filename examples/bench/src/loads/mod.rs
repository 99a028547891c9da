//! The loads the harness runs, each with its servers and its cases:
//!
//! | load | tool | servers | cases |
//! |---|---|---|---|
//! | [`echo`] | `loadgen` (512 B ping-pong) | loopwire on each backend, tokio, mio | pipeline 1, 16 |
//! | [`http`] | `wrk` on `GET /plaintext` | loopwire on each backend, tokio_http, hyper_http, mio_http, may_minihttp | pipeline 1, 16 |
//! | [`resp`] | `redis-benchmark` SET, GET | loopwire on each backend, 1 and 2 loops; tokio_resp, mio_resp, 1 and 2 threads; redis-server | `-P` 1, 16 |
//! | [`idle`] | `loadgen --idle` | loopwire per backend, tokio, mio | RSS growth per connection (median of the rounds) |
//!
//! `--peer` servers join a load's servers after the built-in ones. loopwire runs once per
//! backend its binary offers ([`per_backend`]: `BINARY --list-backends`, then `--backend`).

pub mod echo;
pub mod http;
pub mod idle;
pub mod resp;

use std::path::PathBuf;
use std::time::Duration;

use std::process::Command;

use crate::Error;
use crate::server::Spec;

/// What every load needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the release binaries are.
    pub bin: PathBuf,
    /// Seconds of measured load per case (RESP: requests sized from it).
    pub secs: u64,
    /// Rounds (medians over them).
    pub rounds: usize,
    /// Server threads / loops.
    pub threads: usize,
    /// Idle connections for the memory load.
    pub idle_conns: usize,
    /// Extra servers for this load (`--peer`).
    pub peers: Vec<Spec>,
}

impl Settings {
    /// The path of release binary `name`, as a string for a command line.
    pub fn bin(&self, name: &str) -> String {
        self.bin.join(name).to_string_lossy().into_owned()
    }

    /// The measured duration.
    pub fn duration(&self) -> Duration {
        Duration::from_secs(self.secs)
    }
}

/// The backend names in the output of `BINARY --list-backends` (one a line, blank lines and
/// surrounding space ignored).
pub fn backend_names(list: &str) -> Vec<String> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// loopwire's `binary` once per backend it offers, the default first: named
/// `loopwire (BACKEND{suffix})`, run as `binary args... --backend BACKEND`.
///
/// # Errors
/// When `binary --list-backends` cannot be run or names none.
pub fn per_backend(
    s: &Settings,
    binary: &str,
    suffix: &str,
    args: &[&str],
) -> Result<Vec<Spec>, Error> {
    let bin = s.bin(binary);
    let out = Command::new(&bin)
        .arg("--list-backends")
        .output()
        .map_err(|e| Error::io(format!("cannot run {binary} --list-backends"), e))?;
    let names = backend_names(&String::from_utf8_lossy(&out.stdout));
    if names.is_empty() {
        return Err(Error::msg(format!(
            "{binary} --list-backends named no backend"
        )));
    }
    Ok(names
        .iter()
        .map(|b| {
            let mut argv = vec![bin.as_str()];
            argv.extend_from_slice(args);
            argv.extend_from_slice(&["--backend", b]);
            Spec::new(&format!("loopwire ({b}{suffix})"), &argv)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_lists_are_read_line_by_line() {
        assert_eq!(
            backend_names("epoll\npolling\nio-uring\n"),
            ["epoll", "polling", "io-uring"]
        );
        assert_eq!(backend_names("  epoll \n\n"), ["epoll"]);
        assert!(backend_names("").is_empty());
    }

    #[test]
    fn a_binary_without_backends_is_an_error() {
        let s = Settings {
            bin: std::path::PathBuf::from("/bin"),
            secs: 1,
            rounds: 1,
            threads: 1,
            idle_conns: 1,
            peers: Vec::new(),
        };
        // `true --list-backends` prints nothing; a missing program cannot run.
        let e = per_backend(&s, "true", "", &[]).expect_err("no backends");
        assert!(e.to_string().contains("named no backend"), "{e}");
        let e = per_backend(&s, "no-such-program-here", "", &[]).expect_err("not there");
        assert!(e.to_string().contains("cannot run"), "{e}");
        // `echo` (coreutils) prints its argument: one backend, named after it.
        let v = per_backend(&s, "echo", ", 2 loops", &["--loops", "2"]).expect("one");
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].name, "loopwire (--list-backends, 2 loops)");
        assert_eq!(
            v[0].argv,
            ["/bin/echo", "--loops", "2", "--backend", "--list-backends"]
        );
    }
}

//! Starting and stopping the servers under test: a command line (with `{port}` replaced by a
//! free port, or a server that binds port 0 and announces itself), the wait for its
//! `listening on tcp://HOST:PORT` line or for its port to accept, and a bounded stop (SIGTERM,
//! at most 5 s, then SIGKILL; also on drop, so no server outlives the harness).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Error;

/// How long a server may take to be ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A server to start: a display name and its command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The name in the progress lines, the table and the chart.
    pub name: String,
    /// Program and arguments; any `{port}` in them is replaced by a free port.
    pub argv: Vec<String>,
}

impl Spec {
    /// A server named `name` run as `argv`.
    pub fn new(name: &str, argv: &[&str]) -> Self {
        Self {
            name: name.to_owned(),
            argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    /// A `--peer NAME=COMMAND` (the command split at whitespace, no quoting).
    ///
    /// # Errors
    /// When there is no `=`, or the name or the command is empty.
    pub fn parse_peer(s: &str) -> Result<Self, Error> {
        let bad = || Error::msg(format!("--peer {s:?}: expected NAME=COMMAND"));
        let (name, cmd) = s.split_once('=').ok_or_else(bad)?;
        let argv: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
        if name.trim().is_empty() || argv.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            name: name.trim().to_owned(),
            argv,
        })
    }
}

/// A running server; stopped (bounded) when dropped.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it accepts connections.
    pub addr: SocketAddr,
}

/// A port on 127.0.0.1 that was free a moment ago (bound to port 0, then released).
///
/// # Errors
/// When no socket can be bound.
pub fn free_port() -> Result<u16, Error> {
    let l =
        TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("cannot find a free port", e))?;
    Ok(l.local_addr()
        .map_err(|e| Error::io("cannot find a free port", e))?
        .port())
}

/// The address in a `listening on tcp://HOST:PORT` line.
pub fn announced(line: &str) -> Option<SocketAddr> {
    let rest = line.split_once("listening on tcp://")?.1;
    rest.split_whitespace().next()?.parse().ok()
}

impl Server {
    /// Starts `spec` and waits until it is ready: it printed `listening on tcp://HOST:PORT`,
    /// or (when its command has `{port}`) that port accepts a connection.
    ///
    /// # Errors
    /// When it cannot be started, exits, or is not ready within 10 s.
    pub fn start(spec: &Spec) -> Result<Self, Error> {
        let port = free_port()?;
        let templated = spec.argv.iter().any(|a| a.contains("{port}"));
        let argv: Vec<String> = spec
            .argv
            .iter()
            .map(|a| a.replace("{port}", &port.to_string()))
            .collect();
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| Error::msg(format!("{}: empty command", spec.name)))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io(format!("{}: cannot run {program}", spec.name), e))?;
        // Read its output on a thread (and keep draining it, so the server never blocks on a
        // full pipe); the first announced address comes back through the channel.
        let (tx, rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(a) = announced(&line) {
                        let _ = tx.send(a);
                    }
                }
            });
        }
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(Error::msg(format!(
                    "{}: exited at start ({status})",
                    spec.name
                )));
            }
            if let Ok(a) = rx.try_recv() {
                server.addr = a;
                break;
            }
            if templated && TcpStream::connect(server.addr).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(Error::msg(format!("{}: not ready within 10 s", spec.name)));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(server)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops it: SIGTERM, then SIGKILL if it has not exited within 5 s.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: kill(2) only sends a signal to our own child, which we have not reaped.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.stop_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn announcements_and_peers() {
        assert_eq!(
            announced("listening on tcp://127.0.0.1:8080"),
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert_eq!(
            announced("2026 INFO listening on tcp://[::1]:99 (2 loops)").map(|a| a.port()),
            Some(99)
        );
        assert_eq!(announced("listening on unix:///tmp/x"), None);
        let p = Spec::parse_peer("nginx=/usr/sbin/nginx -p {port}").expect("a peer");
        assert_eq!(p.name, "nginx");
        assert_eq!(p.argv, ["/usr/sbin/nginx", "-p", "{port}"]);
        assert!(Spec::parse_peer("nginx").is_err());
        assert!(Spec::parse_peer("=x").is_err());
        assert!(Spec::parse_peer("x= ").is_err());
    }
}

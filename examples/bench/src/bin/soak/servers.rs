//! The servers under soak: release binaries started as child processes on ports chosen up
//! front (so a killed server restarts where its clients look for it), their stderr kept in a
//! file (searched for `panicked at` at the end), an optional lower `RLIMIT_NOFILE`, and what
//! `/proc` says about them (resident memory, open file descriptors).

use std::fs::File;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loopwire_bench::Error;

/// How long a server may take to accept its first connection.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// What to start.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The name in the table.
    pub(crate) name: &'static str,
    /// Program and arguments.
    pub(crate) argv: Vec<String>,
    /// The address that must accept before the server counts as started.
    pub(crate) addr: SocketAddr,
    /// A lower open-file limit (soft and hard) for the child, if any.
    pub(crate) nofile: Option<u64>,
}

/// A started server; killed when dropped.
#[derive(Debug)]
pub(crate) struct Running {
    pub(crate) spec: Spec,
    child: Child,
    /// Where its stderr goes (appended across restarts).
    pub(crate) stderr: PathBuf,
    /// Times it was started.
    pub(crate) starts: u32,
}

impl Running {
    /// Starts `spec`, its stderr appended to `dir/NAME.stderr`, and waits until it accepts.
    pub(crate) fn start(spec: Spec, dir: &Path) -> Result<Self, Error> {
        let stderr = dir.join(format!("{}.stderr", spec.name));
        let child = spawn(&spec, &stderr)?;
        let mut r = Self {
            spec,
            child,
            stderr,
            starts: 1,
        };
        r.wait_ready()?;
        Ok(r)
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process is still running.
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// `kill -9`, reaped.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again on the same ports (after [`kill9`](Self::kill9)).
    pub(crate) fn restart(&mut self) -> Result<(), Error> {
        self.child = spawn(&self.spec, &self.stderr)?;
        self.starts += 1;
        self.wait_ready()
    }

    /// SIGTERM, then at most 5 s, then SIGKILL.
    pub(crate) fn stop(&mut self) {
        if !self.alive() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid; no memory is passed.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if !self.alive() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill9();
    }

    fn wait_ready(&mut self) -> Result<(), Error> {
        let end = Instant::now() + START_TIMEOUT;
        while Instant::now() < end {
            if !self.alive() {
                return Err(Error::msg(format!(
                    "{} exited at start (see {})",
                    self.spec.name,
                    self.stderr.display()
                )));
            }
            if TcpStream::connect_timeout(&self.spec.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(Error::msg(format!(
            "{} did not accept on {} within {START_TIMEOUT:?}",
            self.spec.name, self.spec.addr
        )))
    }

    /// Its stderr lines containing `panicked at`.
    pub(crate) fn panics(&self) -> usize {
        std::fs::read_to_string(&self.stderr)
            .map(|t| t.lines().filter(|l| l.contains("panicked at")).count())
            .unwrap_or(0)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill9();
    }
}

fn spawn(spec: &Spec, stderr: &Path) -> Result<Child, Error> {
    let (program, args) = spec
        .argv
        .split_first()
        .ok_or_else(|| Error::msg(format!("{}: empty command", spec.name)))?;
    let err = File::options()
        .create(true)
        .append(true)
        .open(stderr)
        .map_err(|e| Error::io(format!("cannot open {}", stderr.display()), e))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
    if let Some(n) = spec.nofile {
        let lim = libc::rlimit {
            rlim_cur: n as libc::rlim_t,
            rlim_max: n as libc::rlim_t,
        };
        // SAFETY: runs in the forked child before exec; setrlimit is async-signal-safe and
        // `lim` is a plain value copied into the closure.
        unsafe {
            cmd.pre_exec(move || {
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
    }
    cmd.spawn()
        .map_err(|e| Error::io(format!("{}: cannot run {program}", spec.name), e))
}

/// Open file descriptors of process `pid` (entries of `/proc/PID/fd`).
pub(crate) fn fd_count(pid: u32) -> Option<usize> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()
        .map(|d| d.count())
}

/// Resident memory of `pid`, KiB.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    loopwire_bench::procfs::rss_kib(pid).ok()
}

/// Peak resident memory of `pid` so far (`VmHWM`), KiB: catches a spike between samples.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

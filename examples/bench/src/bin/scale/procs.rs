//! The processes of the scale run: `redis-server`, the gateways and the load processes,
//! each a child that dies with the coordinator (`PR_SET_PDEATHSIG`) and is killed when its
//! handle is dropped; the temporary directory, removed when dropped; and what `/proc` says
//! (memory, open files, the kernel's slab and socket counts).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use loopwire_bench::Error;

/// Set by SIGINT / SIGTERM: every wait gives up and the run unwinds (children killed,
/// directory removed).
static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// Installs the SIGINT / SIGTERM handler.
pub(crate) fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(sig, on_signal as *const () as libc::sighandler_t);
        }
    }
}

/// An error once a signal asked the run to stop.
pub(crate) fn check() -> Result<(), Error> {
    if STOP.load(Ordering::Relaxed) {
        return Err(Error::msg("interrupted"));
    }
    Ok(())
}

/// Sleeps `d`, in steps, stopping early on a signal.
pub(crate) fn sleep(d: Duration) -> Result<(), Error> {
    let end = Instant::now() + d;
    while Instant::now() < end {
        check()?;
        std::thread::sleep((end - Instant::now()).min(Duration::from_millis(100)));
    }
    check()
}

/// Polls `done` every 200 ms for at most `limit`: whether it became true.
pub(crate) fn wait_until(
    limit: Duration,
    mut done: impl FnMut() -> Result<bool, Error>,
) -> Result<bool, Error> {
    let end = Instant::now() + limit;
    loop {
        if done()? {
            return Ok(true);
        }
        if Instant::now() >= end {
            return Ok(false);
        }
        sleep(Duration::from_millis(200))?;
    }
}

/// A temporary directory, removed with what it holds when dropped.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> Result<Self, Error> {
        let p = std::env::temp_dir().join(format!("loopwire-scale-{}", std::process::id()));
        std::fs::create_dir_all(&p).map_err(|e| Error::io("cannot create the temp dir", e))?;
        Ok(Self(p))
    }
}

impl TempDir {
    /// Leaves the directory in place; returns its path.
    pub(crate) fn keep(self) -> PathBuf {
        let path = self.0.clone();
        std::mem::forget(self);
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process, SIGKILLed and reaped when dropped.
pub(crate) struct Proc {
    pub(crate) child: Child,
    pub(crate) name: String,
}

impl Proc {
    /// Starts `cmd` (stdout and stderr as set by the caller), dying with the coordinator.
    pub(crate) fn spawn(name: &str, mut cmd: Command) -> Result<Self, Error> {
        // SAFETY: runs in the forked child before exec; prctl is async-signal-safe and
        // touches no memory of ours.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("cannot start {name}"), e))?;
        Ok(Self {
            child,
            name: name.to_owned(),
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`, reaped.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Still running?
    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A command whose stdout and stderr go to `dir/NAME.out` and `dir/NAME.err`.
pub(crate) fn logged(
    program: &Path,
    args: &[String],
    dir: &Path,
    name: &str,
) -> Result<Command, Error> {
    let out = File::create(dir.join(format!("{name}.out")))
        .map_err(|e| Error::io("cannot create a log file", e))?;
    let err = File::create(dir.join(format!("{name}.err")))
        .map_err(|e| Error::io("cannot create a log file", e))?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    Ok(cmd)
}

/// Waits (at most `limit`) until `file` has a line containing `needle`; returns that line.
pub(crate) fn wait_line(
    file: &Path,
    needle: &str,
    limit: Duration,
    p: &mut Proc,
) -> Result<String, Error> {
    let mut found = None;
    let ok = wait_until(limit, || {
        if !p.alive() {
            return Err(Error::msg(format!(
                "{} exited: {}",
                p.name,
                tail(&file.with_extension("err"))
            )));
        }
        let text = std::fs::read_to_string(file).unwrap_or_default();
        found = text.lines().find(|l| l.contains(needle)).map(str::to_owned);
        Ok(found.is_some())
    })?;
    match (ok, found) {
        (true, Some(l)) => Ok(l),
        _ => Err(Error::msg(format!(
            "{}: no '{needle}' within {limit:?}",
            p.name
        ))),
    }
}

/// The last lines of a file, for an error message.
pub(crate) fn tail(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let lines: Vec<&str> = text.lines().rev().take(5).collect();
    lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
}

/// Waits until a RESP server at `addr` answers PING.
pub(crate) fn redis_ready(addr: SocketAddr, p: &mut Proc) -> Result<(), Error> {
    let ok = wait_until(Duration::from_secs(10), || {
        if !p.alive() {
            return Err(Error::msg("redis-server exited"));
        }
        let Ok(mut s) = TcpStream::connect(addr) else {
            return Ok(false);
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
        let mut buf = [0u8; 7];
        Ok(s.write_all(b"PING\r\n").is_ok()
            && s.read_exact(&mut buf).is_ok()
            && &buf == b"+PONG\r\n")
    })?;
    if ok {
        Ok(())
    } else {
        Err(Error::msg("redis-server did not answer PING within 10 s"))
    }
}

/// A load process: commands on its stdin, answers read by a thread into a channel.
pub(crate) struct Worker {
    pub(crate) proc: Proc,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Worker {
    /// Starts `cmd` with piped stdin and stdout.
    pub(crate) fn spawn(name: &str, mut cmd: Command) -> Result<Self, Error> {
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut proc = Proc::spawn(name, cmd)?;
        let stdin = proc
            .child
            .stdin
            .take()
            .ok_or_else(|| Error::msg("no stdin"))?;
        let stdout = proc
            .child
            .stdout
            .take()
            .ok_or_else(|| Error::msg("no stdout"))?;
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Self { proc, stdin, lines })
    }

    /// Sends `cmd`.
    pub(crate) fn send(&mut self, cmd: &str) -> Result<(), Error> {
        writeln!(self.stdin, "{cmd}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| Error::io(format!("{}: cannot send {cmd:?}", self.proc.name), e))
    }

    /// The next answer starting with `prefix` (others are skipped), within 60 s.
    pub(crate) fn answer(&mut self, prefix: &str) -> Result<String, Error> {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            check()?;
            match self.lines.recv_timeout(Duration::from_millis(200)) {
                Ok(l) if l.starts_with(prefix) => return Ok(l),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < end => {}
                Err(_) => {
                    return Err(Error::msg(format!(
                        "{}: no answer '{prefix}' (exited or stuck)",
                        self.proc.name
                    )));
                }
            }
        }
    }
}

/// Sends `cmd` to every worker, then collects each one's answer.
pub(crate) fn ask_all(ws: &mut [Worker], cmd: &str, prefix: &str) -> Result<Vec<String>, Error> {
    for w in ws.iter_mut() {
        w.send(cmd)?;
    }
    ws.iter_mut().map(|w| w.answer(prefix)).collect()
}

/// A `key=value` field of an answer line, as a number (0 when missing).
pub(crate) fn field(line: &str, key: &str) -> u64 {
    text_field(line, key).parse().unwrap_or(0)
}

/// A `key=value` field of an answer line, as text.
pub(crate) fn text_field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or("")
}

/// `VmRSS` of a process in KiB (0 when gone).
pub(crate) fn rss_kib(pid: u32) -> u64 {
    loopwire_bench::procfs::rss_kib(pid).unwrap_or(0)
}

/// CPU ticks (user + system) of a process (0 when gone).
pub(crate) fn cpu_ticks(pid: u32) -> u64 {
    loopwire_bench::procfs::cpu_ticks(pid).map_or(0, |t| t.user + t.sys)
}

/// Open files of a process.
pub(crate) fn open_files(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// A `/proc/meminfo` value in KiB.
pub(crate) fn meminfo_kib(key: &str) -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// TCP sockets in use (`/proc/net/sockstat`, `TCP: inuse N`).
pub(crate) fn tcp_inuse() -> u64 {
    let text = std::fs::read_to_string("/proc/net/sockstat").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("TCP: inuse "))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The load average line.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

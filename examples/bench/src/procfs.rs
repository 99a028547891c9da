//! What the harness reads about a server process from `/proc`: its CPU time (user and
//! system, `/proc/PID/stat`) and its resident memory (`VmRSS` in `/proc/PID/status`).

use std::io;

/// CPU time a process has used so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTicks {
    /// User time, in clock ticks.
    pub user: u64,
    /// System (kernel) time, in clock ticks.
    pub sys: u64,
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`, 100 on Linux).
pub fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf reads a configuration value; no memory is passed.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz > 0 { hz as f64 } else { 100.0 }
}

/// The CPU time process `pid` has used (fields 14 and 15 of `/proc/PID/stat`, counted after
/// the command name, which may contain spaces and parentheses).
///
/// # Errors
/// When the file cannot be read (the process is gone) or has another shape.
pub fn cpu_ticks(pid: u32) -> io::Result<CpuTicks> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&stat).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unexpected /proc/{pid}/stat"),
        )
    })
}

/// User and system ticks from the text of a `/proc/PID/stat`.
fn parse_stat(stat: &str) -> Option<CpuTicks> {
    let (_, rest) = stat.rsplit_once(") ")?;
    // After the name: state (field 3) is rest's first; utime is field 14, stime 15.
    let mut f = rest.split_whitespace().skip(11);
    Some(CpuTicks {
        user: f.next()?.parse().ok()?,
        sys: f.next()?.parse().ok()?,
    })
}

/// Resident memory of process `pid`, in KiB (`VmRSS`).
///
/// # Errors
/// When `/proc/PID/status` cannot be read or has no `VmRSS`.
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_an_awkward_name() {
        let stat = "4242 (tok io) x) S 1 4242 4242 0 -1 4194560 2530 0 0 0 1234 567 0 0 20 0 3 0 \
                    8754 123 456";
        assert_eq!(
            parse_stat(stat),
            Some(CpuTicks {
                user: 1234,
                sys: 567
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn this_process_has_ticks_and_memory() {
        let me = std::process::id();
        assert!(cpu_ticks(me).is_ok());
        assert!(rss_kib(me).is_ok_and(|kib| kib > 0));
    }
}

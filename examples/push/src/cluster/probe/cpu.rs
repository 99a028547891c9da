//! CPU time for the probe: this process's (every thread: caller, worker, event loop), and
//! the Redis server's as it reports it (`INFO cpu`).

use std::time::Duration;

/// User plus system CPU time of this process so far.
pub(crate) fn process() -> Duration {
    // SAFETY: an all-zero `rusage` is a valid value of the plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a live, writable `rusage`; RUSAGE_SELF is a valid `who`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let t = |tv: libc::timeval| {
        Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
    };
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// The Redis server's user plus system CPU time so far (`used_cpu_user` + `used_cpu_sys`).
pub(crate) fn redis(conn: &mut redis::Connection) -> redis::RedisResult<Duration> {
    let info: String = redis::cmd("INFO").arg("cpu").query(conn)?;
    let mut secs = 0.0;
    for line in info.lines() {
        if let Some(v) = line
            .strip_prefix("used_cpu_user:")
            .or_else(|| line.strip_prefix("used_cpu_sys:"))
        {
            secs += v.trim().parse::<f64>().unwrap_or(0.0);
        }
    }
    Ok(Duration::from_secs_f64(secs))
}

//! Pinning loop threads to CPUs, among those the process may run on.
//!
//! Under `taskset`, cgroup cpusets or a container's CPU limit the process may run on only some
//! CPUs, not `0..n`; pinning a loop to a CPU outside that set fails. So the engine reads the
//! allowed set once (`sched_getaffinity`) and spreads its loops over it: loop `i` goes to the
//! `i % len`-th allowed CPU.

use std::io;

/// The CPUs the calling thread may run on, ascending.
///
/// # Errors
/// The OS refused to say, or the platform has no per-thread affinity (anything but Linux and
/// Android).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    // SAFETY: an all-zero cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is this thread.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    let max = 8 * std::mem::size_of_val(&set);
    // SAFETY: CPU_ISSET reads bit `cpu` of `set`, and `cpu < CPU_SETSIZE` (the set's bits).
    let cpus: Vec<usize> = (0..max)
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect();
    if cpus.is_empty() {
        return Err(io::Error::other("the affinity mask is empty"));
    }
    Ok(cpus)
}

/// Pins the calling thread to `cpu`.
///
/// # Errors
/// `cpu` is out of range or not allowed, or the OS refused.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: an all-zero cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= 8 * std::mem::size_of_val(&set) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {cpu} is beyond the affinity mask"),
        ));
    }
    // SAFETY: `cpu` is below the set's size in bits (checked above); CPU_SET writes within `set`.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t of the size passed; pid 0 is the calling thread.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The CPUs the calling thread may run on (unsupported on this platform).
///
/// # Errors
/// Always: there is no per-thread affinity here.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn allowed_cpus() -> io::Result<Vec<usize>> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "core pinning is only supported on Linux",
    ))
}

/// Pins the calling thread to `cpu` (unsupported on this platform).
///
/// # Errors
/// Always: there is no per-thread affinity here.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn pin_current_thread(_cpu: usize) -> io::Result<()> {
    allowed_cpus().map(drop)
}

/// The CPU loop `i` of an engine is pinned to: the `i % len`-th of `allowed`.
pub(crate) fn cpu_for_loop(allowed: &[usize], i: usize) -> Option<usize> {
    allowed.get(i.checked_rem(allowed.len())?).copied()
}

#[cfg(all(test, any(target_os = "linux", target_os = "android")))]
mod tests {
    use super::*;

    #[test]
    fn loops_spread_over_the_allowed_set_only() {
        assert_eq!(cpu_for_loop(&[2, 5], 0), Some(2));
        assert_eq!(cpu_for_loop(&[2, 5], 1), Some(5));
        assert_eq!(cpu_for_loop(&[2, 5], 2), Some(2));
        assert_eq!(cpu_for_loop(&[], 0), None);
    }

    #[test]
    fn a_thread_pins_within_its_mask_and_reads_it_back() {
        std::thread::spawn(|| {
            let allowed = allowed_cpus().unwrap();
            let last = *allowed.last().unwrap();
            pin_current_thread(last).unwrap();
            assert_eq!(allowed_cpus().unwrap(), [last]);
            // Outside the mask now: refused, not silently ignored.
            let outside = (0..1024).find(|c| *c != last).unwrap();
            assert!(pin_current_thread(outside).is_err() || allowed.contains(&outside));
            assert!(pin_current_thread(usize::MAX).is_err());
        })
        .join()
        .unwrap();
    }
}

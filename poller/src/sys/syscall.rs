//! `syscall!`: the one place raw `libc` calls are made and `errno` is turned into `io::Error`.

/// Calls `libc::$fn(args...)` and maps a `-1` return to [`std::io::Error::last_os_error`].
///
/// Every call site carries a `// SAFETY:` comment saying why its arguments are valid for that
/// function (open descriptors, pointers to live buffers of the stated length).
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        // SAFETY: the arguments were checked at the call site, whose SAFETY comment names the
        // checks; the macro adds nothing but the call and the errno read.
        let result = unsafe { libc::$fn($($arg),*) };
        if result == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(result)
        }
    }};
}

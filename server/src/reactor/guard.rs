//! Panic isolation for the handler's callbacks.
//!
//! A panic in a callback must not take down the event loop that ran it, and with it every
//! other connection of that loop (and `EngineHandle::wait`, which would wait for a thread that
//! is gone). Each callback runs under `catch_unwind`: the panic is reported by the panic hook
//! as usual and logged, and the loop carries on. What the loop then does depends on the
//! callback: a connection's callback closes that connection
//! ([`CloseReason::Panicked`](crate::CloseReason::Panicked)), a tick is rescheduled, a
//! datagram is dropped. Catching costs nothing on the path where nothing panics.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs `f`, turning a panic into `None` (logged with `what`, the callback's name).
///
/// `AssertUnwindSafe`: the loop's own state is never inside the closure half-updated (the
/// callback only reaches the connection's `Conn` and the handler's state); the connection
/// whose callback panicked is closed, and the handler's own state is the handler's to keep
/// consistent, as with any panic it catches itself.
#[inline]
pub(crate) fn guard<R>(what: &'static str, f: impl FnOnce() -> R) -> Option<R> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => Some(r),
        Err(_) => {
            tracing::error!(
                callback = what,
                "a handler callback panicked; the loop goes on"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_none() {
        assert_eq!(guard("ok", || 7), Some(7));
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let caught = guard("boom", || -> u8 { panic!("boom") });
        std::panic::set_hook(prev);
        assert_eq!(caught, None);
    }
}

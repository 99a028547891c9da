//! The one place the engine takes its cross-thread primitives from.
//!
//! Under `--cfg loom` these are loom's model-checked types, so the models in `loopwire-verify`
//! exercise the engine's real code; otherwise they are the standard library's.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex};

/// Locks a mutex, ignoring poisoning: the engine's critical sections never leave shared state
/// half-updated (they push or swap whole values), so a panic elsewhere cannot corrupt it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuardOf<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(loom)]
pub(crate) type MutexGuardOf<'a, T> = loom::sync::MutexGuard<'a, T>;
#[cfg(not(loom))]
pub(crate) type MutexGuardOf<'a, T> = std::sync::MutexGuard<'a, T>;

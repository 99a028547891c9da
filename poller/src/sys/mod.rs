//! The backends, one file each, and the contract they all keep.
//!
//! # What a backend supplies
//!
//! * A poller type, `XxxPoller`, with inherent methods that mirror
//!   [`Selector`](crate::Selector) (`new`, `backend`, `supports_mode`, `unsafe register`,
//!   `reregister`, `deregister`, `poll`, `waker`), forwarded to the trait by
//!   `selector::forward_selector!`.
//! * A waker type, `XxxWaker`: `Clone + Send + Sync`, whose `wake` follows the
//!   [`WakeFlag`](crate::wake_flag) protocol so that any number of wakes between two polls costs
//!   one kernel signal.
//! * A variant in [`Backend`](crate::Backend), [`Poller`](crate::Poller) and
//!   [`Waker`](crate::Waker), a line in [`Backend::available`](crate::Backend::available), and a
//!   stamp in `tests/conformance.rs` and in each bench.
//!
//! # Rules every backend keeps
//!
//! 1. Registration goes through [`Table`](crate::table): check before the system call, commit
//!    after it succeeded, so errors are typed the same everywhere and a refused call changes
//!    nothing. A mode the backend cannot honour is refused with `Error::UnsupportedMode`, never
//!    approximated silently.
//! 2. `poll` clears the caller's [`Events`](crate::Events) first, asks the kernel for at most
//!    its capacity, and translates native flags into [`Event`](crate::Event) bits.
//! 3. Waker wake-ups are absorbed inside `poll` and make it return; they are never events.
//! 4. An empty return means the timeout passed: a backend that wakes early with nothing to
//!    report (a signal, a filtered event) waits again for what is left of its
//!    [`Deadline`](crate::deadline). Sub-resolution timeouts round up, never down to a spin.
//! 5. Every descriptor a backend creates is close-on-exec, and raw `libc` calls go through the
//!    `syscall!` macro, so errno handling lives in one place.
//!
//! # Adding io_uring
//!
//! An `io_uring` backend (its own issue) is a new `io_uring.rs` here behind
//! `cfg(target_os = "linux")`: poll-mode `IORING_OP_POLL_ADD` (multishot for level/edge,
//! single-shot for oneshot) drives the same `Selector` contract, and an eventfd registered with
//! the ring serves as its waker. Nothing above this module changes except the enum variants.

#[cfg(any(target_os = "linux", target_os = "android"))]
#[macro_use]
mod syscall;

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) mod epoll;
#[cfg(unix)]
pub(crate) mod mio;
pub(crate) mod polling;

#[cfg(not(any(unix, windows)))]
compile_error!("loopwire-poller supports Unix and Windows targets only");

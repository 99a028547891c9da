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
//! * A cargo feature and a `has_xxx` cfg alias in `build.rs` (feature on *and* target able), a
//!   variant in [`Backend`](crate::Backend) (with its feature name), [`Poller`](crate::Poller)
//!   and [`Waker`](crate::Waker), a line in [`Backend::available`](crate::Backend::available),
//!   and a stamp in `tests/conformance.rs` and in each bench, all under that cfg.
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
//! An `io_uring` backend (its own issue) is a new `io_uring.rs` here behind an `io_uring`
//! feature and a `has_io_uring` alias (Linux only): poll-mode `IORING_OP_POLL_ADD` (multishot for level/edge,
//! single-shot for oneshot) drives the same `Selector` contract, and an eventfd registered with
//! the ring serves as its waker. Nothing above this module changes except the enum variants.

// Which backends are built is decided once, in `build.rs`: `has_epoll`, `has_mio` and
// `has_polling` each mean "the feature is on and the target can run it" (and `has_polling` is
// always set off Linux and Android, where `polling` is not optional).

#[cfg(has_epoll)]
#[macro_use]
mod syscall;

#[cfg(has_epoll)]
pub(crate) mod epoll;
#[cfg(has_mio)]
pub(crate) mod mio;
#[cfg(has_polling)]
pub(crate) mod polling;

#[cfg(not(any(unix, windows)))]
compile_error!("loopwire-poller supports Unix and Windows targets only");

#[cfg(all(any(unix, windows), not(any(has_epoll, has_mio, has_polling))))]
compile_error!(
    "loopwire-poller has no backend for this target: enable at least one of its features \
     `epoll` (the default), `polling` or `mio`"
);

#[cfg(all(loopwire_poller_force_polling, not(has_polling)))]
compile_error!(
    "`--cfg loopwire_poller_force_polling` needs the polling backend: enable loopwire-poller's \
     `polling` feature"
);

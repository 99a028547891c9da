//! Readiness polling behind one interface: register raw descriptors (raw sockets on Windows)
//! under a [`Token`] with an [`Interest`] and a trigger [`Mode`], then [`poll`](Poller::poll)
//! for [`Events`]; a cloneable [`Waker`] interrupts a blocked poll from any thread.
//!
//! Three backends keep one behaviour, checked by one conformance suite (`tests/conformance.rs`):
//!
//! * `EpollPoller`: native `epoll(7)` over `libc`, the Linux default;
//! * `MioPoller`: over `mio` (edge-triggered; oneshot emulated, level refused), Unix;
//! * `PollingPoller`: over the `polling` crate (kqueue, IOCP, event ports...), the default
//!   elsewhere.
//!
//! Choose at run time with [`Backend`] and the [`Poller`] enum (one `match` per call, no `dyn`
//! per event), or at compile time by naming a backend type or being generic over [`Selector`].
//!
//! # Cargo features
//!
//! Each backend is built only with its feature, so a build carries the backends it asks for:
//!
//! | feature | backend | platforms | default |
//! |---|---|---|---|
//! | `epoll` | `EpollPoller`, [`Backend::Epoll`] | Linux, Android (does nothing elsewhere) | yes |
//! | `mio` | `MioPoller`, [`Backend::Mio`] (pulls in `mio`) | Unix (does nothing on Windows) | no |
//! | `polling` | `PollingPoller`, [`Backend::Polling`] (pulls in `polling`) | Linux, Android; always built elsewhere | no (built anyway off Linux and Android) |
//!
//! The default build has one backend per platform and nothing it does not use: on Linux and
//! Android, native epoll over `libc`, with neither `mio` nor `polling` compiled; everywhere else
//! the `polling` crate, which those targets always build (it is Windows' only backend and the
//! portable one for macOS and the BSDs), so they never lack a backend and the `polling` feature
//! changes nothing there, as `epoll` changes nothing off Linux and Android.
//!
//! * [`Backend::available`] lists what this build can create here, the default first
//!   ([`Backend::default`]: `Epoll`, else `Polling`, else `Mio`, which has no level mode).
//! * [`Poller::with_backend`] for a backend the platform has but the build left out returns
//!   [`Error::FeatureDisabled`], naming the feature to enable; for one the platform lacks,
//!   [`Error::UnavailableBackend`]. Every [`Backend`] variant exists and parses in every build.
//! * A Linux or Android build with none of the three features has no backend, and stops with a
//!   `compile_error!` asking for one (`cargo build --no-default-features` alone does this).
//! * `RUSTFLAGS="--cfg loopwire_poller_force_polling"` makes `Polling` the default everywhere
//!   (for CI runs of the fallback path); on Linux and Android it needs the `polling` feature,
//!   and says so with a `compile_error!` otherwise.
//!
//! # Example
//!
//! ```
//! # #[cfg(unix)] {
//! use std::io::{ErrorKind, Read, Write};
//! use std::os::fd::AsRawFd;
//! use std::os::unix::net::UnixStream;
//! use std::time::Duration;
//! use loopwire_poller::{Events, Interest, Mode, Poller, Token};
//!
//! let (mut local, mut peer) = UnixStream::pair()?;
//! local.set_nonblocking(true)?;
//!
//! let mut poller = Poller::new()?; // epoll on Linux
//! // SAFETY: `local` is deregistered before it is dropped.
//! unsafe { poller.register(local.as_raw_fd(), Token(0), Interest::READABLE, Mode::Edge)? };
//!
//! peer.write_all(b"hello")?;
//! let mut events = Events::with_capacity(1024);
//! poller.poll(&mut events, Some(Duration::from_secs(5)))?;
//! for event in &events {
//!     assert_eq!(event.token(), Token(0));
//!     // Edge mode: read until WouldBlock before polling again.
//!     let mut buf = [0; 64];
//!     loop {
//!         match local.read(&mut buf) {
//!             Ok(0) => break, // end of file
//!             Ok(n) => assert_eq!(&buf[..n], b"hello"),
//!             Err(e) if e.kind() == ErrorKind::WouldBlock => break,
//!             Err(e) => return Err(e.into()),
//!         }
//!     }
//! }
//! poller.deregister(local.as_raw_fd())?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Safety contract
//!
//! [`Poller::register`] is `unsafe`: the descriptor must stay open until it is deregistered
//! (*deregister before close*); see [`RawSource`]. Everything else is safe.

// A build without any backend stops at the `compile_error!` in `sys/mod.rs`; with the backends'
// code gone, the dispatching methods' parameters go unused, and that one error should not drown
// in their warnings.
#![cfg_attr(not(any(has_epoll, has_mio, has_polling)), allow(unused))]

mod backend;
mod deadline;
mod error;
mod event;
mod interest;
mod mode;
mod poller;
mod selector;
mod source;
mod sys;
mod table;
mod token;
mod wake_flag;

pub use backend::Backend;
pub use error::{Error, Result};
pub use event::{Event, Events, Iter};
pub use interest::Interest;
pub use mode::Mode;
pub use poller::{Poller, Waker};
pub use selector::{Selector, Wake};
pub use source::RawSource;
#[cfg(has_epoll)]
pub use sys::epoll::{EpollPoller, EpollWaker};
#[cfg(has_mio)]
pub use sys::mio::{MioPoller, MioWaker};
#[cfg(has_polling)]
pub use sys::polling::{PollingPoller, PollingWaker};
pub use token::Token;

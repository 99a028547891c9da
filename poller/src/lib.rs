//! Readiness polling behind one interface: register raw descriptors (raw sockets on Windows)
//! under a [`Token`] with an [`Interest`] and a trigger [`Mode`], then [`poll`](Poller::poll)
//! for [`Events`]; a cloneable [`Waker`] interrupts a blocked poll from any thread.
//!
//! Three backends keep one behaviour, checked by one conformance suite (`tests/conformance.rs`):
//!
//! * [`EpollPoller`]: native `epoll(7)` over `libc`, the Linux default;
//! * [`MioPoller`]: over `mio` (edge-triggered; oneshot emulated, level refused), Unix;
//! * [`PollingPoller`]: over the `polling` crate (kqueue, IOCP, event ports...), the default
//!   elsewhere.
//!
//! Choose at run time with [`Backend`] and the [`Poller`] enum (one `match` per call, no `dyn`
//! per event), or at compile time by naming a backend type or being generic over [`Selector`].
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
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use sys::epoll::{EpollPoller, EpollWaker};
#[cfg(unix)]
pub use sys::mio::{MioPoller, MioWaker};
pub use sys::polling::{PollingPoller, PollingWaker};
pub use token::Token;

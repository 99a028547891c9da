//! A hierarchical timer wheel for event loops: O(1) insert, cancel and reset, generational
//! keys, and expiry whose cost does not depend on how many timers are waiting.
//!
//! Each loopwire event loop owns one [`TimerWheel`] for idle timeouts, read and write
//! deadlines, heartbeats and user timers. The loop asks the wheel for its poll timeout and,
//! after every poll, advances it to the present to collect what expired.
//!
//! # Ticks or `Instant`s
//!
//! The wheel counts time in `u64` ticks, and its core API takes them directly: a caller that
//! keeps its own clock, such as an event loop counting milliseconds since its epoch, never
//! converts anything.
//!
//! ```
//! use loopwire_timer::TimerWheel;
//!
//! let mut wheel = TimerWheel::new_ticks(); // tick 0 is now; the caller counts from there
//! let ping = wheel.insert_at(15, "ping");
//! let close = wheel.insert_at(10_000, "close");
//!
//! // The loop sleeps at most until the next due tick...
//! assert_eq!(wheel.next_due_tick(), Some(15));
//!
//! // ...then hands the wheel the tick it has reached and handles what expired.
//! let expired: Vec<_> = wheel.advance_to(16).collect();
//! assert_eq!(expired, [(ping, "ping")]);
//! assert_eq!(wheel.cancel(close), Some("close"));
//! ```
//!
//! The `Instant` methods wrap the tick methods: a wheel built with [`TimerWheel::new`]`(start)`
//! counts 1 ms ticks from `start` (or another length with [`TimerWheel::with_tick`]), rounds
//! deadlines up and the present down, and converts with `Instant::checked_duration_since`.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use loopwire_timer::TimerWheel;
//!
//! let start = Instant::now();
//! let mut wheel = TimerWheel::new(start); // 1 ms tick
//! let ping = wheel.insert(start + Duration::from_millis(15), "ping");
//! let close = wheel.insert(start + Duration::from_secs(10), "close");
//!
//! let timeout = wheel.next_deadline().map(|at| at.saturating_duration_since(start));
//! assert_eq!(timeout, Some(Duration::from_millis(15)));
//!
//! let expired: Vec<_> = wheel.advance(start + Duration::from_millis(16)).collect();
//! assert_eq!(expired, [(ping, "ping")]);
//! assert_eq!(wheel.deadline_tick(close), Some(10_000)); // the same wheel, seen in ticks
//! assert_eq!(wheel.cancel(close), Some("close"));
//! ```
//!
//! Nothing in the crate reads the private representation of a std type; see
//! [`TimerWheel`]'s "Time" section for the rounding and saturation rules.
//!
//! # Heartbeats and idle timeouts without a timer operation per packet
//!
//! A connection that receives a packet every few milliseconds should not touch the wheel for
//! each one. Store the time of the last activity in the connection instead, and give the
//! connection one timer for `last_activity + timeout`. When that timer fires, look at the
//! stored time: if the connection was quiet for the whole timeout it has expired; otherwise
//! re-arm for the remainder. Each connection then costs one timer operation per timeout
//! period rather than one per packet, whatever the packet rate.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use loopwire_timer::TimerWheel;
//!
//! const IDLE: Duration = Duration::from_secs(30);
//!
//! #[derive(Clone, Copy)]
//! struct Conn {
//!     last_activity: Instant,
//!     open: bool,
//! }
//!
//! let start = Instant::now();
//! let mut wheel = TimerWheel::new(start);
//! let mut conns = vec![Conn { last_activity: start, open: true }; 2];
//! for id in 0..conns.len() {
//!     wheel.insert(start + IDLE, id);
//! }
//!
//! // On every packet: one store, no timer operation.
//! conns[1].last_activity = start + Duration::from_secs(20);
//!
//! // The loop's turn at 30 s.
//! let now = start + IDLE;
//! loop {
//!     let Some((_, id)) = wheel.advance(now).next() else { break };
//!     let quiet_until = conns[id].last_activity + IDLE;
//!     if quiet_until <= now {
//!         conns[id].open = false; // idle for the whole timeout: close it
//!     } else {
//!         wheel.insert(quiet_until, id); // active meanwhile: wait for the remainder
//!     }
//! }
//! assert!(!conns[0].open && conns[1].open);
//! assert_eq!(wheel.len(), 1);
//! assert!(wheel.next_deadline().is_some_and(|at| at <= start + Duration::from_secs(50)));
//! ```
//!
//! The same pattern serves read and write deadlines that are pushed back on progress, and a
//! ping interval: fire, send the ping, re-arm.
//!
//! # Design
//!
//! The wheel follows the hierarchical timing wheel of Varghese and Lauck ("Hashed and
//! Hierarchical Timing Wheels", SOSP 1987) in the form tokio uses for its runtime timer
//! (`tokio/src/runtime/time/wheel`): levels of 64 slots, a tick count read as base-64 digits,
//! an entry kept at the level of the highest digit in which its deadline differs from the
//! present, and a `u64` occupancy bitmask per level so that finding the next non-empty slot is
//! a `trailing_zeros`. Eleven levels cover all of `u64`, so no deadline needs an overflow list
//! (tokio caps its wheel at about two years instead); the per-level slot widths and ranges are
//! tabulated in the crate's `README.md` and in `src/level.rs`.
//!
//! Entries live in one [`slab`] and are chained into per-slot doubly linked lists through slab
//! indices, so insert, cancel and reset are O(1) and allocation-free once the slab has room.
//! An entry costs 24 bytes besides its value (deadline tick, 64-bit generation, two `u32`
//! links; the generation's niche hides the slab's own tag). Keys carry the generation, so a
//! stale key never reaches a reused slot.
//!
//! The crate has no `unsafe` code.

#![forbid(unsafe_code)]

mod clock;
mod entry;
mod error;
mod key;
mod level;
mod wheel;

/// A seeded xorshift64 generator for the unit tests' randomised sweeps (deterministic, no
/// dependency).
#[cfg(test)]
fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed | 1;
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}

pub use error::{InsertError, TimerError};
pub use key::TimerKey;
pub use wheel::Expired;
pub use wheel::TimerWheel;

/// The most timers one wheel can hold at once (`u32::MAX`, about 4.29 billion).
///
/// Entries link to each other by `u32` slab index to keep their overhead at 24 bytes.
pub const MAX_TIMERS: usize = u32::MAX as usize;

/// The tick meaning "never" (`u64::MAX`): a timer inserted there is kept but never fires, and
/// the wheel's clock stops one tick short of it, at `u64::MAX - 1`.
///
/// The `Instant` methods map a deadline more than `u64::MAX` ticks after the wheel's start
/// here (585 million years at the default 1 ms tick).
pub const NEVER: u64 = u64::MAX;

/// The link value meaning "no entry"; never a valid slab index because of [`MAX_TIMERS`].
pub(crate) const NIL: u32 = u32::MAX;

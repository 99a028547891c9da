//! The engine's clock: where its loops read "now".
//!
//! Each loop reads the clock once per turn and hands everything that needs the time (the timer
//! wheel, idle timeouts, read and write deadlines, the ticker) that one reading, as whole
//! milliseconds since the engine started. Nothing on the data path reads the clock again.
//!
//! By default that is the system's monotonic clock ([`Clock::system`]). A test gives the engine
//! a [`TestClock`] instead, like tokio's `time::pause` / `time::advance`: time then stands still
//! until the test moves it, and every deadline, timeout and tick fires in the order the test
//! dictates, however slow or loaded the machine is:
//!
//! ```no_run
//! use std::time::Duration;
//! use loopwire::{Action, Conn, Engine, EventHandler, TestClock};
//!
//! struct Quiet;
//! impl EventHandler for Quiet {
//!     type State = ();
//!     fn on_traffic(&self, _: &mut Conn<'_, ()>) -> Action {
//!         Action::None
//!     }
//! }
//!
//! let clock = TestClock::new();
//! let engine = Engine::builder()
//!     .addr("tcp://127.0.0.1:0")
//!     .idle_timeout(Some(Duration::from_secs(30)))
//!     .clock(clock.clone())
//!     .start(Quiet)?;
//! // ... connect a client; it stays open however long the test takes ...
//! clock.advance(Duration::from_secs(30));
//! // ... now the engine closes it (IdleTimeout).
//! engine.stop();
//! # Ok::<(), loopwire::Error>(())
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// Where an engine reads the time: the system's monotonic clock (the default) or a
/// [`TestClock`]. Set with [`EngineBuilder::clock`](crate::EngineBuilder::clock).
#[derive(Debug, Clone, Default)]
pub struct Clock(Source);

#[derive(Debug, Clone, Default)]
enum Source {
    #[default]
    System,
    Test(TestClock),
}

impl Clock {
    /// The system's monotonic clock (`Instant`).
    pub fn system() -> Self {
        Self(Source::System)
    }

    /// Whether this is a [`TestClock`].
    pub fn is_test(&self) -> bool {
        matches!(self.0, Source::Test(_))
    }

    /// Starts counting for one engine: its time is milliseconds since this call (system), or
    /// the test clock's reading.
    pub(crate) fn start(&self) -> EngineClock {
        match &self.0 {
            Source::System => EngineClock::System(Instant::now()),
            Source::Test(t) => EngineClock::Test(t.clone()),
        }
    }
}

impl From<TestClock> for Clock {
    fn from(t: TestClock) -> Self {
        Self(Source::Test(t))
    }
}

/// Something to wake when a [`TestClock`] moves: one engine's loops.
pub(crate) type Subscriber = dyn Fn() + Send + Sync;

/// A clock that stands still until the test moves it (see the [module docs](self)).
///
/// Cheap to clone; clones share one reading. It starts at zero. One clock may drive several
/// engines; [`advance`](Self::advance) wakes every loop of each, so what became due fires
/// without waiting for traffic.
#[derive(Clone, Default)]
pub struct TestClock(Arc<TestInner>);

#[derive(Default)]
struct TestInner {
    /// Milliseconds since the clock was made.
    ms: AtomicU64,
    /// The engines to wake after a move (dropped engines drop out).
    subscribers: Mutex<Vec<Weak<Subscriber>>>,
}

impl TestClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time on this clock, since it was made.
    pub fn now(&self) -> Duration {
        Duration::from_millis(self.0.ms.load(Ordering::Acquire))
    }

    /// Moves the clock `by` forward (rounded up to whole milliseconds, the engine's
    /// resolution) and wakes every engine on it; what is due by then fires on each loop's next
    /// turn, in deadline order.
    pub fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        let _ = self
            .0
            .ms
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |t| {
                Some(t.saturating_add(ms))
            });
        let subscribers: Vec<Arc<Subscriber>> = {
            let mut subs = match self.0.subscribers.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            subs.retain(|w| w.strong_count() > 0);
            subs.iter().filter_map(Weak::upgrade).collect()
        };
        for wake in subscribers {
            wake();
        }
    }

    fn ms(&self) -> u64 {
        self.0.ms.load(Ordering::Acquire)
    }

    fn subscribe(&self, wake: &Arc<Subscriber>) {
        let mut subs = match self.0.subscribers.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        subs.push(Arc::downgrade(wake));
    }
}

impl fmt::Debug for TestClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestClock")
            .field("now", &self.now())
            .finish()
    }
}

/// One engine's running clock: its zero and its source.
#[derive(Debug, Clone)]
pub(crate) enum EngineClock {
    /// Milliseconds since this instant.
    System(Instant),
    /// The test clock's reading.
    Test(TestClock),
}

impl EngineClock {
    /// A newer reading than `now` when the clock is a test clock, else `now`.
    ///
    /// A loop reads the clock once per turn; with the system clock a turn's reading is
    /// microseconds old at most. A test clock can jump by seconds while a turn runs, and what
    /// the test does after the jump (open a connection, say) can reach the loop in that same
    /// turn: its deadlines would then count from before the jump, already past. So the loop
    /// reads a test clock again before its tasks and timers (an atomic load).
    pub(crate) fn refresh(&self, now: u64) -> u64 {
        match self {
            EngineClock::System(_) => now,
            EngineClock::Test(t) => t.ms().max(now),
        }
    }

    /// Whole milliseconds since the engine's zero, rounded down: one clock read.
    pub(crate) fn now_ms(&self) -> u64 {
        match self {
            EngineClock::System(zero) => Instant::now()
                .checked_duration_since(*zero)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            EngineClock::Test(t) => t.ms(),
        }
    }

    /// How long a loop that read `now` may block waiting for events when its next timer is
    /// due at `due` (`None`: no timer). On a test clock a loop never sleeps towards a
    /// deadline: time moves only by [`TestClock::advance`], which wakes it.
    pub(crate) fn poll_timeout(&self, now: u64, due: Option<u64>) -> Option<Duration> {
        let due = due?;
        let left = due.saturating_sub(now);
        match self {
            EngineClock::System(_) => Some(Duration::from_millis(left)),
            EngineClock::Test(_) if left == 0 => Some(Duration::ZERO),
            EngineClock::Test(_) => None,
        }
    }

    /// Makes a [`TestClock`] wake `wake` whenever it moves (nothing for the system clock).
    pub(crate) fn subscribe(&self, wake: &Arc<Subscriber>) {
        if let EngineClock::Test(t) = self {
            t.subscribe(wake);
        }
    }
}

/// `d` in whole milliseconds, rounded up (so a deadline never passes early), saturating.
pub(crate) fn ms_up(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[test]
    fn a_test_clock_moves_only_when_told_and_wakes_its_engines() {
        let clock = TestClock::new();
        let engine = Clock::from(clock.clone()).start();
        assert_eq!(engine.now_ms(), 0);
        let woken = Arc::new(AtomicUsize::new(0));
        let w = Arc::clone(&woken);
        let sub: Arc<Subscriber> = Arc::new(move || {
            w.fetch_add(1, Ordering::Relaxed);
        });
        engine.subscribe(&sub);
        clock.advance(Duration::from_micros(1500));
        assert_eq!(engine.now_ms(), 2, "rounded up to whole milliseconds");
        assert_eq!(clock.now(), Duration::from_millis(2));
        assert_eq!(woken.load(Ordering::Relaxed), 1);
        drop(sub);
        clock.advance(Duration::from_millis(1));
        assert_eq!(
            woken.load(Ordering::Relaxed),
            1,
            "a dropped engine is not woken"
        );
        assert_eq!(engine.now_ms(), 3);
    }

    #[test]
    fn poll_timeouts() {
        let system = Clock::system().start();
        assert_eq!(system.poll_timeout(10, None), None);
        assert_eq!(
            system.poll_timeout(10, Some(25)),
            Some(Duration::from_millis(15))
        );
        assert_eq!(system.poll_timeout(30, Some(25)), Some(Duration::ZERO));
        let test = Clock::from(TestClock::new()).start();
        assert_eq!(test.poll_timeout(10, Some(25)), None, "waits for advance");
        assert_eq!(test.poll_timeout(25, Some(25)), Some(Duration::ZERO));
    }

    #[test]
    fn system_time_counts_from_the_engines_zero() {
        let c = Clock::system().start();
        let a = c.now_ms();
        let b = c.now_ms();
        assert!(b >= a);
        assert!(a < 60_000, "counted from the engine's start, not boot");
    }

    #[test]
    fn rounding_up() {
        assert_eq!(ms_up(Duration::ZERO), 0);
        assert_eq!(ms_up(Duration::from_nanos(1)), 1);
        assert_eq!(ms_up(Duration::from_millis(7)), 7);
        assert_eq!(ms_up(Duration::new(2, 500_001)), 2_001);
        assert_eq!(ms_up(Duration::MAX), u64::MAX);
    }
}

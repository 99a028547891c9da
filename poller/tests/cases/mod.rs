//! The conformance cases, generic over the backend `S` (and the transport `T` where the case is
//! about I/O). `tests/conformance.rs` stamps each onto every backend available here.
//!
//! Each case declares its endpoints before its poller, so the poller is dropped first and no
//! descriptor is closed while registered (the `register` contract).

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use loopwire_poller::{Error, Event, Events, Interest, Mode, Selector, Token, Wake};

use crate::util::{
    End, Local, PATIENCE, QUIET, Transport, any_mode, expect_event, expect_none, watch,
};

const T1: Token = Token(1);
const T2: Token = Token(2);

/// Registers `end` in `mode`, or checks that a backend without `mode` refuses it with the typed
/// error; `false` in that case, so the caller stops there.
fn watch_in_mode<S: Selector>(poller: &mut S, end: &End, interest: Interest, mode: Mode) -> bool {
    let result = watch(poller, end, T1, interest, mode);
    if poller.supports_mode(mode) {
        result.expect("register");
        true
    } else {
        match result {
            Err(Error::UnsupportedMode {
                backend,
                mode: refused,
            }) => {
                assert_eq!((backend, refused), (poller.backend(), mode));
                assert_eq!(poller.registered(), 0, "a refused mode left a registration");
                false
            }
            other => panic!("{mode} is unsupported but register gave {other:?}"),
        }
    }
}

// ---- readiness --------------------------------------------------------------------------

/// A receiver is readable once data arrives, and not before.
pub(crate) fn readable_on_data<S: Selector, T: Transport>(new: fn() -> S) {
    let mut pair = T::pair();
    let mut poller = new();
    let mode = any_mode(&poller);
    watch(&mut poller, &pair.rx, T1, Interest::READABLE, mode).expect("register");
    expect_none(&mut poller, T1);
    pair.tx.send(b"ping");
    let event = expect_event(&mut poller, T1, Event::is_readable, &[]);
    assert!(!event.is_read_closed() && !event.is_error(), "{event:?}");
    assert_eq!(pair.rx.recv_all(), b"ping");
}

/// A connected sender is writable as soon as it is registered.
pub(crate) fn writable_when_connected<S: Selector, T: Transport>(new: fn() -> S) {
    let pair = T::pair();
    let mut poller = new();
    let mode = any_mode(&poller);
    watch(&mut poller, &pair.tx, T1, Interest::WRITABLE, mode).expect("register");
    let event = expect_event(&mut poller, T1, Event::is_writable, &[]);
    assert!(!event.is_write_closed() && !event.is_error(), "{event:?}");
}

// ---- trigger modes ----------------------------------------------------------------------

/// Edge mode reports a transition once: nothing more until new data arrives.
pub(crate) fn edge_reports_once_per_arrival<S: Selector, T: Transport>(new: fn() -> S) {
    let mut pair = T::pair();
    let mut poller = new();
    if !watch_in_mode(&mut poller, &pair.rx, Interest::READABLE, Mode::Edge) {
        return;
    }
    pair.tx.send(b"a");
    expect_event(&mut poller, T1, Event::is_readable, &[]);
    // Not drained, but no new data: no second event.
    expect_none(&mut poller, T1);
    pair.tx.send(b"b");
    expect_event(&mut poller, T1, Event::is_readable, &[]);
    assert_eq!(pair.rx.recv_all(), b"ab");
    expect_none(&mut poller, T1);
}

/// Level mode reports a ready source on every poll until it is drained.
pub(crate) fn level_repeats_until_drained<S: Selector, T: Transport>(new: fn() -> S) {
    let mut pair = T::pair();
    let mut poller = new();
    if !watch_in_mode(&mut poller, &pair.rx, Interest::READABLE, Mode::Level) {
        return;
    }
    pair.tx.send(b"level");
    for _ in 0..3 {
        expect_event(&mut poller, T1, Event::is_readable, &[]);
    }
    assert_eq!(pair.rx.recv_all(), b"level");
    expect_none(&mut poller, T1);
}

/// Oneshot mode reports once, then nothing until re-armed; re-arming a still-ready source
/// reports it again.
pub(crate) fn oneshot_needs_rearming<S: Selector, T: Transport>(new: fn() -> S) {
    let mut pair = T::pair();
    let mut poller = new();
    if !watch_in_mode(&mut poller, &pair.rx, Interest::READABLE, Mode::Oneshot) {
        return;
    }
    pair.tx.send(b"1");
    expect_event(&mut poller, T1, Event::is_readable, &[]);
    pair.tx.send(b"2");
    expect_none(&mut poller, T1);
    poller
        .reregister(pair.rx.raw(), T1, Interest::READABLE, Mode::Oneshot)
        .expect("re-arm");
    expect_event(&mut poller, T1, Event::is_readable, &[]);
    assert_eq!(pair.rx.recv_all(), b"12");
    poller
        .reregister(pair.rx.raw(), T1, Interest::READABLE, Mode::Oneshot)
        .expect("re-arm");
    expect_none(&mut poller, T1);
    pair.tx.send(b"3");
    expect_event(&mut poller, T1, Event::is_readable, &[]);
}

// ---- closing ----------------------------------------------------------------------------

/// The peer's `shutdown(Write)` (or closing a pipe's write end) is reported as read-closed
/// where the backend can see it, and the read then returns end-of-file.
pub(crate) fn read_closed_on_peer_shutdown<S: Selector, T: Transport>(new: fn() -> S) {
    let pair = T::pair();
    let (mut rx, tx) = (pair.rx, pair.tx);
    let mut poller = new();
    let mode = any_mode(&poller);
    watch(&mut poller, &rx, T1, Interest::READABLE, mode).expect("register");
    let _tx = tx.shutdown_write();
    let event = expect_event(
        &mut poller,
        T1,
        |e| e.is_readable() || e.is_read_closed(),
        &[],
    );
    if poller.backend().reports_read_closed() {
        assert!(event.is_read_closed(), "{event:?}");
    }
    assert!(rx.reaches_eof(), "no end-of-file after {event:?}");
}

/// Closing the peer (abortively for TCP) is reported as a hang-up where the backend can see
/// it.
pub(crate) fn hang_up_on_close<S: Selector, T: Transport>(new: fn() -> S) {
    let pair = T::pair();
    let (mut rx, tx) = (pair.rx, pair.tx);
    let mut poller = new();
    let mode = any_mode(&poller);
    watch(&mut poller, &rx, T1, Interest::READABLE, mode).expect("register");
    tx.hang_up();
    let closed = |e: &Event| e.is_readable() || e.is_read_closed() || e.is_write_closed();
    let event = expect_event(&mut poller, T1, closed, &[]);
    if poller.backend().reports_hang_up() {
        assert!(
            event.is_read_closed() && event.is_write_closed(),
            "{event:?}"
        );
    }
    assert!(rx.reaches_eof(), "no end-of-file after {event:?}");
}

// ---- registration -----------------------------------------------------------------------

/// A deregistered source reports nothing; its descriptor and token can be registered again.
pub(crate) fn deregister_stops_events<S: Selector, T: Transport>(new: fn() -> S) {
    let mut pair = T::pair();
    let mut poller = new();
    let mode = any_mode(&poller);
    let fd = pair.rx.raw();
    watch(&mut poller, &pair.rx, T1, Interest::READABLE, mode).expect("register");
    poller.deregister(fd).expect("deregister");
    assert_eq!(poller.registered(), 0);
    pair.tx.send(b"x");
    expect_none(&mut poller, T1);
    assert!(matches!(poller.deregister(fd), Err(Error::NotRegistered(f)) if f == fd));
    assert!(matches!(
        poller.reregister(fd, T1, Interest::READABLE, mode),
        Err(Error::NotRegistered(_))
    ));
    // Registering again reports the data that is already waiting.
    watch(&mut poller, &pair.rx, T1, Interest::READABLE, mode).expect("register again");
    expect_event(&mut poller, T1, Event::is_readable, &[]);
}

/// Registration mistakes are typed errors and leave the table as it was.
pub(crate) fn registration_errors_are_typed<S: Selector>(new: fn() -> S) {
    let a = Local::pair();
    let b = Local::pair();
    let mut poller = new();
    let mode = any_mode(&poller);
    let (fa, fb) = (a.rx.raw(), b.rx.raw());
    watch(&mut poller, &a.rx, T1, Interest::READABLE, mode).expect("register");

    let again = watch(&mut poller, &a.rx, T2, Interest::READABLE, mode);
    assert!(
        matches!(again, Err(Error::AlreadyRegistered(f)) if f == fa),
        "{again:?}"
    );
    let shared = watch(&mut poller, &b.rx, T1, Interest::READABLE, mode);
    assert!(matches!(shared, Err(Error::TokenInUse(T1))), "{shared:?}");
    let reserved = watch(
        &mut poller,
        &b.rx,
        Token::RESERVED,
        Interest::READABLE,
        mode,
    );
    assert!(
        matches!(reserved, Err(Error::ReservedToken(_))),
        "{reserved:?}"
    );
    let moved = poller.reregister(fa, Token::RESERVED, Interest::READABLE, mode);
    assert!(matches!(moved, Err(Error::ReservedToken(_))), "{moved:?}");
    let unknown = poller.reregister(fb, T2, Interest::READABLE, mode);
    assert!(
        matches!(unknown, Err(Error::NotRegistered(f)) if f == fb),
        "{unknown:?}"
    );
    assert_eq!(poller.registered(), 1);

    // Moving `a` to T2 frees T1 for `b`; T2 is then taken.
    poller
        .reregister(fa, T2, Interest::READABLE, mode)
        .expect("move token");
    watch(&mut poller, &b.rx, T1, Interest::READABLE, mode).expect("T1 is free again");
    let taken = poller.reregister(fb, T2, Interest::READABLE, mode);
    assert!(matches!(taken, Err(Error::TokenInUse(T2))), "{taken:?}");
    assert_eq!(poller.registered(), 2);
    poller.deregister(fa).expect("deregister a");
    poller.deregister(fb).expect("deregister b");
    assert_eq!(poller.registered(), 0);
}

/// After `reregister` moves a source to a new token, its events carry the new token only.
pub(crate) fn reregister_moves_the_token<S: Selector>(new: fn() -> S) {
    let mut pair = Local::pair();
    let mut poller = new();
    let mode = any_mode(&poller);
    watch(&mut poller, &pair.rx, T1, Interest::READABLE, mode).expect("register");
    poller
        .reregister(
            pair.rx.raw(),
            T2,
            Interest::READABLE | Interest::WRITABLE,
            mode,
        )
        .expect("reregister");
    pair.tx.send(b"x");
    let event = expect_event(&mut poller, T2, Event::is_readable, &[T1]);
    assert!(event.is_writable(), "new interest applies: {event:?}");
}

/// A source the OS cannot poll (a regular file under epoll) gives `Error::Io` and leaves no
/// registration behind: its token stays free.
#[cfg(target_os = "linux")]
pub(crate) fn os_refusal_leaves_nothing<S: Selector>(new: fn() -> S) {
    use std::os::fd::AsRawFd;

    let file = std::fs::File::open(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .expect("open a regular file");
    let pair = Local::pair();
    let mut poller = new();
    let mode = any_mode(&poller);
    // SAFETY: `file` outlives the poller (declared first); the call fails anyway.
    let refused = unsafe { poller.register(file.as_raw_fd(), T1, Interest::READABLE, mode) };
    assert!(matches!(refused, Err(Error::Io(_))), "{refused:?}");
    assert_eq!(poller.registered(), 0);
    assert!(matches!(
        poller.deregister(file.as_raw_fd()),
        Err(Error::NotRegistered(_))
    ));
    watch(&mut poller, &pair.rx, T1, Interest::READABLE, mode).expect("token still free");
}

/// A non-blocking TCP connect is reported writable once established; a refused one as an
/// error.
pub(crate) fn tcp_connect_outcome_is_reported<S: Selector>(new: fn() -> S) {
    use socket2::{Domain, Socket, Type};

    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let open: socket2::SockAddr = listener.local_addr().expect("addr").into();
    let closed: socket2::SockAddr = {
        let gone = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        gone.local_addr().expect("addr").into()
    };
    let connect = |addr: &socket2::SockAddr| {
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
        socket.set_nonblocking(true).expect("nonblocking");
        match socket.connect(addr) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(in_progress()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("connect: {e}"),
        }
        End::Tcp(socket.into())
    };
    let good = connect(&open);
    let bad = connect(&closed);
    let mut poller = new();
    let mode = any_mode(&poller);
    // One at a time: `expect_event` discards other tokens' events, which edge mode would not
    // repeat. A registration made after the outcome still reports it.
    watch(&mut poller, &good, T1, Interest::WRITABLE, mode).expect("register");
    let event = expect_event(&mut poller, T1, Event::is_writable, &[]);
    assert!(!event.is_error(), "{event:?}");
    let End::Tcp(stream) = &good else {
        unreachable!()
    };
    assert!(stream.take_error().expect("SO_ERROR").is_none());
    listener.accept().expect("the connection is established");

    watch(&mut poller, &bad, T2, Interest::WRITABLE, mode).expect("register");
    let failed = |e: &Event| e.is_writable() || e.is_error() || e.is_write_closed();
    let event = expect_event(&mut poller, T2, failed, &[]);
    if poller.backend().reports_hang_up() {
        assert!(event.is_error(), "{event:?}");
    }
    let End::Tcp(stream) = &bad else {
        unreachable!()
    };
    assert!(
        stream.take_error().expect("SO_ERROR").is_some(),
        "connect did not fail"
    );
}

fn in_progress() -> i32 {
    #[cfg(unix)]
    return libc::EINPROGRESS;
    #[cfg(windows)]
    return 10035; // WSAEWOULDBLOCK
}

/// Serialises the cases that measure their own CPU time, so they compete with each other for
/// neither core: an idle poll uses a few percent of one, a spinning one nearly all of it.
pub(crate) static CPU_MEASURED: Mutex<()> = Mutex::new(());

/// Guards the cases that hold thousands of descriptors, so two never run at once (the
/// descriptor limit here is about 20 000).
#[cfg(unix)]
pub(crate) static MANY_FDS: Mutex<()> = Mutex::new(());

/// 10 000 registrations (5 000 Unix socket pairs), all reported, through a buffer much smaller
/// than the number of ready sources.
#[cfg(unix)]
pub(crate) fn ten_thousand_registrations<S: Selector>(new: fn() -> S) {
    use std::collections::HashSet;

    const PAIRS: usize = 5_000;
    let _serial = MANY_FDS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    raise_fd_limit((2 * PAIRS + 1_000) as libc::rlim_t);
    let mut pairs: Vec<_> = (0..PAIRS).map(|_| crate::util::Unix::pair()).collect();
    let mut poller = new();
    let mode = any_mode(&poller);
    for (i, pair) in pairs.iter().enumerate() {
        watch(
            &mut poller,
            &pair.rx,
            Token(2 * i),
            Interest::READABLE,
            mode,
        )
        .expect("rx");
        watch(
            &mut poller,
            &pair.tx,
            Token(2 * i + 1),
            Interest::READABLE,
            mode,
        )
        .expect("tx");
    }
    assert_eq!(poller.registered(), 2 * PAIRS);
    for pair in &mut pairs {
        pair.tx.send(b">");
        pair.rx.send(b"<");
    }
    let mut seen = HashSet::new();
    let mut events = Events::with_capacity(1024);
    let start = Instant::now();
    while seen.len() < 2 * PAIRS {
        assert!(
            start.elapsed() < PATIENCE * 4,
            "only {} sources reported",
            seen.len()
        );
        poller.poll(&mut events, Some(PATIENCE)).expect("poll");
        assert!(events.len() <= events.capacity());
        for event in &events {
            assert!(event.is_readable(), "{event:?}");
            assert!(event.token().0 < 2 * PAIRS, "{event:?}");
            if mode != Mode::Level {
                assert!(seen.insert(event.token()), "reported twice: {event:?}");
            } else {
                seen.insert(event.token());
            }
        }
    }
    for pair in &pairs {
        poller.deregister(pair.rx.raw()).expect("deregister rx");
        poller.deregister(pair.tx.raw()).expect("deregister tx");
    }
    assert_eq!(poller.registered(), 0);
}

#[cfg(unix)]
fn raise_fd_limit(wanted: libc::rlim_t) {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for the call.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    assert_eq!(got, 0, "getrlimit");
    if limit.rlim_cur < wanted && limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid rlimit; raising the soft limit up to the hard one is
        // always permitted.
        let set = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
        assert_eq!(set, 0, "setrlimit");
    }
}

// ---- waker ------------------------------------------------------------------------------

/// A wake from another thread ends a poll blocked without a timeout limit in sight; the
/// wake-up is not an event.
pub(crate) fn waker_wakes_a_blocked_poll<S: Selector>(new: fn() -> S) {
    let mut poller = new();
    let waker = poller.waker().expect("waker");
    let thread = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        waker.wake()
    });
    let mut events = Events::with_capacity(8);
    let start = Instant::now();
    poller.poll(&mut events, Some(PATIENCE * 2)).expect("poll");
    assert!(start.elapsed() < PATIENCE * 2, "poll was not woken");
    assert!(events.is_empty(), "{:?}", events.iter().collect::<Vec<_>>());
    thread.join().expect("waking thread").expect("wake");
}

/// Many wakes, from many threads, before a poll make it return once; the next poll waits its
/// full timeout without spinning, and a later wake works again.
pub(crate) fn many_wakes_coalesce<S: Selector>(new: fn() -> S) {
    let _serial = CPU_MEASURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut poller = new();
    let waker = poller.waker().expect("waker");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let waker = waker.clone();
            thread::spawn(move || (0..250).try_for_each(|_| waker.wake()))
        })
        .collect();
    for thread in threads {
        thread.join().expect("waking thread").expect("wake");
    }
    let mut events = Events::with_capacity(8);
    let start = Instant::now();
    poller.poll(&mut events, Some(PATIENCE)).expect("poll");
    assert!(
        start.elapsed() < PATIENCE,
        "1000 wakes did not wake the poll"
    );
    assert!(events.is_empty());

    #[cfg(unix)]
    let cpu = crate::util::thread_cpu_time();
    let start = Instant::now();
    poller.poll(&mut events, Some(QUIET * 4)).expect("poll");
    assert!(
        start.elapsed() >= QUIET * 4,
        "a second return: the wakes did not coalesce"
    );
    assert!(events.is_empty());
    #[cfg(unix)]
    {
        let used = crate::util::thread_cpu_time() - cpu;
        assert!(
            used < QUIET * 2,
            "an idle poll used {used:?} of CPU: it spins"
        );
    }

    waker.wake().expect("wake");
    let start = Instant::now();
    poller.poll(&mut events, Some(PATIENCE)).expect("poll");
    assert!(
        start.elapsed() < PATIENCE,
        "the waker is stuck after a coalesced round"
    );
}

/// A wake that arrives with I/O readiness is absorbed: only the I/O is reported.
pub(crate) fn wake_with_io_reports_only_io<S: Selector>(new: fn() -> S) {
    let mut pair = Local::pair();
    let mut poller = new();
    let mode = any_mode(&poller);
    watch(&mut poller, &pair.rx, T1, Interest::READABLE, mode).expect("register");
    pair.tx.send(b"x");
    poller.waker().expect("waker").wake().expect("wake");
    // `expect_event` fails on any event carrying the waker's token.
    expect_event(&mut poller, T1, Event::is_readable, &[]);
}

/// A waker that outlives its poller still works (and does nothing).
pub(crate) fn waker_outlives_poller<S: Selector>(new: fn() -> S) {
    let poller = new();
    let waker = poller.waker().expect("waker");
    drop(poller);
    waker.wake().expect("wake after the poller is gone");
    waker.clone().wake().expect("wake again");
}

// ---- timeouts ---------------------------------------------------------------------------

/// An idle poll returns empty, and never before its timeout, sub-millisecond ones included.
pub(crate) fn timeouts_are_honoured<S: Selector>(new: fn() -> S) {
    let mut poller = new();
    let mut events = Events::with_capacity(8);
    poller
        .poll(&mut events, Some(Duration::ZERO))
        .expect("poll");
    assert!(events.is_empty());
    for timeout in [100, 999, 1_000, 1_001, 15_000].map(Duration::from_micros) {
        let start = Instant::now();
        poller.poll(&mut events, Some(timeout)).expect("poll");
        let elapsed = start.elapsed();
        assert!(events.is_empty());
        assert!(
            elapsed >= timeout,
            "returned after {elapsed:?} < {timeout:?}"
        );
    }
}

/// Repeated sub-millisecond timeouts do not turn into a busy loop: every return takes at
/// least the timeout, so the number of returns in a window is bounded by window / timeout.
pub(crate) fn sub_millisecond_timeouts_do_not_spin<S: Selector>(new: fn() -> S) {
    let _serial = CPU_MEASURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut poller = new();
    let mut events = Events::with_capacity(8);
    let timeout = Duration::from_micros(200);
    let window = Duration::from_millis(40);
    #[cfg(unix)]
    let cpu = crate::util::thread_cpu_time();
    let start = Instant::now();
    let mut returns = 0u32;
    while start.elapsed() < window {
        poller.poll(&mut events, Some(timeout)).expect("poll");
        returns += 1;
    }
    let elapsed = start.elapsed();
    let bound = (elapsed.as_micros() / timeout.as_micros()) as u32;
    assert!(
        returns <= bound,
        "{returns} returns in {elapsed:?}: it spins"
    );
    assert!(returns > 0);
    // A backend that turned the timeout into zero and retried inside `poll` would keep the
    // count down but burn the CPU.
    #[cfg(unix)]
    {
        let used = crate::util::thread_cpu_time() - cpu;
        assert!(
            used < elapsed / 4,
            "{returns} polls used {used:?} of CPU in {elapsed:?}"
        );
    }
}

/// A long idle poll sleeps in the kernel instead of spinning (measured in CPU time).
#[cfg(unix)]
pub(crate) fn idle_poll_does_not_spin<S: Selector>(new: fn() -> S) {
    let _serial = CPU_MEASURED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut poller = new();
    let mut events = Events::with_capacity(8);
    let cpu = crate::util::thread_cpu_time();
    let timeout = Duration::from_millis(100);
    let start = Instant::now();
    poller.poll(&mut events, Some(timeout)).expect("poll");
    assert!(start.elapsed() >= timeout);
    let used = crate::util::thread_cpu_time() - cpu;
    assert!(used < timeout / 5, "an idle poll used {used:?} of CPU");
}

/// Waker handles of one poller are interchangeable: any clone wakes it.
pub(crate) fn cloned_wakers_share_one_state<S: Selector>(new: fn() -> S) {
    let mut poller = new();
    let first = poller.waker().expect("waker");
    let second = poller.waker().expect("waker");
    let mut events = Events::with_capacity(8);
    for waker in [first.clone(), second, first] {
        waker.wake().expect("wake");
        let start = Instant::now();
        poller.poll(&mut events, Some(PATIENCE)).expect("poll");
        assert!(start.elapsed() < PATIENCE, "a clone did not wake the poll");
    }
}

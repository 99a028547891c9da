//! Reaching connections from other threads: handles after close and slot reuse, wake,
//! broadcast ordering, and a concurrent stress of async writes, wakes and closes.

mod util;

use std::io::{ErrorKind, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use loopwire::{Action, CloseReason, Conn, ConnHandle, Engine, Error, EventHandler};
use util::*;

/// Remembers every open connection's handle; answers traffic by echoing and wakes with "woke".
#[derive(Default)]
struct Registry {
    open: Mutex<Vec<ConnHandle>>,
    opened: AtomicUsize,
    closed: AtomicUsize,
    traffic_empty: AtomicUsize,
}

impl EventHandler for Registry {
    type State = ();
    fn on_open(&self, c: &mut Conn<'_, ()>) -> Action {
        self.open.lock().unwrap().push(c.handle());
        self.opened.fetch_add(1, Ordering::SeqCst);
        Action::None
    }
    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        if c.inbound_len() == 0 {
            self.traffic_empty.fetch_add(1, Ordering::SeqCst);
            c.write(b"woke");
        } else {
            let d = c.next(usize::MAX);
            c.write(d);
        }
        Action::None
    }
    fn on_close(&self, c: &mut Conn<'_, ()>, _r: CloseReason) -> Action {
        self.open.lock().unwrap().retain(|h| *h != c.handle());
        self.closed.fetch_add(1, Ordering::SeqCst);
        Action::None
    }
}

#[test]
fn stale_handle_is_closed_and_never_reaches_the_slots_new_owner() {
    let r = Arc::new(Registry::default());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(1)
        .start(Arc::clone(&r))
        .unwrap();
    let addr = tcp_addr(&e);
    let first = connect(addr);
    assert!(eventually(|| r.opened.load(Ordering::SeqCst) == 1));
    let old = r.open.lock().unwrap()[0];
    drop(first);
    assert!(eventually(|| r.closed.load(Ordering::SeqCst) == 1));
    let mut second = connect(addr);
    assert!(eventually(|| r.opened.load(Ordering::SeqCst) == 2));
    let new = r.open.lock().unwrap()[0];
    assert_eq!(new.slot(), old.slot(), "the slot was reused");
    assert_ne!(new.generation(), old.generation());
    assert!(matches!(
        e.async_write(old, &b"stale"[..]),
        Err(Error::Closed)
    ));
    assert!(matches!(e.wake(old), Err(Error::Closed)));
    assert!(matches!(e.close(old), Err(Error::Closed)));
    assert!(!e.is_open(old));
    // The new connection got nothing.
    second
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 16];
    let nothing = loop {
        match second.read(&mut buf) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            r => break r,
        }
    };
    match nothing {
        Err(err) => assert!(matches!(
            err.kind(),
            ErrorKind::WouldBlock | ErrorKind::TimedOut
        )),
        Ok(n) => panic!("new occupant received {n} bytes meant for the old one"),
    }
    // ...while its own handle works.
    e.async_write(new, &b"fresh"[..]).unwrap();
    second.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(read_n(&mut second, 5), b"fresh");
    e.stop();
    assert!(matches!(
        e.async_write(new, &b"x"[..]),
        Err(Error::Stopped | Error::Closed)
    ));
}

#[test]
fn wake_runs_on_traffic_with_nothing_to_read() {
    let r = Arc::new(Registry::default());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .start(Arc::clone(&r))
        .unwrap();
    let mut s = connect(tcp_addr(&e));
    assert!(eventually(|| r.opened.load(Ordering::SeqCst) == 1));
    let h = r.open.lock().unwrap()[0];
    e.wake(h).unwrap();
    assert_eq!(read_n(&mut s, 4), b"woke");
    assert_eq!(r.traffic_empty.load(Ordering::SeqCst), 1);
    e.stop();
}

#[test]
fn wake_many_wakes_each_live_connection_once_and_skips_stale_handles() {
    let r = Arc::new(Registry::default());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .start(Arc::clone(&r))
        .unwrap();
    let mut clients: Vec<_> = (0..6).map(|_| connect(tcp_addr(&e))).collect();
    assert!(eventually(|| r.opened.load(Ordering::SeqCst) == 6));
    // One more that closes: its handle is stale by the time of the wake.
    let gone = connect(tcp_addr(&e));
    assert!(eventually(|| r.opened.load(Ordering::SeqCst) == 7));
    let stale = *r.open.lock().unwrap().last().unwrap();
    drop(gone);
    assert!(eventually(|| r.closed.load(Ordering::SeqCst) == 1));
    let mut handles = r.open.lock().unwrap().clone();
    assert_eq!(handles.len(), 6);
    assert!(
        handles.iter().any(|h| h.loop_id() == 0) && handles.iter().any(|h| h.loop_id() == 1),
        "spread over both loops"
    );
    handles.push(stale);
    e.wake_many(handles).unwrap();
    for c in &mut clients {
        assert_eq!(read_n(c, 4), b"woke");
    }
    assert_eq!(
        r.traffic_empty.load(Ordering::SeqCst),
        6,
        "once each, none for the stale one"
    );
    e.stop();
    assert!(matches!(e.wake_many([stale]), Err(Error::Stopped)));
}

#[test]
fn broadcast_reaches_every_connection_once_in_order() {
    let r = Arc::new(Registry::default());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .start(Arc::clone(&r))
        .unwrap();
    let mut clients: Vec<_> = (0..8).map(|_| connect(tcp_addr(&e))).collect();
    assert!(eventually(|| r.opened.load(Ordering::SeqCst) == 8));
    for c in &mut clients {
        write_all(c, b"1");
        assert_eq!(read_n(c, 1), b"1");
    }
    e.broadcast(&b"[all]"[..]).unwrap();
    for c in &mut clients {
        assert_eq!(read_n(c, 5), b"[all]");
        write_all(c, b"2");
        assert_eq!(read_n(c, 1), b"2");
    }
    // A filtered broadcast reaches only the selected half, in order with their own writes.
    let handles = r.open.lock().unwrap().clone();
    let chosen: std::collections::HashSet<ConnHandle> = handles
        .iter()
        .copied()
        .filter(|h| h.generation() % 2 == 0)
        .collect();
    let n_chosen = chosen.len();
    assert!(n_chosen > 0 && n_chosen < handles.len());
    e.broadcast_filtered(&b"[even]"[..], move |h| chosen.contains(&h))
        .unwrap();
    // The chosen connections get "[even]"; the others get nothing.
    let mut got = 0;
    for c in &mut clients {
        c.set_read_timeout(Some(std::time::Duration::from_millis(300)))
            .unwrap();
        let mut b = [0u8; 6];
        match c.read_exact(&mut b) {
            Ok(()) => {
                assert_eq!(&b, b"[even]");
                got += 1;
            }
            Err(err) => assert!(matches!(
                err.kind(),
                ErrorKind::WouldBlock | ErrorKind::TimedOut
            )),
        }
        c.set_read_timeout(Some(WAIT)).unwrap();
    }
    assert_eq!(got, n_chosen);
    // Nothing more arrives: each got the broadcast exactly once.
    for c in &mut clients {
        c.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let mut b = [0u8; 8];
        let more = loop {
            match c.read(&mut b) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                r => break r,
            }
        };
        assert!(more.is_err(), "a second broadcast: {more:?}");
    }
    e.stop();
}

#[test]
fn concurrent_async_writes_wakes_and_closes_with_churning_clients() {
    let r = Arc::new(Registry::default());
    let e = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .start(Arc::clone(&r))
        .unwrap();
    let addr = tcp_addr(&e);
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(3);

    // Clients connect, read a little, and go away.
    let churn: Vec<_> = (0..4)
        .map(|i| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut rng = Rng::new(100 + i);
                let mut held = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(c) = std::net::TcpStream::connect(addr) {
                        c.set_nonblocking(true).unwrap();
                        held.push(c);
                    }
                    if held.len() > 20 || rng.below(3) == 0 {
                        let k = rng.below(held.len().max(1));
                        if k < held.len() {
                            let mut c = held.swap_remove(k);
                            let mut b = [0u8; 4096];
                            let _ = c.read(&mut b);
                        }
                    }
                    thread::sleep(Duration::from_millis(1));
                }
            })
        })
        .collect();

    // Eight threads act on random handles.
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let e = e.clone();
            let r = Arc::clone(&r);
            thread::spawn(move || {
                let mut rng = Rng::new(7 + i);
                let mut ok = 0usize;
                while Instant::now() < deadline {
                    let h = {
                        let open = r.open.lock().unwrap();
                        if open.is_empty() {
                            None
                        } else {
                            Some(open[rng.below(open.len())])
                        }
                    };
                    let Some(h) = h else {
                        thread::yield_now();
                        continue;
                    };
                    let res = match rng.below(10) {
                        0 => e.close(h),
                        1..=3 => e.wake(h),
                        _ => e.async_write(h, vec![b'x'; 1 + rng.below(512)]),
                    };
                    match res {
                        Ok(()) => ok += 1,
                        Err(Error::Closed) => {}
                        Err(other) => panic!("unexpected error {other:?}"),
                    }
                }
                ok
            })
        })
        .collect();
    let done: usize = workers.into_iter().map(|w| w.join().unwrap()).sum();
    stop.store(true, Ordering::Relaxed);
    for c in churn {
        c.join().unwrap();
    }
    assert!(done > 0, "some calls reached live connections");
    e.stop();
    assert_eq!(
        r.opened.load(Ordering::SeqCst),
        r.closed.load(Ordering::SeqCst),
        "every opened connection closed exactly once"
    );
    assert!(r.open.lock().unwrap().is_empty());
}

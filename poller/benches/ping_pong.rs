//! Socket-pair ping-pong through each backend, and through `mio` and `polling` used directly.
//!
//! One iteration is a full round trip on one thread: write a byte on `b`, poll until `a` is
//! readable, read it, write it back on `a`, poll until `b` is readable, read it. Both ends are
//! registered edge-triggered for reading (the one mode every backend has), so each iteration
//! costs two polls, two reads and two writes, and the difference between rows is the poller.
//!
//! A row runs when this build has its backend (the `mio` and `polling` rows and peers need
//! those features). Linux only (see the `criterion` note in `Cargo.toml`). Run:
//! `cargo bench -p loopwire-poller --all-features --bench ping_pong -- --warm-up-time 1
//! --measurement-time 3`

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    use criterion::{Bencher, Criterion};
    use loopwire_poller::{Backend, Events, Interest, Mode, Poller, Selector, Token};

    const A: Token = Token(0);
    const B: Token = Token(1);

    fn pair() -> (UnixStream, UnixStream) {
        let (a, b) = UnixStream::pair().expect("socketpair");
        a.set_nonblocking(true).expect("nonblocking");
        b.set_nonblocking(true).expect("nonblocking");
        (a, b)
    }

    /// One byte from `from` to `to`, waiting with `wait` until `to` is readable.
    fn hop(from: &mut UnixStream, to: &mut UnixStream, wait: &mut impl FnMut()) {
        from.write_all(b"!").expect("write");
        wait();
        let mut buf = [0; 8];
        assert_eq!(to.read(&mut buf).expect("read"), 1);
    }

    /// The round trip through any `Selector`.
    fn through<S: Selector>(bencher: &mut Bencher<'_>, mut poller: S) {
        let (mut a, mut b) = pair();
        for (end, token) in [(&a, A), (&b, B)] {
            // SAFETY: both ends outlive their registrations (deregistered below).
            unsafe { poller.register(end.as_raw_fd(), token, Interest::READABLE, Mode::Edge) }
                .expect("register");
        }
        let mut events = Events::with_capacity(64);
        let mut wait_for = |token: Token, poller: &mut S| loop {
            poller.poll(&mut events, None).expect("poll");
            if events.iter().any(|e| e.token() == token) {
                return;
            }
        };
        bencher.iter(|| {
            hop(&mut b, &mut a, &mut || wait_for(A, &mut poller));
            hop(&mut a, &mut b, &mut || wait_for(B, &mut poller));
        });
        poller.deregister(a.as_raw_fd()).expect("deregister");
        poller.deregister(b.as_raw_fd()).expect("deregister");
    }

    /// The same round trip with `mio` used directly (the peer).
    #[cfg(has_mio)]
    fn raw_mio(bencher: &mut Bencher<'_>) {
        use mio::unix::SourceFd;

        let (mut a, mut b) = pair();
        let mut poll = mio::Poll::new().expect("mio");
        for (end, token) in [(&a, A), (&b, B)] {
            poll.registry()
                .register(
                    &mut SourceFd(&end.as_raw_fd()),
                    mio::Token(token.0),
                    mio::Interest::READABLE,
                )
                .expect("register");
        }
        let mut events = mio::Events::with_capacity(64);
        let mut wait_for = |token: Token, poll: &mut mio::Poll| loop {
            poll.poll(&mut events, None).expect("poll");
            if events.iter().any(|e| e.token().0 == token.0) {
                return;
            }
        };
        bencher.iter(|| {
            hop(&mut b, &mut a, &mut || wait_for(A, &mut poll));
            hop(&mut a, &mut b, &mut || wait_for(B, &mut poll));
        });
    }

    /// The same round trip with `polling` used directly (the peer).
    #[cfg(has_polling)]
    fn raw_polling(bencher: &mut Bencher<'_>) {
        use std::num::NonZeroUsize;

        let (mut a, mut b) = pair();
        let poller = polling::Poller::new().expect("polling");
        for (end, token) in [(&a, A), (&b, B)] {
            // SAFETY: both ends outlive the poller, which is dropped first.
            unsafe {
                poller.add_with_mode(
                    end.as_raw_fd(),
                    polling::Event::readable(token.0),
                    polling::PollMode::Edge,
                )
            }
            .expect("add");
        }
        let mut events = polling::Events::with_capacity(NonZeroUsize::new(64).expect("non-zero"));
        let mut wait_for = |token: Token| loop {
            events.clear();
            poller.wait(&mut events, None).expect("wait");
            if events.iter().any(|e| e.key == token.0) {
                return;
            }
        };
        bencher.iter(|| {
            hop(&mut b, &mut a, &mut || wait_for(A));
            hop(&mut a, &mut b, &mut || wait_for(B));
        });
        drop(poller);
    }

    pub(crate) fn bench(c: &mut Criterion) {
        let mut group = c.benchmark_group("ping_pong");
        #[cfg(has_epoll)]
        group.bench_function("epoll", |bencher| {
            through(bencher, loopwire_poller::EpollPoller::new().expect("epoll"));
        });
        #[cfg(has_mio)]
        group.bench_function("mio", |bencher| {
            through(bencher, loopwire_poller::MioPoller::new().expect("mio"));
        });
        #[cfg(has_polling)]
        group.bench_function("polling", |bencher| {
            through(
                bencher,
                loopwire_poller::PollingPoller::new().expect("polling"),
            );
        });
        for &backend in Backend::available() {
            group.bench_function(format!("Poller::{backend}"), |bencher| {
                through(bencher, Poller::with_backend(backend).expect("poller"));
            });
        }
        #[cfg(has_mio)]
        group.bench_function("peer: mio::Poll", raw_mio);
        #[cfg(has_polling)]
        group.bench_function("peer: polling::Poller", raw_polling);
        group.finish();
    }
}

#[cfg(target_os = "linux")]
criterion::criterion_group!(benches, linux::bench);
#[cfg(target_os = "linux")]
criterion::criterion_main!(benches);

/// The benches run on Linux only (see the `criterion` note in `Cargo.toml`).
#[cfg(not(target_os = "linux"))]
fn main() {}

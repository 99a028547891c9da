//! Waker costs through each backend, and through `mio` and `polling` used directly.
//!
//! * `waker_round_trip`: two threads, each blocked in its own poller; one iteration wakes the
//!   other thread's poller and waits until that thread wakes ours back. This is the cost an
//!   event loop pays to hand work to another loop and get an answer. Both threads are pinned to
//!   one CPU: across CPUs the figure is dominated by how fast an idle core wakes up (and swings
//!   by 3x between runs on a shared machine), which says nothing about the poller.
//! * `wake_burst`: 100 wakes then one zero-timeout poll on one thread; with coalescing only the
//!   first wake reaches the kernel.
//!
//! A row runs when this build has its backend (the `mio` and `polling` rows and peers need
//! those features). Linux only (see the `criterion` note in `Cargo.toml`). Run:
//! `cargo bench -p loopwire-poller --all-features --bench waker -- --warm-up-time 1
//! --measurement-time 3`

#[cfg(target_os = "linux")]
mod linux {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;
    use std::time::Duration;

    use criterion::{Bencher, Criterion};
    use loopwire_poller::{Backend, Events, Poller, Selector, Wake};

    /// Runs `bench` with the calling thread pinned to the CPU it is on, passed to `bench` so
    /// it can pin its partner thread there too; restores the thread's CPU mask afterwards.
    fn on_one_cpu(bench: impl FnOnce(usize)) {
        // SAFETY: `sched_getcpu` takes no arguments.
        let cpu = unsafe { libc::sched_getcpu() };
        let cpu = usize::try_from(cpu).expect("sched_getcpu");
        // SAFETY: `cpu_set_t` is plain data; all zeroes is the empty set.
        let mut old: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `old` is a writable `cpu_set_t` of the size passed.
        let got = unsafe { libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut old) };
        assert_eq!(got, 0, "sched_getaffinity");
        pin_to(cpu);
        bench(cpu);
        set_affinity(&old);
    }

    /// Pins the calling thread to `cpu`.
    fn pin_to(cpu: usize) {
        // SAFETY: `cpu_set_t` is plain data; all zeroes is the empty set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: `cpu` came from `sched_getcpu`, so it is below `CPU_SETSIZE`.
        unsafe { libc::CPU_SET(cpu, &mut set) };
        set_affinity(&set);
    }

    fn set_affinity(set: &libc::cpu_set_t) {
        // SAFETY: `set` is a valid `cpu_set_t` of the size passed; 0 means this thread.
        let set = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), set) };
        assert_eq!(set, 0, "sched_setaffinity");
    }

    /// Ping-pong of wake-ups between the bench thread and a partner thread.
    fn round_trip<S: Selector + 'static>(bencher: &mut Bencher<'_>, new: fn() -> S) {
        on_one_cpu(|cpu| round_trip_on(bencher, new, cpu));
    }

    fn round_trip_on<S: Selector + 'static>(bencher: &mut Bencher<'_>, new: fn() -> S, cpu: usize) {
        let mut ours = new();
        let partner = new();
        let wake_us = ours.waker().expect("waker");
        let wake_partner = partner.waker().expect("waker");
        let stop = Arc::new(AtomicBool::new(false));
        let partner_thread = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                pin_to(cpu);
                let mut partner = partner;
                let mut events = Events::with_capacity(8);
                loop {
                    partner.poll(&mut events, None).expect("partner poll");
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    wake_us.wake().expect("wake back");
                }
            })
        };
        let mut events = Events::with_capacity(8);
        bencher.iter(|| {
            wake_partner.wake().expect("wake partner");
            ours.poll(&mut events, None).expect("poll");
        });
        stop.store(true, Ordering::Release);
        wake_partner.wake().expect("stop partner");
        partner_thread.join().expect("partner thread");
    }

    /// 100 wakes, then one zero-timeout poll that absorbs them.
    fn burst<S: Selector>(bencher: &mut Bencher<'_>, new: fn() -> S) {
        let mut poller = new();
        let waker = poller.waker().expect("waker");
        let mut events = Events::with_capacity(8);
        bencher.iter(|| {
            for _ in 0..100 {
                waker.wake().expect("wake");
            }
            poller
                .poll(&mut events, Some(Duration::ZERO))
                .expect("poll");
        });
    }

    /// The round trip with `mio::Waker` used directly (no coalescing flag).
    #[cfg(has_mio)]
    fn raw_mio_round_trip(bencher: &mut Bencher<'_>) {
        on_one_cpu(|cpu| raw_mio_round_trip_on(bencher, cpu));
    }

    #[cfg(has_mio)]
    fn raw_mio_round_trip_on(bencher: &mut Bencher<'_>, cpu: usize) {
        const WAKE: mio::Token = mio::Token(0);
        let mut ours = mio::Poll::new().expect("mio");
        let mut partner = mio::Poll::new().expect("mio");
        let wake_us = mio::Waker::new(ours.registry(), WAKE).expect("waker");
        let wake_partner = Arc::new(mio::Waker::new(partner.registry(), WAKE).expect("waker"));
        let stop = Arc::new(AtomicBool::new(false));
        let partner_thread = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                pin_to(cpu);
                let mut events = mio::Events::with_capacity(8);
                loop {
                    partner.poll(&mut events, None).expect("partner poll");
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    wake_us.wake().expect("wake back");
                }
            })
        };
        let mut events = mio::Events::with_capacity(8);
        bencher.iter(|| {
            wake_partner.wake().expect("wake partner");
            ours.poll(&mut events, None).expect("poll");
        });
        stop.store(true, Ordering::Release);
        wake_partner.wake().expect("stop partner");
        partner_thread.join().expect("partner thread");
    }

    /// The round trip with `polling::Poller::notify` used directly.
    #[cfg(has_polling)]
    fn raw_polling_round_trip(bencher: &mut Bencher<'_>) {
        on_one_cpu(|cpu| raw_polling_round_trip_on(bencher, cpu));
    }

    #[cfg(has_polling)]
    fn raw_polling_round_trip_on(bencher: &mut Bencher<'_>, cpu: usize) {
        let ours = Arc::new(polling::Poller::new().expect("polling"));
        let partner = Arc::new(polling::Poller::new().expect("polling"));
        let stop = Arc::new(AtomicBool::new(false));
        let partner_thread = {
            let (stop, ours, partner) =
                (Arc::clone(&stop), Arc::clone(&ours), Arc::clone(&partner));
            thread::spawn(move || {
                pin_to(cpu);
                let mut events = polling::Events::new();
                loop {
                    events.clear();
                    partner.wait(&mut events, None).expect("partner wait");
                    if stop.load(Ordering::Acquire) {
                        return;
                    }
                    ours.notify().expect("wake back");
                }
            })
        };
        let mut events = polling::Events::new();
        bencher.iter(|| {
            partner.notify().expect("wake partner");
            events.clear();
            ours.wait(&mut events, None).expect("wait");
        });
        stop.store(true, Ordering::Release);
        partner.notify().expect("stop partner");
        partner_thread.join().expect("partner thread");
    }

    pub(crate) fn bench(c: &mut Criterion) {
        let mut group = c.benchmark_group("waker_round_trip");
        #[cfg(has_epoll)]
        group.bench_function("epoll", |b| {
            round_trip(b, || loopwire_poller::EpollPoller::new().expect("epoll"));
        });
        #[cfg(has_mio)]
        group.bench_function("mio", |b| {
            round_trip(b, || loopwire_poller::MioPoller::new().expect("mio"));
        });
        #[cfg(has_polling)]
        group.bench_function("polling", |b| {
            round_trip(b, || {
                loopwire_poller::PollingPoller::new().expect("polling")
            });
        });
        group.bench_function(format!("Poller::{}", Backend::default()), |b| {
            round_trip(b, || Poller::new().expect("poller"));
        });
        #[cfg(has_mio)]
        group.bench_function("peer: mio::Waker", raw_mio_round_trip);
        #[cfg(has_polling)]
        group.bench_function("peer: polling::Poller::notify", raw_polling_round_trip);
        group.finish();

        let mut group = c.benchmark_group("wake_burst");
        #[cfg(has_epoll)]
        group.bench_function("epoll", |b| {
            burst(b, || loopwire_poller::EpollPoller::new().expect("epoll"));
        });
        #[cfg(has_mio)]
        group.bench_function("mio", |b| {
            burst(b, || loopwire_poller::MioPoller::new().expect("mio"));
        });
        #[cfg(has_polling)]
        group.bench_function("polling", |b| {
            burst(b, || {
                loopwire_poller::PollingPoller::new().expect("polling")
            });
        });
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

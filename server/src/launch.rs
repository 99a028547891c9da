//! Starting an engine: bind every address, build each loop's transport and shared state, then
//! spawn the loops and (unless every loop accepts for itself) the acceptor. [`start`] serves
//! OS sockets on the readiness transport; [`start_on`] serves transports the caller made (the
//! in-memory one, say), whose loops accept for themselves.
//!
//! It receives a validated [`Config`], never the builder. Nothing is left running or bound when
//! it fails.

use std::net::SocketAddr;
use std::sync::Arc;

use loopwire_poller::Poller;

use crate::addr::{BoundAddr, ListenAddr, Network};
use crate::backend::Backend;
use crate::config::Config;
use crate::engine::{ClockWake, EngineHandle, EngineShared};
use crate::error::{Error, Result};
use crate::handler::{Action, EventHandler};
use crate::reactor::acceptor::Acceptor;
use crate::reactor::{EventLoop, LoopInit, LoopSockets};
use crate::shared::LoopShared;
use crate::shared::dials::DialCount;
use crate::shared::stop::StopState;
use crate::shared::sync::{Mutex, lock};
use crate::sys::{self, Datagram, Listener};
use crate::time::Subscriber;
use crate::transport::{PollerTransport, Transport, Waker};

/// Capacity a connection's ring buffer keeps while in use, and the block size of each loop's
/// buffer pool (a drained buffer goes back to the pool, so idle connections own none).
const RING_INITIAL: usize = 4096;

/// Everything bound for one engine, before its threads start.
struct Bound {
    per_loop: Vec<LoopSockets<PollerTransport>>,
    acceptor: Vec<(Listener, Network)>,
    addrs: Vec<BoundAddr>,
}

/// Binds every address of `cfg`. A host name binds every address it resolves to (`localhost`:
/// `127.0.0.1` and `::1`), all on one port: with port 0, the port the first one got.
fn bind_all(cfg: &Config) -> Result<Bound> {
    let loops = cfg.loops;
    let mut bound = Bound {
        per_loop: (0..loops).map(|_| LoopSockets::default()).collect(),
        acceptor: Vec::new(),
        addrs: Vec::new(),
    };
    let mut udp_count = 0;
    for url in &cfg.addrs {
        let addr = ListenAddr::parse(url)?;
        let bind_err = |source| Error::Bind {
            url: url.clone(),
            source,
        };
        match &addr {
            ListenAddr::Unix(path) => {
                let l = sys::bind_unix(path, cfg.backlog, url)?;
                bound.addrs.push(BoundAddr {
                    network: Network::Unix,
                    addr: None,
                    path: Some(path.clone()),
                });
                bound.acceptor.push((l, Network::Unix));
            }
            ListenAddr::Inet { network, .. } => {
                let addrs = resolved(&addr)?;
                bind_inet(&mut bound, cfg, *network, &addrs, &mut udp_count).map_err(bind_err)?;
            }
        }
    }
    Ok(bound)
}

/// Binds `addrs` (what one URL resolved to), all on one port: with port 0, the port the first
/// one got. With `reuse_port` each loop gets its own socket per address; otherwise TCP
/// listeners go to the acceptor and UDP sockets to the loops in turn.
fn bind_inet(
    bound: &mut Bound,
    cfg: &Config,
    network: Network,
    addrs: &[SocketAddr],
    udp_count: &mut usize,
) -> std::io::Result<()> {
    let loops = cfg.loops;
    let mut port = None;
    for &sa in addrs {
        let mut sa = sa;
        if let Some(p) = port {
            sa.set_port(p);
        }
        let copies = if cfg.reuse_port { loops } else { 1 };
        for i in 0..copies {
            if network.is_udp() {
                let s = Datagram::new(sys::bind_udp(sa, cfg.reuse_port)?);
                sa = s.local_addr()?;
                let target = if cfg.reuse_port {
                    i
                } else {
                    *udp_count % loops
                };
                *udp_count += usize::from(!cfg.reuse_port);
                bound.per_loop[target].udp.push((s, network));
            } else {
                let l = sys::bind_tcp(sa, cfg.reuse_port, cfg.backlog)?;
                sa = l.local_addr()?;
                if cfg.reuse_port {
                    bound.per_loop[i]
                        .listeners
                        .push((Listener::Tcp(l), network));
                } else {
                    bound.acceptor.push((Listener::Tcp(l), network));
                }
            }
        }
        port = Some(sa.port());
        bound.addrs.push(BoundAddr {
            network,
            addr: Some(sa),
            path: None,
        });
    }
    Ok(())
}

/// The addresses `addr` resolves to, each once, in the resolver's order.
fn resolved(addr: &ListenAddr) -> Result<Vec<SocketAddr>> {
    let mut out: Vec<SocketAddr> = Vec::new();
    for sa in addr.resolve()? {
        if !out.contains(&sa) {
            out.push(sa);
        }
    }
    Ok(out)
}

/// The CPU each loop is pinned to, if pinning is on and the affinity mask can be read.
fn cpus(cfg: &Config) -> Vec<Option<usize>> {
    if !cfg.pin_cores {
        return vec![None; cfg.loops];
    }
    match sys::affinity::allowed_cpus() {
        Ok(allowed) => (0..cfg.loops)
            .map(|i| sys::affinity::cpu_for_loop(&allowed, i))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the CPUs this process may run on; loops stay unpinned");
            vec![None; cfg.loops]
        }
    }
}

/// The acceptor thread's poller, its waker and its listeners.
type AcceptorParts = (Poller, loopwire_poller::Waker, Vec<(Listener, Network)>);

/// Starts an engine serving `cfg`'s addresses on OS sockets: each loop on the io_uring
/// transport when that backend is chosen and the kernel allows it, else on the readiness
/// transport of `cfg`'s backend.
pub(crate) fn start<H: EventHandler>(cfg: Config, handler: H) -> Result<EngineHandle> {
    let bound = bind_all(&cfg)?;
    let acceptor = if bound.acceptor.is_empty() {
        None
    } else {
        let poller = Poller::with_backend(cfg.backend.poller())?;
        let waker = poller.waker()?;
        Some((poller, waker, bound.acceptor))
    };
    if cfg.backend == Backend::IoUring {
        #[cfg(all(feature = "io-uring", target_os = "linux"))]
        match uring_loops(&cfg, bound.per_loop) {
            Ok(loops) => {
                let on = Some(Backend::IoUring);
                return spawn(cfg, handler, loops, acceptor, (bound.addrs, on));
            }
            Err((e, per_loop)) => {
                tracing::warn!(error = %e, "the kernel refuses io_uring; the loops run on epoll");
                let loops = poller_loops(&cfg, per_loop)?;
                let on = Some(Backend::Epoll);
                return spawn(cfg, handler, loops, acceptor, (bound.addrs, on));
            }
        }
        #[cfg(not(all(feature = "io-uring", target_os = "linux")))]
        return Err(Error::InvalidOption {
            option: "backend",
            reason: "io-uring needs Linux and the `io-uring` feature of loopwire",
        });
    }
    let loops = poller_loops(&cfg, bound.per_loop)?;
    let on = Some(cfg.backend);
    spawn(cfg, handler, loops, acceptor, (bound.addrs, on))
}

/// Each loop's readiness transport, with its sockets.
fn poller_loops(
    cfg: &Config,
    per_loop: Vec<LoopSockets<PollerTransport>>,
) -> Result<Vec<(PollerTransport, LoopSockets<PollerTransport>)>> {
    let mut loops = Vec::with_capacity(per_loop.len());
    for sockets in per_loop {
        let poller = Poller::with_backend(cfg.backend.poller())?;
        loops.push((PollerTransport::new(poller, cfg.stream), sockets));
    }
    Ok(loops)
}

/// The sockets of one loop, moved to another transport over the same OS sockets.
#[cfg(all(feature = "io-uring", target_os = "linux"))]
fn moved<A, B>(s: LoopSockets<A>) -> LoopSockets<B>
where
    A: Transport<Listener = Listener, Datagram = Datagram>,
    B: Transport<Listener = Listener, Datagram = Datagram>,
{
    LoopSockets {
        listeners: s.listeners,
        udp: s.udp,
    }
}

/// Each loop's io_uring transport, with its sockets; on refusal, the error and the sockets
/// back.
#[cfg(all(feature = "io-uring", target_os = "linux"))]
#[allow(clippy::type_complexity)]
fn uring_loops(
    cfg: &Config,
    per_loop: Vec<LoopSockets<PollerTransport>>,
) -> std::result::Result<
    Vec<(
        crate::transport::UringTransport,
        LoopSockets<crate::transport::UringTransport>,
    )>,
    (std::io::Error, Vec<LoopSockets<PollerTransport>>),
> {
    let mut rings = Vec::with_capacity(per_loop.len());
    for _ in 0..per_loop.len() {
        match crate::transport::UringTransport::new(cfg.stream) {
            Ok(t) => rings.push(t),
            Err(e) => return Err((e, per_loop)),
        }
    }
    Ok(rings
        .into_iter()
        .zip(per_loop.into_iter().map(moved))
        .collect())
}

/// Starts an engine on the transports `make` returns for each loop (by loop id), with the
/// listeners each loop accepts on; `cfg`'s addresses are not bound.
pub(crate) fn start_on<H: EventHandler, T: Transport>(
    cfg: Config,
    handler: H,
    mut make: impl FnMut(usize) -> std::io::Result<(T, Vec<T::Listener>)>,
) -> Result<EngineHandle> {
    let mut loops = Vec::with_capacity(cfg.loops);
    for id in 0..cfg.loops {
        let (transport, listeners) = make(id)?;
        let sockets = LoopSockets {
            listeners: listeners.into_iter().map(|l| (l, Network::Tcp)).collect(),
            udp: Vec::new(),
        };
        loops.push((transport, sockets));
    }
    spawn(cfg, handler, loops, None, (Vec::new(), None))
}

fn spawn<H: EventHandler, T: Transport>(
    cfg: Config,
    handler: H,
    transports: Vec<(T, LoopSockets<T>)>,
    acceptor: Option<AcceptorParts>,
    (addrs, backend): (Vec<BoundAddr>, Option<Backend>),
) -> Result<EngineHandle> {
    let loops = cfg.loops;
    let balancer = Arc::new(cfg.load_balance.build(loops)?);
    let ring = loopwire_ringbuf::Config::builder()
        .initial(RING_INITIAL)
        .max(cfg.max_inbound.max(cfg.max_outbound))
        .build()
        .map_err(|_| Error::InvalidOption {
            option: "max_inbound/max_outbound",
            reason: "not a usable buffer size",
        })?;

    let mut shared = Vec::with_capacity(loops);
    let mut wakers: Vec<Waker> = Vec::with_capacity(loops + 1);
    for (transport, _) in &transports {
        let waker = transport.waker()?;
        wakers.push(waker.clone());
        shared.push(LoopShared::new(waker, cfg.max_connections));
    }
    if let Some((_, waker, _)) = &acceptor {
        wakers.push(Waker::from(waker.clone()));
    }

    let clock = cfg.clock.start();
    let clock_wake = cfg.clock.is_test().then(|| {
        let wake: Arc<Subscriber> = Arc::new(move || {
            for w in &wakers {
                if let Err(e) = w.wake() {
                    tracing::warn!(error = %e, "waking a loop for the test clock failed");
                }
            }
        });
        clock.subscribe(&wake);
        wake
    });
    let threads = loops + usize::from(acceptor.is_some());
    let engine = EngineHandle {
        inner: Arc::new(EngineShared {
            loops: shared,
            balancer: Arc::clone(&balancer),
            acceptor_waker: acceptor.as_ref().map(|(_, w, _)| w.clone()),
            addrs,
            backend,
            stop: StopState::new(threads),
            dials: DialCount::new(cfg.max_pending_dials),
            threads: Mutex::new(Vec::with_capacity(threads)),
            clock,
            _clock_wake: clock_wake.map(|wake| ClockWake { _wake: wake }),
        }),
    };
    let handler = Arc::new(handler);
    if handler.on_boot(&engine) == Action::Shutdown {
        engine.signal_stop();
    }

    let cfg = Arc::new(cfg);
    let mut spawned = Vec::with_capacity(threads);
    let mut spawn_error = None;
    let pins = cpus(&cfg);
    for (id, (transport, sockets)) in transports.into_iter().enumerate() {
        let init = LoopInit {
            handler: Arc::clone(&handler),
            engine: engine.clone(),
            balancer: Arc::clone(&balancer),
            ring,
            cfg: Arc::clone(&cfg),
        };
        let el = EventLoop::new(id, init, transport, sockets);
        let pin = pins.get(id).copied().flatten();
        let res = std::thread::Builder::new()
            .name(format!("loopwire-loop-{id}"))
            .spawn(move || el.run(pin));
        match res {
            Ok(t) => spawned.push(t),
            Err(e) => {
                spawn_error = Some(e);
                break;
            }
        }
    }
    if spawn_error.is_none()
        && let Some((poller, _, listeners)) = acceptor
    {
        let acc = Acceptor::new(
            poller,
            listeners,
            engine.clone(),
            Arc::clone(&handler),
            balancer,
        );
        match std::thread::Builder::new()
            .name("loopwire-acceptor".into())
            .spawn(move || acc.run())
        {
            Ok(t) => spawned.push(t),
            Err(e) => spawn_error = Some(e),
        }
    }
    if let Some(e) = spawn_error {
        // Threads that never started will never report their exit: account for them.
        engine.inner.stop.never_started(threads - spawned.len());
        *lock(&engine.inner.threads) = spawned;
        engine.signal_stop();
        engine.wait();
        return Err(Error::Io(e));
    }
    *lock(&engine.inner.threads) = spawned;
    Ok(engine)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(reuse_port: bool) -> Config {
        let mut b = crate::Engine::builder();
        b.addr("tcp://127.0.0.1:0").loops(2).reuse_port(reuse_port);
        b.config().expect("valid")
    }

    fn empty(loops: usize) -> Bound {
        Bound {
            per_loop: (0..loops).map(|_| LoopSockets::default()).collect(),
            acceptor: Vec::new(),
            addrs: Vec::new(),
        }
    }

    #[test]
    fn every_resolved_address_is_bound_on_one_port() {
        let v6 = std::net::UdpSocket::bind("[::1]:0").is_ok();
        let mut addrs: Vec<SocketAddr> = vec!["127.0.0.1:0".parse().unwrap()];
        if v6 {
            addrs.push("[::1]:0".parse().unwrap());
        } else {
            println!("no IPv6 loopback here: checking 127.0.0.1 and 127.0.0.2");
            addrs.push("127.0.0.2:0".parse().unwrap());
        }
        for reuse_port in [false, true] {
            let cfg = config(reuse_port);
            for network in [Network::Tcp, Network::Udp] {
                let mut bound = empty(cfg.loops);
                let mut udp = 0;
                bind_inet(&mut bound, &cfg, network, &addrs, &mut udp).expect("bind");
                let got: Vec<SocketAddr> = bound.addrs.iter().filter_map(|a| a.addr).collect();
                assert_eq!(got.len(), 2, "{network:?} {got:?}");
                assert_eq!(got[0].ip(), addrs[0].ip());
                assert_eq!(got[1].ip(), addrs[1].ip());
                assert_ne!(got[0].port(), 0);
                assert_eq!(got[0].port(), got[1].port(), "one port for all");
                let sockets = if reuse_port { 2 * cfg.loops } else { 2 };
                let held = bound.acceptor.len()
                    + bound
                        .per_loop
                        .iter()
                        .map(|l| l.listeners.len() + l.udp.len())
                        .sum::<usize>();
                assert_eq!(held, sockets, "{network:?} reuse_port={reuse_port}");
            }
        }
    }
}

//! One conformance suite, stamped onto every backend this build has on this machine.
//!
//! `conformance!` expands to a module per backend whose cargo feature is on and which the
//! platform has (`epoll`, `mio`, `polling`), plus `poller` for the run-time `Poller` enum over
//! the default backend; inside, a module per transport (`tcp`, `udp`, `unix`, `pipe`) holds the
//! I/O cases, and the rest sit at the backend's top level. So `cargo test -p loopwire-poller
//! --test conformance mio::pipe::` runs one corner of the grid (with `--features mio`).
//! The cases themselves live in `cases/mod.rs`, generic over `S: Selector`.

mod cases;
mod util;

/// Stamps the I/O cases that apply to every transport.
macro_rules! io_cases {
    ($poller:ty, $transport:ty; $($case:ident),* $(,)?) => {$(
        #[test]
        fn $case() {
            crate::cases::$case::<$poller, $transport>(super::new);
        }
    )*};
}

/// Stamps the transport-independent cases.
macro_rules! poller_cases {
    ($poller:ty; $($(#[$cfg:meta])* $case:ident),* $(,)?) => {$(
        $(#[$cfg])*
        #[test]
        fn $case() {
            crate::cases::$case::<$poller>(new);
        }
    )*};
}

macro_rules! conformance {
    ($($(#[$cfg:meta])* $backend:ident => $poller:ty;)*) => {$(
        $(#[$cfg])*
        mod $backend {
            fn new() -> $poller {
                <$poller>::new().expect("create the poller")
            }

            /// Cases for every transport, datagrams included.
            macro_rules! all_transports {
                ($transport:ty) => {
                    io_cases!($poller, $transport;
                        readable_on_data,
                        writable_when_connected,
                        edge_reports_once_per_arrival,
                        level_repeats_until_drained,
                        oneshot_needs_rearming,
                        deregister_stops_events,
                    );
                };
            }

            /// Cases for byte streams, which can be half-closed and hung up.
            macro_rules! streams {
                ($transport:ty) => {
                    all_transports!($transport);
                    io_cases!($poller, $transport;
                        read_closed_on_peer_shutdown,
                        hang_up_on_close,
                    );
                };
            }

            mod tcp {
                streams!(crate::util::Tcp);
            }

            mod udp {
                all_transports!(crate::util::Udp);
            }

            #[cfg(unix)]
            mod unix {
                streams!(crate::util::Unix);
            }

            #[cfg(unix)]
            mod pipe {
                streams!(crate::util::Pipe);
            }

            poller_cases!($poller;
                registration_errors_are_typed,
                reregister_moves_the_token,
                #[cfg(target_os = "linux")]
                os_refusal_leaves_nothing,
                tcp_connect_outcome_is_reported,
                #[cfg(unix)]
                ten_thousand_registrations,
                waker_wakes_a_blocked_poll,
                many_wakes_coalesce,
                wake_with_io_reports_only_io,
                waker_outlives_poller,
                cloned_wakers_share_one_state,
                timeouts_are_honoured,
                sub_millisecond_timeouts_do_not_spin,
                #[cfg(unix)]
                idle_poll_does_not_spin,
            );
        }
    )*};
}

// `has_epoll`, `has_mio`, `has_polling`: set by the crate's `build.rs` when the backend's
// feature is on and the target has it, so each build tests exactly the backends it has.
conformance! {
    #[cfg(has_epoll)]
    epoll => loopwire_poller::EpollPoller;
    #[cfg(has_mio)]
    mio => loopwire_poller::MioPoller;
    #[cfg(has_polling)]
    polling => loopwire_poller::PollingPoller;
    poller => loopwire_poller::Poller;
}

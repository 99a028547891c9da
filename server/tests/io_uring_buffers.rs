//! The io_uring transport's provided buffers under a burst: far more connections receive at
//! once than the loop has buffers in its ring (a window of 8 at first, 128 in all), so
//! receives find the ring empty (`ENOBUFS`), end, and must be armed again after the buffers
//! come back. Every byte must still arrive, in order, on every connection: no connection
//! starves and the loop does not stall.

#![cfg(all(feature = "io-uring", target_os = "linux"))]

mod util;

use std::io::Write;

use util::{Rng, connect, io_uring_echo, read_n, tcp_addr};

/// More connections than buffers in all, each sending more than one buffer (16 KiB) at once.
const CONNS: usize = 200;
const BURST: usize = 40 * 1024;
const ROUNDS: usize = 3;

#[test]
fn a_burst_on_more_connections_than_buffers_is_delivered_whole() {
    let engine = io_uring_echo(1);
    let addr = tcp_addr(&engine);
    let mut conns: Vec<_> = (0..CONNS).map(|_| connect(addr)).collect();
    let mut rng = Rng::new(0xb0f5);
    for round in 0..ROUNDS {
        // Every connection's burst is written before any echo is read, so they all reach the
        // loop within a turn or two (an echo of 40 KiB fits the client's receive buffer).
        let sent: Vec<Vec<u8>> = conns
            .iter_mut()
            .map(|c| {
                let payload = rng.bytes(BURST);
                c.write_all(&payload).expect("send the burst");
                payload
            })
            .collect();
        for (i, (c, payload)) in conns.iter_mut().zip(&sent).enumerate() {
            let got = read_n(c, BURST);
            assert!(
                got == *payload,
                "round {round}, connection {i}: the echo differs from the burst"
            );
        }
    }
    engine.stop();
}

//! Measures the Redis path of the push cluster (`loopwire_push::cluster`): the QoS1 put
//! script called directly by one thread, one call at a time, against the same calls through
//! the cluster's Redis worker (a job through its bounded queue, the answer back through a
//! channel) with 1 and with 64 calls in flight. Run it next to a Redis:
//!
//! ```sh
//! redis-server --port 6390 --save "" --appendonly no &
//! cargo run --release -p loopwire-push --example cluster_redis_path -- redis://127.0.0.1:6390 20000
//! ```

fn main() {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    let calls: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    for in_flight in [1, 64] {
        match loopwire_push::cluster::probe::measure(&url, calls, in_flight) {
            Ok((direct, worker)) => {
                println!(
                    "direct (1 in flight): {:.0} calls/s p50 {:?} p99 {:?} | worker ({in_flight} in flight): {:.0} calls/s p50 {:?} p99 {:?}",
                    direct.calls_per_sec,
                    direct.p50,
                    direct.p99,
                    worker.calls_per_sec,
                    worker.p50,
                    worker.p99
                );
            }
            Err(e) => {
                eprintln!("cluster_redis_path: cannot measure on {url}: {e}");
                std::process::exit(1);
            }
        }
    }
}

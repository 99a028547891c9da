//! Measures the Redis paths of the push cluster (`loopwire_push::cluster::probe`) on one
//! Redis with the same commands (the QoS1 put script, `PUBLISH`, a registry `HSET`, in turn):
//! direct on the calling thread, through the cluster's worker one job per round trip (as
//! before pipelining) and with its queue drained into one pipeline (now), and an in-loop RESP
//! client (a loopwire event loop that dials Redis), each with 1, 16 and 64 calls in flight;
//! rounds interleaved, medians printed as a Markdown table. It starts its own `redis-server`
//! (Debian's `redis-server` package) on a free port unless given `--redis URL`:
//!
//! ```sh
//! cargo run --release -p loopwire-push --example cluster_redis_path -- --calls 30000 --rounds 3
//! ```

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use loopwire_push::cluster::probe;

/// A `redis-server` of the probe's own, killed on drop.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_redis() -> Result<(Server, String), Box<dyn std::error::Error>> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run redis-server ({e}): apt-get install -y redis-server"))?;
    let server = Server(child);
    let url = format!("redis://127.0.0.1:{port}");
    let client = redis::Client::open(url.as_str())?;
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let ping = client
            .get_connection_with_timeout(Duration::from_secs(1))
            .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c));
        match ping {
            Ok(_) => return Ok((server, url)),
            Err(e) if Instant::now() > end => return Err(format!("redis-server: {e}").into()),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("cluster_redis_path: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let (mut url, mut calls, mut rounds) = (None, 30_000, 3);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--redis" => url = Some(value()?),
            "--calls" => calls = value()?.parse()?,
            "--rounds" => rounds = value()?.parse()?,
            _ => {
                return Err(
                    format!("unknown argument {a}: --redis URL --calls N --rounds N").into(),
                );
            }
        }
    }
    let (_server, url) = match url {
        Some(u) => (None, u),
        None => {
            let (s, u) = start_redis()?;
            (Some(s), u)
        }
    };
    eprintln!("{calls} calls per path and level, {rounds} rounds interleaved, on {url}");
    let rows = probe::compare(&url, calls, &[1, 16, 64], rounds)?;
    print!("{}", probe::table(&rows));
    Ok(())
}

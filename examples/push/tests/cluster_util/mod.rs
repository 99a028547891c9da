//! The cluster tests' Redis: a real `redis-server` on a free port of 127.0.0.1, without
//! persistence, killed on drop. Every wait here is a hang guard of [`WAIT`](super::util::WAIT).

// Each test file uses a part of these helpers.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Upper bound of a wait (a hang guard).
const WAIT: Duration = Duration::from_secs(10);

const REDIS: &str = "/usr/bin/redis-server";

/// A `redis-server` on a free port of 127.0.0.1, without persistence; killed on drop.
pub(crate) struct Redis {
    pub(crate) port: u16,
    child: Option<Child>,
}

impl Redis {
    pub(crate) fn start() -> Option<Self> {
        if !std::path::Path::new(REDIS).exists() {
            eprintln!("SKIPPED: {REDIS} is not installed");
            return None;
        }
        // A free port: bound by the OS, released, handed to redis (which refuses port 0).
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut r = Redis { port, child: None };
        r.spawn();
        Some(r)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub(crate) fn spawn(&mut self) {
        let child = Command::new(REDIS)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let end = Instant::now() + WAIT;
        while self.conn().is_none() {
            assert!(Instant::now() < end, "redis-server did not come up");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub(crate) fn conn(&self) -> Option<redis::Connection> {
        let c = redis::Client::open(self.url()).ok()?;
        let mut c = c.get_connection_with_timeout(Duration::from_secs(1)).ok()?;
        redis::cmd("PING").query::<String>(&mut c).ok()?;
        Some(c)
    }

    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Messages waiting in Redis for `user`.
    pub(crate) fn queued(&self, user: &str) -> usize {
        let mut c = self.conn().expect("redis is up");
        redis::cmd("ZCARD")
            .arg(format!("lw:q:{user}"))
            .query(&mut c)
            .expect("ZCARD")
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A TCP proxy in front of Redis that a test can cut (every connection through it closed,
/// new ones refused) and restore: one node cut off from Redis while the others are not.
pub(crate) struct Proxy {
    pub(crate) port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Proxy {
    /// A proxy to 127.0.0.1:`to`.
    pub(crate) fn start(to: u16) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let p = Proxy {
            port,
            cut: Default::default(),
            conns: Default::default(),
            stop: Default::default(),
        };
        let (cut, conns, stop) = (p.cut.clone(), p.conns.clone(), p.stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Relaxed) {
                let client = match listener.accept() {
                    Ok((s, _)) => s,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                };
                if cut.load(Relaxed) {
                    continue; // dropped: refused while cut
                }
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                let _ = client.set_nonblocking(false);
                let mut list = conns.lock().unwrap_or_else(|e| e.into_inner());
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (Ok(mut r), Ok(mut w)) = (from.try_clone(), to.try_clone()) else {
                        continue;
                    };
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut r, &mut w);
                        let _ = w.shutdown(std::net::Shutdown::Both);
                    });
                }
                list.extend([client, server]);
            }
        });
        p
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Closes every connection through the proxy and refuses new ones.
    pub(crate) fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut list = self.conns.lock().unwrap_or_else(|e| e.into_inner());
        for s in list.drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Lets connections through again.
    pub(crate) fn restore(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.cut();
    }
}

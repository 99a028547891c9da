//! Echo integrity over TCP, Unix and UDP with 1, 2 and 4 loops, every load balancer and
//! `reuse_port` on and off: every byte comes back, in order.

mod util;

use std::io::Write;
use std::net::{Shutdown, UdpSocket};
use std::os::unix::net::UnixStream;
use std::thread;

use loopwire::{Backend, Engine, LoadBalance};
use util::*;

/// Sends `payload` in random chunks on one thread while reading the echo on this one.
fn round_trip<S>(mut stream: S, payload: Vec<u8>, seed: u64) -> Vec<u8>
where
    S: std::io::Read + Write + TryCloneShutdown + Send + 'static,
{
    let mut writer = stream.try_clone_stream();
    let len = payload.len();
    let sender = thread::spawn(move || {
        let mut rng = Rng::new(seed);
        let mut off = 0;
        while off < payload.len() {
            let n = (1 + rng.below(64 * 1024)).min(payload.len() - off);
            writer.write_all(&payload[off..off + n]).expect("send");
            off += n;
        }
        payload
    });
    let got = read_n(&mut stream, len);
    let sent = sender.join().expect("sender thread");
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "echoed bytes differ from sent bytes");
    stream.shutdown_both();
    got
}

trait TryCloneShutdown: Sized {
    fn try_clone_stream(&self) -> Self;
    fn shutdown_both(&self);
}

impl TryCloneShutdown for std::net::TcpStream {
    fn try_clone_stream(&self) -> Self {
        self.try_clone().unwrap()
    }
    fn shutdown_both(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

impl TryCloneShutdown for UnixStream {
    fn try_clone_stream(&self) -> Self {
        self.try_clone().unwrap()
    }
    fn shutdown_both(&self) {
        let _ = self.shutdown(Shutdown::Both);
    }
}

fn balancers() -> Vec<LoadBalance> {
    vec![
        LoadBalance::RoundRobin,
        LoadBalance::Random,
        LoadBalance::LeastConnections,
        LoadBalance::SourceHash,
        LoadBalance::ConsistentHash,
    ]
}

fn run_matrix_case(loops: usize, lb: LoadBalance, reuse_port: bool, backend: Backend, seed: u64) {
    let path = sock_path("echo");
    let url = format!("unix://{}", path.display());
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .addr(url.as_str())
        .addr("udp://127.0.0.1:0")
        .loops(loops)
        .load_balance(lb.clone())
        .reuse_port(reuse_port)
        .backend(backend)
        .start(Echo)
        .expect("engine starts");
    let tcp = tcp_addr(&engine);
    let udp = udp_addr(&engine);
    let mut rng = Rng::new(seed);

    // Several connections at once, one of them a full MiB.
    let mut clients = Vec::new();
    for i in 0..4 {
        let size = if i == 0 {
            1 << 20
        } else {
            1 + rng.below(1 << 20)
        };
        let payload = rng.bytes(size);
        let s = seed ^ (i as u64 + 1);
        clients.push(thread::spawn(move || round_trip(connect(tcp), payload, s)));
    }
    for i in 0..2 {
        let size = 1 + rng.below(1 << 20);
        let payload = rng.bytes(size);
        let s = seed ^ (i as u64 + 11);
        let p = path.clone();
        clients.push(thread::spawn(move || {
            let u = UnixStream::connect(p).expect("unix connect");
            u.set_read_timeout(Some(WAIT)).unwrap();
            round_trip(u, payload, s)
        }));
    }
    // UDP: each datagram comes back whole, as one datagram.
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = vec![0; 65536];
    for _ in 0..20 {
        let size = 1 + rng.below(8192);
        let d = rng.bytes(size);
        sock.send_to(&d, udp).unwrap();
        // A stop and continue of the test process (SIGSTOP/SIGCONT, a frozen container) ends
        // a receive with a timeout in EINTR: that is no failure, receive again.
        let (n, from) = loop {
            match sock.recv_from(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => break r.expect("udp echo"),
            }
        };
        assert_eq!(from, udp);
        assert!(buf[..n] == d[..], "udp datagram differs");
    }
    let mut echoed = 0;
    for c in clients {
        echoed += c.join().expect("client thread").len();
    }
    assert!(
        echoed > 1 << 20,
        "at least the full-MiB connection was echoed"
    );
    engine.stop();
    assert!(!path.exists(), "unix socket file removed on shutdown");
}

#[test]
fn echo_matrix_loops_balancers_reuse_port() {
    let mut seed = 0x5eed;
    for loops in [1, 2, 4] {
        for lb in balancers() {
            for reuse_port in [false, true] {
                seed += 1;
                run_matrix_case(loops, lb.clone(), reuse_port, Backend::default(), seed);
            }
        }
    }
}

#[test]
fn many_small_messages_keep_order() {
    let engine = Engine::builder()
        .addr("tcp://127.0.0.1:0")
        .loops(2)
        .start(Echo)
        .unwrap();
    let mut s = connect(tcp_addr(&engine));
    for i in 0..2000u32 {
        let msg = format!("message {i}\n");
        write_all(&mut s, msg.as_bytes());
        assert_eq!(read_n(&mut s, msg.len()), msg.as_bytes());
    }
    engine.stop();
}

#[test]
fn echo_over_every_level_triggered_backend() {
    for (i, backend) in Backend::available().iter().enumerate() {
        let probe = Engine::builder()
            .addr("tcp://127.0.0.1:0")
            .loops(1)
            .backend(*backend)
            .start(Echo);
        match probe {
            Ok(e) => e.stop(),
            Err(e) => panic!("{backend} is offered but does not start: {e}"),
        }
        run_matrix_case(2, LoadBalance::RoundRobin, false, *backend, 99 + i as u64);
    }
}

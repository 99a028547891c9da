//! Peer for the echo benchmark: an echo server written by hand on mio, one event loop per
//! thread, each accepting on its own `SO_REUSEPORT` listener (what a careful engineer writes
//! without a framework).
//!
//! `mio_echo --addr 127.0.0.1:9002 --threads 2`; prints `listening on tcp://ADDR` when ready.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use loopwire_bench::peer::reuse_port_listener;
use loopwire_examples::cli::{BoxError, Context};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

/// Command-line options.
#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9002")]
    addr: SocketAddr,
    /// Event-loop threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    sock: TcpStream,
    pending: VecDeque<u8>,
    writable_armed: bool,
}

fn serve(std_listener: std::net::TcpListener) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::from_std(std_listener);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: Slab<Conn> = Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        poll.poll(&mut events, None)?;
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut sock, _)) => {
                            // A peer that is already gone fails this; its reads close it.
                            let _ = sock.set_nodelay(true);
                            let entry = conns.vacant_entry();
                            poll.registry().register(
                                &mut sock,
                                Token(entry.key()),
                                Interest::READABLE,
                            )?;
                            entry.insert(Conn {
                                sock,
                                pending: VecDeque::new(),
                                writable_armed: false,
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => break,
                    }
                }
                continue;
            }
            let key = ev.token().0;
            let mut close = false;
            if let Some(c) = conns.get_mut(key) {
                // mio is edge-triggered: drain the socket.
                loop {
                    match c.sock.read(&mut buf) {
                        Ok(0) => {
                            close = true;
                            break;
                        }
                        Ok(n) => {
                            if c.pending.is_empty() {
                                match c.sock.write(&buf[..n]) {
                                    Ok(w) => c.pending.extend(&buf[w..n]),
                                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                        c.pending.extend(&buf[..n])
                                    }
                                    Err(_) => {
                                        close = true;
                                        break;
                                    }
                                }
                            } else {
                                c.pending.extend(&buf[..n]);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => {
                            close = true;
                            break;
                        }
                    }
                }
                while !close && !c.pending.is_empty() {
                    let (a, _) = c.pending.as_slices();
                    match c.sock.write(a) {
                        Ok(w) => {
                            c.pending.drain(..w);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => close = true,
                    }
                }
                let want = !c.pending.is_empty();
                if !close && want != c.writable_armed {
                    let interest = if want {
                        Interest::READABLE | Interest::WRITABLE
                    } else {
                        Interest::READABLE
                    };
                    poll.registry()
                        .reregister(&mut c.sock, Token(key), interest)?;
                    c.writable_armed = want;
                }
            }
            if close {
                let mut c = conns.remove(key);
                let _ = poll.registry().deregister(&mut c.sock);
            }
        }
    }
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    let first =
        reuse_port_listener(args.addr).context(|| format!("cannot listen on {}", args.addr))?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..args.threads {
        listeners
            .push(reuse_port_listener(addr).context(|| format!("cannot listen on {addr} again"))?);
    }
    let mut out = io::stdout().lock();
    writeln!(out, "listening on tcp://{addr}")
        .and_then(|()| out.flush())
        .context(|| "cannot write to stdout")?;
    drop(out);
    let mut threads = Vec::with_capacity(listeners.len());
    for (i, l) in listeners.into_iter().enumerate() {
        let t = std::thread::Builder::new()
            .name(format!("loop-{i}"))
            .spawn(move || serve(l))
            .context(|| "cannot start a loop thread")?;
        threads.push(t);
    }
    for t in threads {
        match t.join() {
            Ok(r) => r.context(|| "an event loop failed")?,
            Err(_) => return Err("an event loop panicked".into()),
        }
    }
    Ok(())
}

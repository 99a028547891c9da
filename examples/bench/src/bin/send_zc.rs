//! Large writes on io_uring: `IORING_OP_SEND` against `IORING_OP_SEND_ZC` over loopback TCP,
//! the question being whether loopwire's io_uring transport should send large responses
//! with `SEND_ZC`.
//!
//! For each size (64 KiB to 1 MiB by default) and mode, a fresh connection pair on 127.0.0.1:
//! a reader thread reads and discards; the sending thread sends `--mib` MiB in writes of that
//! size, as the transport does: one send in flight at a time, a short send resubmitted for the
//! rest. With `SEND_ZC` a buffer is written again only after the kernel's notification that
//! it let go of it (two buffers alternate, so the next send need not wait for it). Reports the
//! throughput and the sending thread's CPU time (user + system, `RUSAGE_THREAD`) per MiB,
//! medians of `--rounds` rounds with the modes interleaved, as a Markdown table.
//!
//! ```sh
//! cargo run --release -p loopwire-bench --bin send_zc -- --rounds 3 --mib 1024
//! ```

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    linux::main()
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("send_zc needs Linux (io_uring)");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{self, Read};
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::process::ExitCode;
    use std::time::Instant;

    use clap::Parser;
    use io_uring::{IoUring, cqueue, opcode, types};

    /// SEND against SEND_ZC for large writes over loopback TCP.
    #[derive(Parser, Debug)]
    struct Args {
        /// Write sizes in bytes.
        #[arg(long, value_delimiter = ',', default_values_t = [65_536usize, 262_144, 1_048_576])]
        sizes: Vec<usize>,
        /// MiB sent per measurement.
        #[arg(long, default_value_t = 512)]
        mib: usize,
        /// Rounds (medians over them).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    }

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mode {
        Send,
        SendZc,
    }

    /// One measurement: MiB/s and the sender's CPU ns per MiB.
    #[derive(Debug, Clone, Copy)]
    struct Sample {
        mib_s: f64,
        cpu_ns_per_mib: f64,
    }

    fn thread_cpu_ns() -> f64 {
        // SAFETY: getrusage fills the struct it is given; zeroed is a valid `rusage`.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer to a live `rusage`.
        unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
        let t = |tv: libc::timeval| tv.tv_sec as f64 * 1e9 + tv.tv_usec as f64 * 1e3;
        t(ru.ru_utime) + t(ru.ru_stime)
    }

    fn measure(mode: Mode, size: usize, mib: usize) -> io::Result<Sample> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        let total = mib * 1024 * 1024;
        let reader = std::thread::spawn(move || -> io::Result<usize> {
            let mut client = client;
            let mut buf = vec![0u8; 1 << 20];
            let mut got = 0;
            loop {
                match client.read(&mut buf) {
                    Ok(0) => return Ok(got),
                    Ok(n) => got += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        });
        let mut ring = IoUring::new(64)?;
        let fd = types::Fd(server.as_raw_fd());
        // Two buffers, alternating: with SEND_ZC one may still be the kernel's.
        let bufs: [Vec<u8>; 2] = [vec![0x5a; size], vec![0xa5; size]];
        // Per buffer: SEND_ZC notifications still to come.
        let mut notif_pending = [0u32; 2];
        let cpu0 = thread_cpu_ns();
        let t0 = Instant::now();
        let mut sent_total = 0usize;
        let mut which = 0usize;
        while sent_total < total {
            let len = size.min(total - sent_total);
            // Wait until this buffer is ours again.
            while notif_pending[which] > 0 {
                reap(&mut ring, &mut notif_pending, None)?;
            }
            let mut off = 0;
            while off < len {
                let ptr = bufs[which][off..].as_ptr();
                let n = (len - off) as u32;
                let ud = which as u64;
                let sqe = match mode {
                    Mode::Send => opcode::Send::new(fd, ptr, n).build().user_data(ud),
                    Mode::SendZc => opcode::SendZc::new(fd, ptr, n).build().user_data(ud),
                };
                // SAFETY: the buffer outlives the operation: it is not written (or dropped)
                // before this send's completion and, for SEND_ZC, its notification.
                unsafe { ring.submission().push(&sqe) }
                    .map_err(|_| io::Error::other("submission queue full"))?;
                if mode == Mode::SendZc {
                    notif_pending[which] += 1;
                }
                let mut res = None;
                while res.is_none() {
                    reap(&mut ring, &mut notif_pending, Some(&mut res))?;
                }
                let r = res.unwrap_or(-1);
                if r < 0 {
                    return Err(io::Error::from_raw_os_error(-r));
                }
                off += r as usize;
            }
            sent_total += len;
            which ^= 1;
        }
        while notif_pending.iter().any(|p| *p > 0) {
            reap(&mut ring, &mut notif_pending, None)?;
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = thread_cpu_ns() - cpu0;
        drop(server);
        let got = reader
            .join()
            .map_err(|_| io::Error::other("reader panicked"))??;
        if got != total {
            return Err(io::Error::other(format!("read {got} of {total} bytes")));
        }
        Ok(Sample {
            mib_s: mib as f64 / secs,
            cpu_ns_per_mib: cpu / mib as f64,
        })
    }

    /// Submits what is queued, waits for one completion and takes every completion ready: a
    /// send's result into `res` (when asked for), a SEND_ZC notification clears its buffer's
    /// flag.
    fn reap(
        ring: &mut IoUring,
        notif: &mut [u32; 2],
        res: Option<&mut Option<i32>>,
    ) -> io::Result<()> {
        ring.submit_and_wait(1)?;
        let mut res = res;
        for cqe in ring.completion() {
            let which = (cqe.user_data() & 1) as usize;
            if cqueue::notif(cqe.flags()) {
                notif[which] = notif[which].saturating_sub(1);
                continue;
            }
            if !cqueue::more(cqe.flags()) {
                // A SEND result, or a SEND_ZC one without MORE: no notification follows.
                notif[which] = notif[which].saturating_sub(1);
            }
            if let Some(r) = res.as_deref_mut() {
                *r = Some(cqe.result());
            }
        }
        Ok(())
    }

    fn median(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n == 0 {
            0.0
        } else if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }

    pub(super) fn main() -> ExitCode {
        let args = Args::parse();
        let modes = [Mode::Send, Mode::SendZc];
        // samples[size][mode]
        let mut samples = vec![[Vec::new(), Vec::new()]; args.sizes.len()];
        for round in 0..args.rounds.max(1) {
            for (si, &size) in args.sizes.iter().enumerate() {
                let mut order = [0usize, 1];
                if round % 2 == 1 {
                    order.reverse();
                }
                for mi in order {
                    match measure(modes[mi], size, args.mib) {
                        Ok(s) => {
                            eprintln!(
                                "[send_zc] round {}: {size} B {:?}: {:.0} MiB/s, {:.0} ns CPU/MiB",
                                round + 1,
                                modes[mi],
                                s.mib_s,
                                s.cpu_ns_per_mib
                            );
                            samples[si][mi].push(s);
                        }
                        Err(e) => {
                            eprintln!("send_zc: {size} B {:?}: {e}", modes[mi]);
                            return ExitCode::FAILURE;
                        }
                    }
                }
            }
        }
        println!(
            "loopback TCP, one send in flight, {} MiB per measurement, {} rounds, medians\n",
            args.mib, args.rounds
        );
        println!(
            "| write size | SEND MiB/s | SEND_ZC MiB/s | ZC ÷ SEND | SEND sender CPU µs/MiB | SEND_ZC sender CPU µs/MiB | ZC ÷ SEND (CPU) |"
        );
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for (si, &size) in args.sizes.iter().enumerate() {
            let m =
                |mi: usize, f: fn(&Sample) -> f64| median(samples[si][mi].iter().map(f).collect());
            let (s, z) = (m(0, |s| s.mib_s), m(1, |s| s.mib_s));
            let (cs, cz) = (m(0, |s| s.cpu_ns_per_mib), m(1, |s| s.cpu_ns_per_mib));
            println!(
                "| {} KiB | {s:.0} | {z:.0} | {:.2} | {:.0} | {:.0} | {:.2} |",
                size / 1024,
                z / s,
                cs / 1e3,
                cz / 1e3,
                cz / cs
            );
        }
        ExitCode::SUCCESS
    }
}

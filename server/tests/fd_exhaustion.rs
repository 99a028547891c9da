//! Running out of file descriptors never stops the engine: accepts pause and resume, and the
//! connections already open keep being served. Lowers this process's fd limit, so it is a test
//! binary of its own.

mod util;

use std::io::ErrorKind;
use std::net::TcpStream;

use loopwire::Engine;
use util::*;

fn set_fd_limit(soft: libc::rlim_t) -> libc::rlim_t {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    let old = lim.rlim_cur;
    lim.rlim_cur = soft;
    // SAFETY: `lim` is a valid rlimit; lowering the soft limit is always allowed.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
    old
}

fn echo_once(c: &mut TcpStream, msg: &[u8]) {
    write_all(c, msg);
    assert_eq!(read_n(c, msg.len()), msg);
}

#[test]
fn accept_survives_fd_exhaustion() {
    for reuse_port in [false, true] {
        let e = Engine::builder()
            .addr("tcp://127.0.0.1:0")
            .loops(1)
            .reuse_port(reuse_port)
            .start(Echo)
            .unwrap();
        let addr = tcp_addr(&e);
        let old = set_fd_limit(fd_count() as libc::rlim_t + 24);
        // Each served connection costs two fds (client and server side): connect one at a time
        // until one is not served (the server is out of descriptors) or the client is.
        let mut served = Vec::new();
        let mut unserved = Vec::new();
        let mut placeholder = None;
        while unserved.is_empty() {
            let mut c = match TcpStream::connect(addr) {
                Ok(c) => c,
                Err(err) => {
                    assert_eq!(err.raw_os_error(), Some(libc::EMFILE), "{err}");
                    assert!(placeholder.is_none(), "out of fds twice: {err}");
                    // The client ran out first. Free one connection (two fds, once the server
                    // sees its EOF) and take one back, so that the next client gets the last
                    // fd and the server none.
                    served.pop();
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    placeholder = Some(std::fs::File::open("/dev/null").unwrap());
                    continue;
                }
            };
            c.set_read_timeout(Some(std::time::Duration::from_millis(300)))
                .unwrap();
            write_all(&mut c, b"?");
            let mut b = [0u8; 1];
            match std::io::Read::read_exact(&mut c, &mut b) {
                Ok(()) => served.push(c),
                Err(err) => {
                    assert!(matches!(
                        err.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut
                    ));
                    unserved.push(c);
                }
            }
        }
        assert!(!served.is_empty(), "some connections were served");
        assert!(!unserved.is_empty(), "the server ran out of descriptors");
        // Open connections are still served...
        for c in &mut served {
            c.set_read_timeout(Some(WAIT)).unwrap();
            echo_once(c, b"still here");
        }
        // ...and once descriptors are freed, the waiting ones are accepted and served.
        let freed = served.len().min(unserved.len() + 1);
        served.truncate(served.len() - freed);
        for c in &mut unserved {
            c.set_read_timeout(Some(WAIT)).unwrap();
            assert_eq!(read_n(c, 1), b"?", "queued byte echoed after the pause");
            echo_once(c, b"late but served");
        }
        drop(served);
        drop(unserved);
        drop(placeholder);
        set_fd_limit(old);
        e.stop();
    }
}

//! The HTTP API served from a handler that shares its engine and forwards the API's
//! callbacks (`open`, `traffic`, `writability_changed`, `timeout`, `close`, `boot`), with an
//! [`ApiConn`] inside its own connection state: requests are served, and the 408 comes at
//! exactly the request deadline on the test clock, through the forwarded `timeout`.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use loopwire::{
    Action, CloseReason, Conn, Engine, EngineHandle, EventHandler, Network, TestClock, Timeout,
};
use loopwire_push::Gateway;
use loopwire_push::api::{ApiConfig, ApiConn, ApiHandler};

use util::{API_TOKEN, Server, WAIT};

/// A sharing handler's connection state, with the API's inside.
#[derive(Debug, Default)]
struct Mine {
    api: ApiConn,
}

fn api(s: &mut Mine) -> &mut ApiConn {
    &mut s.api
}

struct Sharing {
    api: ApiHandler<Arc<Gateway>>,
}

impl EventHandler for Sharing {
    type State = Mine;

    fn on_boot(&self, engine: &EngineHandle) -> Action {
        self.api.boot(engine);
        Action::None
    }

    fn on_open(&self, c: &mut Conn<'_, Mine>) -> Action {
        self.api.open(c, api)
    }

    fn on_traffic(&self, c: &mut Conn<'_, Mine>) -> Action {
        self.api.traffic(c, api)
    }

    fn on_writability_changed(&self, c: &mut Conn<'_, Mine>, writable: bool) -> Action {
        self.api.writability_changed(c, api, writable)
    }

    fn on_timeout(&self, c: &mut Conn<'_, Mine>, timeout: Timeout) -> Action {
        self.api.timeout(c, api, timeout)
    }

    fn on_close(&self, c: &mut Conn<'_, Mine>, _: CloseReason) -> Action {
        self.api.close(c, api);
        Action::None
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("hang guard");
    s
}

/// Sends a `GET /health` and reads its whole (small) response.
fn health(s: &mut TcpStream) -> String {
    s.write_all(b"GET /health HTTP/1.1\r\n\r\n").expect("send");
    let mut buf = vec![0; 4096];
    let n = loop {
        match s.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => break r.expect("a response"),
        }
    };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn a_sharing_handler_that_forwards_timeout_gets_the_408_at_the_deadline() {
    let gateway = Server::default_test();
    let mut config = ApiConfig::new(API_TOKEN);
    config.request_timeout = Duration::from_secs(5);
    let sharing = Arc::new(Sharing {
        api: ApiHandler::new(config, Arc::clone(&gateway.gw)).expect("config"),
    });
    let clock = TestClock::new();
    let mut b = Engine::builder();
    b.addr("tcp://127.0.0.1:0").loops(1).clock(clock.clone());
    sharing.api.configure(&mut b);
    let engine = b.start(Arc::clone(&sharing)).expect("engine starts");
    let addr = engine
        .addrs()
        .iter()
        .find(|a| a.network == Network::Tcp)
        .and_then(|a| a.addr)
        .expect("an address");

    let mut slow = connect(addr);
    slow.write_all(b"POST /v1/push/all HTTP/1.1\r\n")
        .expect("send");
    let mut other = connect(addr);
    // Answered after the partial request's turn (one loop, accepted in order).
    assert!(health(&mut other).starts_with("HTTP/1.1 200 "));
    clock.advance(Duration::from_millis(4999));
    assert!(health(&mut other).starts_with("HTTP/1.1 200 "));
    assert_eq!(sharing.api.stats().requests_partial, 1);
    slow.set_nonblocking(true).expect("nonblocking");
    let silent = slow.read(&mut [0u8; 64]);
    assert!(
        matches!(&silent, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing at 4999 ms: {silent:?}"
    );
    slow.set_nonblocking(false).expect("blocking");

    clock.advance(Duration::from_millis(1));
    let mut answer = String::new();
    slow.read_to_string(&mut answer)
        .expect("the 408, then the end");
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_eq!(engine.now(), Duration::from_millis(5000));
    engine.stop();
}

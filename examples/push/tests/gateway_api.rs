//! The HTTP API against the real gateway: an `ApiHandler` over the `Arc<Gateway>` on its own
//! one-loop engine, as `src/bin/push.rs` runs it; clients on the gateway's port see what the
//! backend's HTTP calls do.

mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use loopwire_push::ClientFrame;
use loopwire_push::store::StoreConfig;

use util::{API_TOKEN, Server, WAIT, ids, test_config, to_user};

/// One request on a fresh connection (`Connection: close`); the status and the body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {token}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    let status = out
        .get(9..12)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {out:?}"));
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

fn post(server: &Server, path: &str, body: &str) -> (u16, String) {
    http(server.api_addr(), "POST", path, Some(body), API_TOKEN)
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

#[test]
fn the_api_pushes_kicks_and_reports_through_the_real_gateway() {
    let server = Server::build(test_config(), 2, StoreConfig::default(), true);
    let mut u1 = server.client("u1");
    let mut member = server.client("m");
    member.send(ClientFrame::Join(b"news"));
    assert!(member.sync(b"j").is_empty());

    // QoS0 to a user.
    let (st, body) = post(
        &server,
        "/v1/push/user",
        r#"{"user":"u1","payload":"q0","qos":0}"#,
    );
    assert_eq!(
        (st, json(&body)["sessions"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    assert_eq!(u1.sync(b"a"), vec![to_user(0, "q0")]);
    // QoS1 to a user: stored before the answer, delivered with its store id.
    let (st, body) = post(&server, "/v1/push/user", r#"{"user":"u1","payload":"q1"}"#);
    assert_eq!(
        (st, json(&body)["sessions"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    let got = u1.sync(b"b");
    let [id] = ids(&got)[..] else {
        panic!("{got:?}")
    };
    assert!(id > 0);
    assert_eq!(got, vec![to_user(id, "q1")]);
    u1.ack_all(&got);
    // QoS1 to an offline user: stored, no session.
    let (st, body) = post(
        &server,
        "/v1/push/users",
        r#"{"users":["u1","nobody"],"payload":"x"}"#,
    );
    assert_eq!(
        (st, json(&body)["sessions"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    assert_eq!(ids(&u1.sync(b"c")).len(), 1);
    // QoS0 to a room reaches its member only.
    let (st, body) = post(
        &server,
        "/v1/push/room",
        r#"{"room":"news","payload":"r","qos":0}"#,
    );
    assert_eq!(
        (st, json(&body)["sessions"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    assert_eq!(member.sync(b"d").len(), 1);
    assert!(u1.sync(b"d").is_empty());

    // Presence and room size.
    let (st, body) = post(&server, "/v1/online", r#"{"users":["u1","nobody"]}"#);
    assert_eq!(st, 200);
    let v = json(&body);
    assert_eq!(v["users"][0]["sessions"], 1, "{body}");
    assert_eq!(v["users"][1]["online"], false, "{body}");
    let (st, body) = http(
        server.api_addr(),
        "GET",
        "/v1/rooms/news/count",
        None,
        API_TOKEN,
    );
    assert_eq!(
        (st, json(&body)["members"].as_u64()),
        (200, Some(1)),
        "{body}"
    );

    // Kick: KICK code 2 with the backend's reason, then the end of the stream.
    let (st, body) = post(
        &server,
        "/v1/kick",
        r#"{"user":"u1","reason":"password changed"}"#,
    );
    assert_eq!(
        (st, json(&body)["sessions"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
    assert_eq!(u1.expect_kick_and_close(2), "password changed");
    let (_, body) = post(&server, "/v1/online", r#"{"users":["u1"]}"#);
    assert_eq!(json(&body)["users"][0]["sessions"], 0, "{body}");

    // A bad QoS1 TTL is the caller's error; a bad API token is 401.
    let (st, body) = post(
        &server,
        "/v1/push/user",
        r#"{"user":"m","payload":"x","ttl_secs":0}"#,
    );
    assert_eq!(st, 400, "{body}");
    let (st, _) = http(server.api_addr(), "GET", "/metrics", None, "wrong");
    assert_eq!(st, 401);

    // The counters, as Prometheus text.
    server.wait_stats("the kicked session closed", |s| s.sessions == 1);
    let (st, text) = http(server.api_addr(), "GET", "/metrics", None, API_TOKEN);
    assert_eq!(st, 200);
    for line in [
        "push_sessions 1\n",
        "push_logins_total 2\n",
        "push_kicks_backend_total 1\n",
        "push_pushes_qos1_total 2\n",
        "push_stored_total 3\n",
        "push_acked_total 1\n",
        "push_auth_failures_total 0\n",
        "push_store_messages 2\n",
    ] {
        assert!(text.contains(line), "no {line:?} in\n{text}");
    }
}

#[test]
fn the_library_api_client_keeps_one_connection_for_many_requests() {
    use loopwire_push::client::ApiClient;
    let server = Server::build(test_config(), 1, StoreConfig::default(), true);
    let mut c = server.login("ann", &[]);
    let mut api = ApiClient::connect(server.api_addr(), API_TOKEN.to_owned()).expect("connect");
    for i in 0..3 {
        let (status, body) = api
            .post(
                "/v1/push/user",
                &format!(r#"{{"user":"ann","payload":"m{i}"}}"#),
            )
            .expect("push");
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = api.get("/health").expect("health");
    assert_eq!((status, json(&body)["ok"].as_bool()), (200, Some(true)));
    let got = c.sync(b"sync");
    assert_eq!(got.len(), 3);
    let mut wrong = ApiClient::connect(server.api_addr(), "nope".into()).expect("connect");
    let (status, _) = wrong.get("/v1/stats").expect("an answer");
    assert_eq!(status, 401);
}

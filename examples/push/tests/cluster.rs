//! Cluster mode against a real `redis-server` (started here on a free port, stopped on
//! drop) and two or three gateway nodes in this process, each with its own engine, test
//! clock and HTTP API: unicast and QoS1 across nodes, the `single` policy across nodes,
//! room broadcasts, assigned rooms, the dispatcher, and Redis restarting under live
//! sessions. Waits are hang guards: the cluster propagates through Redis asynchronously,
//! so a test polls for a state (a count, a presence) and then asserts contents and order.
//! Without `/usr/bin/redis-server` the tests print SKIPPED (`.ci/run` installs it).

mod cluster_util;
mod util;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use loopwire::{Engine, EngineHandle, Network, TestClock};
use loopwire_push::api::{ApiConfig, ApiHandler};
use loopwire_push::auth::{Verifier, VerifierOptions};
use loopwire_push::cluster::{Cluster, ClusterConfig};
use loopwire_push::store::{MemoryStore, StoreConfig};
use loopwire_push::{ClientFrame, Config, Gateway, Policy, PushKind};

use cluster_util::{Proxy, Redis};
use util::{API_TOKEN, Client, EPOCH, Owned, WAIT, ids, ms, secret, test_config, to_user, token};

/// One gateway node: engine, API and cluster membership on a test clock.
struct Node {
    gw: Arc<Gateway>,
    engine: EngineHandle,
    api: EngineHandle,
    cluster: Arc<Cluster>,
    clock: TestClock,
}

impl Node {
    fn start(redis: &Redis, id: &str, config: Config) -> Self {
        Self::start_at(&redis.url(), id, config)
    }

    fn start_at(url: &str, id: &str, config: Config) -> Self {
        let clock = TestClock::new();
        let mut config = config;
        config.clock = clock.clone().into();
        config.unix_epoch_offset_secs = EPOCH;
        let verifier = Verifier::with_options(
            &secret(),
            VerifierOptions {
                leeway_secs: 0,
                ..VerifierOptions::default()
            },
        );
        let mirror = Arc::new(MemoryStore::new(StoreConfig::default()).expect("store"));
        let gw = Arc::new(Gateway::new(config, verifier, mirror.clone()).expect("config"));
        let mut b = Engine::builder();
        b.addr("tcp://127.0.0.1:0").loops(2);
        gw.configure(&mut b);
        let engine = b.start(Arc::clone(&gw)).expect("engine");
        let handler =
            Arc::new(ApiHandler::new(ApiConfig::new(API_TOKEN), Arc::clone(&gw)).expect("api"));
        let mut b = Engine::builder();
        b.addr("tcp://127.0.0.1:0").loops(1);
        handler.configure(&mut b);
        let api = b.start(handler).expect("api engine");
        let addr = tcp_addr(&engine).to_string();
        let mut cc = ClusterConfig::new(url, id, addr);
        cc.refresh = ms(50);
        let cluster = Cluster::start(cc, &gw, mirror).expect("cluster");
        let node = Node {
            gw,
            engine,
            api,
            cluster,
            clock,
        };
        node.wait("subscribed and connected", || {
            node.cluster.subscriptions() > 0 && node.cluster.is_up()
        });
        node
    }

    fn addr(&self) -> SocketAddr {
        tcp_addr(&self.engine)
    }

    fn login(&self, user: &str, rooms: &[&str]) -> Client {
        let mut c = Client::connect(self.addr());
        c.auth(0, &token(user, rooms));
        match c.recv() {
            Some(Owned::Welcome(_, _, u)) => assert_eq!(u, user.as_bytes()),
            other => panic!("expected WELCOME, got {other:?}"),
        }
        c
    }

    fn http(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let (status, body) = http(tcp_addr(&self.api), method, path, body);
        let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
        (status, v)
    }

    fn post(&self, path: &str, body: &str) -> (u16, serde_json::Value) {
        self.http("POST", path, body)
    }

    /// Sessions of `user` on every node, as this node's API tells.
    fn online(&self, user: &str) -> u64 {
        let (status, v) = self.post("/v1/online", &format!(r#"{{"users":["{user}"]}}"#));
        if status != 200 {
            return u64::MAX;
        }
        v["users"][0]["sessions"].as_u64().expect("sessions")
    }

    fn wait(&self, what: &str, f: impl Fn() -> bool) {
        wait(what, f);
    }

    fn stop(&self) {
        self.cluster.stop();
        self.api.stop();
        self.engine.stop();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.stop();
    }
}

fn wait(what: &str, f: impl Fn() -> bool) {
    let end = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(ms(5));
    }
}

fn tcp_addr(engine: &EngineHandle) -> SocketAddr {
    engine
        .addrs()
        .iter()
        .find(|a| a.network == Network::Tcp)
        .and_then(|a| a.addr)
        .expect("a TCP address")
}

fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {API_TOKEN}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("response");
    let status = out.get(9..12).and_then(|c| c.parse().ok()).expect("status");
    let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

fn two_nodes(config: Config) -> Option<(Redis, Node, Node)> {
    let redis = Redis::start()?;
    let a = Node::start(&redis, "a", config.clone());
    let b = Node::start(&redis, "b", config);
    Some((redis, a, b))
}

/// Receives PUSH frames until `n` arrived (a sync after each read keeps the order honest).
fn pushes(c: &mut Client, n: usize) -> Vec<Owned> {
    let mut got = Vec::new();
    while got.len() < n {
        match c.recv() {
            Some(f @ Owned::Push(..)) => got.push(f),
            other => panic!("expected PUSH, got {other:?} after {got:?}"),
        }
    }
    got
}

#[test]
fn unicast_and_qos1_cross_nodes_and_an_ack_is_final() {
    let Some((redis, a, b)) = two_nodes(test_config()) else {
        return;
    };
    let mut u1 = b.login("u1", &[]);
    a.wait("u1 registered on b", || a.online("u1") == 1);

    // QoS0 from a's API reaches the session on b.
    let (s, v) = a.post("/v1/push/user", r#"{"user":"u1","payload":"zero","qos":0}"#);
    assert_eq!((s, v["sessions"].as_u64()), (200, Some(1)));
    assert_eq!(pushes(&mut u1, 1), [to_user(0, "zero")]);

    // QoS1 from a: stored in Redis, delivered on b with its id; the ACK deletes it there.
    let (s, _) = a.post("/v1/push/user", r#"{"user":"u1","payload":"one"}"#);
    assert_eq!(s, 200);
    let got = pushes(&mut u1, 1);
    let id = ids(&got)[0];
    assert!(id > 0);
    assert_eq!(got, [to_user(id, "one")]);
    assert_eq!(redis.queued("u1"), 1);
    u1.send(ClientFrame::Ack(id));
    wait("the ACK reached Redis", || redis.queued("u1") == 0);
    drop(u1);
    a.wait("u1 gone", || a.online("u1") == 0);

    // Offline: two messages stored via b's API, delivered in order at login on a.
    for p in ["two", "three"] {
        let (s, v) = b.post(
            "/v1/push/user",
            &format!(r#"{{"user":"u1","payload":"{p}"}}"#),
        );
        assert_eq!((s, v["sessions"].as_u64()), (200, Some(0)));
    }
    let mut again = a.login("u1", &[]);
    let got = pushes(&mut again, 2);
    let got_ids = ids(&got);
    assert!(got_ids[0] > id && got_ids[1] > got_ids[0], "{id} {got:?}");
    assert_eq!(
        got,
        [to_user(got_ids[0], "two"), to_user(got_ids[1], "three")]
    );
    again.ack_all(&got);
    wait("both ACKs reached Redis", || redis.queued("u1") == 0);
    drop(again);

    // Never again after the ACK, on either node.
    a.wait("u1 gone", || a.online("u1") == 0);
    let mut last = b.login("u1", &[]);
    assert_eq!(last.sync(b"nothing"), []);
}

#[test]
fn a_second_login_under_single_kicks_the_session_on_the_other_node() {
    let mut config = test_config();
    config.policy = Policy::Single;
    let Some((_redis, a, b)) = two_nodes(config) else {
        return;
    };
    let mut first = a.login("u2", &[]);
    b.wait("u2 registered on a", || b.online("u2") == 1);
    let mut second = b.login("u2", &[]);
    first.expect_kick_and_close(1);
    assert_eq!(second.sync(b"still here"), []);
    a.wait("only b's session is left", || a.online("u2") == 1);
}

#[test]
fn room_broadcasts_reach_members_on_every_node() {
    let Some((_redis, a, b)) = two_nodes(test_config()) else {
        return;
    };
    let mut on_a = a.login("ra", &["news"]);
    let mut on_b = b.login("rb", &["news"]);
    for c in [&mut on_a, &mut on_b] {
        c.send(ClientFrame::Join(b"news"));
        assert_eq!(c.sync(b"joined"), []);
    }
    let (s, v) = a.post("/v1/push/room", r#"{"room":"news","payload":"q0","qos":0}"#);
    assert_eq!((s, v["sessions"].as_u64()), (200, Some(1)));
    let want = Owned::Push(0, PushKind::Room, b"news".to_vec(), b"q0".to_vec());
    assert_eq!(pushes(&mut on_a, 1), std::slice::from_ref(&want));
    assert_eq!(pushes(&mut on_b, 1), [want]);

    // QoS1 to the room from b: each node stores for its own members; both get an id.
    let (s, _) = b.post("/v1/push/room", r#"{"room":"news","payload":"q1"}"#);
    assert_eq!(s, 200);
    for c in [&mut on_a, &mut on_b] {
        let got = pushes(c, 1);
        let id = ids(&got)[0];
        assert!(id > 0);
        assert_eq!(
            got,
            [Owned::Push(
                id,
                PushKind::Room,
                b"news".to_vec(),
                b"q1".to_vec()
            )]
        );
    }

    // Everyone, QoS0, from a.
    let (s, _) = a.post("/v1/push/all", r#"{"payload":"all","qos":0}"#);
    assert_eq!(s, 200);
    let want = Owned::Push(0, PushKind::All, Vec::new(), b"all".to_vec());
    assert_eq!(pushes(&mut on_a, 1), std::slice::from_ref(&want));
    assert_eq!(pushes(&mut on_b, 1), [want]);
}

#[test]
fn assigned_rooms_are_kept_in_redis_and_joined_at_login_on_any_node() {
    let Some((_redis, a, b)) = two_nodes(test_config()) else {
        return;
    };
    // Assigned while offline, through a.
    let (s, v) = a.post("/v1/rooms/vip/members", r#"{"add":["u3"]}"#);
    assert_eq!((s, v["sessions"].as_u64()), (200, Some(0)));
    // The token grants no room: the room comes from the assignment.
    let mut c = b.login("u3", &[]);
    b.wait("u3 joined vip on b", || b.gw.room_members(b"vip") == 1);
    let (s, _) = a.post("/v1/push/room", r#"{"room":"vip","payload":"hi","qos":0}"#);
    assert_eq!(s, 200);
    assert_eq!(
        pushes(&mut c, 1),
        [Owned::Push(
            0,
            PushKind::Room,
            b"vip".to_vec(),
            b"hi".to_vec()
        )]
    );
    // Withdrawn through b: the live session leaves; a later login does not join it.
    let (s, _) = b.post("/v1/rooms/vip/members", r#"{"remove":["u3"]}"#);
    assert_eq!(s, 200);
    b.wait("u3 left vip", || b.gw.room_members(b"vip") == 0);
    drop(c);
    a.wait("u3 gone", || a.online("u3") == 0);
    let mut c = a.login("u3", &[]);
    assert_eq!(c.sync(b"login done"), []);
    assert_eq!(a.gw.room_members(b"vip"), 0);
    // And a JOIN of it is refused: the token does not grant it.
    c.send(ClientFrame::Join(b"vip"));
    c.expect_error_and_close(12);
}

#[test]
fn the_dispatcher_agrees_on_every_node_and_a_leaving_node_moves_only_its_users() {
    let Some(redis) = Redis::start() else { return };
    let nodes: Vec<Node> = ["a", "b", "c"]
        .iter()
        .map(|id| Node::start(&redis, id, test_config()))
        .collect();
    for n in &nodes {
        n.wait("three live nodes", || n.cluster.nodes().len() == 3);
    }
    let users: Vec<String> = (0..300).map(|i| format!("user{i}")).collect();
    let lists = |n: &Node| -> Vec<Vec<String>> {
        users
            .iter()
            .map(|u| {
                let (s, v) = n.http("GET", &format!("/dispatch?uid={u}"), "");
                assert_eq!(s, 200);
                serde_json::from_value(v["gateways"].clone()).expect("a list")
            })
            .collect()
    };
    let before = lists(&nodes[0]);
    assert_eq!(before, lists(&nodes[1]));
    assert_eq!(before, lists(&nodes[2]));
    let c_addr = nodes[2].addr().to_string();
    let mut on_c = 0;
    for l in &before {
        assert_eq!(l.len(), 3);
        on_c += usize::from(l[0] == c_addr);
    }
    assert!(on_c > 50 && on_c < 150, "{on_c} of 300 users on c");
    nodes[2].stop();
    // Each node learns at its own refresh that c left: both must have, or their lists differ.
    for n in &nodes[..2] {
        n.wait("two live nodes", || n.cluster.nodes().len() == 2);
    }
    let after = lists(&nodes[0]);
    assert_eq!(after, lists(&nodes[1]));
    let mut moved = 0;
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(a.len(), 2);
        if b[0] == c_addr {
            assert_eq!(a[0], b[1], "c's users go to their second choice");
        } else {
            moved += usize::from(a[0] != b[0]);
        }
    }
    // Maglev moves the removed node's users and a few others (its tables are rebuilt).
    assert!(
        moved * 10 < users.len() - on_c,
        "{moved} users of a and b moved"
    );
}

#[test]
fn with_redis_down_sessions_keep_local_qos0_the_api_says_503_and_the_registry_comes_back() {
    let Some((mut redis, a, b)) = two_nodes(test_config()) else {
        return;
    };
    let mut c = a.login("u4", &[]);
    b.wait("u4 registered", || b.online("u4") == 1);
    let (s, _) = b.post("/v1/push/user", r#"{"user":"u4","payload":"before"}"#);
    assert_eq!(s, 200);
    let got = pushes(&mut c, 1);
    let before = ids(&got)[0];
    assert_eq!(got, [to_user(before, "before")]);
    c.ack_all(&got);
    redis.kill();
    a.wait("a sees redis down", || !a.cluster.is_up());

    let (s, v) = a.post(
        "/v1/push/user",
        r#"{"user":"u4","payload":"local","qos":0}"#,
    );
    assert_eq!((s, v["sessions"].as_u64()), (200, Some(1)));
    assert_eq!(pushes(&mut c, 1), [to_user(0, "local")]);
    // A QoS0 push to everyone reaches this node's sessions; that the other nodes were not
    // told is counted.
    let (s, v) = a.post("/v1/push/all", r#"{"payload":"everyone","qos":0}"#);
    assert_eq!((s, v["sessions"].as_u64()), (200, Some(1)));
    assert_eq!(pushes(&mut c, 1).len(), 1);
    a.wait("the lost broadcast is counted", || {
        a.http("GET", "/v1/stats", "").1["gateway"]["push_cluster_broadcasts_unpublished_total"]
            .as_u64()
            == Some(1)
    });
    let (s, v) = a.post("/v1/push/user", r#"{"user":"u4","payload":"stored"}"#);
    assert_eq!((s, v["error"]["code"].as_str()), (503, Some("unavailable")));
    let (s, _) = b.post("/v1/online", r#"{"users":["u4"]}"#);
    assert_eq!(s, 503);
    // The session is still served.
    assert_eq!(c.sync(b"alive"), []);

    // Redis comes back empty: the registry is rebuilt from the nodes' sessions, and ids
    // keep growing (they start above the pushing node's clock in µs: one ms later here),
    // so a client deduping by the highest id it acknowledged takes the new message.
    redis.spawn();
    b.wait("the registry is rebuilt", || b.online("u4") == 1);
    b.clock.advance(ms(1));
    let (s, _) = b.post("/v1/push/user", r#"{"user":"u4","payload":"back"}"#);
    assert_eq!(s, 200);
    let got = pushes(&mut c, 1);
    let back = ids(&got)[0];
    assert_eq!(got, [to_user(back, "back")]);
    assert!(back > before, "{back} after {before}");
}

#[test]
fn a_node_cut_off_from_redis_keeps_its_sessions_and_makes_up_missed_qos1_in_order() {
    let Some(redis) = Redis::start() else { return };
    let proxy = Proxy::start(redis.port);
    let a = Node::start_at(&proxy.url(), "a", test_config());
    let b = Node::start(&redis, "b", test_config());
    let mut c = a.login("u5", &[]);
    b.wait("u5 registered", || b.online("u5") == 1);
    let (s, _) = b.post("/v1/push/user", r#"{"user":"u5","payload":"m0"}"#);
    assert_eq!(s, 200);
    let first = pushes(&mut c, 1);
    c.ack_all(&first);
    wait("the ACK reached Redis", || redis.queued("u5") == 0);

    // a loses Redis: b keeps storing (a's node channel does not hear it).
    proxy.cut();
    a.wait("a sees redis down", || !a.cluster.is_up());
    for i in 1..=5 {
        let (s, _) = b.post(
            "/v1/push/user",
            &format!(r#"{{"user":"u5","payload":"m{i}"}}"#),
        );
        assert_eq!(s, 200);
    }
    let (s, v) = a.post("/v1/push/user", r#"{"user":"u5","payload":"via a"}"#);
    assert_eq!((s, v["error"]["code"].as_str()), (503, Some("unavailable")));
    assert_eq!(c.sync(b"still served"), []);
    assert_eq!(redis.queued("u5"), 5);

    // Back: a reloads its users' queues; the five arrive once each, in id order.
    proxy.restore();
    let got = pushes(&mut c, 5);
    let got_ids = ids(&got);
    assert!(got_ids[0] > ids(&first)[0]);
    for (i, f) in got.iter().enumerate() {
        assert_eq!(f, &to_user(got_ids[i], &format!("m{}", i + 1)));
    }
    assert!(got_ids.windows(2).all(|w| w[0] < w[1]), "{got_ids:?}");
    c.ack_all(&got);
    wait("the ACKs reached Redis", || redis.queued("u5") == 0);
    assert_eq!(c.sync(b"nothing more"), []);
}

#[test]
fn a_node_whose_registry_entry_was_lost_kicks_its_session_once_another_node_has_the_user() {
    let mut config = test_config();
    config.policy = Policy::Single;
    let Some(redis) = Redis::start() else { return };
    let proxy = Proxy::start(redis.port);
    let a = Node::start_at(&proxy.url(), "a", config.clone());
    let b = Node::start(&redis, "b", config);
    let mut first = a.login("u6", &[]);
    b.wait("u6 registered on a", || b.online("u6") == 1);
    // a stalls (here: cut off from Redis) long enough for its entry to expire (here:
    // deleted), and meanwhile the user logs in on b, which finds no session to kick.
    proxy.cut();
    a.wait("a sees redis down", || !a.cluster.is_up());
    let mut del = redis.conn().expect("redis");
    redis::cmd("DEL")
        .arg("lw:u:u6")
        .query::<()>(&mut del)
        .expect("DEL");
    let mut second = b.login("u6", &[]);
    assert_eq!(first.sync(b"still a"), [], "nobody told a yet");
    // a is back: its refresh finds its entry gone and b's login there, and kicks its own.
    proxy.restore();
    first.expect_kick_and_close(1);
    assert_eq!(second.sync(b"still b"), []);
    b.wait("only b's session is left", || b.online("u6") == 1);
}

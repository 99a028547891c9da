//! Push service: long-lived client connections authenticated by tokens, heartbeats, rooms,
//! QoS0/QoS1 delivery, and the HTTP API for backends. The protocol is
//! `examples/push/PROTOCOL.md`; the API is described in `loopwire_push::api`.
//!
//! ```sh
//! # Quick start (insecure, public development keys; prints a warning):
//! cargo run --release -p loopwire-push --bin push -- --dev
//! # Production: secrets from files or the environment, never the command line.
//! LOOPWIRE_PUSH_SECRET=... LOOPWIRE_PUSH_API_TOKEN=... push --addr 0.0.0.0:7000 \
//!     --api-addr 127.0.0.1:7001 --policy multi --max-sessions 4
//! ```
//! With `--ws-addr 127.0.0.1:7002` browsers connect over WebSocket too (same engine, a
//! second listener; `--ws-origin https://app.example.com` restricts the origins). With
//! `--tls-cert cert.pem --tls-key key.pem` the gateway's listeners serve TLS (the engine's:
//! the binary protocol over TLS, and `wss` on the WebSocket listener); the HTTP API stays
//! plain (bind it to a private address, or put it behind a TLS-terminating proxy).
//! Prints `session_state_bytes=N`, `websocket listening on ws://...` (with `--ws-addr`;
//! `wss://` with TLS),
//! `listening on tcp://...` (the gateway, every listener) and
//! `api listening on http://...` once ready; with `--stats-secs` a `stats key=value ...` line
//! every so often; a last `stats` line when SIGINT/SIGTERM stop it gracefully.
//!
//! Two engines: the gateway's (its loops serve the long connections) and the API's, one
//! loop. The API's work (HTTP parsing, JSON, QoS1 fan-outs that store a message for every
//! user of a room) then never delays a heartbeat, and each engine gets its own engine-wide
//! settings (the gateway runs without an idle timeout and with per-session read deadlines;
//! the API with a 60 s keep-alive idle timeout and a much larger inbound cap). Both share the
//! one `Arc<Gateway>`; the store's times are the gateway engine's clock.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use loopwire::Engine;
use loopwire_examples::cli::{BoxError, Context, at_least, positive_secs, secs};
use loopwire_push::admission::parse_net;
use loopwire_push::api::{ApiConfig, ApiHandler, DEVELOPMENT_TOKEN};
use loopwire_push::auth::{Secret, Verifier};
use loopwire_push::cluster::{Cluster, ClusterConfig};
use loopwire_push::config::{IpNet, unix_now_secs};
use loopwire_push::store::{MemoryOptions, MemoryStore, StoreConfig};
use loopwire_push::upstream::webhook::Webhook;
use loopwire_push::{Config, Gateway, Policy, Session};

/// Sessions per user.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum PolicyArg {
    /// One session per user: a new login kicks the old one.
    Single,
    /// Up to --max-sessions per user: the oldest is kicked beyond.
    Multi,
}

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "loopwire push service (token auth, heartbeats, rooms, QoS0/QoS1, HTTP API)")]
struct Args {
    /// Address of the gateway: host:port (TCP) or a URL (tcp://host:port, unix:///path).
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: String,
    /// Address of the WebSocket listener (ip:port; browsers connect here with the
    /// subprotocol loopwire-push.v1). None by default.
    #[arg(long)]
    ws_addr: Option<std::net::SocketAddr>,
    /// An Origin allowed to open a WebSocket (repeatable; none: any origin).
    #[arg(long = "ws-origin")]
    ws_origins: Vec<String>,
    /// Most open connections per client IP address (0: no limit).
    #[arg(long, default_value_t = 0)]
    max_conns_per_ip: usize,
    /// Only clients in this network may connect (CIDR or address; repeatable; none: all).
    #[arg(long, value_parser = parse_net)]
    allow: Vec<IpNet>,
    /// Clients in this network may not connect, even if allowed (repeatable).
    #[arg(long, value_parser = parse_net)]
    deny: Vec<IpNet>,
    /// Webhook receiving UP frames and online/offline events as JSON POSTs (http:// only).
    #[arg(long)]
    webhook: Option<String>,
    /// Upstream events queued for the webhook at most (beyond: dropped and counted).
    #[arg(long, default_value_t = Config::default().upstream_queue, value_parser = at_least(1))]
    upstream_queue: usize,
    /// UP frames per second per session (0: no limit); over it: ERROR 13 and close.
    #[arg(long, default_value_t = Config::default().up_rate)]
    up_rate: u32,
    /// UP frames a session may send at once before --up-rate applies.
    #[arg(long, default_value_t = Config::default().up_burst)]
    up_burst: u32,
    /// TLS certificate chain (PEM, leaf first) for the gateway's listeners: TLS on the TCP
    /// listener, wss on the WebSocket one. Needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM: PKCS#8, PKCS#1 or SEC1) matching --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Address of the HTTP API (host:port).
    #[arg(long, default_value = "127.0.0.1:7001")]
    api_addr: String,
    #[command(flatten)]
    engine: loopwire_examples::EngineArgs,
    /// File holding the token secret (at least 32 bytes); else env LOOPWIRE_PUSH_SECRET.
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// File holding the API bearer token; else env LOOPWIRE_PUSH_API_TOKEN.
    #[arg(long)]
    api_token_file: Option<PathBuf>,
    /// Development mode: public, insecure token secret and API token (prints a warning).
    #[arg(long)]
    dev: bool,
    /// Sessions per user.
    #[arg(long, value_enum, default_value = "multi")]
    policy: PolicyArg,
    /// Most sessions per user with --policy multi.
    #[arg(long, default_value_t = 4, value_parser = at_least(1))]
    max_sessions: usize,
    /// Heartbeat interval for clients that ask for none, in seconds.
    #[arg(long, default_value = "30", value_parser = positive_secs)]
    heartbeat_secs: Duration,
    /// Shortest heartbeat interval a client may ask for, in seconds.
    #[arg(long, default_value = "5", value_parser = positive_secs)]
    min_heartbeat_secs: Duration,
    /// Longest heartbeat interval a client may ask for, in seconds.
    #[arg(long, default_value = "600", value_parser = positive_secs)]
    max_heartbeat_secs: Duration,
    /// Seconds a new connection has to authenticate.
    #[arg(long, default_value = "10", value_parser = positive_secs)]
    auth_timeout_secs: Duration,
    /// Most unacknowledged QoS1 messages per session (1 to 65535).
    #[arg(long, default_value_t = Config::default().window)]
    window: usize,
    /// Longest frame in bytes, length field included.
    #[arg(long, default_value_t = Config::default().max_frame)]
    max_frame: usize,
    /// TTL of QoS1 messages pushed without one, in seconds.
    #[arg(long, default_value = "86400", value_parser = positive_secs)]
    default_ttl_secs: Duration,
    /// Longest TTL a QoS1 message may ask for, in seconds.
    #[arg(long, default_value = "604800", value_parser = positive_secs)]
    max_ttl_secs: Duration,
    /// Most QoS1 messages kept per user (the oldest is dropped beyond).
    #[arg(long, default_value_t = StoreConfig::default().per_user_cap, value_parser = at_least(1))]
    store_per_user: usize,
    /// Most sends of a QoS1 message without an ACK.
    #[arg(long, default_value_t = StoreConfig::default().max_attempts)]
    max_attempts: u32,
    /// Print a stats line every this many seconds (0: only at exit).
    #[arg(long, default_value = "0", value_parser = secs)]
    stats_secs: Duration,
    /// Cluster mode: coordinate with the other nodes through this Redis
    /// (`redis://127.0.0.1:6379`): session registry, routing, QoS1 store, dispatcher.
    #[arg(long, requires = "node_id")]
    redis: Option<String>,
    /// This node's id in the cluster (unique; 1 to 64 bytes, no spaces or colons).
    #[arg(long, requires = "redis")]
    node_id: Option<String>,
    /// The gateway address the dispatcher hands out for this node (default: the bound
    /// gateway address).
    #[arg(long)]
    advertise: Option<String>,
    /// How often a cluster node renews its heartbeat and its users' registry entries, in
    /// milliseconds (entries live 3 times that).
    #[arg(long, default_value_t = 5000, value_parser = at_least(10))]
    cluster_refresh_ms: usize,
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

/// Reads a secret from `file`, else from the environment variable `var`.
fn secret_text(file: &Option<PathBuf>, var: &str, flag: &str) -> Result<String, BoxError> {
    let raw = match file {
        Some(path) => std::fs::read_to_string(path)
            .context(|| format!("cannot read {flag} {}", path.display()))?,
        None => std::env::var(var)
            .map_err(|_| format!("no {flag} given and {var} is not set (or use --dev)"))?,
    };
    let text = raw.trim().to_owned();
    if text.is_empty() {
        return Err(format!("the {flag} / {var} secret is empty").into());
    }
    Ok(text)
}

fn secrets(args: &Args) -> Result<(Secret, String), BoxError> {
    if args.dev {
        eprintln!(
            "WARNING: --dev: using the PUBLIC development token secret and API token \
             ({DEVELOPMENT_TOKEN}); anyone can sign tokens and call the API. Never use in production."
        );
        return Ok((Secret::development(), DEVELOPMENT_TOKEN.to_owned()));
    }
    let secret = match &args.secret_file {
        Some(path) => Secret::from_file(path)?,
        None => Secret::from_env("LOOPWIRE_PUSH_SECRET")
            .map_err(|e| format!("{e} (give --secret-file, or --dev for the quick start)"))?,
    };
    if secret.is_development() {
        eprintln!("WARNING: the token secret is the public development key");
    }
    let token = secret_text(
        &args.api_token_file,
        "LOOPWIRE_PUSH_API_TOKEN",
        "--api-token-file",
    )?;
    Ok((secret, token))
}

fn run(args: Args) -> Result<(), BoxError> {
    if let Some(list) = args.engine.backend_list() {
        print!("{list}");
        return Ok(());
    }
    loopwire_examples::init_tracing();
    let (secret, api_token) = secrets(&args)?;
    let mut config = Config::with_heartbeat(args.heartbeat_secs);
    config.min_heartbeat = args.min_heartbeat_secs;
    config.max_heartbeat = args.max_heartbeat_secs;
    config.auth_timeout = args.auth_timeout_secs;
    config.window = args.window;
    config.max_frame = args.max_frame;
    config.ws_addr = args.ws_addr;
    config.ws_origins = args.ws_origins.clone();
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(loopwire_push::tls::server_config(cert, key)?);
    }
    config.max_conns_per_ip = args.max_conns_per_ip;
    config.allow = args.allow.clone();
    config.deny = args.deny.clone();
    config.upstream_queue = args.upstream_queue;
    config.up_rate = args.up_rate;
    config.up_burst = args.up_burst;
    config.policy = match args.policy {
        PolicyArg::Single => Policy::Single,
        PolicyArg::Multi => Policy::Multi {
            max: args.max_sessions,
        },
    };
    let api_config = ApiConfig::new(api_token);
    let store_config = StoreConfig {
        per_user_cap: args.store_per_user,
        default_ttl: args.default_ttl_secs,
        max_ttl: args.max_ttl_secs,
        max_attempts: args.max_attempts,
        // The API's payload plus a PUSH envelope's kind, length and room.
        max_payload: api_config.max_payload + 2 + config.max_name,
        ..StoreConfig::default()
    };
    // Ids keep growing across restarts: start above the wall clock in microseconds.
    let options = MemoryOptions {
        first_id: unix_now_secs().saturating_mul(1_000_000),
        ..MemoryOptions::default()
    };
    let store =
        Arc::new(MemoryStore::with_options(store_config, options).context(|| "bad store limits")?);
    // The engine clock reads 0 when the engine starts, right after this.
    config.unix_epoch_offset_secs = unix_now_secs();
    let gateway = Arc::new(Gateway::new(
        config,
        Verifier::new(&secret),
        Arc::clone(&store) as Arc<dyn loopwire_push::store::Store>,
    )?);

    if let Some(url) = &args.webhook {
        let hook = Webhook::new(url, Duration::from_secs(5))?;
        gateway
            .set_sink(Arc::new(hook), 1)
            .context(|| "cannot start the upstream worker")?;
    }

    let mut builder = Engine::builder();
    args.engine
        .apply(builder.addr(loopwire_examples::tcp_url(&args.addr)));
    gateway.configure(&mut builder);
    let engine = builder.start(Arc::clone(&gateway))?;
    // Cluster mode: the store above becomes this node's mirror of Redis's queues.
    let cluster = match (&args.redis, &args.node_id) {
        (Some(url), Some(node)) => {
            let advertise = match &args.advertise {
                Some(a) => a.clone(),
                None => engine
                    .addrs()
                    .first()
                    .and_then(|a| a.addr)
                    .map(|a| a.to_string())
                    .ok_or("cannot tell the gateway's address: pass --advertise")?,
            };
            let mut cc = ClusterConfig::new(url.clone(), node.clone(), advertise);
            cc.refresh = Duration::from_millis(args.cluster_refresh_ms as u64);
            let c = Cluster::start(cc, &gateway, Arc::clone(&store))
                .context(|| "cannot join the cluster")?;
            println!("cluster node {node} on {url}");
            Some(c)
        }
        _ => None,
    };

    let api = Arc::new(ApiHandler::new(api_config, Arc::clone(&gateway))?);
    let mut api_builder = Engine::builder();
    api_builder
        .addr(loopwire_examples::tcp_url(&args.api_addr))
        .loops(1);
    api.configure(&mut api_builder);
    let api_engine = api_builder
        .start(Arc::clone(&api))
        .context(|| format!("cannot serve the API on {}", args.api_addr))?;

    println!("session_state_bytes={}", std::mem::size_of::<Session>());
    for a in api_engine.addrs() {
        // `http://` rather than the engine's `tcp://`: the bench scripts read the
        // gateway's `listening on tcp://` line.
        let shown = a.to_string().replacen("tcp://", "http://", 1);
        println!("api listening on {shown}");
    }
    // The WebSocket listener is the engine's last address (`Gateway::configure`).
    if let Some(ws) = args.ws_addr.and(engine.addrs().last()).and_then(|a| a.addr) {
        let scheme = if args.tls_cert.is_some() { "wss" } else { "ws" };
        println!("websocket listening on {scheme}://{ws}");
    }
    loopwire_examples::announce(&engine, "")?;

    let done = Arc::new(AtomicBool::new(false));
    let reporter = if args.stats_secs.is_zero() {
        None
    } else {
        let (gateway, done) = (Arc::clone(&gateway), Arc::clone(&done));
        let every = args.stats_secs;
        let thread = std::thread::Builder::new()
            .name("stats".into())
            .spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    std::thread::park_timeout(every);
                    print_stats(&gateway);
                }
            })
            .context(|| "cannot start the stats thread")?;
        Some(thread)
    };
    engine.wait();
    api_engine.stop();
    api_engine.wait();
    if let Some(c) = cluster {
        c.stop();
    }
    done.store(true, Ordering::Relaxed);
    if let Some(r) = reporter {
        r.thread().unpark();
        let _ = r.join();
    }
    print_stats(&gateway);
    Ok(())
}

fn print_stats(gateway: &Gateway) {
    let s = gateway.store_stats();
    println!(
        "stats {} rooms={} store_messages={} store_expired={} store_dropped_cap={}",
        gateway.stats(),
        gateway.rooms(),
        s.stored,
        s.expired,
        s.dropped_cap
    );
}

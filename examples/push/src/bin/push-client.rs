//! A small push client on the client library (`loopwire_push::client::Client`): logs in as
//! one user with a token it mints (the service's secret from `--secret-file`,
//! `LOOPWIRE_PUSH_SECRET`, or `--dev` for `push --dev`), joins rooms, and prints every message
//! it receives, one line each, until interrupted. It reconnects (with backoff) when the
//! connection drops or the backend kicks the user.
//!
//! ```sh
//! cargo run -p loopwire-push --bin push-client -- --dev --user u1 --room news
//! ```
//! Prints `welcome user=u1 heartbeat_ms=30000` at each (re)connection, then
//! `push id=N kind=user|room|all room=R payload=TEXT` per message (QoS1 ones ACKed).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use loopwire_examples::cli::{BoxError, positive_secs};
use loopwire_push::PushKind;
use loopwire_push::auth::{Claims, Secret, Signer};
use loopwire_push::client::{Client, ClientOptions, Event, SessionOptions};
use loopwire_push::config::unix_now_secs;

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "loopwire push client: log in as a user and print the messages received")]
struct Args {
    /// Gateway address (host:port).
    #[arg(long, default_value = "127.0.0.1:7000")]
    addr: String,
    /// The user to log in as (the token's `sub`).
    #[arg(long)]
    user: String,
    /// A room to join (repeatable); the token grants every room.
    #[arg(long)]
    room: Vec<String>,
    /// Heartbeat interval to ask for, in seconds.
    #[arg(long, default_value = "30", value_parser = positive_secs)]
    heartbeat_secs: Duration,
    /// File holding the token secret; else env LOOPWIRE_PUSH_SECRET.
    #[arg(long)]
    secret_file: Option<PathBuf>,
    /// Use the service's public development secret (`push --dev`).
    #[arg(long)]
    dev: bool,
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), BoxError> {
    let secret = if args.dev {
        Secret::development()
    } else if let Some(path) = &args.secret_file {
        Secret::from_file(path)?
    } else {
        Secret::from_env("LOOPWIRE_PUSH_SECRET")
            .map_err(|e| format!("{e} (give --secret-file, or --dev)"))?
    };
    let mut claims = Claims::new(args.user.clone(), unix_now_secs() + 24 * 3600);
    claims.rooms = vec!["*".into()];
    let token = Signer::new(&secret).sign(&claims);
    let opts = ClientOptions {
        session: SessionOptions {
            heartbeat: args.heartbeat_secs,
            ..SessionOptions::default()
        },
        rooms: args.room.clone(),
        ..ClientOptions::default()
    };
    let mut client = Client::connect(args.addr.as_str(), &token, opts)?;
    print_welcome(&client, &args.user);
    loop {
        match client.recv()? {
            Event::Welcome { .. } => print_welcome(&client, &args.user),
            Event::Push {
                id,
                kind,
                room,
                payload,
            } => {
                let kind = match kind {
                    PushKind::User => "user",
                    PushKind::Room => "room",
                    PushKind::All => "all",
                };
                println!(
                    "push id={id} kind={kind} room={} payload={}",
                    String::from_utf8_lossy(&room),
                    String::from_utf8_lossy(&payload)
                );
            }
            Event::Kicked { code, reason } => println!("kicked code={code} reason={reason}"),
            Event::Error { code, reason } => println!("error code={code} reason={reason}"),
            Event::Pong(_) => {}
        }
    }
}

fn print_welcome(client: &Client, user: &str) {
    let hb = client.session().heartbeat().unwrap_or_default();
    println!("welcome user={user} heartbeat_ms={}", hb.as_millis());
}

//! TLS echo server: the echo handler, unchanged, behind `EngineBuilder::tls`. The handshake
//! runs inside the event loops; the handler reads and writes plaintext.
//!
//! ```sh
//! cargo run --release -p loopwire-examples --bin tls_echo -- --addr tcp://127.0.0.1:9443
//! # in another shell, trusting the self-signed certificate it wrote:
//! openssl s_client -connect 127.0.0.1:9443 -CAfile /tmp/loopwire-tls-echo.pem -quiet
//! ```
//! It makes a self-signed certificate for `localhost` and `127.0.0.1` at start and writes it
//! (PEM) to `--cert-out`; SIGINT/SIGTERM stop it gracefully.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use loopwire::rustls::ServerConfig;
use loopwire::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use loopwire::{Action, Conn, Engine, EventHandler};
use loopwire_examples::cli::{Context, Failed};

/// Command-line options.
#[derive(Debug, Parser)]
#[command(about = "loopwire TLS echo server")]
struct Args {
    /// Address to serve: tcp://host:port or unix:///path.
    #[arg(long, default_value = "tcp://127.0.0.1:9443")]
    addr: String,
    #[command(flatten)]
    engine: loopwire_examples::EngineArgs,
    /// Where to write the self-signed certificate, for clients to trust.
    #[arg(long, default_value = "/tmp/loopwire-tls-echo.pem")]
    cert_out: PathBuf,
}

/// Writes back what arrives (in plaintext: the engine decrypts and encrypts).
struct Echo;

impl EventHandler for Echo {
    type State = ();

    fn on_traffic(&self, c: &mut Conn<'_, ()>) -> Action {
        let data = c.next(usize::MAX);
        c.write(data);
        Action::None
    }
}

/// A server configuration with a fresh self-signed certificate, and that certificate (PEM).
fn self_signed() -> Result<(Arc<ServerConfig>, String), Failed> {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .context(|| "cannot make a self-signed certificate")?;
    let pem = cert.cert.pem();
    let der = CertificateDer::from(cert.cert.der().to_vec());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let provider = Arc::new(loopwire::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(vec![der], key))
        .context(|| "cannot configure TLS with the certificate")?;
    Ok((Arc::new(config), pem))
}

fn main() -> ExitCode {
    loopwire_examples::cli::main(env!("CARGO_BIN_NAME"), run)
}

fn run(args: Args) -> Result<(), loopwire_examples::cli::BoxError> {
    if let Some(list) = args.engine.backend_list() {
        print!("{list}");
        return Ok(());
    }
    loopwire_examples::init_tracing();
    let (config, pem) = self_signed()?;
    std::fs::write(&args.cert_out, pem).context(|| {
        format!(
            "cannot write the certificate to {}",
            args.cert_out.display()
        )
    })?;
    let engine = args
        .engine
        .apply(Engine::builder().addr(args.addr.as_str()))
        .tls(config)
        .start(Echo)?;
    let note = format!(" (TLS; certificate in {})", args.cert_out.display());
    loopwire_examples::announce(&engine, &note)?;
    engine.wait();
    Ok(())
}

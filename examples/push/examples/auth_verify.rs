//! How long one `auth::Verifier::verify` takes: signs a typical token (two room patterns, a
//! device id), verifies it many times on one thread and prints the mean.
//!
//! `cargo run --release -p loopwire-push --example auth_verify [ITERATIONS]`

use std::hint::black_box;
use std::time::Instant;

use loopwire_push::auth::{Claims, Secret, Signer, Verifier};

fn main() {
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let secret = Secret::development();
    let now = 1_767_225_600;
    let claims = Claims {
        rooms: vec!["user:u42".into(), "chat:*".into()],
        device: Some("ios-7f3a".into()),
        iat: Some(now),
        ..Claims::new("u42", now + 3600)
    };
    let token = Signer::new(&secret).sign(&claims);
    let verifier = Verifier::new(&secret);
    for _ in 0..iterations / 10 {
        black_box(verifier.verify(black_box(token.as_bytes()), now).is_ok());
    }
    let start = Instant::now();
    let mut ok = 0u32;
    for _ in 0..iterations {
        ok += u32::from(verifier.verify(black_box(token.as_bytes()), now).is_ok());
    }
    let elapsed = start.elapsed();
    assert_eq!(ok, iterations, "the token should verify");
    println!(
        "token {} bytes; {iterations} verifies in {elapsed:.2?}: {:.2} us each",
        token.len(),
        elapsed.as_secs_f64() * 1e6 / f64::from(iterations)
    );
}

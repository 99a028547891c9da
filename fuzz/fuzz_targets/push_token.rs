//! The push gateway's token check (`loopwire_push::auth::Verifier::verify`, HS256 JWTs),
//! with a fixed secret (32 bytes of 0x2A, as `make_corpus.py` signs the seeds) and a fixed
//! time.
//!
//! Input: the token. Properties: no panic, whatever the bytes; a token is accepted only if
//! it is byte for byte one the secret signed (the seeds; `SIGNED` holds them), so no
//! alteration (header, claims, padding, base64 trailing bits) passes; a token accepted
//! identifies the user its claims name, with their expiry.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire_push::auth::{Secret, Verifier};

/// The time tokens are checked at: 2023-11-14T22:13:20Z.
const NOW: u64 = 1_700_000_000;

/// The seeds `make_corpus.py` signed with the secret: token, user, expiry.
const SIGNED: [(&str, &str, u64); 2] = [
    (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1NDIiLCJleHAiOjE3MDAwMDM2MDAsInJvb21zIjpbInVzZXI6dTQyIiwiY2hhdDoqIl0sImRldmljZSI6Imlvcy0xIn0.QqrnTxkQbecvjacD90IgKJ4Mpwx8y9yfEI8sNUE6A58",
        "u42",
        1_700_003_600,
    ),
    (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSIsImV4cCI6MTcwMDAwMDAxMCwibmJmIjoxNjk5OTk5OTAwfQ.H_jlCLGAdGy6klnyxBp-7R0jVCTnyBcquBI8Sjf8ymo",
        "alice",
        1_700_000_010,
    ),
];

fuzz_target!(|data: &[u8]| {
    static VERIFIER: std::sync::OnceLock<Verifier> = std::sync::OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        let secret = Secret::from_bytes(&[0x2A; 32]).expect("a 32-byte secret");
        Verifier::new(&secret)
    });
    if let Ok(id) = verifier.verify(data, NOW) {
        let Some((_, user, exp)) = SIGNED.iter().find(|(t, ..)| t.as_bytes() == data) else {
            panic!(
                "accepted a token nobody signed: {:?}",
                String::from_utf8_lossy(data)
            );
        };
        assert_eq!((id.user.as_str(), id.expires_at), (*user, *exp));
    }
});

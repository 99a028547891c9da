//! The `Sec-WebSocket-Accept` value (RFC 6455 section 4.2.2 step 5.4, and section 1.3):
//! base64 of the SHA-1 of the client's `Sec-WebSocket-Key` followed by a fixed GUID. SHA-1
//! and base64 come from the RustCrypto `sha1` and the `base64` crates.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

/// The GUID every server appends to the key (section 1.3).
pub const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for the `Sec-WebSocket-Key` value `key` (as sent:
/// the base64 text, not the decoded bytes).
pub fn accept_key(key: &[u8]) -> String {
    let mut sha1 = Sha1::new();
    sha1.update(key);
    sha1.update(GUID);
    STANDARD.encode(sha1.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        // Section 1.3.
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn agrees_with_tungstenite() {
        for key in [
            &b"x3JJHMbDL1EzLkh9GBhXDw=="[..],
            b"AQIDBAUGBwgJCgsMDQ4PEA==",
            b"",
        ] {
            assert_eq!(
                accept_key(key),
                tungstenite::handshake::derive_accept_key(key)
            );
        }
    }
}

//! Close status codes (RFC 6455 section 7.4): the ones this side sends, and which ones a peer
//! may put in its Close frame (section 7.4.1, and the IANA registry of section 11.7).

/// 1000: the purpose of the connection was fulfilled.
pub const NORMAL: u16 = 1000;
/// 1001: the endpoint is going away (server shutting down, page navigated away).
pub const GOING_AWAY: u16 = 1001;
/// 1002: the peer broke the protocol (unmasked frame, reserved bits, bad fragmentation, ...).
pub const PROTOCOL_ERROR: u16 = 1002;
/// 1003: a data type this endpoint does not accept (text, on the binary push protocol).
pub const UNSUPPORTED_DATA: u16 = 1003;
/// 1007: a text message or close reason that is not UTF-8.
pub const INVALID_PAYLOAD: u16 = 1007;
/// 1008: a message that violates this endpoint's policy.
pub const POLICY_VIOLATION: u16 = 1008;
/// 1009: a message too big to process.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// 1011: the server hit a condition it did not expect (a bug of ours, not the peer's).
pub const INTERNAL_ERROR: u16 = 1011;

/// Whether a peer may send `code` in a Close frame. 1005, 1006 and 1015 are reserved for
/// reporting and must never be sent (section 7.4.1); codes below 1000, 1004 and the
/// unassigned rest of 1000..=2999 are not defined; 3000..=4999 belong to libraries,
/// frameworks and applications (section 7.4.2); 1012..=1014 are registered with IANA
/// (service restart, try again later, bad gateway).
pub fn is_valid_received(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_codes() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014, 3000, 4999,
        ] {
            assert!(is_valid_received(ok), "{ok}");
        }
        for bad in [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, u16::MAX] {
            assert!(!is_valid_received(bad), "{bad}");
        }
    }
}

//! The push gateway's WebSocket opening handshake (`loopwire_push::ws::Upgrade::parse`, RFC
//! 6455 section 4.2).
//!
//! Input: 2 configuration bytes (`max_head` 0..=4095, require-protocol and origin
//! allow-list flags), then the request. Properties: no panic; an accepted head used at most
//! `max_head` bytes, within the input, and parses the same alone (what follows it is not
//! read); every shorter prefix is incomplete (`Ok(None)`), so the answer never depends on
//! how the head arrived; the 101 response carries the accept key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use loopwire_fuzz::Input;
use loopwire_push::ws::{HandshakeConfig, OriginPolicy, Upgrade};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::new(data, 2) else {
        return;
    };
    let mut config = HandshakeConfig {
        max_head: usize::from(input.byte(0) & 0x0F) << 8 | usize::from(input.byte(1)),
        ..HandshakeConfig::default()
    };
    config.require_protocol = input.byte(0) & 0x10 != 0;
    if input.byte(0) & 0x20 != 0 {
        config.origin = OriginPolicy::AllowList(vec!["https://app.example.com".to_owned()]);
    }
    let head = input.stream;
    let Ok(Some((used, upgrade))) = Upgrade::parse(head, &config) else {
        return;
    };
    assert!(used <= head.len() && used <= config.max_head, "used {used}");
    assert_eq!(
        Upgrade::parse(&head[..used], &config),
        Ok(Some((used, upgrade.clone())))
    );
    for k in [
        0,
        1,
        used / 2,
        used.saturating_sub(2),
        used.saturating_sub(1),
    ] {
        if k < used {
            assert_eq!(
                Upgrade::parse(&head[..k], &config),
                Ok(None),
                "prefix of {k}"
            );
        }
    }
    let response = String::from_utf8(upgrade.accept()).expect("an ASCII response");
    assert!(response.starts_with("HTTP/1.1 101 "));
    assert!(response.contains(upgrade.accept_key()));
});

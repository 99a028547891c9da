//! The opening handshake on hand-written requests (RFC 6455 section 4.2.1).

use super::super::{HandshakeConfig, HandshakeError, OriginPolicy, PROTOCOL, Upgrade};

/// The request of RFC 6455 section 1.2 (subprotocols "chat, superchat"), with `extra`
/// headers added and the headers named in `drop` left out.
fn request(extra: &[&str], drop: &[&str]) -> Vec<u8> {
    let mut r = String::from("GET /chat?token=t HTTP/1.1\r\n");
    let base = [
        "Host: server.example.com",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Origin: http://example.com",
        "Sec-WebSocket-Protocol: chat, superchat",
        "Sec-WebSocket-Version: 13",
    ];
    let kept = base.iter().filter(|h| {
        let name = h.split(':').next().unwrap_or_default();
        !drop.iter().any(|d| d.eq_ignore_ascii_case(name))
    });
    for h in kept.chain(extra) {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r.into_bytes()
}

fn parse(head: &[u8]) -> Result<Option<(usize, Upgrade)>, HandshakeError> {
    Upgrade::parse(head, &HandshakeConfig::default())
}

fn status(head: &[u8], config: &HandshakeConfig) -> u16 {
    match Upgrade::parse(head, config) {
        Err(e) => e.status(),
        Ok(r) => panic!("accepted: {r:?}"),
    }
}

#[test]
fn accepts_the_rfc_request() {
    let mut head = request(&[], &[]);
    let len = head.len();
    head.extend_from_slice(&[0x82, 0x80]); // a frame right behind the head
    let (used, up) = parse(&head).unwrap().unwrap();
    assert_eq!(used, len);
    assert_eq!(up.path(), "/chat?token=t");
    assert_eq!(up.host(), "server.example.com");
    assert_eq!(up.origin(), Some("http://example.com"));
    assert_eq!(up.protocol(), None, "chat is not ours");
    assert_eq!(up.accept_key(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let resp = String::from_utf8(up.accept()).unwrap();
    assert_eq!(
        resp,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    );
}

#[test]
fn incomplete_heads_need_more() {
    let head = request(&[], &[]);
    for cut in 0..head.len() {
        assert_eq!(parse(&head[..cut]), Ok(None), "cut at {cut}");
    }
}

#[test]
fn header_names_and_tokens_are_case_insensitive() {
    let head =
        b"GET / HTTP/1.1\r\nhost: h\r\nupgrade: WebSocket\r\nCONNECTION: keep-alive, UPGRADE\r\n\
        sec-websocket-key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nsec-websocket-version:  13 \r\n\r\n";
    assert!(parse(head).unwrap().is_some());
}

#[test]
fn selects_the_servers_preferred_subprotocol() {
    let config = HandshakeConfig {
        protocols: vec!["superchat".into(), "chat".into()],
        ..HandshakeConfig::default()
    };
    let (_, up) = Upgrade::parse(&request(&[], &[]), &config)
        .unwrap()
        .unwrap();
    assert_eq!(up.protocol(), Some("superchat"));
    assert!(
        String::from_utf8(up.accept())
            .unwrap()
            .contains("\r\nSec-WebSocket-Protocol: superchat\r\n")
    );

    let head = request(
        &[&format!("Sec-WebSocket-Protocol: x, {PROTOCOL}")],
        &["sec-websocket-protocol"],
    );
    let (_, up) = parse(&head).unwrap().unwrap();
    assert_eq!(up.protocol(), Some(PROTOCOL));

    let required = HandshakeConfig {
        require_protocol: true,
        ..HandshakeConfig::default()
    };
    assert_eq!(status(&request(&[], &[]), &required), 400);
}

#[test]
fn refusals_and_their_status() {
    let d = HandshakeConfig::default();
    let post = String::from_utf8(request(&[], &[]))
        .unwrap()
        .replacen("GET", "POST", 1);
    assert_eq!(status(post.as_bytes(), &d), 405);
    let http10 = String::from_utf8(request(&[], &[]))
        .unwrap()
        .replacen("1.1", "1.0", 1);
    assert_eq!(status(http10.as_bytes(), &d), 400);
    assert_eq!(status(&request(&[], &["upgrade"]), &d), 426);
    assert_eq!(status(&request(&["Upgrade: h2c"], &["upgrade"]), &d), 426);
    assert_eq!(status(&request(&[], &["connection"]), &d), 400);
    assert_eq!(status(&request(&[], &["host"]), &d), 400);
    assert_eq!(status(&request(&[], &["sec-websocket-key"]), &d), 400);
    assert_eq!(
        status(
            &request(&["Sec-WebSocket-Key: AAAA"], &["sec-websocket-key"]),
            &d
        ),
        400
    );
    assert_eq!(
        status(
            &request(&["Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw=="], &[]),
            &d
        ),
        400
    );
    assert_eq!(status(&request(&[], &["sec-websocket-version"]), &d), 400);
    let v8 = request(&["Sec-WebSocket-Version: 8"], &["sec-websocket-version"]);
    assert_eq!(status(&v8, &d), 426);
    assert_eq!(status(b"\x16\x03\x01 not http\r\n\r\n", &d), 400);
}

#[test]
fn version_8_is_told_which_version_we_speak() {
    let v8 = request(&["Sec-WebSocket-Version: 8"], &["sec-websocket-version"]);
    let e = parse(&v8).unwrap_err();
    let resp = String::from_utf8(e.response()).unwrap();
    assert!(
        resp.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{resp}"
    );
    assert!(resp.contains("\r\nSec-WebSocket-Version: 13\r\n"), "{resp}");
    assert!(resp.contains("\r\nConnection: close\r\n"), "{resp}");
    let (head, body) = resp.split_once("\r\n\r\n").unwrap();
    assert!(
        head.contains(&format!("Content-Length: {}", body.len())),
        "{resp}"
    );
}

#[test]
fn head_size_limit() {
    let config = HandshakeConfig {
        max_head: 256,
        ..HandshakeConfig::default()
    };
    let big = request(&[&format!("X-Pad: {}", "a".repeat(300))], &[]);
    // Refused as soon as 256 bytes are in without the end of the head.
    assert_eq!(Upgrade::parse(&big[..255], &config), Ok(None));
    assert_eq!(status(&big[..256], &config), 431);
    assert_eq!(status(&big, &config), 431);
}

#[test]
fn origin_policy() {
    let allow = HandshakeConfig {
        origin: OriginPolicy::AllowList(vec!["HTTP://EXAMPLE.com".into()]),
        ..HandshakeConfig::default()
    };
    assert!(
        Upgrade::parse(&request(&[], &[]), &allow)
            .unwrap()
            .is_some()
    );
    assert!(
        Upgrade::parse(&request(&[], &["origin"]), &allow)
            .unwrap()
            .is_some()
    );
    let evil = request(&["Origin: https://evil.example"], &["origin"]);
    assert_eq!(status(&evil, &allow), 403);

    let hook = HandshakeConfig {
        origin: OriginPolicy::Check(|o| o.is_some_and(|o| o.ends_with(".example"))),
        ..HandshakeConfig::default()
    };
    assert!(Upgrade::parse(&evil, &hook).unwrap().is_some());
    assert_eq!(status(&request(&[], &["origin"]), &hook), 403);
}

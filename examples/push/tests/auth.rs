//! The auth module from the outside: tokens minted by `Signer` or by hand (other algorithms,
//! missing claims), verified at chosen times.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use loopwire_push::auth::{
    AuthError, ClaimError, Claims, DEFAULT_LEEWAY_SECS, MAX_ROOM_GRANTS, MAX_TOKEN_LEN,
    MAX_USER_LEN, RoomGrants, RoomPattern, Secret, SecretError, Signer, Verifier, VerifierOptions,
};
use proptest::prelude::*;
use ring::hmac;

/// An arbitrary "now", far from the system clock's present on purpose.
const NOW: u64 = 1_000_000_000;
const KEY: &[u8] = b"test secret: 0123456789abcdefghijklmnopqrstuvwxyz";

fn secret() -> Secret {
    Secret::from_bytes(KEY).expect("long enough")
}

fn verifier(leeway_secs: u64) -> Verifier {
    Verifier::with_options(
        &secret(),
        VerifierOptions {
            leeway_secs,
            ..Default::default()
        },
    )
}

fn sign(claims: &Claims) -> String {
    Signer::new(&secret()).sign(claims)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A token with this header and payload JSON, signed with HMAC `alg` and `key`.
fn craft(header: &str, payload: &str, alg: hmac::Algorithm, key: &[u8]) -> String {
    let message = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let tag = hmac::sign(&hmac::Key::new(alg, key), message.as_bytes());
    format!("{message}.{}", b64(tag.as_ref()))
}

fn craft_hs256(payload: &str) -> String {
    craft(
        r#"{"alg":"HS256","typ":"JWT"}"#,
        payload,
        hmac::HMAC_SHA256,
        KEY,
    )
}

fn claims(sub: &str, exp: u64) -> Claims {
    Claims::new(sub, exp)
}

#[test]
fn valid_token_gives_its_identity() {
    let c = Claims {
        rooms: vec!["user:42".into(), "chat:*".into()],
        device: Some("ios-1".into()),
        ..claims("u42", NOW + 60)
    };
    let id = verifier(0).verify(sign(&c).as_bytes(), NOW).unwrap();
    assert_eq!(id.user, "u42");
    assert_eq!(id.device.as_deref(), Some("ios-1"));
    assert_eq!(id.expires_at, NOW + 60);
    assert_eq!(id.rooms, RoomGrants::parse(["user:42", "chat:*"]).unwrap());
}

#[test]
fn hand_made_hs256_token_verifies() {
    // So the hand-made tokens below fail for the reason each test names, not the helper.
    let t = craft_hs256(&format!(r#"{{"sub":"u","exp":{}}}"#, NOW + 1));
    assert_eq!(verifier(0).verify(t.as_bytes(), NOW).unwrap().user, "u");
}

#[test]
fn exp_boundary_without_leeway() {
    // Rule: valid iff now < exp + leeway.
    let exp = NOW + 10;
    let t = sign(&claims("u", exp));
    let v = verifier(0);
    assert!(v.verify(t.as_bytes(), exp - 1).is_ok());
    assert_eq!(v.verify(t.as_bytes(), exp), Err(AuthError::Expired));
    assert_eq!(v.verify(t.as_bytes(), exp + 1), Err(AuthError::Expired));
}

#[test]
fn exp_boundary_with_leeway() {
    let exp = NOW + 10;
    let t = sign(&claims("u", exp));
    let v = verifier(5);
    assert!(v.verify(t.as_bytes(), exp + 4).is_ok());
    assert_eq!(v.verify(t.as_bytes(), exp + 5), Err(AuthError::Expired));
    let d = Verifier::new(&secret());
    assert_eq!(d.options().leeway_secs, DEFAULT_LEEWAY_SECS);
    assert!(
        d.verify(t.as_bytes(), exp + DEFAULT_LEEWAY_SECS - 1)
            .is_ok()
    );
    assert_eq!(
        d.verify(t.as_bytes(), exp + DEFAULT_LEEWAY_SECS),
        Err(AuthError::Expired)
    );
}

#[test]
fn nbf_boundary() {
    // Rule: valid iff nbf <= now + leeway.
    let nbf = NOW + 10;
    let t = sign(&Claims {
        nbf: Some(nbf),
        ..claims("u", NOW + 100)
    });
    let v = verifier(0);
    assert_eq!(v.verify(t.as_bytes(), nbf - 1), Err(AuthError::NotYetValid));
    assert!(v.verify(t.as_bytes(), nbf).is_ok());
    let v = verifier(5);
    assert_eq!(v.verify(t.as_bytes(), nbf - 6), Err(AuthError::NotYetValid));
    assert!(v.verify(t.as_bytes(), nbf - 5).is_ok());
}

#[test]
fn only_the_callers_time_counts() {
    // Expired long ago by the system clock, valid at the time passed in.
    let t = sign(&claims("u", 100));
    assert!(verifier(0).verify(t.as_bytes(), 99).is_ok());
    // Valid by the system clock for decades, expired at the time passed in.
    let t = sign(&claims("u", 4_000_000_000));
    assert_eq!(
        verifier(0).verify(t.as_bytes(), 4_000_000_000),
        Err(AuthError::Expired)
    );
    // Saturating: an `exp` at the end of time never expires, leeway or not.
    let t = sign(&claims("u", u64::MAX));
    assert!(verifier(60).verify(t.as_bytes(), u64::MAX - 1).is_ok());
}

#[test]
fn wrong_secret_or_altered_token_is_refused() {
    let other = Secret::from_bytes(b"another secret, 0123456789abcdefghijklmnop").unwrap();
    let t = Signer::new(&other).sign(&claims("u", NOW + 60));
    assert_eq!(
        verifier(0).verify(t.as_bytes(), NOW),
        Err(AuthError::Signature)
    );

    // Swap in another payload, keep the signature.
    let good = sign(&claims("u", NOW + 60));
    let parts: Vec<&str> = good.split('.').collect();
    let forged_payload =
        b64(format!(r#"{{"sub":"admin","exp":{},"rooms":["*"]}}"#, NOW + 60).as_bytes());
    let forged = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
    assert_eq!(
        verifier(0).verify(forged.as_bytes(), NOW),
        Err(AuthError::Signature)
    );
    // A forged token with bad claims still gets Signature: claims are read only afterwards.
    let forged = format!("{}.{}.{}", parts[0], b64(b"{}"), parts[2]);
    assert_eq!(
        verifier(0).verify(forged.as_bytes(), NOW),
        Err(AuthError::Signature)
    );
}

#[test]
fn other_algorithms_are_refused() {
    let payload = format!(r#"{{"sub":"u","exp":{}}}"#, NOW + 60);
    let v = verifier(0);
    // Signed correctly with the same secret, but not HS256.
    for (name, alg) in [("HS384", hmac::HMAC_SHA384), ("HS512", hmac::HMAC_SHA512)] {
        let t = craft(
            &format!(r#"{{"alg":"{name}","typ":"JWT"}}"#),
            &payload,
            alg,
            KEY,
        );
        assert_eq!(
            v.verify(t.as_bytes(), NOW),
            Err(AuthError::Algorithm),
            "{name}"
        );
    }
    // RS256 (the HMAC-with-the-public-key confusion) and ES256: refused before any crypto.
    for name in ["RS256", "ES256", "PS256", "EdDSA"] {
        let t = craft(
            &format!(r#"{{"alg":"{name}"}}"#),
            &payload,
            hmac::HMAC_SHA256,
            KEY,
        );
        assert_eq!(
            v.verify(t.as_bytes(), NOW),
            Err(AuthError::Algorithm),
            "{name}"
        );
    }
    // `none`, with and without a signature: not an algorithm at all.
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let body = b64(payload.as_bytes());
    for t in [
        format!("{header}.{body}."),
        format!("{header}.{body}"),
        format!("{header}.{body}.AAAA"),
    ] {
        let err = v.verify(t.as_bytes(), NOW).unwrap_err();
        assert_eq!(err, AuthError::Malformed, "{t}");
        assert_eq!(err.code(), 102);
    }
    // No `alg` at all.
    let t = craft(r#"{"typ":"JWT"}"#, &payload, hmac::HMAC_SHA256, KEY);
    assert_eq!(v.verify(t.as_bytes(), NOW), Err(AuthError::Malformed));
}

#[test]
fn garbage_is_refused_without_panic() {
    let v = verifier(0);
    assert_eq!(v.verify(b"", NOW), Err(AuthError::Missing));
    for t in [
        &b"."[..],
        b"..",
        b"...",
        b"a.b.c",
        b"a.b.c.d",
        b"not a token",
        b"\xff\xfe\x00.\x80.\x81",
        b"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.!!!",
    ] {
        assert_eq!(
            v.verify(t, NOW),
            Err(AuthError::Malformed),
            "{:?}",
            String::from_utf8_lossy(t)
        );
    }
    // A good HS256 header with nothing else: the (empty) signature is checked first.
    assert_eq!(
        v.verify(b"eyJhbGciOiJIUzI1NiJ9..", NOW),
        Err(AuthError::Signature)
    );
    let at_limit = vec![b'a'; MAX_TOKEN_LEN];
    assert_eq!(v.verify(&at_limit, NOW), Err(AuthError::Malformed));
    let over = vec![b'a'; MAX_TOKEN_LEN + 1];
    assert_eq!(
        v.verify(&over, NOW),
        Err(AuthError::TooLong {
            len: MAX_TOKEN_LEN + 1,
            max: MAX_TOKEN_LEN
        })
    );
    // Over the limit even though validly signed.
    let big = sign(&Claims {
        rooms: vec!["r".repeat(40); 100],
        ..claims("u", NOW + 60)
    });
    assert!(big.len() > MAX_TOKEN_LEN);
    assert!(matches!(
        v.verify(big.as_bytes(), NOW),
        Err(AuthError::TooLong { .. })
    ));
    // A signed payload that is JSON but not an object.
    let t = craft_hs256("[1,2]");
    assert_eq!(v.verify(t.as_bytes(), NOW), Err(AuthError::Malformed));
}

#[test]
fn required_claims() {
    let v = verifier(0);
    let exp = NOW + 60;
    let cases = [
        (format!(r#"{{"exp":{exp}}}"#), ClaimError::MissingSub),
        (format!(r#"{{"sub":null,"exp":{exp}}}"#), ClaimError::BadSub),
        (r#"{"sub":"u"}"#.to_owned(), ClaimError::MissingExp),
        (r#"{"sub":"u","exp":"soon"}"#.to_owned(), ClaimError::BadExp),
        (
            format!(r#"{{"sub":"u","exp":{exp}.5}}"#),
            ClaimError::BadExp,
        ),
        (
            format!(r#"{{"sub":"u","exp":{exp},"nbf":-1}}"#),
            ClaimError::BadNbf,
        ),
        (
            format!(r#"{{"sub":"u","exp":{exp},"rooms":"a"}}"#),
            ClaimError::BadRooms,
        ),
        (
            format!(r#"{{"sub":"u","exp":{exp},"device":5}}"#),
            ClaimError::BadDevice,
        ),
    ];
    for (payload, want) in cases {
        let t = craft_hs256(&payload);
        assert_eq!(
            v.verify(t.as_bytes(), NOW),
            Err(AuthError::Claim(want)),
            "{payload}"
        );
    }
    assert_eq!(AuthError::Claim(ClaimError::MissingSub).code(), 110);
}

#[test]
fn sub_and_device_limits() {
    let v = verifier(0);
    let max = "u".repeat(MAX_USER_LEN);
    assert_eq!(
        v.verify(sign(&claims(&max, NOW + 1)).as_bytes(), NOW)
            .unwrap()
            .user,
        max
    );
    let over = "u".repeat(MAX_USER_LEN + 1);
    let bad = Err(AuthError::Claim(ClaimError::BadSub));
    assert_eq!(v.verify(sign(&claims(&over, NOW + 1)).as_bytes(), NOW), bad);
    // 64 bytes is the limit, not 64 characters: 33 two-byte characters are 66 bytes.
    assert_eq!(
        v.verify(sign(&claims(&"é".repeat(33), NOW + 1)).as_bytes(), NOW),
        bad
    );
    assert_eq!(v.verify(sign(&claims("", NOW + 1)).as_bytes(), NOW), bad);
    assert_eq!(
        v.verify(sign(&claims("a\u{7f}", NOW + 1)).as_bytes(), NOW),
        bad
    );
    let c = Claims {
        device: Some("d".repeat(65)),
        ..claims("u", NOW + 1)
    };
    assert_eq!(
        v.verify(sign(&c).as_bytes(), NOW),
        Err(AuthError::Claim(ClaimError::BadDevice))
    );
}

#[test]
fn room_count_limit() {
    let v = verifier(0);
    let at = Claims {
        rooms: vec!["r".into(); MAX_ROOM_GRANTS],
        ..claims("u", NOW + 1)
    };
    assert!(v.verify(sign(&at).as_bytes(), NOW).is_ok());
    let over = Claims {
        rooms: vec!["r".into(); MAX_ROOM_GRANTS + 1],
        ..claims("u", NOW + 1)
    };
    assert_eq!(
        v.verify(sign(&over).as_bytes(), NOW),
        Err(AuthError::Claim(ClaimError::TooManyRooms {
            max: MAX_ROOM_GRANTS
        }))
    );
    let bad = Claims {
        rooms: vec!["ok".into(), "a*b".into()],
        ..claims("u", NOW + 1)
    };
    let err = v.verify(sign(&bad).as_bytes(), NOW).unwrap_err();
    assert!(
        matches!(err, AuthError::Claim(ClaimError::BadRoom { index: 1, .. })),
        "{err:?}"
    );
    assert_eq!(err.code(), 117);
}

#[test]
fn a_token_for_one_room_cannot_join_another() {
    let v = verifier(0);
    let id = |rooms: &[&str]| {
        let c = Claims {
            rooms: rooms.iter().map(|r| r.to_string()).collect(),
            ..claims("u", NOW + 1)
        };
        v.verify(sign(&c).as_bytes(), NOW).unwrap().rooms
    };
    let a = id(&["room-a"]);
    assert!(a.allows(b"room-a"));
    assert!(!a.allows(b"room-b"));
    assert!(!a.allows(b"room-a2"));
    assert!(!a.allows(b"room-"));
    let chat = id(&["chat:*", "news"]);
    assert!(chat.allows(b"chat:") && chat.allows(b"chat:1") && chat.allows(b"news"));
    assert!(!chat.allows(b"chat") && !chat.allows(b"chats:1") && !chat.allows(b"news:1"));
    assert!(id(&["*"]).allows(b"anything"));
    assert!(!id(&[]).allows(b"room-a"));
}

#[test]
fn issuer_and_audience() {
    let opts = VerifierOptions {
        leeway_secs: 0,
        issuer: Some("backend".into()),
        audience: Some("push".into()),
    };
    let v = Verifier::with_options(&secret(), opts);
    let ok = Claims {
        iss: Some("backend".into()),
        aud: Some("push".into()),
        ..claims("u", NOW + 1)
    };
    assert!(v.verify(sign(&ok).as_bytes(), NOW).is_ok());
    let no_iss = Claims {
        iss: None,
        ..ok.clone()
    };
    assert_eq!(
        v.verify(sign(&no_iss).as_bytes(), NOW),
        Err(AuthError::Issuer)
    );
    let bad_iss = Claims {
        iss: Some("other".into()),
        ..ok.clone()
    };
    assert_eq!(
        v.verify(sign(&bad_iss).as_bytes(), NOW),
        Err(AuthError::Issuer)
    );
    let no_aud = Claims {
        aud: None,
        ..ok.clone()
    };
    assert_eq!(
        v.verify(sign(&no_aud).as_bytes(), NOW),
        Err(AuthError::Audience)
    );
    let bad_aud = Claims {
        aud: Some("web".into()),
        ..ok.clone()
    };
    assert_eq!(
        v.verify(sign(&bad_aud).as_bytes(), NOW),
        Err(AuthError::Audience)
    );
    let list = craft_hs256(&format!(
        r#"{{"sub":"u","exp":{},"iss":"backend","aud":["web","push"]}}"#,
        NOW + 1
    ));
    assert!(v.verify(list.as_bytes(), NOW).is_ok());
    // A verifier without an audience refuses a token that names one.
    assert_eq!(
        verifier(0).verify(sign(&ok).as_bytes(), NOW),
        Err(AuthError::Audience)
    );
}

#[test]
fn debug_never_shows_the_secret() {
    let s = secret();
    let key = std::str::from_utf8(KEY).unwrap();
    for text in [
        format!("{s:?}"),
        format!("{s:#?}"),
        format!("{:?}", Verifier::new(&s)),
        format!("{:?}", Signer::new(&s)),
    ] {
        assert!(!text.contains(key), "{text}");
        assert!(!text.contains("0123456789"), "{text}");
    }
    assert!(format!("{s:?}").contains("redacted"));
    assert!(!format!("{:?}", Secret::development()).contains("INSECURE"));
}

#[test]
fn error_text_never_contains_the_token() {
    let v = verifier(0);
    let sub = "very-distinctive-user-id";
    let exp = NOW + 10;
    let tokens = [
        sign(&claims(sub, exp)),
        Signer::new(&Secret::from_bytes(&[b'x'; 40]).unwrap()).sign(&claims(sub, exp)),
        sign(&Claims {
            rooms: vec![format!("{sub}*x")],
            ..claims(sub, exp)
        }),
        sign(&Claims {
            device: Some(format!("{sub}\n")),
            ..claims(sub, exp)
        }),
        craft_hs256(&format!(r#"{{"exp":"{sub}","sub":"{sub}"}}"#)),
        format!("{sub}.{sub}.{sub}"),
        sub.repeat(200),
    ];
    for t in &tokens {
        let err = v.verify(t.as_bytes(), exp).unwrap_err();
        let text = err.to_string();
        assert!(!text.contains(sub) && !text.contains(t.as_str()), "{text}");
        assert!(!format!("{err:?}").contains(sub));
        for part in t.split('.').filter(|p| p.len() > 4) {
            assert!(!text.contains(part), "{text}");
        }
    }
}

#[test]
fn secret_sources_name_themselves_not_the_value() {
    let dir = std::env::temp_dir();
    let short = dir.join(format!("loopwire-auth-test-short-{}", std::process::id()));
    std::fs::write(&short, "short-secret-value\n").unwrap();
    let err = Secret::from_file(&short).unwrap_err();
    assert!(matches!(err, SecretError::TooShort { min: 32, .. }));
    let text = err.to_string();
    assert!(text.contains(&short.display().to_string()) && !text.contains("short-secret-value"));

    let good = dir.join(format!("loopwire-auth-test-good-{}", std::process::id()));
    std::fs::write(&good, b"  0123456789abcdef0123456789abcdef\n").unwrap();
    let s = Secret::from_file(&good).unwrap();
    let t = Signer::new(&s).sign(&claims("u", NOW + 1));
    let trimmed = Secret::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap();
    assert!(Verifier::new(&trimmed).verify(t.as_bytes(), NOW).is_ok());

    let empty = dir.join(format!("loopwire-auth-test-empty-{}", std::process::id()));
    std::fs::write(&empty, "\n").unwrap();
    assert!(matches!(
        Secret::from_file(&empty),
        Err(SecretError::Empty(_))
    ));
    for f in [&short, &good, &empty] {
        std::fs::remove_file(f).unwrap();
    }
    let missing = dir.join("loopwire-auth-test-no-such-file");
    let err = Secret::from_file(&missing).unwrap_err();
    assert!(err.to_string().contains("no-such-file"), "{err}");

    let var = "LOOPWIRE_AUTH_TEST_SECRET_UNSET";
    let err = Secret::from_env(var).unwrap_err();
    assert_eq!(err, SecretError::NotSet(var.into()));
    assert!(err.to_string().contains(var));

    let var = "LOOPWIRE_AUTH_TEST_SECRET_SHORT";
    // SAFETY: only this test uses these variables, and the other threads of this binary
    // read the environment only through std, whose lock serialises them with set_var.
    unsafe { std::env::set_var(var, " tiny-env-value ") };
    let err = Secret::from_env(var).unwrap_err();
    assert!(err.to_string().contains(var) && !err.to_string().contains("tiny-env-value"));
    let var = "LOOPWIRE_AUTH_TEST_SECRET_GOOD";
    // SAFETY: as above.
    unsafe { std::env::set_var(var, "0123456789abcdef0123456789abcdef\n") };
    assert!(Secret::from_env(var).is_ok());
}

/// Strings of 1 to `max` bytes without control characters.
fn id_string(max: usize) -> impl Strategy<Value = String> {
    "[^\\p{Cc}]{1,64}".prop_filter("fits", move |s| s.len() <= max)
}

/// Valid room patterns.
fn pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*".to_owned()),
        "[^*]{1,63}"
            .prop_filter("fits", |s| s.len() < 64)
            .prop_map(|p| format!("{p}*")),
        "[^*]{1,64}".prop_filter("fits", |s| s.len() <= 64),
    ]
}

proptest! {
    #[test]
    fn verify_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..5000)) {
        prop_assert!(verifier(0).verify(&bytes, NOW).is_err());
    }

    #[test]
    fn verify_never_panics_on_jwt_shaped_input(
        header in "[A-Za-z0-9_-]{0,60}",
        payload in "[A-Za-z0-9_-]{0,200}",
        sig in "[A-Za-z0-9_=+/-]{0,60}",
        json in ".{0,100}",
    ) {
        let v = verifier(0);
        let t = format!("{header}.{payload}.{sig}");
        prop_assert!(v.verify(t.as_bytes(), NOW).is_err());
        let real_header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
        let t = format!("{real_header}.{}.{sig}", b64(json.as_bytes()));
        prop_assert!(v.verify(t.as_bytes(), NOW).is_err());
        // Correctly signed arbitrary payloads: any verdict, no panic.
        let _ = v.verify(craft_hs256(&json).as_bytes(), NOW);
    }

    #[test]
    fn sign_then_verify_round_trips(
        sub in id_string(64),
        device in proptest::option::of(id_string(64)),
        rooms in proptest::collection::vec(pattern(), 0..=MAX_ROOM_GRANTS),
        now in 0u64..=u64::MAX / 2,
        ttl in 1u64..=1 << 40,
        age in proptest::option::of(0u64..=1 << 20),
        probe in proptest::collection::vec(any::<u8>(), 0..70),
    ) {
        let exp = now + ttl;
        let c = Claims {
            device: device.clone(),
            rooms: rooms.clone(),
            nbf: age.map(|a| now.saturating_sub(a)),
            ..Claims::new(sub.clone(), exp)
        };
        let t = sign(&c);
        let v = verifier(0);
        let id = v.verify(t.as_bytes(), now).unwrap();
        prop_assert_eq!(&id.user, &sub);
        prop_assert_eq!(&id.device, &device);
        prop_assert_eq!(id.expires_at, exp);
        let grants = RoomGrants::parse(&rooms).unwrap();
        prop_assert_eq!(&id.rooms, &grants);
        for r in &rooms {
            let room = r.strip_suffix('*').unwrap_or(r).as_bytes();
            prop_assert!(id.rooms.allows(room));
        }
        let any = rooms.iter().any(|r| RoomPattern::parse(r).unwrap().matches(&probe));
        prop_assert_eq!(id.rooms.allows(&probe), any);
        prop_assert_eq!(v.verify(t.as_bytes(), exp), Err(AuthError::Expired));
        prop_assert!(v.verify(t.as_bytes(), exp - 1).is_ok());
    }

    #[test]
    fn prefix_pattern_matches_iff_room_starts_with_prefix(
        prefix in "[^*]{1,20}",
        other in proptest::collection::vec(any::<u8>(), 0..40),
        suffix in proptest::collection::vec(any::<u8>(), 0..20),
        extend in any::<bool>(),
    ) {
        let room = if extend { [prefix.as_bytes(), &suffix].concat() } else { other };
        let p = RoomPattern::parse(&format!("{prefix}*")).unwrap();
        prop_assert_eq!(p.matches(&room), room.starts_with(prefix.as_bytes()));
        if extend {
            prop_assert!(p.matches(&room));
        }
    }

    #[test]
    fn exact_pattern_matches_only_itself(
        name in "[^*]{1,20}",
        other in proptest::collection::vec(any::<u8>(), 0..40),
        cut in 0usize..=20,
        kind in 0u8..4,
    ) {
        // The room is the name itself, the name extended, a prefix of it, or anything.
        let room = match kind {
            0 => name.as_bytes().to_vec(),
            1 => [name.as_bytes(), &other].concat(),
            2 => name.as_bytes()[..cut.min(name.len())].to_vec(),
            _ => other,
        };
        let p = RoomPattern::parse(&name).unwrap();
        prop_assert_eq!(p.matches(&room), room == name.as_bytes());
        let grants = RoomGrants::parse([&name]).unwrap();
        prop_assert_eq!(grants.allows(&room), room == name.as_bytes());
    }
}

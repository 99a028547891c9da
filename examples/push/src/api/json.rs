//! The JSON of the API: request bodies as sent (serde, unknown fields refused), validated
//! into the [`backend`](super::backend) types, and the response bodies.
//!
//! A body that is not JSON, has an unknown or repeated field, lacks a required one or has
//! one of the wrong type is `bad_json`; a well-typed body whose values are out of bounds
//! gets the code of the first bad field (`bad_name`, `bad_users`, `bad_payload`,
//! `payload_too_large`, `bad_qos`, `bad_ttl`, `bad_reason`). Both are 400.

use std::collections::HashSet;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::backend::{
    AssignRoom, Assigned, Kick, Kicked, Message, Name, Online, PushAll, PushRoom, PushUser,
    PushUsers, Pushed, Qos, RoomMembers, UserOnline,
};
use super::config::ApiConfig;
use super::http::{JSON, PROMETHEUS, Response};
use super::metrics::{self, ApiMetrics, Metric};

/// A request body the API refuses (400): the error code and a message for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Invalid {
    pub(crate) code: &'static str,
    pub(crate) message: String,
}

fn invalid(code: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        code,
        message: message.into(),
    }
}

/// The fields every push has.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushUserBody {
    user: String,
    payload: Option<String>,
    payload_base64: Option<String>,
    qos: Option<u8>,
    ttl_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushUsersBody {
    users: Vec<String>,
    payload: Option<String>,
    payload_base64: Option<String>,
    qos: Option<u8>,
    ttl_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushRoomBody {
    room: String,
    payload: Option<String>,
    payload_base64: Option<String>,
    qos: Option<u8>,
    ttl_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushAllBody {
    payload: Option<String>,
    payload_base64: Option<String>,
    qos: Option<u8>,
    ttl_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KickBody {
    user: String,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OnlineBody {
    users: Vec<String>,
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Invalid> {
    serde_json::from_slice(body).map_err(|e| invalid("bad_json", e.to_string()))
}

fn name(s: String, what: &str, c: &ApiConfig) -> Result<Name, Invalid> {
    let len = s.len();
    Name::new(s, c.max_name).ok_or_else(|| {
        invalid(
            "bad_name",
            format!("{what} must be 1 to {} bytes, not {len}", c.max_name),
        )
    })
}

fn names(list: Vec<String>, c: &ApiConfig) -> Result<Vec<Name>, Invalid> {
    if list.is_empty() || list.len() > c.max_users {
        return Err(invalid(
            "bad_users",
            format!(
                "users must list 1 to {} names, not {}",
                c.max_users,
                list.len()
            ),
        ));
    }
    let mut seen = HashSet::with_capacity(list.len());
    let mut out = Vec::with_capacity(list.len());
    for s in list {
        let n = name(s, "a user", c)?;
        if !seen.insert(n.clone()) {
            return Err(invalid("bad_users", format!("user {n:?} is listed twice")));
        }
        out.push(n);
    }
    Ok(out)
}

fn message(
    payload: Option<String>,
    payload_base64: Option<String>,
    qos: Option<u8>,
    ttl_secs: Option<u64>,
    c: &ApiConfig,
) -> Result<Message, Invalid> {
    let payload: Vec<u8> = match (payload, payload_base64) {
        (Some(text), None) => text.into_bytes(),
        (None, Some(b64)) => base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .map_err(|e| invalid("bad_payload", format!("payload_base64: {e}")))?,
        _ => {
            return Err(invalid(
                "bad_payload",
                "give exactly one of payload (UTF-8 text) and payload_base64",
            ));
        }
    };
    if payload.len() > c.max_payload {
        return Err(invalid(
            "payload_too_large",
            format!(
                "payload is {} bytes, the limit is {}",
                payload.len(),
                c.max_payload
            ),
        ));
    }
    let qos = match qos {
        Some(0) => Qos::AtMostOnce,
        None | Some(1) => Qos::AtLeastOnce,
        Some(q) => return Err(invalid("bad_qos", format!("qos must be 0 or 1, not {q}"))),
    };
    let max_ttl = c.max_ttl.as_secs();
    let ttl = match ttl_secs {
        None => None,
        Some(s) if (1..=max_ttl).contains(&s) => Some(Duration::from_secs(s)),
        Some(s) => {
            return Err(invalid(
                "bad_ttl",
                format!("ttl_secs must be 1 to {max_ttl}, not {s}"),
            ));
        }
    };
    Ok(Message {
        payload: payload.into(),
        qos,
        ttl,
    })
}

/// `POST /v1/push/user`'s body.
pub(crate) fn push_user(body: &[u8], c: &ApiConfig) -> Result<PushUser, Invalid> {
    let b: PushUserBody = parse(body)?;
    Ok(PushUser {
        user: name(b.user, "user", c)?,
        message: message(b.payload, b.payload_base64, b.qos, b.ttl_secs, c)?,
    })
}

/// `POST /v1/push/users`'s body.
pub(crate) fn push_users(body: &[u8], c: &ApiConfig) -> Result<PushUsers, Invalid> {
    let b: PushUsersBody = parse(body)?;
    Ok(PushUsers {
        users: names(b.users, c)?,
        message: message(b.payload, b.payload_base64, b.qos, b.ttl_secs, c)?,
    })
}

/// `POST /v1/push/room`'s body.
pub(crate) fn push_room(body: &[u8], c: &ApiConfig) -> Result<PushRoom, Invalid> {
    let b: PushRoomBody = parse(body)?;
    Ok(PushRoom {
        room: name(b.room, "room", c)?,
        message: message(b.payload, b.payload_base64, b.qos, b.ttl_secs, c)?,
    })
}

/// `POST /v1/push/all`'s body.
pub(crate) fn push_all(body: &[u8], c: &ApiConfig) -> Result<PushAll, Invalid> {
    let b: PushAllBody = parse(body)?;
    Ok(PushAll {
        message: message(b.payload, b.payload_base64, b.qos, b.ttl_secs, c)?,
    })
}

/// `POST /v1/kick`'s body.
pub(crate) fn kick(body: &[u8], c: &ApiConfig) -> Result<Kick, Invalid> {
    let b: KickBody = parse(body)?;
    let user = name(b.user, "user", c)?;
    let reason = b.reason.unwrap_or_default();
    if reason.len() > c.max_reason {
        return Err(invalid(
            "bad_reason",
            format!("reason must be at most {} bytes", c.max_reason),
        ));
    }
    Ok(Kick { user, reason })
}

/// `POST /v1/online`'s body.
pub(crate) fn online(body: &[u8], c: &ApiConfig) -> Result<Online, Invalid> {
    let b: OnlineBody = parse(body)?;
    Ok(Online {
        users: names(b.users, c)?,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AssignBody {
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

/// `POST /v1/rooms/{room}/members`'s body: `add` and `remove`, each 0 to `max_users`
/// distinct users, at least one user in all, no user in both.
pub(crate) fn assign_room(room: Name, body: &[u8], c: &ApiConfig) -> Result<AssignRoom, Invalid> {
    let b: AssignBody = parse(body)?;
    if b.add.is_empty() && b.remove.is_empty() {
        return Err(invalid(
            "bad_users",
            "add or remove must name at least one user",
        ));
    }
    let add = if b.add.is_empty() {
        Vec::new()
    } else {
        names(b.add, c)?
    };
    let remove = if b.remove.is_empty() {
        Vec::new()
    } else {
        names(b.remove, c)?
    };
    if add.iter().any(|u| remove.contains(u)) {
        return Err(invalid("bad_users", "a user is both in add and remove"));
    }
    Ok(AssignRoom { room, add, remove })
}

/// An assignment's `{"sessions": n}`.
pub(crate) fn assigned(_: &ApiMetrics, a: Assigned) -> Response {
    ok(&serde_json::json!({ "sessions": a.sessions }))
}

/// The dispatcher's `{"gateways": ["host:port", ..]}`, best first.
pub(crate) fn gateways(_: &ApiMetrics, g: Vec<String>) -> Response {
    ok(&serde_json::json!({ "gateways": g }))
}

// ---- responses ----------------------------------------------------------------------------

fn ok(value: &serde_json::Value) -> Response {
    // Serializing a `Value` cannot fail.
    Response::new(200, JSON, serde_json::to_vec(value).unwrap_or_default())
}

/// An error response: `{"error": {"code": .., "message": ..}}`.
pub(crate) fn error(status: u16, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "error": { "code": code, "message": message } });
    Response::new(status, JSON, serde_json::to_vec(&body).unwrap_or_default())
}

/// `/health`'s `{"ok":true}`.
pub(crate) fn health() -> Response {
    ok(&serde_json::json!({ "ok": true }))
}

/// A push's `{"sessions": n}`.
pub(crate) fn pushed(_: &ApiMetrics, p: Pushed) -> Response {
    ok(&serde_json::json!({ "sessions": p.sessions }))
}

/// A kick's `{"sessions": n}`.
pub(crate) fn kicked(_: &ApiMetrics, k: Kicked) -> Response {
    ok(&serde_json::json!({ "sessions": k.sessions }))
}

/// `/v1/online`'s `{"users": [{"user": .., "online": .., "sessions": ..}, ..]}`.
pub(crate) fn online_users(_: &ApiMetrics, users: Vec<UserOnline>) -> Response {
    let users: Vec<serde_json::Value> = users
        .iter()
        .map(|u| {
            serde_json::json!({
                "user": u.user.as_str(),
                "online": u.sessions > 0,
                "sessions": u.sessions,
            })
        })
        .collect();
    ok(&serde_json::json!({ "users": users }))
}

/// A room count's `{"members": n}`.
pub(crate) fn room_members(_: &ApiMetrics, r: RoomMembers) -> Response {
    ok(&serde_json::json!({ "members": r.members }))
}

/// `/v1/stats`: the API's counters and the gateway's.
pub(crate) fn stats(m: &ApiMetrics, gateway: Vec<Metric>) -> Response {
    ok(&metrics::stats_json(&m.snapshot(), &gateway))
}

/// `/metrics`: the same in Prometheus' text format.
pub(crate) fn prometheus(m: &ApiMetrics, gateway: Vec<Metric>) -> Response {
    Response::new(
        200,
        PROMETHEUS,
        metrics::prometheus(&m.snapshot(), &gateway).into_bytes(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ApiConfig {
        let mut c = ApiConfig::new("t");
        c.max_users = 3;
        c.max_payload = 4;
        c
    }

    fn code<T: std::fmt::Debug>(r: Result<T, Invalid>) -> &'static str {
        r.expect_err("refused").code
    }

    #[test]
    fn valid_bodies() {
        let c = cfg();
        let p = push_user(br#"{"user":"u1","payload":"hi"}"#, &c).expect("valid");
        assert_eq!(p.user.as_str(), "u1");
        assert_eq!(&p.message.payload[..], b"hi");
        assert_eq!((p.message.qos, p.message.ttl), (Qos::AtLeastOnce, None));
        let p = push_room(
            br#"{"room":"r","payload_base64":"AP8=","qos":0,"ttl_secs":60}"#,
            &c,
        )
        .expect("valid");
        assert_eq!(&p.message.payload[..], &[0, 255]);
        assert_eq!(p.message.qos, Qos::AtMostOnce);
        assert_eq!(p.message.ttl, Some(Duration::from_secs(60)));
        let k = kick(br#"{"user":"u"}"#, &c).expect("valid");
        assert_eq!(k.reason, "");
    }

    #[test]
    fn refused_bodies() {
        let c = cfg();
        assert_eq!(code(push_user(b"{", &c)), "bad_json");
        assert_eq!(
            code(push_user(br#"{"user":"u","payload":"x","x":1}"#, &c)),
            "bad_json"
        );
        assert_eq!(
            code(push_user(br#"{"user":1,"payload":"x"}"#, &c)),
            "bad_json"
        );
        assert_eq!(
            code(push_user(br#"{"user":"","payload":"x"}"#, &c)),
            "bad_name"
        );
        assert_eq!(code(push_user(br#"{"user":"u"}"#, &c)), "bad_payload");
        let both = br#"{"user":"u","payload":"x","payload_base64":"eA=="}"#;
        assert_eq!(code(push_user(both, &c)), "bad_payload");
        assert_eq!(
            code(push_user(br#"{"user":"u","payload_base64":"!"}"#, &c)),
            "bad_payload"
        );
        assert_eq!(
            code(push_user(br#"{"user":"u","payload":"12345"}"#, &c)),
            "payload_too_large"
        );
        assert_eq!(code(push_all(br#"{"payload":"x","qos":2}"#, &c)), "bad_qos");
        assert_eq!(
            code(push_all(br#"{"payload":"x","ttl_secs":0}"#, &c)),
            "bad_ttl"
        );
        assert_eq!(
            code(push_all(br#"{"payload":"x","ttl_secs":86401}"#, &c)),
            "bad_ttl"
        );
        assert_eq!(code(online(br#"{"users":[]}"#, &c)), "bad_users");
        assert_eq!(
            code(online(br#"{"users":["a","b","c","d"]}"#, &c)),
            "bad_users"
        );
        assert_eq!(code(online(br#"{"users":["a","a"]}"#, &c)), "bad_users");
        let long = format!(r#"{{"user":"u","reason":"{}"}}"#, "r".repeat(257));
        assert_eq!(code(kick(long.as_bytes(), &c)), "bad_reason");
    }

    #[test]
    fn error_body_shape() {
        let r = error(400, "bad_json", "line \"1\"");
        let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
        assert_eq!(v["error"]["code"], "bad_json");
        assert_eq!(v["error"]["message"], "line \"1\"");
    }
}

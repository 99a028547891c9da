//! [`Event`]: one upstream event and its JSON form:
//! `{"event":"up"|"online"|"offline","user":..,"device":..|null,"payload_base64":..,"ts_ms":..}`
//! (`payload_base64` only for `up`; `ts_ms` is the gateway engine's clock plus
//! [`Config::unix_epoch_offset_secs`](crate::Config::unix_epoch_offset_secs), in ms since the
//! Unix epoch).

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use loopwire::Bytes;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A client sent an UP frame with this payload.
    Up(Bytes),
    /// A session logged in (AUTH succeeded).
    Online,
    /// A logged-in session closed (for any reason).
    Offline,
}

/// One upstream event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// The session's user.
    pub user: Arc<str>,
    /// The token's device, if it named one.
    pub device: Option<Arc<str>>,
    /// When, in ms since the Unix epoch.
    pub ts_ms: u64,
}

impl Event {
    /// The JSON body the webhook posts.
    pub fn to_json(&self) -> String {
        let mut v = serde_json::json!({
            "event": match self.kind {
                EventKind::Up(_) => "up",
                EventKind::Online => "online",
                EventKind::Offline => "offline",
            },
            "user": &*self.user,
            "device": self.device.as_deref(),
            "ts_ms": self.ts_ms,
        });
        if let (EventKind::Up(p), Some(obj)) = (&self.kind, v.as_object_mut()) {
            obj.insert("payload_base64".into(), STANDARD.encode(p).into());
        }
        v.to_string()
    }
}

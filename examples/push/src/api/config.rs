//! [`ApiConfig`]: the HTTP API's token, request limits and timeouts.

use std::fmt;
use std::time::Duration;

/// The API token of development mode (`push --dev`, `pushload --dev`): public, for the
/// quick start only; anyone can call an API that accepts it.
pub const DEVELOPMENT_TOKEN: &str = "loopwire-push-development-api-token";

/// The HTTP API's settings. Every quantity a request can make the server hold or wait for
/// is bounded by one of them.
#[derive(Clone)]
pub struct ApiConfig {
    /// The bearer token every endpoint but `/health` requires (`Authorization: Bearer
    /// <token>`). Not empty; compared in constant time. `Debug` does not show it.
    pub token: String,
    /// Most bytes in a request head, its final blank line included (431 beyond). Default
    /// 8 KiB.
    pub max_head: usize,
    /// Most header lines in a request (431 beyond); at most 64, the parser's header slots
    /// on the stack (a larger value counts as 64). Default 32.
    pub max_headers: usize,
    /// Largest request body (`Content-Length`; 413 beyond). Default 512 KiB: a `users` list
    /// of [`max_users`](Self::max_users) names at their longest, with room to spare.
    pub max_body: usize,
    /// Largest message payload, after base64 decoding (400 beyond). Default 8 KiB. Keep it
    /// below the gateway's frame limit less a PUSH frame's header (78 bytes with a 64-byte
    /// room name).
    pub max_payload: usize,
    /// Longest user or room name, in bytes (names are 1 to this many). Default 64, the
    /// gateway's [`Config::max_name`](crate::Config::max_name).
    pub max_name: usize,
    /// Most names in a `users` list. Default 1000.
    pub max_users: usize,
    /// Longest kick `reason`, in bytes. Default 256.
    pub max_reason: usize,
    /// Longest `ttl_secs` a message may ask for. Default one day.
    pub max_ttl: Duration,
    /// How long a started request (its head or its body) may take to arrive completely;
    /// then the server answers 408 and closes. Default 10 s. Not moved by bytes trickling
    /// in: the slow-loris guard.
    pub request_timeout: Duration,
    /// How long the backend may take to reply to one request; then the server answers 504
    /// and closes (the late reply is dropped). Default 10 s.
    pub reply_timeout: Duration,
    /// A keep-alive connection with no request for this long is closed (set on the engine
    /// by [`ApiHandler::configure`](super::ApiHandler::configure)). Default 60 s.
    pub idle_timeout: Duration,
}

impl ApiConfig {
    /// The defaults, with this bearer token.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            max_head: 8 * 1024,
            max_headers: 32,
            max_body: 512 * 1024,
            max_payload: 8 * 1024,
            max_name: 64,
            max_users: 1000,
            max_reason: 256,
            max_ttl: Duration::from_secs(24 * 3600),
            request_timeout: Duration::from_secs(10),
            reply_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }

    /// Checks that the settings make sense together.
    ///
    /// # Errors
    /// [`ApiConfigError`] naming the first setting that does not.
    pub fn validate(&self) -> Result<(), ApiConfigError> {
        let fail = |what: &'static str| Err(ApiConfigError(what));
        if self.token.is_empty() {
            return fail("token is empty");
        }
        if self.token.bytes().any(|b| !b.is_ascii_graphic()) {
            return fail("token has bytes other than visible ASCII");
        }
        if self.max_head < 64 {
            return fail("max_head is below 64 bytes");
        }
        if self.max_headers == 0 {
            return fail("max_headers is 0");
        }
        if self.max_name == 0 || self.max_users == 0 {
            return fail("max_name or max_users is 0");
        }
        if self.max_ttl.as_secs() == 0 {
            return fail("max_ttl is below one second");
        }
        for d in [self.request_timeout, self.reply_timeout, self.idle_timeout] {
            if d.as_millis() == 0 {
                return fail("a timeout is below one millisecond");
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiConfig")
            .field("token", &"<redacted>")
            .field("max_head", &self.max_head)
            .field("max_headers", &self.max_headers)
            .field("max_body", &self.max_body)
            .field("max_payload", &self.max_payload)
            .field("max_name", &self.max_name)
            .field("max_users", &self.max_users)
            .field("max_reason", &self.max_reason)
            .field("max_ttl", &self.max_ttl)
            .field("request_timeout", &self.request_timeout)
            .field("reply_timeout", &self.reply_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// An [`ApiConfig`] that cannot be served; says which setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid API configuration: {0}")]
pub struct ApiConfigError(&'static str);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_debug_hides_the_token() {
        let c = ApiConfig::new("s3cret");
        assert_eq!(c.validate(), Ok(()));
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(ApiConfig::new("").validate().is_err());
        assert!(ApiConfig::new("a b").validate().is_err());
        let mut c = ApiConfig::new("t");
        c.request_timeout = Duration::ZERO;
        assert!(c.validate().is_err());
    }
}

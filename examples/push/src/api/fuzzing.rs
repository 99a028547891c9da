//! The API's request parsing, for the fuzz targets in `fuzz/` (`push_api`): `http`'s head
//! framing and parsing and `json`'s body validation are crate-private, so these thin
//! wrappers re-export them with plain result types. Not an API: hidden and unstable.

use super::config::ApiConfig;
use super::http;
use super::json;
use super::token::Token;

/// A parsed head: its length (blank line included), its `Content-Length`, and the rest as
/// the parser's `Debug` text.
pub type HeadSummary = (usize, Option<u64>, String);

/// `http::find_head`; an error is its error code (`head_too_large`).
///
/// # Errors
/// The code of the `HeadError`.
pub fn find_head(
    buf: &[u8],
    scanned: &mut usize,
    max_head: usize,
) -> Result<Option<usize>, &'static str> {
    http::find_head(buf, scanned, max_head).map_err(|e| e.answer().1)
}

/// `http::parse_head` of a complete head, `Authorization` checked against `token`.
///
/// # Errors
/// The code of the `HeadError`.
pub fn parse_head(
    head: &[u8],
    max_headers: usize,
    token: &str,
) -> Result<HeadSummary, &'static str> {
    http::parse_head(head, max_headers, &Token::new(token))
        .map(|h| (h.len, h.content_length, format!("{h:?}")))
        .map_err(|e| e.answer().1)
}

/// The body validation of route `route % 6` (push user, users, room, all; kick; online).
///
/// # Errors
/// The `Invalid` code (`bad_json`, `bad_name`, ...).
pub fn body(route: u8, body: &[u8], c: &ApiConfig) -> Result<String, &'static str> {
    let r = match route % 6 {
        0 => json::push_user(body, c).map(|v| format!("{v:?}")),
        1 => json::push_users(body, c).map(|v| format!("{v:?}")),
        2 => json::push_room(body, c).map(|v| format!("{v:?}")),
        3 => json::push_all(body, c).map(|v| format!("{v:?}")),
        4 => json::kick(body, c).map(|v| format!("{v:?}")),
        _ => json::online(body, c).map(|v| format!("{v:?}")),
    };
    r.map_err(|e| e.code)
}

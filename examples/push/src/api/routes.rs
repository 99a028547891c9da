//! Which endpoint a request is for ([`route`]), and serving it: parse and validate its
//! body, then answer at once or hand it to the [`Backend`] with a [`Reply`] ([`serve`]).

use std::sync::Arc;

use loopwire::{ConnHandle, EngineHandle};

use super::backend::{Backend, Dispatch, Name, RoomCount};
use super::config::ApiConfig;
use super::http::{Method, Response};
use super::json::{self, Invalid};
use super::metrics::ApiMetrics;
use super::reply::{Reply, ReplySlot};

/// The endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Health,
    Metrics,
    Stats,
    PushUser,
    PushUsers,
    PushRoom,
    PushAll,
    Kick,
    Online,
    /// `GET /v1/rooms/{room}/count`, the room percent-decoded.
    RoomCount(String),
    /// `POST /v1/rooms/{room}/members`, the room percent-decoded.
    AssignRoom(String),
    /// `GET /dispatch?uid=...`, the user percent-decoded (`None`: no `uid`).
    Dispatch(Option<String>),
}

/// Why a request has no endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RouteError {
    /// No endpoint has this path (404).
    NotFound,
    /// The path's endpoint takes only this method (405, with `Allow`).
    Method(&'static str),
    /// A room in the path that is not valid percent-encoded UTF-8 (400).
    BadPath,
}

impl Route {
    /// The `endpoint` label of its metrics.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::Metrics => "metrics",
            Route::Stats => "stats",
            Route::PushUser => "push_user",
            Route::PushUsers => "push_users",
            Route::PushRoom => "push_room",
            Route::PushAll => "push_all",
            Route::Kick => "kick",
            Route::Online => "online",
            Route::RoomCount(_) => "room_count",
            Route::AssignRoom(_) => "assign_room",
            Route::Dispatch(_) => "dispatch",
        }
    }

    /// Whether it is served without the token (`/health`, and `/dispatch`, which clients
    /// ask before they connect).
    pub(crate) fn is_public(&self) -> bool {
        matches!(self, Route::Health | Route::Dispatch(_))
    }
}

/// The endpoint for `method` on `path` (percent-encoded) with `query` (after the `?`).
pub(crate) fn route_query(method: Method, path: &str, query: &str) -> Result<Route, RouteError> {
    if path != "/dispatch" {
        return route(method, path);
    }
    if method != Method::Get {
        return Err(RouteError::Method("GET"));
    }
    let uid = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("uid="))
        .map(|v| percent_decode(&v.replace('+', " ")).ok_or(RouteError::BadPath))
        .transpose()?;
    Ok(Route::Dispatch(uid))
}

/// The endpoint for `method` on `path` (percent-encoded, no query).
pub(crate) fn route(method: Method, path: &str) -> Result<Route, RouteError> {
    let (route, wants) = match path {
        "/health" => (Route::Health, Method::Get),
        "/metrics" => (Route::Metrics, Method::Get),
        "/v1/stats" => (Route::Stats, Method::Get),
        "/v1/push/user" => (Route::PushUser, Method::Post),
        "/v1/push/users" => (Route::PushUsers, Method::Post),
        "/v1/push/room" => (Route::PushRoom, Method::Post),
        "/v1/push/all" => (Route::PushAll, Method::Post),
        "/v1/kick" => (Route::Kick, Method::Post),
        "/v1/online" => (Route::Online, Method::Post),
        _ => {
            let rest = path.strip_prefix("/v1/rooms/");
            if let Some(room) = rest
                .and_then(|p| p.strip_suffix("/members"))
                .filter(|r| !r.contains('/'))
            {
                if method != Method::Post {
                    return Err(RouteError::Method("POST"));
                }
                let room = percent_decode(room).ok_or(RouteError::BadPath)?;
                return Ok(Route::AssignRoom(room));
            }
            let Some(room) = rest
                .and_then(|p| p.strip_suffix("/count"))
                .filter(|r| !r.contains('/'))
            else {
                return Err(RouteError::NotFound);
            };
            if method != Method::Get {
                return Err(RouteError::Method("GET"));
            }
            let room = percent_decode(room).ok_or(RouteError::BadPath)?;
            return Ok(Route::RoomCount(room));
        }
    };
    if method != wants {
        return Err(RouteError::Method(match wants {
            Method::Post => "POST",
            _ => "GET",
        }));
    }
    Ok(route)
}

/// `s` with its `%XX` escapes decoded, if they are well-formed and the result is UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Makes the one [`Reply`] of a request, arming its connection's slot.
#[derive(Debug)]
pub(crate) struct Replies {
    pub(crate) slot: Arc<ReplySlot>,
    pub(crate) seq: u64,
    pub(crate) engine: EngineHandle,
    pub(crate) conn: ConnHandle,
    pub(crate) metrics: Arc<ApiMetrics>,
}

impl Replies {
    fn make<T>(self, render: fn(&ApiMetrics, T) -> Response) -> Reply<T> {
        self.slot.arm(self.seq);
        Reply::new(
            (self.slot, self.seq),
            self.engine,
            self.conn,
            self.metrics,
            render,
        )
    }
}

/// What [`serve`] did.
#[derive(Debug)]
pub(crate) enum Served {
    /// Answered without the backend (`/health`, a refused body).
    Now(Response),
    /// Handed to the backend with a [`Reply`] (which may have been sent already).
    Called,
}

fn refused(e: Invalid) -> Served {
    Served::Now(json::error(400, e.code, &e.message))
}

/// Serves `route` with the request body `body`.
pub(crate) fn serve<B: Backend>(
    route: Route,
    body: &[u8],
    config: &ApiConfig,
    backend: &B,
    replies: Replies,
) -> Served {
    macro_rules! call {
        ($parse:expr, $method:ident, $render:path) => {
            match $parse {
                Ok(req) => {
                    backend.$method(req, replies.make($render));
                    Served::Called
                }
                Err(e) => refused(e),
            }
        };
    }
    match route {
        Route::Health => Served::Now(json::health()),
        Route::Metrics => {
            backend.stats(replies.make(json::prometheus));
            Served::Called
        }
        Route::Stats => {
            backend.stats(replies.make(json::stats));
            Served::Called
        }
        Route::PushUser => call!(json::push_user(body, config), push_user, json::pushed),
        Route::PushUsers => call!(json::push_users(body, config), push_users, json::pushed),
        Route::PushRoom => call!(json::push_room(body, config), push_room, json::pushed),
        Route::PushAll => call!(json::push_all(body, config), push_all, json::pushed),
        Route::Kick => call!(json::kick(body, config), kick, json::kicked),
        Route::Online => call!(json::online(body, config), online, json::online_users),
        Route::RoomCount(room) => {
            let len = room.len();
            let req = Name::new(room, config.max_name)
                .map(|room| RoomCount { room })
                .ok_or_else(|| Invalid {
                    code: "bad_name",
                    message: format!("room must be 1 to {} bytes, not {len}", config.max_name),
                });
            call!(req, room_count, json::room_members)
        }
        Route::AssignRoom(room) => {
            let len = room.len();
            let req = Name::new(room, config.max_name)
                .ok_or_else(|| Invalid {
                    code: "bad_name",
                    message: format!("room must be 1 to {} bytes, not {len}", config.max_name),
                })
                .and_then(|room| json::assign_room(room, body, config));
            call!(req, assign_room, json::assigned)
        }
        Route::Dispatch(uid) => {
            let req = uid
                .and_then(|u| Name::new(u, config.max_name))
                .map(|uid| Dispatch { uid })
                .ok_or_else(|| Invalid {
                    code: "bad_name",
                    message: format!("uid must be 1 to {} bytes", config.max_name),
                });
            call!(req, dispatch, json::gateways)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_paths_and_methods() {
        assert_eq!(route(Method::Get, "/health"), Ok(Route::Health));
        assert_eq!(route(Method::Post, "/v1/push/room"), Ok(Route::PushRoom));
        assert_eq!(
            route(Method::Get, "/v1/push/room"),
            Err(RouteError::Method("POST"))
        );
        assert_eq!(
            route(Method::Post, "/metrics"),
            Err(RouteError::Method("GET"))
        );
        assert_eq!(
            route(Method::Other, "/v1/kick"),
            Err(RouteError::Method("POST"))
        );
        assert_eq!(route(Method::Get, "/v1/nope"), Err(RouteError::NotFound));
        assert_eq!(
            route(Method::Post, "/v1/rooms/a%2Fb/members"),
            Ok(Route::AssignRoom("a/b".into()))
        );
        assert_eq!(
            route(Method::Get, "/v1/rooms/a/members"),
            Err(RouteError::Method("POST"))
        );
        assert_eq!(
            route_query(Method::Get, "/dispatch", "x=1&uid=u%201"),
            Ok(Route::Dispatch(Some("u 1".into())))
        );
        assert_eq!(
            route_query(Method::Get, "/dispatch", ""),
            Ok(Route::Dispatch(None))
        );
        assert_eq!(
            route_query(Method::Post, "/dispatch", "uid=u"),
            Err(RouteError::Method("GET"))
        );
        assert_eq!(route(Method::Get, "/health/"), Err(RouteError::NotFound));
        assert_eq!(
            route(Method::Get, "/v1/rooms/a%20b%2Fc/count"),
            Ok(Route::RoomCount("a b/c".into()))
        );
        assert_eq!(
            route(Method::Get, "/v1/rooms/a/b/count"),
            Err(RouteError::NotFound)
        );
        assert_eq!(
            route(Method::Post, "/v1/rooms/a/count"),
            Err(RouteError::Method("GET"))
        );
        assert_eq!(
            route(Method::Get, "/v1/rooms/%zz/count"),
            Err(RouteError::BadPath)
        );
        assert_eq!(
            route(Method::Get, "/v1/rooms/%ff/count"),
            Err(RouteError::BadPath)
        );
        assert_eq!(
            route(Method::Get, "/v1/rooms/%4/count"),
            Err(RouteError::BadPath)
        );
        assert_eq!(
            route(Method::Get, "/v1/rooms/%+4/count"),
            Err(RouteError::BadPath)
        );
    }
}

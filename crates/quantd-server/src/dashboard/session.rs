//! Dashboard sessions: a workspace token exchanged for a session cookie, and the CSRF rule.
//!
//! Signing in checks the token once with the engine (the same check as a bearer token) and
//! keeps a server-side session: a random 256-bit id in an `HttpOnly; SameSite=Strict` cookie,
//! the caller it stands for, and a per-session CSRF token. The token itself is never stored or
//! sent back. Every request re-checks that the token is still live, so revoking it
//! (`quantd tokens revoke`) ends its sessions at the next request, a stolen cookie included.
//!
//! Every state-changing dashboard request (POST) must carry the session's CSRF token, in the
//! `_csrf` form field or the `X-CSRF-Token` header (htmx sends it), and must not come from
//! another site (`Sec-Fetch-Site`, else `Origin` against `Host`). Signing in has no session
//! yet: it is held to the same-origin rule only.
//!
//! With `--no-auth` the first visit opens a session for the `default` workspace without a
//! token (CSRF still applies). Sessions live in this process's memory: a restart signs
//! everyone out. At most [`MAX_SESSIONS`] are kept (the least recently used goes first), and
//! one unused for [`IDLE`] ends.

use crate::AppState;
use crate::auth::Caller;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// The session cookie's name.
pub const COOKIE: &str = "quantd_session";
/// The header htmx requests carry the CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field plain forms carry it in.
pub const CSRF_FIELD: &str = "_csrf";
/// Sessions kept at most; signing in beyond it ends the least recently used one.
pub const MAX_SESSIONS: usize = 10_000;
/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(12 * 3600);
/// Largest dashboard form body read for its CSRF token.
pub const MAX_FORM: usize = 64 << 10;

/// A signed-in viewer: who they act as and their CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The caller every engine call is made as.
    pub caller: Caller,
    /// The token forms must echo.
    pub csrf: String,
    last_seen: Instant,
}

/// The sessions of this process.
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session for `caller`; returns its id (the cookie value).
    pub fn open(&self, caller: Caller) -> std::io::Result<String> {
        let id = quantd_engine::services::random_hex(32)?;
        let csrf = quantd_engine::services::random_hex(32)?;
        let mut map = self.map.lock().expect("sessions lock");
        let now = Instant::now();
        map.retain(|_, s| now.duration_since(s.last_seen) < IDLE);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(
            id.clone(),
            Session {
                caller,
                csrf,
                last_seen: now,
            },
        );
        Ok(id)
    }

    /// The session `id`, marked as used; `None` when unknown or idle too long.
    fn touch(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().expect("sessions lock");
        let now = Instant::now();
        let s = map.get_mut(id)?;
        if now.duration_since(s.last_seen) >= IDLE {
            map.remove(id);
            return None;
        }
        s.last_seen = now;
        Some(s.clone())
    }

    /// Ends session `id`.
    pub fn close(&self, id: &str) {
        self.map.lock().expect("sessions lock").remove(id);
    }
}

/// The session cookie's value in `headers`, if any.
pub fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The live session of a request: known, not idle, and (with tokens) its token still live.
/// A session whose token was revoked is ended here.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Option<(String, Session)> {
    let id = cookie_id(headers)?;
    let session = state.sessions().touch(&id)?;
    if let Some(token) = &session.caller.token {
        let live = state
            .engine()
            .tokens()
            .live(std::slice::from_ref(token))
            .await
            .ok()?;
        if !live.contains(token) {
            state.sessions().close(&id);
            tracing::info!(workspace = %session.caller.workspace, "dashboard session ended: its token was revoked");
            return None;
        }
    }
    Some((id, session))
}

/// `Set-Cookie` for session `id` (`None` clears it).
pub fn set_cookie(id: Option<&str>) -> String {
    match id {
        Some(id) => format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict"),
        None => format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

/// Whether a request comes from another site: `Sec-Fetch-Site` when the browser sends it,
/// else an `Origin` whose host is not the request's `Host`.
pub fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
    origin == "null" || !origin_host.eq_ignore_ascii_case(host)
}

/// Where an unsigned request goes: the sign-in page (htmx follows `HX-Redirect`).
pub fn to_sign_in(headers: &HeaderMap, path: &str) -> Response {
    let target = format!("/signin?next={}", super::page::encode(path));
    if headers.contains_key("hx-request") {
        return (StatusCode::UNAUTHORIZED, [("hx-redirect", target)]).into_response();
    }
    Redirect::to(&target).into_response()
}

/// The middleware of state-changing dashboard requests: same-origin, then the session's CSRF
/// token (header or form field). Sign-in is exempt from the token (there is no session yet).
pub async fn check_csrf(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    if cross_site(req.headers()) {
        return refused("this form was sent by another web site");
    }
    if req.uri().path() == "/signin" {
        return next.run(req).await;
    }
    let Some((_, session)) = current(&state, req.headers()).await else {
        return to_sign_in(req.headers(), "/");
    };
    let (parts, body) = req.into_parts();
    let sent_header = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let bytes = match axum::body::to_bytes(body, MAX_FORM).await {
        Ok(b) => b,
        Err(_) => return refused("the form is larger than 64 KiB"),
    };
    let sent = sent_header.or_else(|| {
        form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == CSRF_FIELD)
            .map(|(_, v)| v.into_owned())
    });
    let ok = sent.is_some_and(|t| bool::from(t.as_bytes().ct_eq(session.csrf.as_bytes())));
    if !ok {
        return refused("the form's CSRF token is missing or stale; reload the page and try again");
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn refused(why: &str) -> Response {
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("refused: {why}"),
    )
        .into_response()
}

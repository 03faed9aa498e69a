//! Requests another web site could forge are refused before any handler runs.
//!
//! A browser sends a cross-site request without asking first (a CORS "simple" request) only
//! when its body is `text/plain`, `application/x-www-form-urlencoded` or `multipart/form-data`
//! (or has no type at all). So, in every mode:
//!
//! - a state-changing request (any method but GET, HEAD, OPTIONS) with one of those types is
//!   refused with 415, here;
//! - JSON bodies must say `application/json` (`charset=utf-8` allowed), checked where a body is
//!   read ([`json_content_type`]), and pack uploads one of [`UPLOAD_TYPES`] ([`upload_type`]);
//!   a body without a type is refused the same way.
//!
//! Bearer tokens are never sent by a browser on its own, so with tokens that is enough. With
//! `--no-auth` there is no token to forge, so every request must also come from this machine's
//! own pages: its `Host` must be a loopback name or address with the server's port (a DNS
//! rebinding attack names the attacker's host), and its `Origin`, when present, must be the
//! server's own origin (a WebSocket or an event stream opened by another site carries its
//! `Origin`). Both are refused with 403.

use crate::AppState;
use crate::error::AppError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;

/// The body types a browser sends cross-site without a preflight (the CORS-safelisted ones).
pub const SAFELISTED_TYPES: [&str; 3] = [
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// The body types a pack upload accepts.
pub const UPLOAD_TYPES: [&str; 3] = [
    "text/csv",
    "application/octet-stream",
    "application/vnd.apache.parquet",
];

/// The middleware: the content-type rule for every request, the Host and Origin rules with
/// `--no-auth`.
pub async fn check(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Err(e) = refuse_forgeable(&state, &req) {
        return e.into_response();
    }
    next.run(req).await
}

/// The dashboard's middleware: only the `--no-auth` Host and Origin rule (its forms are
/// `application/x-www-form-urlencoded` by nature and carry a CSRF token instead, see
/// [`crate::dashboard::session`]).
pub async fn check_local(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !state.options().auth
        && let Err(e) = local_only(&state, &req)
    {
        return e.into_response();
    }
    next.run(req).await
}

fn refuse_forgeable(state: &AppState, req: &Request) -> Result<(), AppError> {
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state
        && let Some(essence) = media_type(req.headers())
        && SAFELISTED_TYPES.contains(&essence.as_str())
    {
        let wanted = if req.uri().path() == "/v1/packs" {
            UPLOAD_TYPES.join(", ")
        } else {
            "application/json".to_string()
        };
        return Err(unsupported(format!(
            "Content-Type `{essence}` is refused on requests that change anything, because any web site can send it; send {wanted}"
        )));
    }
    if !state.options().auth {
        local_only(state, req)?;
    }
    Ok(())
}

/// The media type of the body, lower case, without parameters; `None` without a header.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::CONTENT_TYPE)?;
    let text = String::from_utf8_lossy(v.as_bytes());
    let essence = text.split(';').next().unwrap_or("").trim();
    Some(essence.to_ascii_lowercase())
}

fn unsupported(detail: String) -> AppError {
    AppError::UnsupportedMediaType(detail)
}

/// Checks that a request body is JSON: `application/json`, optionally `; charset=utf-8`. A
/// request without a body (`empty`) may omit the header.
pub fn json_content_type(headers: &HeaderMap, empty: bool) -> Result<(), AppError> {
    let Some(v) = headers.get(header::CONTENT_TYPE) else {
        return if empty {
            Ok(())
        } else {
            Err(unsupported(
                "a JSON body needs `Content-Type: application/json`".into(),
            ))
        };
    };
    let text = String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase();
    let mut parts = text.split(';').map(str::trim);
    let essence = parts.next().unwrap_or("");
    let params_ok = parts.all(|p| {
        p.is_empty()
            || p.split_once('=').is_some_and(|(k, v)| {
                k.trim() == "charset" && matches!(v.trim().trim_matches('"'), "utf-8" | "utf8")
            })
    });
    if essence == "application/json" && params_ok {
        Ok(())
    } else {
        Err(unsupported(format!(
            "Content-Type `{}` is not accepted here; send `application/json` (UTF-8)",
            text.chars().take(100).collect::<String>()
        )))
    }
}

/// Checks the type of a pack upload: one of [`UPLOAD_TYPES`] (parameters allowed).
pub fn upload_type(headers: &HeaderMap) -> Result<(), AppError> {
    match media_type(headers) {
        Some(t) if UPLOAD_TYPES.contains(&t.as_str()) => Ok(()),
        got => Err(unsupported(format!(
            "{}; send the file with one of: {}",
            match got {
                Some(t) => format!(
                    "Content-Type `{}` is not accepted for an upload",
                    t.chars().take(100).collect::<String>()
                ),
                None => "an upload needs a Content-Type".to_string(),
            },
            UPLOAD_TYPES.join(", ")
        ))),
    }
}

/// With `--no-auth`: the request must name this server by a loopback address and come from one
/// of its pages, if from a page at all.
fn local_only(state: &AppState, req: &Request) -> Result<(), AppError> {
    let host = req
        .headers()
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).to_ascii_lowercase())
        .or_else(|| {
            req.uri()
                .authority()
                .map(|a| a.as_str().to_ascii_lowercase())
        });
    let port = state.inner.local_addr.get().map(|a| a.port());
    let Some(host) = host.filter(|h| is_local_host(h, port)) else {
        return Err(AppError::Forbidden(format!(
            "without tokens (--no-auth) this server answers only requests addressed to it by a loopback address{}; Host was {}",
            port.map(|p| format!(" such as 127.0.0.1:{p} or localhost:{p}"))
                .unwrap_or_default(),
            shown(req.headers().get(header::HOST))
        )));
    };
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let own = format!("http://{host}");
        if !origin.as_bytes().eq_ignore_ascii_case(own.as_bytes()) {
            return Err(AppError::Forbidden(format!(
                "without tokens (--no-auth) this server answers only its own pages ({own}); Origin was {}: serve with tokens to use it from other sites",
                shown(Some(origin))
            )));
        }
    }
    Ok(())
}

fn shown(v: Option<&axum::http::HeaderValue>) -> String {
    match v {
        Some(v) => format!(
            "`{}`",
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(100)
                .collect::<String>()
        ),
        None => "missing".into(),
    }
}

/// `localhost`, `127.x.y.z` or `[::1]`, with `port` (80 when absent) when the port is known.
fn is_local_host(host: &str, port: Option<u16>) -> bool {
    let (name, given) = match host.rsplit_once(':') {
        Some((n, p)) if !n.is_empty() && (n.ends_with(']') || !n.contains(':')) => {
            match p.parse::<u16>() {
                Ok(p) => (n, p),
                Err(_) => return false,
            }
        }
        _ => (host, 80),
    };
    let loopback = name == "localhost"
        || name
            .strip_prefix('[')
            .and_then(|n| n.strip_suffix(']'))
            .unwrap_or(name)
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback && port.is_none_or(|p| p == given)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_hosts() {
        for h in [
            "127.0.0.1:8000",
            "localhost:8000",
            "[::1]:8000",
            "127.1.2.3:8000",
        ] {
            assert!(is_local_host(h, Some(8000)), "{h}");
        }
        for h in [
            "127.0.0.1:8001",
            "evil.example:8000",
            "localhost.evil.example:8000",
            "10.0.0.1:8000",
            "127.0.0.1",
            "[::1]",
            "::1:8000",
            "127.0.0.1:x",
            "",
        ] {
            assert!(!is_local_host(h, Some(8000)), "{h}");
        }
        assert!(is_local_host("localhost", Some(80)));
        assert!(is_local_host("localhost:1234", None));
    }

    #[test]
    fn json_types() {
        let with = |ct: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, ct.parse().unwrap());
            json_content_type(&h, false)
        };
        for ok in [
            "application/json",
            "Application/JSON; charset=UTF-8",
            "application/json;charset=\"utf-8\"",
        ] {
            assert!(with(ok).is_ok(), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/json; charset=latin1",
            "application/json; boundary=x",
            "application/jsonx",
            "text/json",
        ] {
            assert!(with(bad).is_err(), "{bad}");
        }
        assert!(json_content_type(&HeaderMap::new(), true).is_ok());
        assert!(json_content_type(&HeaderMap::new(), false).is_err());
    }
}

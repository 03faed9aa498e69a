//! `/signin` and `/signout`. Signing in exchanges a workspace token for a session cookie (the
//! token is checked by the engine like a bearer token and never kept); with `--no-auth` the
//! sign-in page opens a `default` session at once.

use super::page::{Section, html_response, layout};
use super::session::{self, set_cookie};
use crate::AppState;
use crate::auth::{Caller, verify};
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use quantd_engine::DEFAULT_WORKSPACE;
use serde::Deserialize;

/// Where to go once signed in.
#[derive(Debug, Default, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only paths of this site (never `//host` or a scheme): an open redirect would let a link
/// send a signed-in viewer anywhere.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/executions".to_string(),
    }
}

fn signed_in(state: &AppState, caller: Caller, next: &str) -> Response {
    match state.sessions().open(caller) {
        Ok(id) => {
            let mut r = Redirect::to(next).into_response();
            r.headers_mut().insert(
                header::SET_COOKIE,
                set_cookie(Some(&id)).parse().expect("cookie is ASCII"),
            );
            r
        }
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("opening a session: {e}"),
        )
            .into_response(),
    }
}

/// `GET /signin`.
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Next>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    if !state.options().auth {
        if session::current(&state, &headers).await.is_some() {
            return Redirect::to(&next).into_response();
        }
        let caller = Caller {
            workspace: DEFAULT_WORKSPACE.to_string(),
            admin: true,
            token: None,
        };
        return signed_in(&state, caller, &next);
    }
    page(&next, None, StatusCode::OK)
}

fn page(next: &str, problem: Option<&str>, status: StatusCode) -> Response {
    let main = html! {
        section.signin {
            h1 { "Sign in" }
            p { "Paste a workspace token. Create one with "
                code { "quantd tokens create --workspace NAME" } "." }
            @if let Some(p) = problem { p.problem role="alert" { (p) } }
            form #signin method="post" action="/signin" {
                input type="hidden" name="next" value=(next);
                label for="token" { "Workspace token" }
                input #token type="password" name="token" autocomplete="off" required autofocus
                    placeholder="qdt_…" spellcheck="false";
                button type="submit" { "Sign in" }
            }
        }
    };
    html_response(status, layout("Sign in", Section::SignIn, None, main))
}

/// `POST /signin`.
pub async fn submit(State(state): State<AppState>, body: Bytes) -> Response {
    let mut token = String::new();
    let mut next = None;
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "token" => token = v.trim().to_string(),
            "next" => next = Some(v.into_owned()),
            _ => {}
        }
    }
    let next = safe_next(next.as_deref());
    if !state.options().auth {
        return Redirect::to("/signin").into_response();
    }
    match verify(&state, &token).await {
        Ok(Some(caller)) => {
            tracing::info!(workspace = %caller.workspace, "dashboard sign-in");
            signed_in(&state, caller, &next)
        }
        Ok(None) => page(
            &next,
            Some("That token is not valid: unknown, revoked or mistyped."),
            StatusCode::UNAUTHORIZED,
        ),
        Err(e) => page(
            &next,
            Some(&e.to_string()),
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    }
}

/// `POST /signout`: ends the session (the CSRF check already ran).
pub async fn signout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = session::cookie_id(&headers) {
        state.sessions().close(&id);
    }
    let mut r = Redirect::to("/signin").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(None).parse().expect("cookie is ASCII"),
    );
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        use super::safe_next;
        assert_eq!(
            safe_next(Some("/executions?state=failed")),
            "/executions?state=failed"
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "executions",
        ] {
            assert_eq!(safe_next(Some(bad)), "/executions", "{bad}");
        }
        assert_eq!(safe_next(None), "/executions");
    }
}

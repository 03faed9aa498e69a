//! Bearer tokens and workspaces.
//!
//! A token is `qdt_<id>_<secret>`: `id` (16 hex characters) finds the stored row, `secret` (64 hex
//! characters, 256 random bits) is checked against the stored SHA-256 with a constant-time
//! comparison. The store never holds a secret, and `quantd tokens create` prints it once.
//! With `--no-auth` every caller is the `default` workspace (and may upload packs).
//! A token is checked on every request; open streams re-check it through [`crate::authority`].
//! A GET without a token may instead carry a dashboard session cookie (its token is re-checked
//! the same way, see [`crate::dashboard::session`]).

use crate::AppState;
use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use quantd_engine::DEFAULT_WORKSPACE;

/// Who is calling: the workspace every query is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's workspace.
    pub workspace: String,
    /// Whether the caller may change what all workspaces share (upload packs, read metrics).
    pub admin: bool,
    /// The public id of the bearer token the caller used (`None` with `--no-auth`): streams
    /// and WebSocket commands re-check it (see [`crate::authority`]).
    pub token: Option<String>,
}

impl Caller {
    /// The caller as the engine's audit trail and data rights know it.
    pub fn reader(&self) -> quantd_engine::rights::Reader {
        quantd_engine::rights::Reader::token(&self.workspace, self.token.as_deref())
    }
}

/// The caller a bearer token stands for, or `None` when it is not valid (the engine checks
/// the secret in constant time).
pub async fn verify(state: &AppState, token: &str) -> Result<Option<Caller>, AppError> {
    Ok(state
        .engine()
        .tokens()
        .verify(token)
        .await?
        .map(|holder| Caller {
            workspace: holder.workspace,
            admin: holder.admin,
            token: Some(holder.id),
        }))
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        if !state.options().auth {
            return Ok(Caller {
                workspace: DEFAULT_WORKSPACE.to_string(),
                admin: true,
                token: None,
            });
        }
        if !parts.headers.contains_key(AUTHORIZATION)
            && matches!(parts.method, Method::GET | Method::HEAD)
            && !crate::dashboard::session::cross_site(&parts.headers)
            && let Some((_, session)) =
                crate::dashboard::session::current(state, &parts.headers).await
        {
            // The dashboard's charts and downloads read the API's GET routes with the session
            // cookie, from its own pages only: SameSite=Strict still lets a page of another port
            // of the same host send it, and a WebSocket (whose commands change state) is not
            // held back by CORS. Anything that changes state through `/v1` needs the token.
            return Ok(session.caller);
        }
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                AppError::Unauthorized(
                    "send `Authorization: Bearer <token>`; create a token with `quantd tokens create --workspace NAME`".into(),
                )
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                AppError::Unauthorized("the Authorization header must be `Bearer <token>`".into())
            })?;
        match verify(state, token.trim()).await? {
            Some(caller) => Ok(caller),
            None => Err(AppError::Unauthorized(
                "the bearer token is not valid (unknown, revoked or mistyped)".into(),
            )),
        }
    }
}

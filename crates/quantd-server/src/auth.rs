//! Bearer tokens and workspaces.
//!
//! A token is `qdt_<id>_<secret>`: `id` (16 hex characters) finds the stored row, `secret` (64 hex
//! characters, 256 random bits) is checked against the stored SHA-256 with a constant-time
//! comparison. The store never holds a secret, and `quantd tokens create` prints it once.
//! With `--no-auth` every caller is the `default` workspace (and may upload packs).
//! A token is checked on every request; open streams re-check it through [`crate::authority`].

use crate::AppState;
use crate::error::AppError;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use quantd_engine::DEFAULT_WORKSPACE;
use quantd_store::prelude::*;
use quantd_store::{NewToken, StoreError};
use sha2::{Digest, Sha256};
use std::io::Read;
use subtle::ConstantTimeEq;

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

/// A token just created: the secret text (shown once) and what was stored.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// `qdt_<id>_<secret>`, to put in `Authorization: Bearer …`.
    pub token: String,
    /// The stored row (id, workspace, name, hash).
    pub record: NewToken,
}

fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Workspace names: 1–64 letters, digits, `-`, `_`.
pub fn check_workspace(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "workspace `{name}` is not allowed; use 1–64 letters, digits, `-` or `_`"
        ))
    }
}

/// Creates a token for `workspace` and stores its hash; returns the token text (show it once).
pub async fn create_token(
    store: &impl Store,
    workspace: &str,
    name: Option<&str>,
    admin: bool,
) -> Result<CreatedToken, AppError> {
    check_workspace(workspace).map_err(AppError::BadRequest)?;
    let id = random_hex(8).map_err(|e| AppError::Internal(format!("reading randomness: {e}")))?;
    let secret =
        random_hex(32).map_err(|e| AppError::Internal(format!("reading randomness: {e}")))?;
    let record = NewToken {
        id: id.clone(),
        workspace: workspace.to_string(),
        name: name.map(str::to_string),
        secret_hash: sha256_hex(&secret),
        admin,
    };
    store.create_token(&record).await?;
    Ok(CreatedToken {
        token: format!("qdt_{id}_{secret}"),
        record,
    })
}

/// The caller a bearer token stands for, or `None` when it is not valid.
pub async fn verify(store: &impl Store, token: &str) -> Result<Option<Caller>, StoreError> {
    let Some((id, secret)) = token
        .strip_prefix("qdt_")
        .and_then(|rest| rest.split_once('_'))
    else {
        return Ok(None);
    };
    let Some(row) = store.token(id).await? else {
        // Hash anyway so that unknown ids and wrong secrets take the same time.
        let _ = sha256_hex(secret);
        return Ok(None);
    };
    let given = sha256_hex(secret);
    let ok: bool = given.as_bytes().ct_eq(row.secret_hash.as_bytes()).into();
    Ok(ok.then_some(Caller {
        workspace: row.workspace,
        admin: row.admin,
        token: Some(row.id),
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
        match verify(state.engine().store(), token.trim()).await? {
            Some(caller) => Ok(caller),
            None => Err(AppError::Unauthorized(
                "the bearer token is not valid (unknown, revoked or mistyped)".into(),
            )),
        }
    }
}

//! Access tokens of workspaces ([`TokenRecord`], stored without their secret) and the
//! idempotency keys of their requests ([`IdempotencyRecord`]).

use chrono::{DateTime, Utc};
use quantd_core::ExecutionId;
use serde::Serialize;

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The public part of the token, unique.
    pub id: String,
    /// The workspace it grants.
    pub workspace: String,
    /// A label for people (`ci`, `alice's laptop`).
    pub name: Option<String>,
    /// Hex SHA-256 of the secret part.
    pub secret_hash: String,
    /// Whether it may change what every workspace shares (upload packs).
    pub admin: bool,
}

/// A stored token (without its secret).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TokenRecord {
    /// The public id.
    pub id: String,
    /// The workspace it grants.
    pub workspace: String,
    /// Its label.
    pub name: Option<String>,
    /// Hex SHA-256 of the secret part.
    #[serde(skip)]
    pub secret_hash: String,
    /// Whether it may upload packs.
    pub admin: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// What an idempotency key created.
#[derive(Debug, Clone, PartialEq)]
pub struct IdempotencyRecord {
    /// Hash of the request body that used the key first.
    pub request_hash: String,
    /// The execution it created.
    pub execution: ExecutionId,
}

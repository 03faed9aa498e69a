//! SQLite access tokens of workspaces and the idempotency keys of their requests.
//!
//! A token is `qdt_<id>_<secret>`: the store keeps the public `id`, the workspace it grants and
//! the SHA-256 of the secret, never the secret itself. The server finds the row by id and
//! compares the hashes in constant time. Idempotency keys remember which execution a
//! `POST /v1/executions` created, with the hash of its body, per workspace.
//!
//! [`AccessTokens::live_tokens`] answers, in one query, which of many token ids are still live:
//! the server asks it a few times a second for the tokens of its open streams, so a token revoked
//! by any process on the same data directory closes them.

use super::SqliteStore;
use super::rows::{corrupt, token_from_row};
use crate::error::Result;
use crate::records::{IdempotencyRecord, Millis, NewToken, TokenRecord};
use crate::traits::AccessTokens;
use chrono::Utc;
use quantd_core::ExecutionId;
use std::collections::HashSet;

impl AccessTokens for SqliteStore {
    /// Which of `ids` are live tokens (stored and not revoked): one query on the primary key
    /// for all of them, however many (the ids travel as one JSON array).
    async fn live_tokens(&self, ids: &[String]) -> Result<HashSet<String>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let ids = serde_json::to_string(ids).map_err(|e| corrupt("tokens", e))?;
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT id FROM tokens WHERE revoked_at IS NULL AND id IN (SELECT value FROM json_each(?))",
        )
        .bind(ids)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    async fn create_token(&self, t: &NewToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO tokens (id, workspace, name, secret_hash, admin, created_at) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&t.id)
        .bind(&t.workspace)
        .bind(&t.name)
        .bind(&t.secret_hash)
        .bind(t.admin)
        .bind(Utc::now().to_rfc3339())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        let row = sqlx::query("SELECT * FROM tokens WHERE id = ? AND revoked_at IS NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(&self, workspace: Option<&str>) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM tokens WHERE revoked_at IS NULL AND (?1 IS NULL OR workspace = ?1) ORDER BY created_at, id",
        )
        .bind(workspace)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(&self, id: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL")
                .bind(Utc::now().to_rfc3339())
                .bind(id)
                .execute(&self.writer)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn idempotency_key(
        &self,
        workspace: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT request_hash, execution_id FROM idempotency_keys WHERE workspace = ? AND key = ?",
        )
        .bind(workspace)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(request_hash, exec)| {
            Ok(IdempotencyRecord {
                request_hash,
                execution: exec.parse().map_err(|e| corrupt("idempotency_keys", e))?,
            })
        })
        .transpose()
    }

    async fn save_idempotency_key(
        &self,
        workspace: &str,
        key: &str,
        request_hash: &str,
        execution: &ExecutionId,
        now: Millis,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO idempotency_keys (workspace, key, request_hash, execution_id, created_at) \
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (workspace, key) DO NOTHING",
        )
        .bind(workspace)
        .bind(key)
        .bind(request_hash)
        .bind(execution.as_str())
        .bind(now)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

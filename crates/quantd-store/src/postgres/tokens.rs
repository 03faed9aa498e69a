//! Postgres access tokens of workspaces and the idempotency keys of their requests.
//!
//! A token is `qdt_<id>_<secret>`: the store keeps the public `id`, the workspace it grants and
//! the SHA-256 of the secret, never the secret itself. Idempotency keys remember which execution
//! a `POST /v1/executions` created, with the hash of its body, per workspace.
//!
//! [`AccessTokens::live_tokens`] answers, in one query (`id = ANY(…)`), which of many token ids
//! are still live, so a token revoked by any process closes the streams it opened.

use super::PgStore;
use super::rows::{corrupt, token_from_row};
use crate::error::Result;
use crate::records::{IdempotencyRecord, Millis, NewToken, TokenRecord};
use crate::traits::AccessTokens;
use chrono::Utc;
use quantd_core::ExecutionId;
use std::collections::HashSet;

impl AccessTokens for PgStore {
    async fn live_tokens(&self, ids: &[String]) -> Result<HashSet<String>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let ids: Vec<String> = ids.iter().map(|i| i.replace('\0', "")).collect();
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT id FROM tokens WHERE revoked_at IS NULL AND id = ANY($1)")
                .bind(&ids)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().collect())
    }

    async fn create_token(&self, t: &NewToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO tokens (id, workspace, name, secret_hash, admin, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&t.id)
        .bind(&t.workspace)
        .bind(&t.name)
        .bind(&t.secret_hash)
        .bind(t.admin)
        .bind(Utc::now())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>> {
        if id.contains('\0') {
            return Ok(None);
        }
        let row = sqlx::query("SELECT * FROM tokens WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn list_tokens(&self, workspace: Option<&str>) -> Result<Vec<TokenRecord>> {
        let rows = sqlx::query(
            "SELECT * FROM tokens WHERE revoked_at IS NULL AND ($1::text IS NULL OR workspace = $1) ORDER BY created_at, id",
        )
        .bind(workspace)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(&self, id: &str) -> Result<bool> {
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(Utc::now())
                .bind(id)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn idempotency_key(
        &self,
        workspace: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        let row: Option<(String, String)> = sqlx::query_as(
            "SELECT request_hash, execution_id FROM idempotency_keys WHERE workspace = $1 AND key = $2",
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
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (workspace, key) DO NOTHING",
        )
        .bind(workspace)
        .bind(key)
        .bind(request_hash)
        .bind(execution.as_str())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

//! Workspace policies in Postgres: one row per workspace, its body JSON.

use super::PgStore;
use super::rows::corrupt;
use crate::error::Result;
use crate::policies::WorkspacePolicies;
use crate::records::Millis;
use serde_json::Value;

impl WorkspacePolicies for PgStore {
    async fn put_workspace_policy(&self, workspace: &str, body: &Value, now: Millis) -> Result<()> {
        sqlx::query(
            "INSERT INTO workspace_policies (workspace, body, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (workspace) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(workspace)
        .bind(body.to_string())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn workspace_policy(&self, workspace: &str) -> Result<Option<Value>> {
        let body: Option<String> =
            sqlx::query_scalar("SELECT body FROM workspace_policies WHERE workspace = $1")
                .bind(workspace)
                .fetch_optional(&self.pool)
                .await?;
        body.map(|b| serde_json::from_str(&b).map_err(|e| corrupt("workspace_policies", e)))
            .transpose()
    }
}

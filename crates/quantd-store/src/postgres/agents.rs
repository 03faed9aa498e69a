//! The agent registry in Postgres: one row per workspace and agent name, its body JSON.

use super::PgStore;
use super::rows::named_body;
use crate::error::Result;
use crate::records::Millis;
use crate::traits::AgentRegistry;
use serde_json::Value;

impl AgentRegistry for PgStore {
    async fn put_agent(
        &self,
        workspace: &str,
        name: &str,
        body: &Value,
        now: Millis,
    ) -> Result<bool> {
        // `xmax = 0`: the row was inserted by this statement, not updated.
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO agents (workspace, name, body, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (workspace, name) DO UPDATE SET body = excluded.body RETURNING (xmax = 0)",
        )
        .bind(workspace)
        .bind(name)
        .bind(body.to_string())
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(inserted)
    }

    async fn remove_agent(&self, workspace: &str, name: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM agents WHERE workspace = $1 AND name = $2")
            .bind(workspace)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn agents(&self, workspace: &str) -> Result<Vec<(String, Value)>> {
        let rows = sqlx::query("SELECT name, body FROM agents WHERE workspace = $1 ORDER BY name")
            .bind(workspace)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| named_body(r, "agents")).collect()
    }
}

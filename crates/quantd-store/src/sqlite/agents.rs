//! The agent registry in SQLite: one row per workspace and agent name, its body JSON.

use super::SqliteStore;
use super::rows::named_body;
use crate::error::Result;
use crate::records::Millis;
use crate::traits::AgentRegistry;
use serde_json::Value;

impl AgentRegistry for SqliteStore {
    async fn put_agent(
        &self,
        workspace: &str,
        name: &str,
        body: &Value,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let existed: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM agents WHERE workspace = ? AND name = ?)",
        )
        .bind(workspace)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO agents (workspace, name, body, created_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (workspace, name) DO UPDATE SET body = excluded.body",
        )
        .bind(workspace)
        .bind(name)
        .bind(body.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(!existed)
    }

    async fn remove_agent(&self, workspace: &str, name: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM agents WHERE workspace = ? AND name = ?")
            .bind(workspace)
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn agents(&self, workspace: &str) -> Result<Vec<(String, Value)>> {
        let rows = sqlx::query("SELECT name, body FROM agents WHERE workspace = ? ORDER BY name")
            .bind(workspace)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| named_body(r, "agents")).collect()
    }
}

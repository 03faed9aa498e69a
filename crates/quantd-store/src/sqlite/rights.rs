//! The rights registry and the audit trail in SQLite: one `providers` row per provider (its body
//! JSON), `packs.provider` naming one, and the append-only `audit_log`.

use super::SqliteStore;
use super::rows::{named_body, pack_from_row, select_packs};
use crate::error::{Result, StoreError};
use crate::records::{AuditEntry, AuditFilter, Millis, NewAuditEntry, PackRecord, Page, Paged};
use crate::traits::RightsRegistry;
use quantd_core::PackId;
use serde_json::Value;
use sqlx::Row;

impl RightsRegistry for SqliteStore {
    async fn put_provider(&self, name: &str, body: &Value, now: Millis) -> Result<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let existed: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM providers WHERE name = ?)")
                .bind(name)
                .fetch_one(&mut *tx)
                .await?;
        sqlx::query(
            "INSERT INTO providers (name, body, created_at, updated_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(body.to_string())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(!existed)
    }

    async fn remove_provider(&self, name: &str) -> Result<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let packs: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT name FROM packs WHERE provider = ? ORDER BY name LIMIT 6",
        )
        .bind(name)
        .fetch_all(&mut *tx)
        .await?;
        if !packs.is_empty() {
            return Err(StoreError::Conflict(format!(
                "provider `{name}` is named by pack{} {}; give {} another provider first",
                if packs.len() > 1 { "s" } else { "" },
                packs.join(", "),
                if packs.len() > 1 { "them" } else { "it" },
            )));
        }
        let r = sqlx::query("DELETE FROM providers WHERE name = ?")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(r.rows_affected() > 0)
    }

    async fn providers(&self) -> Result<Vec<(String, Value)>> {
        let rows = sqlx::query("SELECT name, body FROM providers ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| named_body(r, "providers")).collect()
    }

    async fn set_pack_provider(&self, name: &str, provider: Option<&str>) -> Result<u64> {
        let r = sqlx::query("UPDATE packs SET provider = ? WHERE name = ?")
            .bind(provider)
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(r.rows_affected())
    }

    async fn packs_by_id(&self, id: &PackId) -> Result<Vec<PackRecord>> {
        let rows = sqlx::query(select_packs!("WHERE id = ? ORDER BY seq DESC"))
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(pack_from_row).collect()
    }

    async fn append_audit(&self, e: &NewAuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, workspace, actor, action, execution_id, provider, detail) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(e.at)
        .bind(&e.workspace)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(e.execution.as_ref().map(|x| x.as_str()))
        .bind(&e.provider)
        .bind(&e.detail)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn audit(&self, filter: &AuditFilter, page: &Page) -> Result<Paged<AuditEntry>> {
        let before: Option<i64> = page.cursor(|c| c.parse().ok().filter(|n: &i64| *n > 0))?;
        let rows = sqlx::query(
            "SELECT seq, at, workspace, actor, action, execution_id, provider, detail FROM audit_log \
             WHERE (?1 IS NULL OR workspace = ?1) AND (?2 IS NULL OR execution_id = ?2) \
             AND (?3 = 0 OR action LIKE 'export.%') AND (?4 IS NULL OR seq < ?4) \
             ORDER BY seq DESC LIMIT ?5",
        )
        .bind(&filter.workspace)
        .bind(filter.execution.as_ref().map(|x| x.as_str()))
        .bind(filter.exports_only)
        .bind(before)
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await?;
        let entries = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    at: r.try_get("at")?,
                    workspace: r.try_get("workspace")?,
                    actor: r.try_get("actor")?,
                    action: r.try_get("action")?,
                    execution: r.try_get("execution_id")?,
                    provider: r.try_get("provider")?,
                    detail: r.try_get("detail")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged::from_rows(entries, page, |e| e.seq.to_string()))
    }
}

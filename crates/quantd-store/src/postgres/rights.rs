//! The rights registry and the audit trail in Postgres: one `providers` row per provider (its
//! body JSON), `packs.provider` naming one, and the append-only `audit_log`.

use super::PgStore;
use super::rows::{named_body, pack_from_row, select_packs, text};
use crate::error::{Result, StoreError};
use crate::records::{AuditEntry, AuditFilter, Millis, NewAuditEntry, PackRecord, Page, Paged};
use crate::traits::RightsRegistry;
use quantd_core::PackId;
use serde_json::Value;
use sqlx::Row;

impl RightsRegistry for PgStore {
    async fn put_provider(&self, name: &str, body: &Value, now: Millis) -> Result<bool> {
        // `xmax = 0`: the row was inserted by this statement, not updated.
        let inserted: bool = sqlx::query_scalar(
            "INSERT INTO providers (name, body, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at \
             RETURNING (xmax = 0)",
        )
        .bind(name)
        .bind(body.to_string())
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(inserted)
    }

    async fn remove_provider(&self, name: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // The provider's row first, so a pack naming it meanwhile waits for this check.
        sqlx::query("SELECT 1 FROM providers WHERE name = $1 FOR UPDATE")
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let packs: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT name FROM packs WHERE provider = $1 ORDER BY name LIMIT 6",
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
        let r = sqlx::query("DELETE FROM providers WHERE name = $1")
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
        let r = sqlx::query("UPDATE packs SET provider = $1 WHERE name = $2")
            .bind(provider)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected())
    }

    async fn packs_by_id(&self, id: &PackId) -> Result<Vec<PackRecord>> {
        let rows = sqlx::query(select_packs!("WHERE id = $1 ORDER BY seq DESC"))
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(pack_from_row).collect()
    }

    async fn append_audit(&self, e: &NewAuditEntry) -> Result<()> {
        sqlx::query(
            "INSERT INTO audit_log (at, workspace, actor, action, execution_id, provider, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(e.at)
        .bind(&e.workspace)
        .bind(text(&e.actor).into_owned())
        .bind(&e.action)
        .bind(e.execution.as_ref().map(|x| x.as_str()))
        .bind(&e.provider)
        .bind(text(&e.detail).into_owned())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn audit(&self, filter: &AuditFilter, page: &Page) -> Result<Paged<AuditEntry>> {
        let before: Option<i64> = page.cursor(|c| c.parse().ok().filter(|n: &i64| *n > 0))?;
        let rows = sqlx::query(
            "SELECT seq, at, workspace, actor, action, execution_id, provider, detail FROM audit_log \
             WHERE ($1::text IS NULL OR workspace = $1) AND ($2::text IS NULL OR execution_id = $2) \
             AND (NOT $3 OR action LIKE 'export.%') AND ($4::bigint IS NULL OR seq < $4) \
             ORDER BY seq DESC LIMIT $5",
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

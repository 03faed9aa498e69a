//! The SQLite code registry: immutable, content-addressed versions under names. `NAME` resolves
//! to the name's current version (the latest, unless rolled back); `NAME@N` to version N.
//! Removing a name hides it but keeps its versions, so executions that ran them stay
//! reproducible.
//!
//! Names belong to a workspace: every method takes the workspace, and two workspaces may use the
//! same name for different code without seeing each other's.

use super::SqliteStore;
use super::rows::{time, version_from_row};
use crate::error::Result;
use crate::records::{Added, CodeName, CodeVersion, Page, Paged};
use crate::traits::CodeRegistry;
use chrono::Utc;
use quantd_core::CodeVersionId;
use sqlx::Row;

impl CodeRegistry for SqliteStore {
    /// Adds a version of `name` (or returns the current one when its content is identical).
    /// A removed name comes back with its numbering continued.
    async fn add_code(
        &self,
        workspace: &str,
        name: &str,
        id: &CodeVersionId,
        language: &str,
        source: &str,
        params: &[String],
    ) -> Result<Added> {
        let now = Utc::now().to_rfc3339();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let current: Option<(i64, i64)> = sqlx::query_as(
            "SELECT current, deleted FROM code_names WHERE workspace = ? AND name = ?",
        )
        .bind(workspace)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((cur, 0)) = current {
            let row = sqlx::query(
                "SELECT * FROM code_versions WHERE workspace = ? AND name = ? AND version = ?",
            )
            .bind(workspace)
            .bind(name)
            .bind(cur)
            .fetch_one(&mut *tx)
            .await?;
            let v = version_from_row(&row)?;
            if &v.id == id {
                tx.commit().await?;
                return Ok(Added {
                    version: v,
                    unchanged: true,
                });
            }
        }
        let next: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM code_versions WHERE workspace = ? AND name = ?",
        )
        .bind(workspace)
        .bind(name)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO code_versions (workspace, name, version, id, language, source, params, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(workspace)
        .bind(name)
        .bind(next)
        .bind(id.as_str())
        .bind(language)
        .bind(source)
        .bind(serde_json::to_string(params).expect("strings serialize"))
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO code_names (workspace, name, current, deleted, updated_at) VALUES (?, ?, ?, 0, ?) \
             ON CONFLICT (workspace, name) DO UPDATE SET current = excluded.current, deleted = 0, updated_at = excluded.updated_at",
        )
        .bind(workspace)
        .bind(name)
        .bind(next)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "SELECT * FROM code_versions WHERE workspace = ? AND name = ? AND version = ?",
        )
        .bind(workspace)
        .bind(name)
        .bind(next)
        .fetch_one(&mut *tx)
        .await?;
        let version = version_from_row(&row)?;
        tx.commit().await?;
        Ok(Added {
            version,
            unchanged: false,
        })
    }

    /// Version `version` of `name`, or its current version when `None`. Removed names resolve
    /// only with an explicit version.
    async fn code_version(
        &self,
        workspace: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<CodeVersion>> {
        let row =
            match version {
                Some(v) => sqlx::query(
                    "SELECT * FROM code_versions WHERE workspace = ? AND name = ? AND version = ?",
                )
                .bind(workspace)
                .bind(name)
                .bind(v as i64)
                .fetch_optional(&self.pool)
                .await?,
                None => {
                    sqlx::query(
                        "SELECT v.* FROM code_versions v JOIN code_names n \
                     ON n.workspace = v.workspace AND n.name = v.name AND n.current = v.version \
                     WHERE v.workspace = ? AND v.name = ? AND n.deleted = 0",
                    )
                    .bind(workspace)
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
                }
            };
        row.as_ref().map(version_from_row).transpose()
    }

    /// A version by content id (the first name it was added under).
    async fn code_by_id(&self, id: &CodeVersionId) -> Result<Option<CodeVersion>> {
        let row =
            sqlx::query("SELECT * FROM code_versions WHERE id = ? ORDER BY created_at LIMIT 1")
                .bind(id.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    /// Every version of `name`, oldest first.
    async fn code_versions(
        &self,
        workspace: &str,
        name: &str,
        page: &Page,
    ) -> Result<Paged<CodeVersion>> {
        let after = page.cursor(|c| c.parse::<i64>().ok())?;
        if let Some(v) = after {
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM code_versions WHERE workspace = ? AND name = ? AND version = ?)",
            )
            .bind(workspace)
            .bind(name)
            .bind(v)
            .fetch_one(&self.pool)
            .await?;
            if !known {
                return Err(page.unknown_cursor());
            }
        }
        let after = after.unwrap_or(0);
        let rows = sqlx::query(
            "SELECT * FROM code_versions WHERE workspace = ? AND name = ? AND version > ? ORDER BY version LIMIT ?",
        )
        .bind(workspace)
        .bind(name)
        .bind(after)
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(version_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page, |v| v.version.to_string()))
    }

    /// Names that are not removed, by name.
    async fn code_names(&self, workspace: &str, page: &Page) -> Result<Paged<CodeName>> {
        let after = page.cursor(|c| Some(c.to_string()))?;
        if let Some(name) = &after {
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM code_names WHERE workspace = ? AND name = ?)",
            )
            .bind(workspace)
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
            if !known {
                return Err(page.unknown_cursor());
            }
        }
        let after = after.unwrap_or_default();
        let rows = sqlx::query(
            "SELECT n.name, n.current, n.updated_at, v.language, \
             (SELECT COUNT(*) FROM code_versions c WHERE c.workspace = n.workspace AND c.name = n.name) AS versions \
             FROM code_names n JOIN code_versions v \
             ON v.workspace = n.workspace AND v.name = n.name AND v.version = n.current \
             WHERE n.workspace = ? AND n.deleted = 0 AND n.name > ? ORDER BY n.name LIMIT ?",
        )
        .bind(workspace)
        .bind(after)
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await?;
        let names = rows
            .iter()
            .map(|r| {
                let updated: String = r.try_get("updated_at")?;
                Ok(CodeName {
                    name: r.try_get("name")?,
                    current: r.try_get::<i64, _>("current")? as u32,
                    versions: r.try_get::<i64, _>("versions")? as u32,
                    language: r.try_get("language")?,
                    updated_at: time("code_names", &updated)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged::from_rows(names, page, |n| n.name.clone()))
    }

    /// Points `name` at `version` (which must exist). Returns false when the name is unknown or removed.
    async fn set_current_code(&self, workspace: &str, name: &str, version: u32) -> Result<bool> {
        let exists: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM code_versions WHERE workspace = ? AND name = ? AND version = ?",
        )
        .bind(workspace)
        .bind(name)
        .bind(version as i64)
        .fetch_optional(&self.pool)
        .await?;
        if exists.is_none() {
            return Ok(false);
        }
        let done = sqlx::query(
            "UPDATE code_names SET current = ?, updated_at = ? WHERE workspace = ? AND name = ? AND deleted = 0",
        )
        .bind(version as i64)
        .bind(Utc::now().to_rfc3339())
        .bind(workspace)
        .bind(name)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a name (its versions stay readable as `NAME@N` and by id). Returns false when unknown.
    async fn remove_code(&self, workspace: &str, name: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE code_names SET deleted = 1, updated_at = ? WHERE workspace = ? AND name = ? AND deleted = 0",
        )
        .bind(Utc::now().to_rfc3339())
        .bind(workspace)
        .bind(name)
        .execute(&self.writer)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

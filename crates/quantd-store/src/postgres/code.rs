//! The Postgres code registry: immutable, content-addressed versions under names, per
//! workspace. `NAME` resolves to the name's current version (the latest, unless rolled back);
//! `NAME@N` to version N. Removing a name hides it but keeps its versions. Adding a version takes
//! an advisory lock on (workspace, name), so two processes adding at once number them in turn.

use super::PgStore;
use super::rows::version_from_row;
use crate::error::Result;
use crate::records::{Added, CodeName, CodeVersion, Page, Paged};
use crate::traits::CodeRegistry;
use chrono::Utc;
use quantd_core::CodeVersionId;
use sqlx::Row;

impl CodeRegistry for PgStore {
    async fn add_code(
        &self,
        workspace: &str,
        name: &str,
        id: &CodeVersionId,
        language: &str,
        source: &str,
        params: &[String],
    ) -> Result<Added> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))")
            .bind(workspace)
            .bind(name)
            .execute(&mut *tx)
            .await?;
        let current: Option<(i64, bool)> = sqlx::query_as(
            "SELECT current, deleted FROM code_names WHERE workspace = $1 AND name = $2",
        )
        .bind(workspace)
        .bind(name)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((cur, false)) = current {
            let row = sqlx::query(
                "SELECT * FROM code_versions WHERE workspace = $1 AND name = $2 AND version = $3",
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
        let row = sqlx::query(
            "INSERT INTO code_versions (workspace, name, version, id, language, source, params, created_at) \
             VALUES ($1, $2, (SELECT COALESCE(MAX(version), 0) + 1 FROM code_versions WHERE workspace = $1 AND name = $2), \
             $3, $4, $5, $6, $7) RETURNING *",
        )
        .bind(workspace)
        .bind(name)
        .bind(id.as_str())
        .bind(language)
        .bind(source)
        .bind(serde_json::to_string(params).expect("strings serialize"))
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let version = version_from_row(&row)?;
        sqlx::query(
            "INSERT INTO code_names (workspace, name, current, deleted, updated_at) VALUES ($1, $2, $3, false, $4) \
             ON CONFLICT (workspace, name) DO UPDATE SET current = excluded.current, deleted = false, updated_at = excluded.updated_at",
        )
        .bind(workspace)
        .bind(name)
        .bind(i64::from(version.version))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Added {
            version,
            unchanged: false,
        })
    }

    async fn code_version(
        &self,
        workspace: &str,
        name: &str,
        version: Option<u32>,
    ) -> Result<Option<CodeVersion>> {
        let row = match version {
            Some(v) => sqlx::query(
                "SELECT * FROM code_versions WHERE workspace = $1 AND name = $2 AND version = $3",
            )
            .bind(workspace)
            .bind(name)
            .bind(i64::from(v))
            .fetch_optional(&self.pool)
            .await?,
            None => {
                sqlx::query(
                    "SELECT v.* FROM code_versions v JOIN code_names n \
                     ON n.workspace = v.workspace AND n.name = v.name AND n.current = v.version \
                     WHERE v.workspace = $1 AND v.name = $2 AND NOT n.deleted",
                )
                .bind(workspace)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?
            }
        };
        row.as_ref().map(version_from_row).transpose()
    }

    async fn code_by_id(&self, id: &CodeVersionId) -> Result<Option<CodeVersion>> {
        let row = sqlx::query(
            "SELECT * FROM code_versions WHERE id = $1 ORDER BY created_at, workspace, name, version LIMIT 1",
        )
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(version_from_row).transpose()
    }

    async fn code_versions(
        &self,
        workspace: &str,
        name: &str,
        page: &Page,
    ) -> Result<Paged<CodeVersion>> {
        let after = page.cursor(|c| c.parse::<i64>().ok())?;
        if let Some(v) = after {
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM code_versions WHERE workspace = $1 AND name = $2 AND version = $3)",
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
        let rows = sqlx::query(
            "SELECT * FROM code_versions WHERE workspace = $1 AND name = $2 AND version > $3 ORDER BY version LIMIT $4",
        )
        .bind(workspace)
        .bind(name)
        .bind(after.unwrap_or(0))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(version_from_row)
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page, |v| v.version.to_string()))
    }

    async fn code_names(&self, workspace: &str, page: &Page) -> Result<Paged<CodeName>> {
        let after = page.cursor(|c| Some(c.to_string()))?;
        if let Some(name) = &after {
            let known: bool = sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM code_names WHERE workspace = $1 AND name = $2)",
            )
            .bind(workspace)
            .bind(super::rows::text(name).into_owned())
            .fetch_one(&self.pool)
            .await?;
            if !known {
                return Err(page.unknown_cursor());
            }
        }
        // Names compare byte by byte (the schema collates text as "C", like SQLite).
        let rows = sqlx::query(
            "SELECT n.name, n.current, n.updated_at, v.language, \
             (SELECT COUNT(*) FROM code_versions c WHERE c.workspace = n.workspace AND c.name = n.name) AS versions \
             FROM code_names n JOIN code_versions v \
             ON v.workspace = n.workspace AND v.name = n.name AND v.version = n.current \
             WHERE n.workspace = $1 AND NOT n.deleted AND n.name > $2 \
             ORDER BY n.name LIMIT $3",
        )
        .bind(workspace)
        .bind(after.unwrap_or_default())
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await?;
        let names = rows
            .iter()
            .map(|r| {
                Ok(CodeName {
                    name: r.try_get("name")?,
                    current: r.try_get::<i64, _>("current")? as u32,
                    versions: r.try_get::<i64, _>("versions")? as u32,
                    language: r.try_get("language")?,
                    updated_at: r.try_get("updated_at")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Paged::from_rows(names, page, |n| n.name.clone()))
    }

    async fn set_current_code(&self, workspace: &str, name: &str, version: u32) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE code_names SET current = $1, updated_at = $2 WHERE workspace = $3 AND name = $4 AND NOT deleted \
             AND EXISTS (SELECT 1 FROM code_versions WHERE workspace = $3 AND name = $4 AND version = $1)",
        )
        .bind(i64::from(version))
        .bind(Utc::now())
        .bind(workspace)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_code(&self, workspace: &str, name: &str) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE code_names SET deleted = true, updated_at = $1 WHERE workspace = $2 AND name = $3 AND NOT deleted",
        )
        .bind(Utc::now())
        .bind(workspace)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

//! SQLite schema migrations: numbered SQL files (`migrations/`) embedded in the binary, applied
//! in order in one `BEGIN IMMEDIATE` transaction (all that are missing, or none), each recorded in
//! `schema_migrations`. A database written by a newer quantd is refused, not downgraded.

use crate::error::{Result, StoreError};
use crate::schema::SchemaStatus;
use sqlx::SqlitePool;

/// Every migration, in order: (version, SQL).
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/0001_packs.sql")),
    (2, include_str!("../../migrations/0002_code.sql")),
    (3, include_str!("../../migrations/0003_executions.sql")),
    (4, include_str!("../../migrations/0004_workspaces.sql")),
    (5, include_str!("../../migrations/0005_quarantine.sql")),
    (6, include_str!("../../migrations/0006_claims.sql")),
    (7, include_str!("../../migrations/0007_crash_streak.sql")),
    (8, include_str!("../../migrations/0008_patterns.sql")),
    (9, include_str!("../../migrations/0009_agents.sql")),
    (
        10,
        include_str!("../../migrations/0010_execution_filters.sql"),
    ),
    (11, include_str!("../../migrations/0011_claim_order.sql")),
    (12, include_str!("../../migrations/0012_pack_calendar.sql")),
    (13, include_str!("../../migrations/0013_rights.sql")),
    (14, include_str!("../../migrations/0014_webhooks.sql")),
];

/// The newest schema version this build knows.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Applies the migrations the database does not have yet.
pub(super) async fn run(pool: &SqlitePool) -> Result<()> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
    )
    .execute(pool)
    .await?;
    let mut tx = pool.begin_with("BEGIN IMMEDIATE").await?;
    let current: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .fetch_one(&mut *tx)
            .await?;
    if current > latest_version() {
        return Err(StoreError::TooNew {
            found: current,
            known: latest_version(),
        });
    }
    for &(version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await
            .map_err(|source| StoreError::Migration { version, source })?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)")
            .bind(version)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, "applied schema migration");
    }
    tx.commit().await?;
    Ok(())
}

/// The applied migrations (none when the table does not exist yet); writes nothing.
pub(super) async fn status(pool: &SqlitePool) -> Result<SchemaStatus> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations')",
    )
    .fetch_one(pool)
    .await?;
    let rows: Vec<(i64, String)> = if exists {
        sqlx::query_as("SELECT version, applied_at FROM schema_migrations ORDER BY version")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    let applied = rows
        .into_iter()
        .map(|(v, at)| Ok((v, super::rows::time("schema_migrations", &at)?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(SchemaStatus {
        backend: "sqlite",
        applied,
        known: latest_version(),
    })
}

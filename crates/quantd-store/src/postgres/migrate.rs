//! Postgres schema migrations: numbered SQL files (`migrations-pg/`) embedded in the binary,
//! applied in order in one transaction (all that are missing, or none) under an advisory lock,
//! so processes opening the same database at once migrate it once. Each is recorded in
//! `schema_migrations`. A database written by a newer quantd is refused, not downgraded.

use crate::error::{Result, StoreError};
use crate::schema::SchemaStatus;
use sqlx::PgPool;

/// Every migration, in order: (version, SQL). Version 1 is the whole schema of the SQLite
/// store's migrations 0001..0014.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations-pg/0001_schema.sql")),
    (
        2,
        include_str!("../../migrations-pg/0002_results_storage.sql"),
    ),
];

/// The key of the advisory lock migrations run under (any constant shared by every quantd).
const MIGRATION_LOCK: i64 = 0x7175_616e_7464_6d67;

/// The newest schema version this build knows.
pub(super) fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Applies the migrations the database does not have yet.
pub(super) async fn run(pool: &PgPool) -> Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
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
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())")
            .bind(version)
            .execute(&mut *tx)
            .await?;
        tracing::info!(version, "applied schema migration");
    }
    tx.commit().await?;
    Ok(())
}

/// The applied migrations (none when the table does not exist yet); writes nothing.
pub(super) async fn status(pool: &PgPool) -> Result<SchemaStatus> {
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('schema_migrations') IS NOT NULL")
        .fetch_one(pool)
        .await?;
    let applied = if exists {
        sqlx::query_as("SELECT version, applied_at FROM schema_migrations ORDER BY version")
            .fetch_all(pool)
            .await?
    } else {
        Vec::new()
    };
    Ok(SchemaStatus {
        backend: "postgres",
        applied,
        known: latest_version(),
    })
}

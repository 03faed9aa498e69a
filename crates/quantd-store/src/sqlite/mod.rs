//! The embedded store: one SQLite file (WAL) in the data directory holds the catalog, the code
//! registry, tokens, and the execution queue (executions, shards, events, results, health).
//!
//! - [`rows`] decodes rows into [`crate::records`];
//! - [`queue`] is the queue's write side and [`steps`] the transaction steps it is made of;
//! - [`reads`] is the queue's read side; [`patterns`] keeps patterns' steps and children;
//! - [`packs`], [`code`], [`agents`], [`tokens`] and [`webhooks`] are the other areas of the
//!   contract (deliveries are written by a trigger when an execution ends: migration 0014);
//! - [`migrate`] brings the schema up to date when the store opens.
//!
//! Claims rely on SQLite's single writer: every write is a `BEGIN IMMEDIATE` transaction, so a
//! claim's `UPDATE … RETURNING` sees no concurrent claim, in this process or another.

mod agents;
mod code;
mod create;
mod migrate;
mod packs;
mod patterns;
mod policies;
mod queue;
mod reads;
mod rights;
mod rows;
mod steps;
mod tokens;
mod webhooks;

use crate::error::Result;
use crate::schema::SchemaStatus;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::path::Path;
use std::time::Duration;

/// The database file inside a data directory.
pub const DB_FILE: &str = "quantd.db";

/// The SQLite-backed store.
///
/// Reads go through a small pool; every write goes through a pool of exactly one connection, so
/// the writers of one process queue in order instead of colliding on SQLite's lock (whose busy
/// handler sleeps for milliseconds). Other processes still wait through the busy timeout.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database [`DB_FILE`] in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore> {
        SqliteStore::open_file(&data_dir.join(DB_FILE)).await
    }

    /// Opens (creating if needed) the database file at `path` and migrates it. Its directory
    /// must exist.
    pub async fn open_file(path: &Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        // SQLite connections are in-process handles: no need to ping one before each use (a
        // round trip to its thread).
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        migrate::run(&writer).await?;
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options)
            .await?;
        Ok(SqliteStore { pool, writer })
    }

    /// The schema version this build migrates to.
    pub fn schema_version() -> i64 {
        migrate::latest_version()
    }

    /// The migrations the database file at `path` has (none if there is no file yet), read
    /// without creating or migrating anything.
    pub async fn status_of_file(path: &Path) -> Result<SchemaStatus> {
        if !path.exists() {
            return Ok(SchemaStatus {
                backend: "sqlite",
                applied: Vec::new(),
                known: migrate::latest_version(),
            });
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let status = migrate::status(&pool).await;
        pool.close().await;
        status
    }

    /// The migrations this store's database has.
    pub async fn status(&self) -> Result<SchemaStatus> {
        migrate::status(&self.pool).await
    }
}

//! Persistence for quantd: the catalog of packs today; executions, shards, events and results as
//! the engine grows. SQLite in WAL mode is the embedded default (one file in the data directory);
//! the schema is plain SQL kept portable so a Postgres implementation can follow.
//!
//! The store never interprets market data or runs code: it records states and their changes,
//! each change in one transaction.

pub mod code;
pub mod error;
pub mod executions;
mod migrate;
pub mod packs;
pub mod tokens;
mod traits;

pub use code::{CodeName, CodeVersion};
pub use error::{Result, StoreError};
pub use executions::{
    AttemptFailure, ClaimedShard, Commit, Completion, Created, ExecutionFilter, ExecutionRecord,
    FailureOutcome, HealthSnapshot, Lease, Millis, NewExecution, OnComplete, QueueStats, Recovered,
    ShardDone, ShardRecord,
};
pub use packs::{NewPack, PackRecord};
pub use tokens::{IdempotencyRecord, NewToken, TokenRecord};
pub use traits::{AccessTokens, CodeRegistry, ExecutionQueue, PackCatalog, Page, Paged, Store};

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
    /// Opens (creating if needed) the database in `data_dir` and migrates it.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore> {
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(DB_FILE))
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
}

/// The store traits, for callers that use a concrete store: `use quantd_store::prelude::*;`.
pub mod prelude {
    pub use crate::{AccessTokens, CodeRegistry, ExecutionQueue, PackCatalog, Store};
}

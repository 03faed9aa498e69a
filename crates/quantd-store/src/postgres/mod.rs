//! The Postgres store, for many workers on many hosts: one database holds the catalog, the code
//! registry, tokens and the execution queue (executions, shards under leases, events, results).
//!
//! - [`rows`] decodes rows into [`crate::records`];
//! - [`queue`] and [`recover`] are the queue's write side, [`steps`] the transaction steps they
//!   are made of, [`create`] the creation of executions; [`claims`] and [`commits`] take the
//!   claims and commits a process's workers make at the same time in one transaction each
//!   ([`batch`]);
//! - [`reads`] is the queue's read side; [`patterns`] keeps patterns' steps and children;
//! - [`packs`], [`code`], [`agents`], [`rights`], [`tokens`], [`policies`] and [`webhooks`] are
//!   the other areas of the contract (deliveries are written by a trigger when an execution ends);
//! - [`migrate`] brings the schema up to date when the store opens, and reports it (`db check`);
//! - [`listen`] wakes other processes when events are written (`LISTEN`/`NOTIFY`, ids only).
//!
//! Concurrency comes from row locks, not from one writer. A claim takes its shard with
//! `FOR UPDATE SKIP LOCKED`, so claimers pass each other by; every transaction that appends
//! events locks its execution's row first, so sequence numbers stay gapless per execution.
//! Locks are taken shard first, then execution, and a transaction holding an execution's row
//! never waits for a shard's (ending an execution cancels only the pending shards no claimer
//! holds; a claimer that then finds the execution ended cancels its own), so writers never wait
//! for each other in a circle. An execution's row is locked `FOR NO KEY UPDATE` (what an
//! `UPDATE` of it takes), which the key-share locks of foreign-key checks (inserting its events
//! and results) never conflict with: two committers of one execution queue on its row instead of
//! deadlocking on a lock upgrade. Counts a decision depends on (open shards left) are read in a
//! statement after the execution's lock is held, so they see every commit that came before it.

mod agents;
mod batch;
mod claims;
mod code;
mod commits;
mod create;
mod listen;
mod migrate;
mod packs;
mod patterns;
mod policies;
mod queue;
mod reads;
mod recover;
mod rights;
mod rows;
mod steps;
mod tokens;
mod webhooks;

use crate::config::url_place;
use crate::error::{Result, StoreError};
use crate::schema::SchemaStatus;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Connections per store handle at most, unless configured (each process opens one pool; see
/// docs/limits.md).
pub const POOL_SIZE: u32 = 16;

/// How long opening a connection (or waiting for a free one) may take before it is an error.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The Postgres-backed store. Cloning gives another handle to the same pool (and the same
/// batches of claims and commits).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    claims: Arc<batch::Combiner<claims::ClaimRequest, claims::ClaimAnswer>>,
    commits: Arc<batch::Combiner<commits::CommitRequest, crate::records::Commit>>,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://…` or `postgresql://…`) and migrates it.
    /// A server that cannot be reached, and a schema newer than this build, are refused with
    /// what to check.
    pub async fn open(url: &str) -> Result<PgStore> {
        PgStore::open_with(url, POOL_SIZE).await
    }

    /// [`PgStore::open`] with a pool of at most `pool_size` connections.
    pub async fn open_with(url: &str, pool_size: u32) -> Result<PgStore> {
        let store = PgStore::connect_with(url, pool_size).await?;
        migrate::run(&store.pool).await?;
        Ok(store)
    }

    /// Connects without migrating (for [`PgStore::status`]): one connection is opened at once, so
    /// an unreachable server is reported here.
    pub async fn connect(url: &str) -> Result<PgStore> {
        PgStore::connect_with(url, POOL_SIZE).await
    }

    /// [`PgStore::connect`] with a pool of at most `pool_size` connections.
    pub async fn connect_with(url: &str, pool_size: u32) -> Result<PgStore> {
        let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Config {
            place: url_place(url),
            reason: format!(
                "it is not a Postgres URL this build can read ({e}); write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
            ),
        })?;
        // Generic plans for every prepared statement: the queue's statements run thousands of
        // times a second with parameters (arrays of a batch, LIMITs) that make Postgres plan
        // each execution again under its default (`auto` keeps custom plans when they look no
        // dearer), and planning was the largest part of a claim's or commit's server time. Every
        // statement is written to be index-driven whatever its parameters (the claim walks
        // executions in order; lists seek their index), so a generic plan is the right one.
        let options = options.options([("plan_cache_mode", "force_generic_plan")]);
        // One connection first, once, to report why the server cannot be reached (the pool
        // would retry a refused connection until its timeout and say only that it timed out).
        let unreachable = |reason: String| StoreError::Unreachable {
            place: url_place(url),
            reason,
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, options.connect()).await {
            Ok(Ok(conn)) => conn.close().await?,
            Ok(Err(e)) => return Err(unreachable(e.to_string())),
            Err(_) => {
                return Err(unreachable(format!(
                    "no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )));
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(pool_size.max(1))
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_lazy_with(options);
        Ok(PgStore {
            pool,
            claims: Arc::default(),
            commits: Arc::default(),
        })
    }

    /// The schema version this build migrates to.
    pub fn schema_version() -> i64 {
        migrate::latest_version()
    }

    /// The migrations the database has and the version this build knows; changes nothing.
    pub async fn status(&self) -> Result<SchemaStatus> {
        migrate::status(&self.pool).await
    }

    /// Applies the migrations the database does not have yet (as [`PgStore::open`] does).
    pub async fn migrate(&self) -> Result<SchemaStatus> {
        migrate::run(&self.pool).await?;
        self.status().await
    }
}

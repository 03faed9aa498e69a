//! Persistence for quantd behind one contract: the pack catalog, the code registry, access
//! tokens, webhooks and their deliveries, and the execution queue (executions, shards under leases, numbered events, shard
//! results, health snapshots).
//!
//! - [`records`]: the backend-neutral vocabulary every backend reads and writes;
//! - [`Store`] and its areas (`traits`): the contract the engine is written against, which every
//!   backend passes as one suite (`tests/contract.rs`);
//! - [`SqliteStore`] (`sqlite/`): the embedded default, one SQLite file (WAL) in the data
//!   directory;
//! - [`PgStore`] (`postgres/`): Postgres, for many workers on many hosts (claims with
//!   `FOR UPDATE SKIP LOCKED`, row locks for event numbers);
//! - [`AnyStore`]: the backend chosen at run time from a [`StoreConfig`], and what a database's
//!   schema is against this build ([`SchemaStatus`]).
//!
//! What the store never does: it never interprets market data, runs user code or decides
//! policy (retries, limits, quarantine thresholds are the engine's, passed in); it never
//! changes a state without recording the events of the change in the same transaction; it never
//! lets an outcome through from a claim that is no longer the shard's current one; and it never
//! panics on what it reads back: a row it cannot decode is [`StoreError::Corrupt`].

mod any;
mod config;
pub mod error;
mod policies;
mod postgres;
pub mod records;
mod schema;
mod sqlite;
mod traits;
mod webhooks;

pub use any::AnyStore;
pub use config::{Backend, StoreConfig};
pub use error::{Result, StoreError};
pub use policies::WorkspacePolicies;
pub use postgres::{POOL_SIZE as PG_POOL_SIZE, PgStore};
pub use records::{
    Added, AttemptFailure, AuditEntry, AuditFilter, ClaimScope, ClaimedShard, CodeName,
    CodeVersion, Commit, Completion, Created, ExecutionFilter, ExecutionRecord, FailureOutcome,
    HealthSnapshot, IdempotencyRecord, Lease, Millis, NewAuditEntry, NewExecution, NewPack,
    NewToken, OnComplete, PackRecord, PackTiming, Page, Paged, ParentLink, QueueStats, Recovered,
    ShardDone, ShardRecord, StepRow, TokenRecord,
};
pub use records::{
    DeliveryAttempt, DeliveryNext, DeliveryRecord, DeliveryState, DueDelivery, NewWebhook,
    WebhookRecord,
};
pub use records::{PRIORITY_STEP_MS, SHARD_TURN_MS};
pub use schema::SchemaStatus;
pub use sqlite::{DB_FILE, SqliteStore};
pub use traits::{
    AccessTokens, AgentRegistry, CodeRegistry, ExecutionLog, ExecutionQueue, PackCatalog,
    RightsRegistry, Store,
};
pub use webhooks::WebhookStore;

/// The store traits, for callers that call a store's methods (with [`ClaimScope`], which
/// [`ExecutionQueue::claim_shard`] takes): `use quantd_store::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AccessTokens, AgentRegistry, ClaimScope, CodeRegistry, ExecutionLog, ExecutionQueue,
        PackCatalog, RightsRegistry, Store, WebhookStore, WorkspacePolicies,
    };
}

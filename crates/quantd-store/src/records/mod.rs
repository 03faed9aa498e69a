//! The store's vocabulary, the same for every backend: the rows it keeps (executions, shards,
//! packs, code versions, tokens, the audit trail), what its methods take (a new execution, a shard's output, a
//! failed attempt, a page) and what they give (a claim, a commit's outcome, what recovery did).
//!
//! Nothing here knows a database: a backend (`sqlite/`, `postgres/`) decodes its rows into
//! these types, and the engine and the contract suite speak only these.

pub mod audit;
pub mod code;
pub mod executions;
pub mod packs;
pub mod pages;
pub mod tokens;
pub mod webhooks;

pub use audit::{AuditEntry, AuditFilter, NewAuditEntry};
pub use code::{Added, CodeName, CodeVersion};
pub use executions::{
    AttemptFailure, ClaimScope, ClaimedShard, Commit, Completion, Created, ExecutionFilter,
    ExecutionRecord, FailureOutcome, HealthSnapshot, Lease, Millis, NewExecution, OnComplete,
    PRIORITY_STEP_MS, ParentLink, QueueStats, Recovered, SHARD_TURN_MS, ShardDone, ShardRecord,
    StepRow, new_in_round, progress_event, quarantine_message,
};
pub use packs::{NewPack, PackRecord, PackTiming};
pub use pages::{Page, Paged};
pub use tokens::{IdempotencyRecord, NewToken, TokenRecord};
pub use webhooks::{
    DeliveryAttempt, DeliveryNext, DeliveryRecord, DeliveryState, DueDelivery, NewWebhook,
    WebhookRecord,
};

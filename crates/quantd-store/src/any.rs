//! The store chosen at run time: [`AnyStore`], an enum over the backends this build has,
//! opened from a [`StoreConfig`], and implementing every trait of the contract by handing each
//! call to its backend.
//!
//! An enum rather than `dyn` traits: the contract's methods are `async` (they return
//! `impl Future`) and some take closures (`impl Fn`), so the traits are not object-safe; making
//! them so would box every future and closure on the hot path (claim, commit). A `match` with
//! one arm per backend costs nothing, keeps the engine generic over `S: Store` (tests still use
//! a concrete store), and adding a backend is one variant here plus one arm in `delegate!`.

use crate::config::{Backend, StoreConfig};
use crate::error::Result;
use crate::policies::WorkspacePolicies;
use crate::postgres::PgStore;
use crate::records::{
    Added, AttemptFailure, AuditEntry, AuditFilter, ClaimScope, ClaimedShard, CodeName,
    CodeVersion, Commit, Created, ExecutionFilter, ExecutionRecord, IdempotencyRecord, Millis,
    NewAuditEntry, NewExecution, NewPack, NewToken, OnComplete, PackRecord, Page, Paged,
    QueueStats, Recovered, ShardDone, ShardRecord, StepRow, TokenRecord,
};
use crate::records::{
    DeliveryAttempt, DeliveryNext, DeliveryRecord, DueDelivery, NewWebhook, WebhookRecord,
};
use crate::schema::SchemaStatus;
use crate::sqlite::SqliteStore;
use crate::traits::{
    AccessTokens, AgentRegistry, CodeRegistry, ExecutionLog, ExecutionQueue, PackCatalog,
    RightsRegistry,
};
use crate::webhooks::WebhookStore;
use quantd_core::{
    CodeVersionId, ErrorClass, Event, EventRecord, ExecutionId, ExecutionState, PackId, Rights,
};
use serde_json::Value;
use std::collections::HashSet;

/// A store whose backend is chosen at run time (from configuration); every handle clones
/// cheaply and shares its backend's connections.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// The embedded SQLite store.
    Sqlite(SqliteStore),
    /// The Postgres store.
    Postgres(PgStore),
}

impl AnyStore {
    /// Opens (creating and migrating if needed) the store `config` names; a configuration that
    /// names no store this build has is refused before anything is created.
    pub async fn open(config: &StoreConfig) -> Result<AnyStore> {
        match config.backend()? {
            Backend::Sqlite { path } => {
                config.check_dir(&path)?;
                Ok(AnyStore::Sqlite(SqliteStore::open_file(&path).await?))
            }
            Backend::Postgres { url } => Ok(AnyStore::Postgres(
                PgStore::open_with(&url, config.pool_size.unwrap_or(crate::PG_POOL_SIZE)).await?,
            )),
        }
    }

    /// What the schema of the database `config` names is against this build, read without
    /// creating, migrating or changing anything (a SQLite file that does not exist yet has no
    /// migration); an unreachable server is [`crate::StoreError::Unreachable`].
    pub async fn status(config: &StoreConfig) -> Result<SchemaStatus> {
        match config.backend()? {
            Backend::Sqlite { path } => SqliteStore::status_of_file(&path).await,
            Backend::Postgres { url } => PgStore::connect(&url).await?.status().await,
        }
    }

    /// The migrations this store's database has (after opening, all this build knows).
    pub async fn schema(&self) -> Result<SchemaStatus> {
        match self {
            AnyStore::Sqlite(s) => s.status().await,
            AnyStore::Postgres(s) => s.status().await,
        }
    }

    /// The backend's name (`sqlite`, `postgres`), for logs and diagnostics.
    pub fn backend_name(&self) -> &'static str {
        match self {
            AnyStore::Sqlite(_) => "sqlite",
            AnyStore::Postgres(_) => "postgres",
        }
    }
}

impl From<PgStore> for AnyStore {
    fn from(s: PgStore) -> Self {
        AnyStore::Postgres(s)
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(s: SqliteStore) -> Self {
        AnyStore::Sqlite(s)
    }
}

/// Trait methods that hand the call, arguments unchanged, to the backend's implementation.
macro_rules! delegate {
    ($(fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty;)*) => {
        $(
            async fn $name(&self $(, $arg: $ty)*) -> $ret {
                match self {
                    AnyStore::Sqlite(s) => s.$name($($arg),*).await,
                    AnyStore::Postgres(s) => s.$name($($arg),*).await,
                }
            }
        )*
    };
}

impl PackCatalog for AnyStore {
    delegate! {
        fn begin_import(&self, p: &NewPack) -> Result<()>;
        fn make_fresh(&self, name: &str, id: &PackId, rights: Option<&Rights>) -> Result<()>;
        fn fail_import(&self, name: &str, id: &PackId, message: &str) -> Result<()>;
        fn fail_orphaned_imports(
            &self,
            importer_alive: impl Fn(&str) -> bool + Send
        ) -> Result<Vec<PackRecord>>;
        fn list_packs(&self, page: &Page) -> Result<Paged<PackRecord>>;
        fn find_packs(&self, key: &str) -> Result<Vec<PackRecord>>;
        fn newest_fresh_pack(&self) -> Result<Option<PackRecord>>;
    }
}

impl CodeRegistry for AnyStore {
    delegate! {
        fn add_code(
            &self,
            workspace: &str,
            name: &str,
            id: &CodeVersionId,
            language: &str,
            source: &str,
            params: &[String]
        ) -> Result<Added>;
        fn code_version(
            &self,
            workspace: &str,
            name: &str,
            version: Option<u32>
        ) -> Result<Option<CodeVersion>>;
        fn code_by_id(&self, id: &CodeVersionId) -> Result<Option<CodeVersion>>;
        fn code_versions(
            &self,
            workspace: &str,
            name: &str,
            page: &Page
        ) -> Result<Paged<CodeVersion>>;
        fn code_names(&self, workspace: &str, page: &Page) -> Result<Paged<CodeName>>;
        fn set_current_code(&self, workspace: &str, name: &str, version: u32) -> Result<bool>;
        fn remove_code(&self, workspace: &str, name: &str) -> Result<bool>;
    }
}

impl ExecutionQueue for AnyStore {
    fn shared_across_hosts(&self) -> bool {
        match self {
            AnyStore::Sqlite(s) => s.shared_across_hosts(),
            AnyStore::Postgres(s) => s.shared_across_hosts(),
        }
    }

    delegate! {
        fn event_wakeups(&self) -> Result<Option<tokio::sync::mpsc::Receiver<ExecutionId>>>;
        fn create_execution(&self, e: &NewExecution) -> Result<Created>;
        fn create_executions(&self, batch: &[NewExecution]) -> Result<Vec<Option<Created>>>;
        fn claim_shard(
            &self,
            owner: &str,
            now: Millis,
            lease_until: Millis,
            scope: ClaimScope<'_>
        ) -> Result<Option<(ClaimedShard, Vec<EventRecord>)>>;
        fn heartbeat(&self, owner: &str, lease_until: Millis) -> Result<u64>;
        fn complete_shard(
            &self,
            shard: &ClaimedShard,
            owner: &str,
            now: Millis,
            done: &ShardDone<'_>,
            on_complete: Option<OnComplete>
        ) -> Result<Commit>;
        fn fail_shard(
            &self,
            shard: &ClaimedShard,
            owner: &str,
            now: Millis,
            failure: &AttemptFailure<'_>
        ) -> Result<Commit>;
        fn stop_shard(&self, shard: &ClaimedShard, owner: &str, now: Millis) -> Result<bool>;
        fn release_shard(&self, shard: &ClaimedShard, owner: &str) -> Result<bool>;
        fn release_shard_until(
            &self,
            shard: &ClaimedShard,
            owner: &str,
            not_before: Millis
        ) -> Result<bool>;
        fn release_owned(&self, owner: &str) -> Result<u64>;
        fn change_execution_state(
            &self,
            exec: &ExecutionId,
            to: ExecutionState,
            now: Millis
        ) -> Result<Vec<EventRecord>>;
        fn recover_shards(
            &self,
            now: Millis,
            owner_alive: impl Fn(&str) -> bool + Send,
            quarantine_after: u32
        ) -> Result<Recovered>;
        fn requeue_quarantined(&self, exec: &ExecutionId, now: Millis) -> Result<Vec<EventRecord>>;
        fn record_steps(
            &self,
            exec: &ExecutionId,
            rows: &[StepRow],
            events: Vec<Event>,
            progress: (u32, u32, u32),
            now: Millis
        ) -> Result<Vec<EventRecord>>;
        fn end_orchestrated(
            &self,
            exec: &ExecutionId,
            summary: &Value,
            error: Option<(ErrorClass, &str)>,
            now: Millis
        ) -> Result<Vec<EventRecord>>;
    }
}

impl ExecutionLog for AnyStore {
    delegate! {
        fn execution(&self, id: &ExecutionId) -> Result<Option<ExecutionRecord>>;
        fn list_executions(&self, f: &ExecutionFilter) -> Result<Paged<ExecutionRecord>>;
        fn unfinished_executions(&self) -> Result<Vec<ExecutionRecord>>;
        fn children(&self, parent: &ExecutionId) -> Result<Vec<ExecutionRecord>>;
        fn pattern_steps(&self, exec: &ExecutionId) -> Result<Vec<StepRow>>;
        fn completed_by_fingerprint(&self, fingerprint: &str) -> Result<Option<ExecutionRecord>>;
        fn shards(&self, id: &ExecutionId) -> Result<Vec<ShardRecord>>;
        fn events_after(&self, id: &ExecutionId, after: u64, limit: u32) -> Result<Vec<EventRecord>>;
        fn events_before(&self, id: &ExecutionId, before: u64, limit: u32) -> Result<Vec<EventRecord>>;
        fn result_shards(&self, id: &ExecutionId) -> Result<Vec<u32>>;
        fn shard_result(&self, id: &ExecutionId, idx: u32) -> Result<Option<Vec<u8>>>;
        fn set_summary(&self, id: &ExecutionId, summary: &Value) -> Result<()>;
        fn queue_stats(&self) -> Result<QueueStats>;
        fn record_health(
            &self,
            id: &ExecutionId,
            now: Millis,
            score: u8,
            band: &str,
            body: &Value
        ) -> Result<EventRecord>;
        fn record_event(&self, id: &ExecutionId, now: Millis, event: Event) -> Result<EventRecord>;
    }
}

impl AgentRegistry for AnyStore {
    delegate! {
        fn put_agent(&self, workspace: &str, name: &str, body: &Value, now: Millis) -> Result<bool>;
        fn remove_agent(&self, workspace: &str, name: &str) -> Result<bool>;
        fn agents(&self, workspace: &str) -> Result<Vec<(String, Value)>>;
    }
}

impl WebhookStore for AnyStore {
    delegate! {
        fn create_webhook(&self, w: &NewWebhook, max_per_workspace: u32) -> Result<bool>;
        fn webhooks(&self, workspace: &str) -> Result<Vec<WebhookRecord>>;
        fn remove_webhook(&self, workspace: &str, id: &str) -> Result<bool>;
        fn webhook_deliveries(&self, workspace: &str, id: &str, limit: u32) -> Result<Option<Vec<DeliveryRecord>>>;
        fn claim_deliveries(&self, now: Millis, lease_until: Millis, limit: u32) -> Result<Vec<DueDelivery>>;
        fn record_delivery_attempt(&self, id: &str, attempt: &DeliveryAttempt, next: DeliveryNext, now: Millis) -> Result<bool>;
    }
}

impl WorkspacePolicies for AnyStore {
    delegate! {
        fn put_workspace_policy(&self, workspace: &str, body: &Value, now: Millis) -> Result<()>;
        fn workspace_policy(&self, workspace: &str) -> Result<Option<Value>>;
    }
}

impl AccessTokens for AnyStore {
    delegate! {
        fn create_token(&self, t: &NewToken) -> Result<()>;
        fn token(&self, id: &str) -> Result<Option<TokenRecord>>;
        fn list_tokens(&self, workspace: Option<&str>) -> Result<Vec<TokenRecord>>;
        fn live_tokens(&self, ids: &[String]) -> Result<HashSet<String>>;
        fn revoke_token(&self, id: &str) -> Result<bool>;
        fn idempotency_key(&self, workspace: &str, key: &str) -> Result<Option<IdempotencyRecord>>;
        fn save_idempotency_key(
            &self,
            workspace: &str,
            key: &str,
            request_hash: &str,
            execution: &ExecutionId,
            now: Millis
        ) -> Result<bool>;
    }
}

impl RightsRegistry for AnyStore {
    delegate! {
        fn put_provider(&self, name: &str, body: &Value, now: Millis) -> Result<bool>;
        fn remove_provider(&self, name: &str) -> Result<bool>;
        fn providers(&self) -> Result<Vec<(String, Value)>>;
        fn set_pack_provider(&self, name: &str, provider: Option<&str>) -> Result<u64>;
        fn packs_by_id(&self, id: &PackId) -> Result<Vec<PackRecord>>;
        fn append_audit(&self, e: &NewAuditEntry) -> Result<()>;
        fn audit(&self, filter: &AuditFilter, page: &Page) -> Result<Paged<AuditEntry>>;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreError;

    #[tokio::test]
    async fn opens_the_database_the_configuration_names_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let base = StoreConfig::in_data_dir(&data);
        let store = AnyStore::open(&base).await.unwrap();
        assert_eq!(store.backend_name(), "sqlite");
        assert!(store.queue_stats().await.unwrap().executions.is_empty());
        assert!(data.join("quantd.db").exists());

        let elsewhere = dir.path().join("elsewhere.db");
        let url = format!("sqlite://{}", elsewhere.display());
        AnyStore::open(&base.clone().with_url(url)).await.unwrap();
        assert!(elsewhere.exists());

        let missing = dir.path().join("no-such-dir");
        for config in [
            base.clone()
                .with_url(format!("sqlite://{}/q.db", missing.display())),
            StoreConfig::in_data_dir(&missing),
        ] {
            let err = AnyStore::open(&config).await.unwrap_err();
            assert!(matches!(err, StoreError::Config { .. }), "{err:?}");
            assert!(err.to_string().contains("does not exist"), "{err}");
        }
        // Nothing listens on port 1: the error names the URL without its password and what to
        // check.
        let err = AnyStore::open(&base.with_url("postgres://u:pw@127.0.0.1:1/q"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Unreachable { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("postgres://***@127.0.0.1:1/q"), "{text}");
        assert!(text.contains("check that the server is running"), "{text}");
        assert!(!text.contains("pw"), "a password leaked: {text}");
        assert!(!missing.exists(), "a refused configuration creates nothing");
    }
}

//! What the suite needs from a backend ([`Harness`]: a fresh database, and more handles to it as
//! other processes would open), and the builders its cases share.

use quantd_core::{Event, EventRecord, ExecutionId, ExecutionKind};
use quantd_store::prelude::*;
use quantd_store::{
    AnyStore, AttemptFailure, ClaimedShard, Commit, FailureOutcome, Millis, NewExecution, PgStore,
    ShardDone, SqliteStore, StoreConfig,
};
use std::future::Future;

/// A backend under test: one fresh database per case.
pub trait Harness: Send + Sync + Sized + 'static {
    /// The store type.
    type Store: Store;
    /// A fresh, empty database.
    fn new() -> impl Future<Output = Self> + Send;
    /// Another handle to the same database, as another process would open it (its own
    /// connections; nothing shared with earlier handles but the database).
    fn open(&self) -> impl Future<Output = Self::Store> + Send;
}

/// The embedded SQLite store, one file in a temporary data directory.
pub struct Sqlite {
    dir: tempfile::TempDir,
}

impl Harness for Sqlite {
    type Store = SqliteStore;
    async fn new() -> Self {
        Sqlite {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }
    async fn open(&self) -> SqliteStore {
        SqliteStore::open(self.dir.path())
            .await
            .expect("the store opens")
    }
}

/// The store chosen at run time ([`AnyStore`]) over SQLite, opened from a URL naming a file
/// outside the data directory: what `serve` and the CLI run on.
pub struct AnySqlite {
    dir: tempfile::TempDir,
}

impl Harness for AnySqlite {
    type Store = AnyStore;
    async fn new() -> Self {
        AnySqlite {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }
    async fn open(&self) -> AnyStore {
        let file = self.dir.path().join("queue.db");
        let config = StoreConfig::in_data_dir(self.dir.path().join("data"))
            .with_url(format!("sqlite://{}", file.display()));
        AnyStore::open(&config).await.expect("the store opens")
    }
}

/// The Postgres server the Postgres cases run on: `QUANTD_TEST_DATABASE_URL`, or the local
/// test server (trust authentication, database `test`).
pub fn test_database_url() -> String {
    std::env::var("QUANTD_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A fresh schema of the test database, dropped when the value is dropped: its URL makes every
/// connection work in that schema only (`search_path`), so cases run side by side.
pub struct PgSchema {
    base: String,
    name: String,
}

impl PgSchema {
    /// Creates a schema with a unique name; panics, saying what to start, when the server cannot
    /// be reached (the Postgres cases fail, never skip).
    pub async fn create() -> PgSchema {
        use sqlx::{ConnectOptions, Connection};
        let base = test_database_url();
        let mut conn = base
            .parse::<sqlx::postgres::PgConnectOptions>()
            .expect("QUANTD_TEST_DATABASE_URL is a Postgres URL")
            .connect()
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "the Postgres contract cases need a server at {base} ({e}); start it \
                     (pg_ctlcluster 15 main start) or set QUANTD_TEST_DATABASE_URL"
                )
            });
        let name = format!("quantd_test_{}_{:x}", std::process::id(), rand_suffix());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test schema");
        conn.close().await.ok();
        PgSchema { base, name }
    }

    /// The URL of the schema: the test database with `search_path` set to it.
    pub fn url(&self) -> String {
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.base, self.name)
    }
}

/// A number that differs between the schemas of one process.
fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    (nanos << 16) | NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        // On its own thread and runtime: the test's runtime may be shutting down.
        let (base, name) = (self.base.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                use sqlx::{ConnectOptions, Connection};
                let mut conn = base
                    .parse::<sqlx::postgres::PgConnectOptions>()?
                    .connect()
                    .await?;
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE"
                )))
                .execute(&mut conn)
                .await?;
                conn.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("could not drop test schema {}: {e}", self.name);
        }
    }
}

/// The Postgres store ([`PgStore`]) in a fresh schema of the test database.
pub struct Postgres {
    schema: PgSchema,
}

impl Harness for Postgres {
    type Store = PgStore;
    async fn new() -> Self {
        Postgres {
            schema: PgSchema::create().await,
        }
    }
    async fn open(&self) -> PgStore {
        PgStore::open(&self.schema.url())
            .await
            .expect("the store opens")
    }
}

/// The store chosen at run time ([`AnyStore`]) over Postgres, opened from its URL as `serve`,
/// `worker` and the CLI open it.
pub struct AnyPostgres {
    schema: PgSchema,
    dir: tempfile::TempDir,
}

impl Harness for AnyPostgres {
    type Store = AnyStore;
    async fn new() -> Self {
        AnyPostgres {
            schema: PgSchema::create().await,
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }
    async fn open(&self) -> AnyStore {
        let config = StoreConfig::in_data_dir(self.dir.path()).with_url(self.schema.url());
        let store = AnyStore::open(&config).await.expect("the store opens");
        assert_eq!(store.backend_name(), "postgres");
        store
    }
}

/// The time every case starts at (Unix ms); cases move time forward explicitly.
pub const T0: Millis = 1_700_000_000_000;

/// A lease that outlives every case unless it is recovered on purpose.
pub const LONG: Millis = T0 + 3_600_000;

/// A new execution `n` of `workspace` with `shards` shards (payload `{"shard": i}`), created at
/// `T0 + n` so that executions with larger `n` are newer.
pub fn execution(n: u64, workspace: &str, shards: usize) -> NewExecution {
    NewExecution {
        id: ExecutionId::from_parts(T0 as u64 + n, u128::from(n) * 7919 + 1),
        workspace: workspace.into(),
        kind: ExecutionKind::Scan,
        name: Some(format!("code-{}", n % 2)),
        spec: serde_json::json!({"n": n}),
        fingerprint: format!("fp-{n}"),
        pack_id: "pack".into(),
        code_version: None,
        options: serde_json::json!({}),
        shards: (0..shards)
            .map(|i| serde_json::json!({ "shard": i }))
            .collect(),
        now: T0 + n as Millis,
        first_claim: None,
        parent: None,
        orchestrated: false,
        priority: 0,
    }
}

/// Creates `execution(n, "default", shards)` and returns its id.
pub async fn create(store: &impl Store, n: u64, shards: usize) -> ExecutionId {
    let e = execution(n, "default", shards);
    store.create_execution(&e).await.expect("created");
    e.id
}

/// Claims the next shard (of `only`) for `owner` at `now` under a lease until `until`.
pub async fn claim(
    store: &impl Store,
    owner: &str,
    now: Millis,
    until: Millis,
    only: Option<&ExecutionId>,
) -> Option<ClaimedShard> {
    store
        .claim_shard(owner, now, until, only.into())
        .await
        .expect("claim")
        .map(|(c, _)| c)
}

/// A shard's output: `body`, with one row per byte and ten bars per row, under no limit.
pub fn output(body: &[u8]) -> ShardDone<'_> {
    ShardDone {
        bars: body.len() as u64 * 10,
        rows: body.len() as u64,
        body,
        max_result_bytes: u64::MAX,
    }
}

/// Completes a claim with `body`.
pub async fn complete(
    store: &impl Store,
    shard: &ClaimedShard,
    owner: &str,
    now: Millis,
    body: &[u8],
) -> Commit {
    store
        .complete_shard(shard, owner, now, &output(body), None)
        .await
        .expect("complete")
}

/// A failed attempt of class `internal` with `message`, followed by `outcome`.
pub fn failure(message: &str, outcome: FailureOutcome) -> AttemptFailure<'_> {
    AttemptFailure {
        class: quantd_core::ErrorClass::Internal,
        message,
        crash: false,
        outcome,
    }
}

/// The events a commit appended (none for a lost lease or a refused commit).
pub fn committed(c: Commit) -> Vec<EventRecord> {
    match c {
        Commit::Committed(events) => events,
        other => panic!("expected a commit, got {other:?}"),
    }
}

/// Every stored event of an execution, in order.
pub async fn all_events(store: &impl Store, id: &ExecutionId) -> Vec<EventRecord> {
    store.events_after(id, 0, u32::MAX).await.expect("events")
}

/// Asserts that the events are numbered 1, 2, …, n in order.
pub fn assert_gapless(events: &[EventRecord]) {
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    let expected: Vec<u64> = (1..=events.len() as u64).collect();
    assert_eq!(seqs, expected, "events must be numbered 1..=n without gaps");
}

/// Whether any event is `ExecutionFailed`.
pub fn failed_events(events: &[EventRecord]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e.event, Event::ExecutionFailed { .. }))
        .count()
}

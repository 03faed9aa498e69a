//! What the suite needs from a backend ([`Harness`]: a fresh database, and more handles to it as
//! other processes would open), and the builders its cases share.

use quantd_core::{Event, EventRecord, ExecutionId, ExecutionKind};
use quantd_store::prelude::*;
use quantd_store::{
    AnyStore, AttemptFailure, ClaimedShard, Commit, FailureOutcome, Millis, NewExecution,
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
        .claim_shard(owner, now, until, only)
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

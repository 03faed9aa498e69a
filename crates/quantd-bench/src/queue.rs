//! `quantd-bench queue`: the cost of one claim of the SQLite queue while a backlog waits.
//!
//! `--backlog` pending executions of `--shards` shards each are stored (one workspace's big
//! submission), then another workspace submits one execution of as many shards, then `--claims`
//! shards are claimed and completed one after another, the way a worker does; each
//! `claim_shard` (the statement that picks and leases the next shard, under the store's writer
//! lock) is timed, and the claims that went by before the other workspace's first shard was
//! claimed are counted (turns: docs/architecture.md, "Claim order"; oldest first, it would wait
//! for the whole backlog). The peer is the pick as it was before migration 0011 (every pending
//! shard joined to its execution and sorted), run read-only on the same database file.

use anyhow::Context;
use clap::Args;
use quantd_core::ExecutionKind;
use quantd_engine::{DataDir, Packs};
use quantd_store::prelude::*;
use std::process::ExitCode;
use std::time::Instant;

/// Arguments of `queue`.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// Pending executions waiting in the queue.
    #[arg(long, default_value_t = 50_000)]
    pub backlog: usize,
    /// Shards of each execution.
    #[arg(long, default_value_t = 4)]
    pub shards: usize,
    /// Claims timed (each followed by the shard's commit).
    #[arg(long, default_value_t = 200)]
    pub claims: usize,
}

/// The claim's pick before migration 0011, as the peer.
const OLD_PICK: &str = "SELECT s.execution_id, s.idx FROM shards s JOIN executions e ON e.id = s.execution_id \
     WHERE s.state = 'pending' AND s.not_before <= ? AND e.state IN ('pending', 'running') \
     AND (? IS NULL OR e.id = ? OR e.root_id = ?) ORDER BY e.created_at, e.id, s.idx LIMIT 1";

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted
        .get(((sorted.len().max(1) - 1) as f64 * p).round() as usize)
        .copied()
        .unwrap_or(f64::NAN)
}

/// Stores the backlog in batches of 2,000.
async fn fill<S: Store>(store: &S, a: &QueueArgs, now: i64) -> anyhow::Result<()> {
    let mut batch = Vec::with_capacity(2_000);
    for i in 0..a.backlog {
        let at = now - (a.backlog - i) as i64;
        batch.push(crate::measure::stored_execution(
            i,
            at,
            "busy",
            ExecutionKind::Scan,
            Some("backlog".into()),
            a.shards,
        ));
        if batch.len() == 2_000 || i + 1 == a.backlog {
            store.create_executions(&batch).await?;
            batch.clear();
        }
    }
    Ok(())
}

/// Runs `quantd-bench queue`.
pub async fn run(a: QueueArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let packs = Packs::open(DataDir::new(dir.path())).await?;
    let store = packs.store();
    let now = chrono::Utc::now().timestamp_millis();
    let t = Instant::now();
    fill(store, &a, now).await?;
    eprintln!(
        "stored {} pending executions × {} shards in {:.1} s",
        a.backlog,
        a.shards,
        t.elapsed().as_secs_f64()
    );
    let newcomer = crate::measure::stored_execution(
        a.backlog,
        now,
        "quiet",
        ExecutionKind::Scan,
        None,
        a.shards,
    );
    store.create_execution(&newcomer).await?;
    let mut waited = None;
    let mut claims = Vec::with_capacity(a.claims);
    for i in 0..a.claims {
        let t = Instant::now();
        let (shard, _) = store
            .claim_shard("bench", now, now + 60_000, ClaimScope::Any)
            .await?
            .context("the backlog has shards to claim")?;
        claims.push(t.elapsed().as_secs_f64() * 1e3);
        if shard.execution == newcomer.id && waited.is_none() {
            waited = Some(i);
        }
        let done = quantd_store::ShardDone {
            bars: 250,
            rows: 0,
            body: &[],
            max_result_bytes: u64::MAX,
        };
        store
            .complete_shard(&shard, "bench", now, &done, None)
            .await?;
    }
    claims.sort_by(f64::total_cmp);

    // The peer: the old pick on the same file (read-only; the queue is as the claims left it).
    let db = dir.path().join("quantd.db");
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&db)
                .read_only(true),
        )
        .await
        .with_context(|| format!("opening {}", db.display()))?;
    let mut peer = Vec::with_capacity(20);
    for i in 0..23 {
        let t = Instant::now();
        let row: Option<(String, i64)> = sqlx::query_as(OLD_PICK)
            .bind(now)
            .bind(None::<&str>)
            .bind(None::<&str>)
            .bind(None::<&str>)
            .fetch_optional(&pool)
            .await?;
        anyhow::ensure!(row.is_some(), "the old pick found no shard");
        if i >= 3 {
            peer.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    peer.sort_by(f64::total_cmp);
    crate::measure::table(
        &["with a backlog of pending shards", "p50 ms", "p99 ms"],
        &[
            vec![
                format!("claim_shard (pick + lease + events), {} claims", a.claims),
                format!("{:.3}", pct(&claims, 0.5)),
                format!("{:.3}", pct(&claims, 0.99)),
            ],
            vec![
                "peer: the pick before migration 0011 (SELECT only)".into(),
                format!("{:.3}", pct(&peer, 0.5)),
                format!("{:.3}", pct(&peer, 0.99)),
            ],
        ],
    );
    let waited = waited.map_or(format!("more than {}", a.claims), |n| n.to_string());
    eprintln!(
        "another workspace's new execution: its first shard claimed after {waited} claims of the backlog's {} shards",
        a.backlog * a.shards
    );
    println!(
        "{}",
        serde_json::json!({
            "backlog_executions": a.backlog,
            "pending_shards": a.backlog * a.shards,
            "claim": {"p50_ms": pct(&claims, 0.5), "p99_ms": pct(&claims, 0.99)},
            "peer_old_pick": {"p50_ms": pct(&peer, 0.5), "p99_ms": pct(&peer, 0.99)},
            "claims_before_another_workspace": waited,
        })
    );
    Ok(ExitCode::SUCCESS)
}

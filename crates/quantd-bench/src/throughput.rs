//! `quantd-bench throughput`: how many shards a queue hands out and takes back per second when
//! several worker processes share it, on SQLite (one data directory) and on Postgres.
//!
//! `--shards` empty shards are stored, in two shapes measured one after the other: as many
//! executions of one shard (independent jobs), and as executions of 200 shards (a wide sweep,
//! whose shards' claims and commits take turns on their execution's row, which numbers its
//! events). `--workers` processes (this binary, `throughput-worker`) open the store, say they are
//! ready, and on one signal each runs `--slots` tasks (a worker process's job slots, `quantd
//! worker --workers N`) that loop `claim_shard` → `complete_shard` — what a worker does around
//! every shard, with its lease, its fenced commit and its events — until the queue is empty. The
//! figure is shards over the time from the signal to the last process's exit; the sum of what the
//! processes committed must be every shard exactly once. Each Postgres run uses a fresh database
//! on `--database-url`'s server, dropped afterwards.

use anyhow::{Context, bail, ensure};
use clap::Args;
use quantd_core::ExecutionKind;
use quantd_store::prelude::*;
use quantd_store::{AnyStore, StoreConfig};
use sqlx::{ConnectOptions, Connection};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Instant;

/// The shapes measured: shards per execution.
const SHAPES: [usize; 2] = [1, 200];

/// Arguments of `throughput`.
#[derive(Debug, Args)]
pub struct ThroughputArgs {
    /// Worker processes.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Job slots of each worker process (tasks claiming and committing at the same time; on
    /// Postgres the claims and commits of a process's slots share transactions).
    #[arg(long, default_value_t = 16)]
    pub slots: usize,
    /// Empty shards to run through the queue.
    #[arg(long, default_value_t = 20_000)]
    pub shards: usize,
    /// The Postgres server (a fresh database is made on it, then dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub database_url: String,
    /// Only this store: `sqlite` or `postgres` (default both).
    #[arg(long)]
    pub only: Option<String>,
    /// Diagnosis: on Postgres, disable the trigger that NOTIFYs event inserts, to see its cost.
    #[arg(long)]
    pub without_notify: bool,
}

/// Arguments of `throughput-worker` (started by `throughput`).
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The data directory (the SQLite store's, or the Postgres store's scratch).
    #[arg(long)]
    pub dir: PathBuf,
    /// The database URL (Postgres), if not the data directory's SQLite file.
    #[arg(long)]
    pub url: Option<String>,
    /// The worker's lease owner name.
    #[arg(long)]
    pub owner: String,
    /// Job slots (tasks claiming and committing at the same time).
    #[arg(long, default_value_t = 1)]
    pub slots: usize,
}

fn config(dir: &Path, url: Option<&str>) -> StoreConfig {
    let c = StoreConfig::in_data_dir(dir);
    match url {
        Some(u) => c.with_url(u),
        None => c,
    }
}

/// Runs `quantd-bench throughput`.
pub async fn run(a: ThroughputArgs) -> anyhow::Result<ExitCode> {
    let mut rows = Vec::new();
    let mut json = serde_json::Map::new();
    for backend in ["sqlite", "postgres"] {
        if a.only.as_deref().is_some_and(|o| o != backend) {
            continue;
        }
        let mut rates = serde_json::Map::new();
        for per in SHAPES {
            let dir = tempfile::tempdir()?;
            let fresh = match backend {
                "postgres" => Some(FreshDatabase::create(&a.database_url).await?),
                _ => None,
            };
            let url = fresh.as_ref().map(|f| f.url.clone());
            let rate = measure(&a, per, dir.path(), url.as_deref()).await;
            if let Some(f) = fresh {
                f.drop_it().await?;
            }
            let rate = rate?;
            rows.push(vec![
                backend.to_string(),
                format!("{} executions × {per}", a.shards.div_ceil(per)),
                format!("{} × {} slots", a.workers, a.slots),
                format!("{rate:.0}"),
            ]);
            rates.insert(format!("shards_per_s_{per}_per_execution"), rate.into());
        }
        json.insert(backend.into(), rates.into());
    }
    crate::measure::table(
        &[
            "store",
            "shards",
            "worker processes × slots",
            "shards/s (claim → complete)",
        ],
        &rows,
    );
    println!("{}", serde_json::Value::Object(json));
    Ok(ExitCode::SUCCESS)
}

/// Fills the queue, runs the workers, returns shards per second.
async fn measure(
    a: &ThroughputArgs,
    per: usize,
    dir: &Path,
    url: Option<&str>,
) -> anyhow::Result<f64> {
    let store = AnyStore::open(&config(dir, url)).await?;
    if let (true, Some(u)) = (a.without_notify, url) {
        let mut conn = u
            .parse::<sqlx::postgres::PgConnectOptions>()?
            .connect()
            .await?;
        sqlx::raw_sql("ALTER TABLE events DISABLE TRIGGER events_notify")
            .execute(&mut conn)
            .await?;
        conn.close().await?;
    }
    let now = chrono::Utc::now().timestamp_millis() - 1_000;
    let executions = a.shards.div_ceil(per);
    let batch: Vec<_> = (0..executions)
        .map(|i| {
            let shards = per.min(a.shards - i * per);
            crate::measure::stored_execution(
                i,
                now - (executions - i) as i64,
                "bench",
                ExecutionKind::Scan,
                None,
                shards,
            )
        })
        .collect();
    for chunk in batch.chunks(500) {
        store.create_executions(chunk).await?;
    }
    drop(store);
    let exe = std::env::current_exe()?;
    let mut children: Vec<(Child, BufReader<std::process::ChildStdout>)> = (0..a.workers)
        .map(|w| -> anyhow::Result<_> {
            let mut c = Command::new(&exe);
            c.args([
                "throughput-worker",
                "--owner",
                &format!("bench-{w}"),
                "--slots",
                &a.slots.to_string(),
                "--dir",
            ])
            .arg(dir);
            if let Some(u) = url {
                c.args(["--url", u]);
            }
            let mut child = c
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .context("starting a worker process")?;
            let out = BufReader::new(child.stdout.take().context("stdout")?);
            Ok((child, out))
        })
        .collect::<anyhow::Result<_>>()?;
    for (_, out) in &mut children {
        let mut line = String::new();
        out.read_line(&mut line)?;
        ensure!(line.trim() == "ready", "a worker said {line:?}");
    }
    let t = Instant::now();
    for (child, _) in &mut children {
        writeln!(child.stdin.as_mut().context("stdin")?, "go")?;
    }
    let mut committed = 0usize;
    for (mut child, mut out) in children {
        let mut line = String::new();
        out.read_line(&mut line)?;
        ensure!(child.wait()?.success(), "a worker failed");
        committed += line
            .trim()
            .strip_prefix("committed ")
            .and_then(|n| n.parse::<usize>().ok())
            .with_context(|| format!("a worker said {line:?}"))?;
    }
    let secs = t.elapsed().as_secs_f64();
    if committed != a.shards {
        bail!("the workers committed {committed} shards of {}", a.shards);
    }
    Ok(a.shards as f64 / secs)
}

/// Runs one worker process of `throughput`.
pub async fn worker(a: WorkerArgs) -> anyhow::Result<ExitCode> {
    let store = AnyStore::open(&config(&a.dir, a.url.as_deref())).await?;
    println!("ready");
    let mut go = String::new();
    std::io::stdin().read_line(&mut go)?;
    let mut slots = tokio::task::JoinSet::new();
    for _ in 0..a.slots.max(1) {
        let (store, owner) = (store.clone(), a.owner.clone());
        slots.spawn(async move { run_slot(&store, &owner).await });
    }
    let mut committed = 0usize;
    while let Some(n) = slots.join_next().await {
        committed += n??;
    }
    println!("committed {committed}");
    Ok(ExitCode::SUCCESS)
}

/// A database of its own on the Postgres server.
pub(crate) struct FreshDatabase {
    server: String,
    name: String,
    pub(crate) url: String,
}

impl FreshDatabase {
    pub(crate) async fn create(server: &str) -> anyhow::Result<FreshDatabase> {
        let name = format!("quantd_bench_{}", std::process::id());
        let (base, _) = server.rsplit_once('/').context("a URL with a database")?;
        let db = FreshDatabase {
            server: server.into(),
            url: format!("{base}/{name}"),
            name,
        };
        db.sql(&format!("DROP DATABASE IF EXISTS {}", db.name))
            .await?;
        db.sql(&format!("CREATE DATABASE {}", db.name)).await?;
        Ok(db)
    }

    async fn sql(&self, sql: &str) -> anyhow::Result<()> {
        let mut conn = self
            .server
            .parse::<sqlx::postgres::PgConnectOptions>()?
            .connect()
            .await
            .with_context(|| format!("connecting to {}", self.server))?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string()))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        Ok(())
    }

    pub(crate) async fn drop_it(self) -> anyhow::Result<()> {
        self.sql(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .await
    }
}

/// One job slot of a worker process: claims and commits empty shards until none is left;
/// returns how many it committed.
async fn run_slot(store: &AnyStore, owner: &str) -> anyhow::Result<usize> {
    let done = quantd_store::ShardDone {
        bars: 0,
        rows: 0,
        body: &[],
        max_result_bytes: u64::MAX,
    };
    let mut committed = 0;
    loop {
        let now = chrono::Utc::now().timestamp_millis();
        let Some((shard, _)) = store
            .claim_shard(owner, now, now + 60_000, ClaimScope::Any)
            .await?
        else {
            return Ok(committed);
        };
        match store
            .complete_shard(&shard, owner, now, &done, None)
            .await?
        {
            quantd_store::Commit::Committed(_) => committed += 1,
            other => bail!("a commit was refused: {other:?}"),
        }
    }
}

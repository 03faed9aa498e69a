//! The reference sweep split across `quantd worker` processes on Postgres (`quantd-bench sweep
//! --postgres URL`): is the store the bottleneck when the work leaves the process?
//!
//! A fresh database on the server; the pack imported into it from the benchmark's data
//! directory (the workers share that directory, so no pack is copied); `--worker-processes`
//! `quantd worker --workers 1` processes started and idle (as in a deployment, they were there
//! before the work); then the sweep submitted with `--detach`. The time runs from the submission
//! (a whole `quantd sweep --detach` process, as the single-process figure is a whole process) to
//! the moment the database says `completed`, read every 10 ms.

use crate::cli::env;
use crate::throughput::FreshDatabase;
use anyhow::{Context, ensure};
use sqlx::{ConnectOptions, Connection};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the worker processes when the measurement ends, however it ends.
struct Workers(Vec<std::process::Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs the reference sweep on `processes` workers; returns its seconds.
pub async fn sweep(
    quantd: &Path,
    data: &Path,
    server: &str,
    processes: usize,
) -> anyhow::Result<f64> {
    let db = FreshDatabase::create(server).await?;
    let secs = run(quantd, data, &db.url, processes).await;
    db.drop_it().await?;
    secs
}

async fn run(quantd: &Path, data: &Path, url: &str, processes: usize) -> anyhow::Result<f64> {
    let cmd = || {
        let mut c = Command::new(quantd);
        c.env(env::QUANTD_DATA, data)
            .env("QUANTD_DATABASE_URL", url);
        c
    };
    // The catalog row of the data directory's pack, in the new database (the same content).
    let out = cmd()
        .args(["data", "import", "--name", "bench"])
        .arg(exported(quantd, data)?)
        .output()?;
    ensure!(
        out.status.success(),
        "import: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut conn = url
        .parse::<sqlx::postgres::PgConnectOptions>()?
        .connect()
        .await?;
    let mut workers = Workers(Vec::new());
    for _ in 0..processes {
        let mut child = cmd()
            .args(["worker", "--workers", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
        workers.0.push(child);
        loop {
            let line = lines.next().context("a worker ended before it started")??;
            if line.starts_with("quantd worker on") {
                break;
            }
        }
        std::thread::spawn(move || lines.for_each(drop));
    }
    // Their LISTEN connections open just after they announce themselves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t = Instant::now();
    let out = cmd()
        .arg("--json")
        .args(crate::strategy::SWEEP)
        .arg("--detach")
        .output()?;
    ensure!(
        out.status.success(),
        "sweep --detach: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let id = v["execution"]
        .as_str()
        .with_context(|| format!("no execution id in {v}"))?
        .to_string();
    loop {
        let (state,): (String,) = sqlx::query_as("SELECT state FROM executions WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut conn)
            .await?;
        match state.as_str() {
            "completed" => break,
            "failed" | "cancelled" => anyhow::bail!("the sweep ended {state}"),
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    let secs = t.elapsed().as_secs_f64();
    drop(workers);
    conn.close().await?;
    Ok(secs)
}

/// The benchmark pack as a Parquet file (the import's input).
fn exported(quantd: &Path, data: &Path) -> anyhow::Result<std::path::PathBuf> {
    let file = data.join("bench-export.parquet");
    if !file.exists() {
        let out = Command::new(quantd)
            .env(env::QUANTD_DATA, data)
            .args(["data", "export", "bench", "--out"])
            .arg(&file)
            .output()?;
        ensure!(
            out.status.success(),
            "export: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(file)
}

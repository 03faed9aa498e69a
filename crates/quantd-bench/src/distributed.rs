//! The reference sweep split across `quantd worker` processes on Postgres (`quantd-bench sweep
//! --postgres URL`): is the store the bottleneck when the work leaves the process?
//!
//! A fresh database on the server; the pack imported into it from the benchmark's data
//! directory (every process shares that directory, so no pack is copied); an API node
//! (`quantd serve --workers 0`) and `--worker-processes` `quantd worker --workers 1` processes
//! started and idle (as in a deployment, they were there before the work); then the sweep
//! submitted to the API node (`POST /v1/executions`). The time runs from the request to the
//! moment the database says `completed`, read every 10 ms. (`quantd sweep --detach` would not do:
//! it runs the execution in a background process of its own.)

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

/// Runs the reference sweep on `processes` workers; returns its seconds and its backtests.
pub async fn sweep(
    quantd: &Path,
    data: &Path,
    server: &str,
    processes: usize,
) -> anyhow::Result<(f64, u64)> {
    let db = FreshDatabase::create(server).await?;
    let secs = run(quantd, data, &db.url, processes).await;
    db.drop_it().await?;
    secs
}

async fn run(
    quantd: &Path,
    data: &Path,
    url: &str,
    processes: usize,
) -> anyhow::Result<(f64, u64)> {
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
    let mut api = cmd();
    api.args([
        "serve",
        "--workers",
        "0",
        "--no-auth",
        "--addr",
        "127.0.0.1:0",
    ]);
    let addr = start(&mut workers, api, "http://")?;
    let addr = addr
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .context("the API node's address")?
        .to_string();
    for _ in 0..processes {
        let mut w = cmd();
        w.args(["worker", "--workers", "1"]);
        start(&mut workers, w, "quantd worker on")?;
    }
    // Their LISTEN connections open just after they announce themselves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let body = serde_json::json!({
        "kind": "sweep", "pack": "bench",
        "strategy": {"entry": crate::strategy::UP, "exit": crate::strategy::DOWN},
        "grid": ["fast=5..50:5", "slow=20..200:20"], "constraint": "fast < slow",
        "config": {"commission": {"fixed": 0.0, "relative": 0.002}},
    });
    let http = reqwest::Client::new();
    let t = Instant::now();
    let res = http
        .post(format!("http://{addr}/v1/executions"))
        .json(&body)
        .send()
        .await?;
    let status = res.status();
    let v: serde_json::Value = res.json().await?;
    ensure!(status.as_u16() == 202, "POST /v1/executions: {status} {v}");
    let id = v["execution"]["id"]
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
    let (rows,): (i64,) = sqlx::query_as("SELECT rows FROM executions WHERE id = $1")
        .bind(&id)
        .fetch_one(&mut conn)
        .await?;
    conn.close().await?;
    Ok((secs, rows as u64))
}

/// Starts `c`, keeps it in `procs`, and returns the first line of its stderr containing `ready`.
fn start(procs: &mut Workers, mut c: Command, ready: &str) -> anyhow::Result<String> {
    let mut child = c.stdout(Stdio::null()).stderr(Stdio::piped()).spawn()?;
    let mut lines = BufReader::new(child.stderr.take().context("stderr")?).lines();
    procs.0.push(child);
    loop {
        let line = lines
            .next()
            .context("a process ended before it started")??;
        if line.contains(ready) {
            std::thread::spawn(move || lines.for_each(drop));
            return Ok(line);
        }
    }
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

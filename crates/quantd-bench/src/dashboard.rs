//! `quantd-bench dashboard`: the dashboard's executions page over many stored executions, and
//! how fast its live stream brings a committed event to open pages. In process, on loopback.
//!
//! 1. Page time: `--executions` executions (kinds, names, states and creation times spread
//!    like a busy workspace's, a tenth in another workspace) are stored, then `GET /executions`
//!    is timed with each filter (none, failed-only, a kind, a name, a date, the next page),
//!    `--repeat` times each after a warm-up. The time is the whole request on loopback, an
//!    upper bound of the server's time.
//! 2. Live latency: `--pages` clients follow `/live/executions` (the page's SSE stream of row
//!    HTML), then `--submissions` scans are submitted one after another. Measured per (client,
//!    execution): from the commit of the execution's first event (read from the engine's
//!    broadcast on a thread of its own) to the client receiving the `new` row. The browser's
//!    swap of that row into the DOM is measured by the browser tests (web/tests).

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use quantd_core::{ExecutionId, ExecutionKind, ExecutionState, NoProgress};
use quantd_data::SynthSpec;
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_engine::{DataDir, Packs};
use quantd_server::auth::Caller;
use quantd_server::{AppState, ServerOptions};
use quantd_store::prelude::*;
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arguments of `dashboard`.
#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Executions stored before the page is timed.
    #[arg(long, default_value_t = 100_000)]
    pub executions: usize,
    /// Timed requests per filter.
    #[arg(long, default_value_t = 30)]
    pub repeat: usize,
    /// Open pages following the live stream.
    #[arg(long, default_value_t = 20)]
    pub pages: usize,
    /// Scans submitted while the pages follow.
    #[arg(long, default_value_t = 50)]
    pub submissions: usize,
    /// Keep the data directory here (to look at the store afterwards); default: a temporary one.
    #[arg(long)]
    pub keep: Option<std::path::PathBuf>,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

const KINDS: [ExecutionKind; 4] = [
    ExecutionKind::Scan,
    ExecutionKind::Backtest,
    ExecutionKind::Sweep,
    ExecutionKind::Test,
];

/// Stores `n` ended executions over the last 90 days: 1 in 10 of workspace `other`, 1 in 20
/// failed, 1 in 50 cancelled, the rest completed.
async fn fill<S: Store>(store: &S, n: usize) -> anyhow::Result<()> {
    let now = chrono::Utc::now().timestamp_millis();
    let span = 90 * 86_400_000i64;
    let mut batch = Vec::with_capacity(2000);
    let mut ends: Vec<(ExecutionId, ExecutionState, i64)> = Vec::with_capacity(2000);
    for i in 0..n {
        let at = now - span + (span / n as i64) * i as i64;
        let state = match i {
            _ if i % 20 == 7 => ExecutionState::Failed,
            _ if i % 50 == 3 => ExecutionState::Cancelled,
            _ => ExecutionState::Completed,
        };
        let workspace = if i % 10 == 9 { "other" } else { "default" };
        let name = (i % 3 != 0).then(|| format!("scanner-{}", i % 200));
        let e = crate::measure::stored_execution(i, at, workspace, KINDS[i % KINDS.len()], name, 1);
        ends.push((e.id.clone(), state, at + 1500));
        batch.push(e);
        if batch.len() == 2000 || i + 1 == n {
            // Created and ended batch by batch, as they would be: the queue never holds more
            // than one batch of pending shards.
            store.create_executions(&batch).await?;
            batch.clear();
            end(store, std::mem::take(&mut ends)).await?;
        }
    }
    Ok(())
}

/// Ends each execution the way a worker ends it: claimed, then committed or failed; or
/// cancelled.
async fn end<S: Store>(
    store: &S,
    ends: Vec<(ExecutionId, ExecutionState, i64)>,
) -> anyhow::Result<()> {
    for (id, state, at) in ends {
        if state == ExecutionState::Cancelled {
            store.change_execution_state(&id, state, at).await?;
            continue;
        }
        let (shard, _) = store
            .claim_shard("bench", at - 1000, at + 60_000, ClaimScope::Of(&id))
            .await?
            .context("a fresh execution has a shard to claim")?;
        if state == ExecutionState::Failed {
            let failure = quantd_store::AttemptFailure {
                class: quantd_core::ErrorClass::Execution,
                message: "division by zero in the scanner",
                crash: false,
                outcome: quantd_store::FailureOutcome::FailExecution,
            };
            store.fail_shard(&shard, "bench", at, &failure).await?;
        } else {
            let done = quantd_store::ShardDone {
                bars: 250,
                rows: 3,
                body: &[],
                max_result_bytes: u64::MAX,
            };
            store
                .complete_shard(&shard, "bench", at, &done, None)
                .await?;
        }
    }
    Ok(())
}

/// Runs `quantd-bench dashboard`.
pub async fn run(a: DashboardArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let root = a.keep.clone().unwrap_or_else(|| dir.path().to_path_buf());
    let packs = Packs::open(DataDir::new(&root)).await?;
    packs
        .synth(
            "bench",
            SynthSpec {
                tickers: 5,
                days: 250,
                seed: 1,
                start: "2020-01-02".parse()?,
                interval: Default::default(),
            },
            Arc::new(NoProgress),
        )
        .await?;
    let t = Instant::now();
    fill(packs.store(), a.executions).await?;
    eprintln!(
        "stored {} executions in {:.1} s",
        a.executions,
        t.elapsed().as_secs_f64()
    );
    let engine = Arc::new(
        Engine::new(
            packs,
            EngineOptions {
                health_every_ms: 3_600_000,
                ..EngineOptions::default()
            },
        )
        .await?,
    );
    let committed: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let mut rx = engine.subscribe();
    let c = committed.clone();
    std::thread::spawn(move || {
        while let Ok(e) = rx.blocking_recv() {
            c.lock()
                .expect("lock")
                .entry(e.execution.to_string())
                .or_insert_with(Instant::now);
        }
    });
    let state = AppState::new(
        engine.clone(),
        ServerOptions {
            auth: false,
            ..ServerOptions::default()
        },
    );
    let session = state.sessions().open(Caller {
        workspace: "default".into(),
        admin: true,
        token: None,
    })?;
    let cookie = format!("quantd_session={session}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(quantd_server::run(listener, state, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    // 1. The page.
    let first = http
        .get(format!("{base}/executions"))
        .header("cookie", &cookie)
        .send()
        .await?
        .text()
        .await?;
    let next = first
        .split("id=\"next-page\" href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .context("the first page links the next")?
        .replace("&amp;", "&");
    let since = (chrono::Utc::now() - chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    let urls = [
        ("newest 50", "/executions".to_string()),
        ("failed only", "/executions?state=failed".into()),
        ("kind=sweep", "/executions?kind=sweep".into()),
        ("name=scanner-7", "/executions?name=scanner-7".into()),
        ("since 30 days", format!("/executions?since={since}")),
        ("next page", next),
        (
            "kind+state+name",
            "/executions?kind=backtest&state=failed&name=scanner-7".into(),
        ),
    ];
    let mut rows = Vec::new();
    let mut report = serde_json::Map::new();
    for (label, url) in &urls {
        let mut times = Vec::with_capacity(a.repeat);
        for i in 0..a.repeat + 3 {
            let t = Instant::now();
            let r = http
                .get(format!("{base}{url}"))
                .header("cookie", &cookie)
                .send()
                .await?;
            anyhow::ensure!(r.status() == 200, "{url}: {}", r.status());
            let body = r.text().await?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            anyhow::ensure!(body.contains("id=\"executions\""), "{url}: not the list");
            if i >= 3 {
                times.push(ms);
            }
        }
        times.sort_by(f64::total_cmp);
        rows.push(vec![
            label.to_string(),
            format!("{:.1}", pct(&times, 0.5)),
            format!("{:.1}", pct(&times, 0.99)),
        ]);
        report.insert(
            label.to_string(),
            serde_json::json!({"p50_ms": pct(&times, 0.5), "p99_ms": pct(&times, 0.99)}),
        );
    }
    // The peer: the API's JSON page of the same 50 executions (the engine call without HTML).
    let mut times = Vec::with_capacity(a.repeat);
    for i in 0..a.repeat + 3 {
        let t = Instant::now();
        let r = http
            .get(format!("{base}/v1/executions?limit=50"))
            .header("cookie", &cookie)
            .send()
            .await?;
        anyhow::ensure!(r.status() == 200, "/v1/executions: {}", r.status());
        r.bytes().await?;
        if i >= 3 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    rows.push(vec![
        "peer: GET /v1/executions?limit=50 (JSON)".into(),
        format!("{:.1}", pct(&times, 0.5)),
        format!("{:.1}", pct(&times, 0.99)),
    ]);
    report.insert(
        "peer_api_json".into(),
        serde_json::json!({"p50_ms": pct(&times, 0.5), "p99_ms": pct(&times, 0.99)}),
    );
    crate::measure::table(&["GET /executions", "p50 ms", "p99 ms"], &rows);

    // 2. Live rows.
    let connected = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..a.pages {
        let http = http.clone();
        let url = format!("{base}/live/executions");
        let cookie = cookie.clone();
        let connected = connected.clone();
        let want = a.submissions;
        clients.push(tokio::spawn(async move {
            let mut got: Vec<(String, Instant)> = Vec::new();
            let Ok(resp) = http.get(url).header("cookie", cookie).send().await else {
                return got;
            };
            connected.fetch_add(1, Ordering::SeqCst);
            let mut body = resp.bytes_stream();
            let mut buf = String::new();
            while let Some(Ok(chunk)) = body.next().await {
                let now = Instant::now();
                buf.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    if !block.starts_with("event: new") {
                        continue;
                    }
                    if let Some(id) = block
                        .split("data-id=\"")
                        .nth(1)
                        .and_then(|s| s.split('"').next())
                    {
                        got.push((id.to_string(), now));
                    }
                    if got.len() == want {
                        return got;
                    }
                }
            }
            got
        }));
    }
    while connected.load(Ordering::SeqCst) < a.pages {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Give every stream its first page of rows before the first submission.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..a.submissions {
        let r = http
            .post(format!("{base}/v1/executions"))
            .json(&serde_json::json!({"kind": "scan", "expr": format!("close > sma(close, {})", 5 + i), "pack": "bench"}))
            .send()
            .await?;
        anyhow::ensure!(r.status() == 202, "submit: {}", r.status());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut lat = Vec::new();
    for c in clients {
        let got = tokio::time::timeout(Duration::from_secs(30), c).await??;
        let committed = committed.lock().expect("lock");
        for (id, at) in got {
            if let Some(c) = committed.get(&id) {
                lat.push(at.saturating_duration_since(*c).as_secs_f64() * 1e3);
            }
        }
    }
    lat.sort_by(f64::total_cmp);
    anyhow::ensure!(
        lat.len() == a.pages * a.submissions,
        "{} of {} rows arrived",
        lat.len(),
        a.pages * a.submissions
    );
    crate::measure::table(
        &[
            "live row (commit → page stream)",
            "p50 ms",
            "p99 ms",
            "max ms",
        ],
        &[vec![
            format!("{} pages × {} executions", a.pages, a.submissions),
            format!("{:.1}", pct(&lat, 0.5)),
            format!("{:.1}", pct(&lat, 0.99)),
            format!("{:.1}", lat.last().copied().unwrap_or(f64::NAN)),
        ]],
    );
    let _ = stop.send(());
    let _ = server.await;
    println!(
        "{}",
        serde_json::json!({ "executions": a.executions, "page": report, "live": {"pages": a.pages, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)} })
    );
    Ok(ExitCode::SUCCESS)
}

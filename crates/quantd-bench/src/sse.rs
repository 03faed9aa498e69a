//! `quantd-bench sse`: the HTTP API's live-progress latency and read throughput, in process on
//! loopback.
//!
//! 1. Latency: `--subscribers` SSE clients follow one scan of `--shards` shards. A shard's
//!    events are timed twice: when the engine broadcasts them right after their commit (read
//!    on a dedicated thread, so the instant is not delayed by the async runtime), and when each
//!    client receives them. Reported: p50, p99 and max of (received − committed) over every
//!    (client, live event) pair.
//! 2. Throughput: `--readers` concurrent clients `GET /v1/executions/{id}` for `--seconds`.

use anyhow::Context;
use clap::Args;
use futures::StreamExt;
use quantd_core::{ErrorClass, ExecutionId, NoProgress};
use quantd_data::SynthSpec;
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_engine::{DataDir, Packs};
use quantd_server::{AppState, ServerOptions};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Arguments of `sse`.
#[derive(Debug, Args)]
pub struct SseArgs {
    /// Concurrent SSE subscribers of the execution.
    #[arg(long, default_value_t = 1000)]
    pub subscribers: usize,
    /// Shards of the scan (each commits a few events).
    #[arg(long, default_value_t = 100)]
    pub shards: usize,
    /// Work per shard, simulated by a pause before it runs (milliseconds), so commits are spread out.
    #[arg(long, default_value_t = 20)]
    pub shard_ms: u64,
    /// Concurrent readers of `GET /v1/executions/{id}`.
    #[arg(long, default_value_t = 32)]
    pub readers: usize,
    /// Seconds of the throughput measurement.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs `quantd-bench sse`.
pub async fn run(a: SseArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let packs = Packs::open(DataDir::new(dir.path())).await?;
    let tickers = a.shards.max(1);
    packs
        .synth(
            "bench",
            SynthSpec {
                tickers,
                days: 250,
                seed: 1,
                start: "2020-01-02".parse()?,
                interval: Default::default(),
            },
            Arc::new(NoProgress),
        )
        .await?;
    // One ticker per shard; the hook holds shards until every subscriber is connected.
    let go = Arc::new(AtomicBool::new(false));
    let g = go.clone();
    let delay = Duration::from_millis(a.shard_ms);
    let options = EngineOptions {
        scan_shard_bars: 250,
        health_every_ms: 3_600_000,
        ..EngineOptions::default()
    };
    let engine = Engine::new(packs, options).await?.with_fault(Arc::new(
        move |_: &ExecutionId, _: u32, _: u32| -> Option<(ErrorClass, String)> {
            // Off the async runtime's threads, which keep serving meanwhile.
            tokio::task::block_in_place(|| {
                while !g.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                std::thread::sleep(delay);
            });
            None
        },
    ));
    let engine = Arc::new(engine);
    // Commit instants, from the broadcast, on a thread of its own.
    let committed: Arc<Mutex<HashMap<u64, Instant>>> = Arc::default();
    let mut rx = engine.subscribe();
    let c = committed.clone();
    std::thread::spawn(move || {
        while let Ok(e) = rx.blocking_recv() {
            c.lock()
                .expect("lock")
                .entry(e.seq)
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
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(quantd_server::run(listener, state, async {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let r: serde_json::Value = http
        .post(format!("{base}/v1/executions"))
        .json(
            &serde_json::json!({"kind": "scan", "expr": "close > sma(close, 20)", "pack": "bench"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let id = r["execution"]["id"]
        .as_str()
        .context("submit failed")?
        .to_string();
    let shards = r["execution"]["progress"]["total"].as_u64().unwrap_or(0);
    eprintln!(
        "execution {id}: {shards} shards; connecting {} SSE subscribers",
        a.subscribers
    );
    let connected = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..a.subscribers {
        let http = http.clone();
        let url = format!("{base}/v1/executions/{id}/events");
        let connected = connected.clone();
        clients.push(tokio::spawn(async move {
            let mut got: Vec<(u64, Instant)> = Vec::new();
            let Ok(resp) = http.get(url).send().await else {
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
                    if block.contains("event: done") {
                        return got;
                    }
                    if let Some(seq) = block
                        .lines()
                        .find_map(|l| l.strip_prefix("id:"))
                        .and_then(|s| s.trim().parse().ok())
                    {
                        got.push((seq, now));
                    }
                }
            }
            got
        }));
    }
    while connected.load(Ordering::SeqCst) < a.subscribers {
        if clients.iter().all(|c| c.is_finished()) {
            anyhow::bail!("subscribers could not connect (raise `ulimit -n`?)");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Events before now were replayed from the store: only later ones count.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let live_from = committed
        .lock()
        .expect("lock")
        .keys()
        .max()
        .copied()
        .unwrap_or(0);
    let t0 = Instant::now();
    go.store(true, Ordering::SeqCst);
    let mut lat = Vec::new();
    let mut received = 0usize;
    for c in clients {
        let got = c.await?;
        received += got.len();
        let committed = committed.lock().expect("lock");
        for (seq, at) in got {
            if seq > live_from
                && let Some(c) = committed.get(&seq)
            {
                lat.push(at.saturating_duration_since(*c).as_secs_f64() * 1e3);
            }
        }
    }
    let run_s = t0.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    let events = committed.lock().expect("lock").len();
    // Throughput of GET /v1/executions/{id}.
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let mut readers = Vec::new();
    for _ in 0..a.readers {
        let http = http.clone();
        let url = format!("{base}/v1/executions/{id}");
        readers.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut times = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                match http.get(&url).send().await {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        n += 1;
                        times.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    _ => {}
                }
            }
            (n, times)
        }));
    }
    let mut total = 0u64;
    let mut times = Vec::new();
    for r in readers {
        let (n, t) = r.await?;
        total += n;
        times.extend(t);
    }
    times.sort_by(f64::total_cmp);
    let _ = stop.send(());
    let _ = server.await;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let out = serde_json::json!({
        "subscribers": a.subscribers,
        "shards": shards,
        "events": events,
        "deliveries": received,
        "live_samples": lat.len(),
        "execution_s": run_s,
        "latency_ms": {"p50": pct(&lat, 0.5), "p99": pct(&lat, 0.99), "max": lat.last()},
        "get_execution": {
            "readers": a.readers,
            "requests_per_s": total as f64 / a.seconds as f64,
            "p50_ms": pct(&times, 0.5),
            "p99_ms": pct(&times, 0.99),
        },
        "cores": cores,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    eprintln!(
        "commit → SSE client: p50 {:.2} ms, p99 {:.2} ms over {} deliveries to {} subscribers (target p99 ≤ 50 ms)",
        pct(&lat, 0.5),
        pct(&lat, 0.99),
        lat.len(),
        a.subscribers
    );
    eprintln!(
        "GET /v1/executions/{{id}}: {:.0} req/s with {} concurrent readers (p50 {:.2} ms, p99 {:.2} ms)",
        total as f64 / a.seconds as f64,
        a.readers,
        pct(&times, 0.5),
        pct(&times, 0.99)
    );
    Ok(ExitCode::SUCCESS)
}

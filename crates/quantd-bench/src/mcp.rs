//! `quantd-bench mcp`: what an MCP tool call costs over the engine call it wraps. One engine on
//! a synthetic universe with a finished scan; each operation is timed `--calls` times as the
//! engine call alone (what the HTTP API's route makes) and as the MCP tool call from rmcp's
//! client over an in-process duplex transport (JSON-RPC framing, argument parsing, the view as
//! JSON both ways, the client decoding it). Reported: medians, p99 and the median overhead.

use anyhow::Context;
use clap::Args;
use quantd_core::NoProgress;
use quantd_data::SynthSpec;
use quantd_engine::exec::pool::{Pool, PoolOptions};
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_engine::records::Page;
use quantd_engine::views::page::PageRequest;
use quantd_engine::{DataDir, Packs};
use quantd_mcp::{Ops, QuantdMcp};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use serde_json::{Value, json};
use std::future::Future;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Arguments of `mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Timed calls of each operation (after 50 warm-up calls).
    #[arg(long, default_value_t = 2000)]
    pub calls: usize,
    /// Tickers of the universe.
    #[arg(long, default_value_t = 500)]
    pub tickers: usize,
    /// Days of the universe.
    #[arg(long, default_value_t = 1000)]
    pub days: usize,
}

/// Milliseconds of `calls` runs of `f` (after a warm-up), sorted.
async fn time<F, Fut>(calls: usize, mut f: F) -> anyhow::Result<Vec<f64>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    for _ in 0..50 {
        f().await?;
    }
    let mut out = Vec::with_capacity(calls);
    for _ in 0..calls {
        let t = Instant::now();
        f().await?;
        out.push(t.elapsed().as_secs_f64() * 1e3);
    }
    out.sort_by(f64::total_cmp);
    Ok(out)
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs `quantd-bench mcp`.
pub async fn run(a: McpArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let packs = Packs::open(DataDir::new(dir.path())).await?;
    let spec = SynthSpec {
        tickers: a.tickers,
        days: a.days,
        seed: 7,
        start: "2015-01-02".parse()?,
        interval: Default::default(),
    };
    packs.synth("bench", spec, Arc::new(NoProgress)).await?;
    let engine = Arc::new(Engine::new(packs, EngineOptions::default()).await?);
    let pool = Pool::new(engine.clone(), PoolOptions::default());
    let running = pool.start();
    let mcp = QuantdMcp::new(
        Ops::new(engine.clone(), Some(pool.clone())),
        Some("default".into()),
    );
    let (server_io, client_io) = tokio::io::duplex(1 << 20);
    let server = mcp.clone();
    tokio::spawn(async move {
        if let Ok(s) = server.serve(server_io).await {
            let _ = s.waiting().await;
        }
    });
    let client = ().serve(client_io).await.context("MCP initialize")?;
    let call = |tool: &'static str, args: Value| {
        let client = &client;
        async move {
            let params = CallToolRequestParams::new(tool)
                .with_arguments(args.as_object().cloned().unwrap_or_default());
            let r = client.call_tool(params).await?;
            anyhow::ensure!(r.is_error != Some(true), "{tool} failed: {:?}", r.content);
            r.structured_content.context("structured content")
        }
    };
    let started = call(
        "start_execution",
        json!({"kind": "scan", "expr": "close < sma(close, 50) and rsi(close, 14) < 30", "pack": "bench", "wait_seconds": 600}),
    )
    .await?;
    let id = started["execution"]["id"]
        .as_str()
        .context("an id")?
        .to_string();
    anyhow::ensure!(
        started["execution"]["state"] == "completed",
        "the scan completed"
    );
    let rec = engine.records().owned("default", &id).await?;

    println!(
        "MCP tool call vs the engine call it wraps ({} calls each, in process, rmcp client over a duplex transport; {} tickers × {} days, scan of {} signals)",
        a.calls, a.tickers, a.days, rec.rows
    );
    println!(
        "{:<16} {:>12} {:>12} {:>12} {:>12} {:>14}",
        "operation", "engine p50", "mcp p50", "mcp p99", "engine p99", "overhead p50"
    );
    let mut worst: f64 = 0.0;
    let page = PageRequest {
        ticker: None,
        cursor: None,
        limit: 50,
        max_bytes: 60 << 10,
        max_text: Some(200),
        signals_only: false,
    };
    let reader = quantd_engine::rights::Reader::cli(quantd_engine::DEFAULT_WORKSPACE);
    for op in ["get_execution", "list_packs", "get_results"] {
        let engine_ms = match op {
            "get_execution" => {
                time(a.calls, || async {
                    let r = engine.records().owned("default", &id).await?;
                    engine.records().view(r).await?;
                    Ok(())
                })
                .await?
            }
            "list_packs" => {
                time(a.calls, || async {
                    engine
                        .packs()
                        .list(&Page {
                            after: None,
                            limit: 50,
                        })
                        .await?;
                    Ok(())
                })
                .await?
            }
            _ => {
                time(a.calls, || async {
                    engine.result_page(&rec, &page, &reader).await?;
                    Ok(())
                })
                .await?
            }
        };
        let args = match op {
            "list_packs" => json!({}),
            _ => json!({"id": id}),
        };
        let mcp_ms = time(a.calls, || async { call(op, args.clone()).await.map(drop) }).await?;
        let overhead = pct(&mcp_ms, 0.5) - pct(&engine_ms, 0.5);
        worst = worst.max(overhead);
        println!(
            "{op:<16} {:>9.3} ms {:>9.3} ms {:>9.3} ms {:>9.3} ms {:>11.3} ms",
            pct(&engine_ms, 0.5),
            pct(&mcp_ms, 0.5),
            pct(&mcp_ms, 0.99),
            pct(&engine_ms, 0.99),
            overhead
        );
    }
    println!("largest median overhead: {worst:.3} ms (target ≤ 2 ms)");
    client.cancel().await.ok();
    pool.drain();
    running.join(std::time::Duration::from_secs(5)).await;
    Ok(ExitCode::SUCCESS)
}

//! `quantd-bench pattern`: what a pattern costs over the work of its steps.
//!
//! - **chain**: a pattern of `--steps` tiny scans, each needing the one before (no step cache),
//!   run to the end with one worker; per step, the pattern's wall time minus its children's own
//!   run time (first claim → finished), divided by the steps: creating the child, claiming it,
//!   committing it, reading its outputs and advancing. The peer, measured in the same run: the
//!   same scans submitted one after another by a client that chains them itself (`start` + `run`
//!   per scan), with the same subtraction.
//! - **fan-out**: a `for_each` step over `--items` items, timed from the submit to the moment
//!   every item's child execution is planned and stored (the submit returns after the pattern's
//!   first advance created them); then run to its end with one worker, its overhead per item
//!   measured as the chain's.

use anyhow::Context;
use clap::Args;
use quantd_core::{ExecutionKind, ExecutionState, NoProgress};
use quantd_data::SynthSpec;
use quantd_engine::code::CodeSource;
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_engine::records::ExecutionRecord;
use quantd_engine::{DataDir, Packs};
use serde_json::{Value, json};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Arguments of `pattern`.
#[derive(Debug, Args)]
pub struct PatternArgs {
    /// Steps of the chain.
    #[arg(long, default_value_t = 50)]
    pub steps: usize,
    /// Items of the fan-out.
    #[arg(long, default_value_t = 1000)]
    pub items: usize,
    /// Runs of each measurement (the best is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
}

/// Milliseconds the children of `parent` ran ([`own_ms`]), summed.
async fn children_ms(engine: &Engine, parent: &quantd_core::ExecutionId) -> anyhow::Result<f64> {
    let list = engine
        .records()
        .list(&quantd_engine::records::ExecutionFilter {
            parent: Some(parent.clone()),
            limit: 100_000,
            ..Default::default()
        })
        .await?;
    Ok(list.items.iter().map(own_ms).sum())
}

/// An execution's own run time: its first claim to its end (a fan-out's items wait in the queue
/// after their creation; that wait is the pattern's, not theirs).
fn own_ms(r: &ExecutionRecord) -> f64 {
    let started = r.started_at.unwrap_or(r.created_at);
    r.finished_at.map_or(0.0, |f| (f - started) as f64)
}

fn chain(steps: usize, run: usize) -> Value {
    let steps: Vec<Value> = (0..steps)
        .map(|i| {
            let mut s = json!({"id": format!("s{i}"), "kind": "scan", "pack": "bench",
                "expr": format!("close > {}", run * 1000 + i), "cache": false});
            if i > 0 {
                s["needs"] = json!([format!("s{}", i - 1)]);
            }
            s
        })
        .collect();
    json!({"steps": steps})
}

/// Runs `quantd-bench pattern`.
pub async fn run(a: PatternArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::tempdir()?;
    let packs = Packs::open(DataDir::new(dir.path())).await?;
    let spec = SynthSpec {
        tickers: 2,
        days: 50,
        seed: 7,
        start: "2015-01-02".parse()?,
        interval: Default::default(),
    };
    packs.synth("bench", spec, Arc::new(NoProgress)).await?;
    let engine = Engine::new(packs, EngineOptions::default()).await?;
    let (mut best_pattern, mut best_chained) = (f64::INFINITY, f64::INFINITY);
    for r in 0..a.runs {
        // The pattern.
        let name = format!("chain{r}");
        engine
            .code("default")
            .add(&name, &CodeSource::Pattern(chain(a.steps, r).to_string()))
            .await?;
        let mut req = SubmitRequest::new(ExecutionKind::Pattern);
        req.code = Some(name);
        let t = Instant::now();
        let id = engine.start(req).await?.execution.id;
        let rec = engine.run(&id, 1).await?;
        let wall = t.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(
            rec.state == ExecutionState::Completed,
            "the chain ended {}",
            rec.state
        );
        let per_step = (wall - children_ms(&engine, &id).await?) / a.steps as f64;
        best_pattern = best_pattern.min(per_step);
        // The peer: the same scans chained by the client.
        let t = Instant::now();
        let mut own = 0.0;
        for i in 0..a.steps {
            let mut req = SubmitRequest::new(ExecutionKind::Scan);
            req.pack = Some("bench".into());
            req.expr = Some(format!("close > {}", 100_000 + r * 1000 + i));
            let id = engine.start(req).await?.execution.id;
            let rec = engine.run(&id, 1).await?;
            own += own_ms(&rec);
        }
        let wall = t.elapsed().as_secs_f64() * 1e3;
        best_chained = best_chained.min((wall - own) / a.steps as f64);
    }
    // The fan-out: planned (submit), then run to its end.
    let (mut best_fan, mut best_fan_run) = (f64::INFINITY, f64::INFINITY);
    for r in 0..a.runs {
        let items: Vec<usize> = (0..a.items).map(|i| r * 100_000 + i).collect();
        let doc = json!({"steps": [{"id": "each", "kind": "scan", "pack": "bench",
            "expr": "close > {{ item }}", "for_each": items, "cache": false}]});
        let name = format!("fan{r}");
        engine
            .code("default")
            .add(&name, &CodeSource::Pattern(doc.to_string()))
            .await?;
        let mut req = SubmitRequest::new(ExecutionKind::Pattern);
        req.code = Some(name);
        let t = Instant::now();
        let id = engine.submit(req).await?.execution.id;
        let ms = t.elapsed().as_secs_f64() * 1e3;
        let planned = engine
            .records()
            .list(&quantd_engine::records::ExecutionFilter {
                parent: Some(id.clone()),
                limit: 100_000,
                ..Default::default()
            })
            .await?
            .items
            .len();
        anyhow::ensure!(planned == a.items, "{planned} of {} items planned", a.items);
        best_fan = best_fan.min(ms);
        let rec = engine.run(&id, 1).await.context("running the fan-out")?;
        let wall = t.elapsed().as_secs_f64() * 1e3;
        anyhow::ensure!(
            rec.state == ExecutionState::Completed,
            "the fan-out ended {}",
            rec.state
        );
        let per_item = (wall - children_ms(&engine, &id).await?) / a.items as f64;
        best_fan_run = best_fan_run.min(per_item);
    }
    println!(
        "chain of {} scans: pattern overhead {:.2} ms/step (a client chaining the same scans: {:.2} ms/step)",
        a.steps, best_pattern, best_chained
    );
    println!(
        "for_each over {} items: planned and scheduled in {:.0} ms; run to its end with {:.2} ms/item of pattern overhead",
        a.items, best_fan, best_fan_run
    );
    Ok(ExitCode::SUCCESS)
}

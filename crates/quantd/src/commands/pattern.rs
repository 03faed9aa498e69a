//! `quantd pattern run` and `quantd retry`: a pattern execution run here, each step printed as it
//! starts and ends (from the engine's events), then its report.

use super::Ctx;
use super::run::{exit_code, run_foreground, submit_and_wait};
use crate::cli::{PatternRunArgs, RetryArgs, RunArgs};
use anyhow::Context;
use quantd_core::{Event, ExecutionId, ExecutionKind, ExecutionState};
use quantd_engine::exec::Engine;
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::records::ExecutionRecord;
use quantd_engine::results::Format;
use serde_json::{Map, Value};
use std::process::ExitCode;

/// `--input NAME=VALUE` flags as the request's inputs: VALUE is JSON when it parses, else text.
fn inputs(flags: &[String]) -> anyhow::Result<Map<String, Value>> {
    let mut out = Map::new();
    for flag in flags {
        let (name, value) = flag.split_once('=').with_context(|| {
            format!("--input `{flag}`: write NAME=VALUE, e.g. --input min_recall=0.8")
        })?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.into()));
        out.insert(name.trim().to_string(), value);
    }
    Ok(out)
}

pub async fn run(ctx: &Ctx, a: PatternRunArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let mut request = SubmitRequest::new(ExecutionKind::Pattern);
    request.code = Some(a.name.clone());
    request.inputs = Some(inputs(&a.inputs)?);
    request.pack = a.pack.clone();
    request.reuse = a.reuse;
    let flags = RunArgs {
        detach: a.detach,
        reuse: a.reuse,
        ..RunArgs::default()
    };
    let steps = print_steps(ctx, &engine);
    let rec = submit_and_wait(ctx, &engine, request, &flags).await;
    steps.abort();
    let Some(rec) = rec? else {
        return Ok(ExitCode::SUCCESS);
    };
    finish(ctx, &engine, &rec, a.out.as_deref()).await
}

pub async fn retry(ctx: &Ctx, a: RetryArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let id: ExecutionId = a
        .execution
        .parse()
        .with_context(|| format!("`{}` is not an execution id", a.execution))?;
    let steps = print_steps(ctx, &engine);
    let submitted = engine.retry_pattern(&id, &a.from).await?;
    let again = submitted.execution.id.clone();
    if !ctx.json {
        eprintln!("running {id} again as {again}");
    }
    let rec = run_foreground(ctx, &engine, &again).await;
    steps.abort();
    finish(ctx, &engine, &rec?, None).await
}

/// Prints each step event of a pattern run here to stderr (not with --json).
fn print_steps(ctx: &Ctx, engine: &Engine) -> tokio::task::JoinHandle<()> {
    let mut events = engine.subscribe();
    let quiet = ctx.json;
    tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            if quiet {
                continue;
            }
            let line = match e.event {
                Event::StepStarted { step, child, .. } => match child {
                    Some(c) => format!("▶ {step} started ({c})"),
                    None => format!("▶ {step} started"),
                },
                Event::StepCompleted {
                    step,
                    duration_ms,
                    cached,
                    ..
                } => format!(
                    "✓ {step} completed in {:.2} s{}",
                    duration_ms as f64 / 1000.0,
                    if cached { " (cached)" } else { "" }
                ),
                Event::StepSkipped { step, reason } => format!("– {step} skipped: {reason}"),
                Event::StepFailed {
                    step,
                    class,
                    message,
                    ..
                } => format!("✗ {step} failed ({class}): {message}"),
                _ => continue,
            };
            eprintln!("{line}");
        }
    })
}

/// Prints (or writes) the report of a pattern that ended, and the exit code it gives.
async fn finish(
    ctx: &Ctx,
    engine: &Engine,
    rec: &ExecutionRecord,
    out: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    if rec.state != ExecutionState::Paused {
        let format = match out.and_then(Format::from_path) {
            Some(f) => f,
            None if ctx.json => Format::Json,
            None => Format::Md,
        };
        super::executions::write_table(engine, rec, format, out).await?;
    }
    Ok(exit_code(rec))
}

//! Running executions from the CLI: submit through the engine, then either detach (a background
//! `quantd resume` process runs it) or run it here with a progress bar fed by the engine's events.

use super::Ctx;
use crate::cli::RunArgs;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use quantd_core::{Event, ExecutionId, ExecutionState};
use quantd_engine::exec::request::{RequestOptions, SubmitRequest};
use quantd_engine::exec::{Engine, ShardFailurePolicy};
use quantd_engine::records::ExecutionRecord;
use std::io::IsTerminal;

/// A request with the shared run flags mapped onto it: the pack, retries, the failure policy,
/// reuse, priority and sandbox limits.
pub fn with_run_flags(
    mut request: SubmitRequest,
    pack: Option<String>,
    run: &RunArgs,
) -> SubmitRequest {
    request.pack = pack;
    request.options = RequestOptions {
        max_attempts: Some(run.max_attempts.max(1)),
        on_shard_failure: if run.on_shard_failure == "continue" {
            ShardFailurePolicy::Continue
        } else {
            ShardFailurePolicy::Fail
        },
        retry: run.retry.clone().unwrap_or_default(),
        sandbox: run.sandbox(),
    };
    request.reuse = run.reuse;
    request.priority = run.priority;
    request
}

/// Worker count: one per core.
pub fn workers() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// Submits; returns the finished (or paused/cancelled) record, or `None` when detached.
pub async fn submit_and_wait(
    ctx: &Ctx,
    engine: &Engine,
    spec: SubmitRequest,
    run: &RunArgs,
) -> anyhow::Result<Option<ExecutionRecord>> {
    // A foreground run claims its first shard as it creates the execution.
    let sub = if run.detach {
        engine.submit(spec).await?
    } else {
        engine.start(spec).await?
    };
    for w in &sub.warnings {
        eprintln!("warning: {w}");
    }
    let id = sub.execution.id.clone();
    if !sub.reused {
        let what = format!("{} execution", sub.execution.kind);
        let reader = super::rights::reader(engine);
        engine
            .record(&reader, "created", &sub.execution, &what)
            .await;
    }
    if sub.reused {
        eprintln!(
            "reusing {id}: a completed execution with the same fingerprint (drop --reuse to run again)"
        );
        return Ok(Some(sub.execution));
    }
    if run.detach {
        spawn_background(ctx, &id)?;
        if ctx.json {
            crate::output::json(&serde_json::json!({ "execution": id, "detached": true }))?;
        } else {
            println!("{id}");
            eprintln!("started {id} in the background: `quantd show {id}`, `quantd results {id}`");
        }
        return Ok(None);
    }
    if !ctx.json {
        eprintln!(
            "execution {id}: {}",
            crate::output::count(sub.execution.shards_total.into(), "shard")
        );
    }
    Ok(Some(run_foreground(ctx, engine, &id).await?))
}

/// Runs an execution here with a progress bar, until it ends or is paused.
pub async fn run_foreground(
    ctx: &Ctx,
    engine: &Engine,
    id: &ExecutionId,
) -> anyhow::Result<ExecutionRecord> {
    let rec = engine.execution(id).await?;
    let bar = progress_bar(
        ctx,
        rec.shards_total as u64,
        (rec.shards_done + rec.shards_failed) as u64,
    );
    let mut events = engine.subscribe();
    let target = id.clone();
    let b = bar.clone();
    let quiet = ctx.json;
    let follower = tokio::spawn(async move {
        while let Ok(e) = events.recv().await {
            if e.execution != target {
                continue;
            }
            if !quiet && let Some(line) = crate::output::session_line(&e.event, false) {
                b.suspend(|| eprintln!("{line}"));
            }
            // Progress comes at each commit and, while a long shard runs, once a second.
            if let Event::Progress {
                done, rows, bars, ..
            } = e.event
            {
                b.set_position(done as u64);
                b.set_message(format!(
                    "{} bars, {} rows",
                    crate::output::thousands(bars),
                    crate::output::thousands(rows)
                ));
            }
        }
    });
    let result = engine.run(id, workers()).await;
    follower.abort();
    bar.finish_and_clear();
    let rec = result?;
    match rec.state {
        ExecutionState::Paused => eprintln!("{id} is paused: `quantd resume {id}` continues it"),
        ExecutionState::Cancelled => {
            eprintln!("{id} was cancelled; results committed so far: `quantd results {id}`")
        }
        ExecutionState::Failed => eprintln!(
            "{id} failed: {} ({})",
            rec.error_message.as_deref().unwrap_or("unknown error"),
            rec.error_class.map_or("internal", |c| c.as_str())
        ),
        _ => {}
    }
    Ok(rec)
}

fn progress_bar(ctx: &Ctx, total: u64, done: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    if ctx.json || !std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    } else {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} shards [{bar:40}] {pos}/{len} {msg} eta {eta}")
                .expect("template")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
    }
    bar.set_position(done);
    bar
}

/// Starts `quantd resume ID` as a background process that outlives this one.
fn spawn_background(ctx: &Ctx, id: &ExecutionId) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    std::process::Command::new(std::env::current_exe()?)
        .arg("--data-dir")
        .arg(&ctx.data_dir)
        .args(["resume", id.as_str()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    Ok(())
}

/// The exit code of a finished execution: success only when it completed without failed shards.
pub fn exit_code(rec: &ExecutionRecord) -> std::process::ExitCode {
    if rec.state == ExecutionState::Completed && rec.shards_failed == 0 {
        std::process::ExitCode::SUCCESS
    } else if rec.state == ExecutionState::Paused {
        std::process::ExitCode::from(3)
    } else {
        std::process::ExitCode::FAILURE
    }
}

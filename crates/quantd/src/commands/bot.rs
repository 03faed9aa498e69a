//! `quantd run SCRIPT.py`: a whole bot script as an execution of kind `run`, in the sandbox with
//! a pack readable; then its metrics and log. `quantd results` / `quantd show` of a run print
//! the same.

use super::Ctx;
use super::run::{exit_code, submit_and_wait, with_run_flags};
use crate::cli::RunArgs;
use anyhow::Context;
use clap::Args;
use quantd_core::ExecutionKind;
use quantd_core::ExecutionState;
use quantd_engine::exec::Engine;
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::records::ExecutionRecord;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunScriptArgs {
    /// The Python script.
    pub script: PathBuf,
    /// Wall-clock limit in seconds: the script is killed (verdict `wall_timeout`) after it.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// The name the run is listed under (`quantd history --name`, `quantd summary --name`);
    /// default: the script's file name without `.py`.
    #[arg(long)]
    pub name: Option<String>,
    /// The pack the script can read (`$QUANTD_PACK`); default: the newest fresh pack.
    #[arg(long)]
    pub pack: Option<String>,
    /// An argument for the script (`sys.argv[1:]`, repeatable).
    #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
    pub args: Vec<String>,
    /// Engine options.
    #[command(flatten)]
    pub run: RunArgs,
}

/// Whether `path` names a Python file.
pub fn is_python(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "py")
}

pub async fn run(ctx: &Ctx, a: RunScriptArgs) -> anyhow::Result<ExitCode> {
    let script = std::fs::read_to_string(&a.script)
        .with_context(|| format!("reading {}", a.script.display()))?;
    let name = match &a.name {
        Some(n) => n.clone(),
        None => a
            .script
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .context("the script path has no file name; pass --name")?,
    };
    let engine = ctx.engine().await?;
    let mut request = SubmitRequest::new(ExecutionKind::Run);
    request.script = Some(script);
    request.name = Some(name);
    request.args = a.args.clone();
    request.timeout = Some(a.timeout);
    let Some(rec) = submit_and_wait(
        ctx,
        &engine,
        with_run_flags(request, a.pack.clone(), &a.run),
        &a.run,
    )
    .await?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    if rec.state == ExecutionState::Completed {
        write_run(ctx, &engine, &rec).await?;
    }
    Ok(exit_code(&rec))
}

/// Prints a run's metrics and log (or, with `--json`, the execution and its stored log).
pub async fn write_run(ctx: &Ctx, engine: &Engine, rec: &ExecutionRecord) -> anyhow::Result<()> {
    let mut log = engine.run_log(&rec.id).await?;
    // A run's output lines may print bars: derived data, which the data's rights may deny
    // (then the metrics only) or watermark.
    let mut watermark = None;
    let mut withheld = None;
    if log.is_some() {
        match super::rights::display(engine, rec, "run output").await? {
            Ok(release) => {
                if !ctx.json {
                    super::rights::attribute(&release);
                }
                watermark = release.watermark;
            }
            Err(why) => {
                if let Some(l) = &mut log {
                    l.stdout.clear();
                    l.stderr.clear();
                }
                withheld = Some(why);
            }
        }
    }
    if ctx.json {
        crate::output::json(&serde_json::json!({
            "execution": rec, "log": log, "watermark": watermark, "withheld": withheld,
        }))?;
        return Ok(());
    }
    let Some(log) = log else {
        println!("{}: no log (the run has not completed)", rec.id);
        return Ok(());
    };
    if let Some(why) = &withheld {
        eprintln!("note: the run's output is withheld: {why}");
    }
    if let Some(w) = &watermark {
        println!("{}", w.line());
    }
    print!("{}", log.stdout);
    if !log.stdout.is_empty() && !log.stdout.ends_with('\n') {
        println!();
    }
    if !log.stderr.is_empty() {
        eprint!("{}", log.stderr);
    }
    println!(
        "\n{}: {} in {:.2} s (exit {}), metrics from {}",
        rec.id,
        log.verdict,
        log.wall_ms as f64 / 1e3,
        log.exit_code.map_or("-".into(), |c| c.to_string()),
        log.metrics.source
    );
    for (k, v) in &log.metrics.metrics {
        println!("  {k:<20} {v}");
    }
    Ok(())
}

/// The metrics lines `quantd show` adds for a run.
pub fn show_metrics(rec: &ExecutionRecord) {
    let Some(summary) = rec.summary.as_ref().and_then(|s| s.as_object()) else {
        return;
    };
    for (k, v) in summary {
        if k == "result" || k == "wall_ms" {
            continue;
        }
        println!(
            "{:<12} {v}",
            if k == "metrics_source" {
                "metrics from"
            } else {
                k.as_str()
            }
        );
    }
}

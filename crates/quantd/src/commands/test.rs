//! `quantd test`: the A+ example test of a scanner, as an execution, with a Markdown or JSON report.

use super::Ctx;
use super::run::{exit_code, submit_and_wait, with_run_flags};
use crate::cli::TestArgs;
use anyhow::Context;
use quantd_core::{ExecutionKind, ExecutionState};
use quantd_engine::exec::Engine;
use quantd_engine::exec::request::ExampleRequest;
use quantd_engine::records::ExecutionRecord;
use quantd_engine::results::Format;
use std::path::Path;
use std::process::ExitCode;

pub async fn run(ctx: &Ctx, a: TestArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&a.examples)
        .with_context(|| format!("reading {}", a.examples.display()))?;
    let examples = quantd_engine::atest::parse_examples(&text)
        .with_context(|| format!("in {}", a.examples.display()))?;
    let engine = ctx.engine().await?;
    let mut request = super::scan::scanner_request(ExecutionKind::Test, &a.scanner)?;
    request.examples = examples
        .into_iter()
        .map(|e| ExampleRequest {
            ticker: e.ticker,
            date: e.date,
            expected: e.expected,
        })
        .collect();
    request.tolerance = Some(u32::try_from(a.tolerance).unwrap_or(u32::MAX));
    let Some(rec) = submit_and_wait(
        ctx,
        &engine,
        with_run_flags(request, a.scanner.pack.clone(), &a.run),
        &a.run,
    )
    .await?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    if rec.state == ExecutionState::Completed {
        let format = super::scan::pick_format(a.format.as_deref(), a.out.as_deref(), Format::Md)?;
        write_report(ctx, &engine, &rec, format, a.out.as_deref()).await?;
    }
    Ok(exit_code(&rec))
}

/// Writes an A+ report as Markdown or JSON, to a file or stdout.
pub async fn write_report(
    ctx: &Ctx,
    engine: &Engine,
    rec: &ExecutionRecord,
    format: Format,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let report = engine.test_report(&rec.id).await?;
    let text = match format {
        Format::Json => serde_json::to_string_pretty(
            &serde_json::json!({ "execution": rec.id, "report": report }),
        )?,
        Format::Md | Format::Table => {
            report.markdown(rec.name.as_deref().unwrap_or(rec.id.as_str()))
        }
        other => anyhow::bail!("an A+ report is written as md or json, not {other:?}"),
    };
    match out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            if !ctx.json {
                eprintln!("report written to {}", path.display());
            }
        }
        None => println!("{text}"),
    }
    Ok(())
}

//! `quantd check lookahead` and `quantd evaluate`: the look-ahead check and the evaluation of a
//! scanner or strategy, each an execution, with a Markdown or JSON report and an exit code that
//! says the verdict.

use super::Ctx;
use super::run::{exit_code, submit_and_wait, with_run_flags};
use crate::cli::{CheckedCodeArgs, EvaluateArgs, LookaheadArgs};
use anyhow::Context;
use quantd_core::{ExecutionKind, ExecutionState};
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::lookahead::CheckVerdict;
use quantd_engine::records::ExecutionRecord;
use quantd_engine::results::Format;
use std::path::Path;
use std::process::ExitCode;

/// Exit code of a biased verdict (and of a failed evaluation).
const BIASED: u8 = 4;
/// Exit code of an inconclusive verdict.
const INCONCLUSIVE: u8 = 5;

pub async fn run(ctx: &Ctx, a: LookaheadArgs) -> anyhow::Result<ExitCode> {
    let mut request = code_request(ExecutionKind::Check, &a.code)?;
    request.cuts = Some(a.cuts);
    let Some((engine, rec)) = start(ctx, request, &a.code).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    if rec.state != ExecutionState::Completed {
        return Ok(exit_code(&rec));
    }
    let report = engine.check_report(&rec.id).await?;
    let text = match report_format(&a.code)? {
        Format::Json => serde_json::to_string_pretty(
            &serde_json::json!({ "execution": rec.id, "report": report }),
        )?,
        _ => report.markdown(),
    };
    write(ctx, a.code.out.as_deref(), &text)?;
    Ok(match report.verdict {
        CheckVerdict::Clean => ExitCode::SUCCESS,
        CheckVerdict::Biased => ExitCode::from(BIASED),
        CheckVerdict::Inconclusive => ExitCode::from(INCONCLUSIVE),
    })
}

/// `quantd evaluate`.
pub async fn evaluate(ctx: &Ctx, a: EvaluateArgs) -> anyhow::Result<ExitCode> {
    let request = code_request(ExecutionKind::Evaluate, &a.code)?;
    let Some((engine, rec)) = start(ctx, request, &a.code).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    if rec.state != ExecutionState::Completed {
        return Ok(exit_code(&rec));
    }
    let evaluation = engine.evaluation(&rec.id).await?;
    let title = match (&rec.code_version, &rec.name) {
        (Some(_), Some(name)) => format!("`{name}`"),
        _ => "inline code".to_string(),
    };
    let text = match report_format(&a.code)? {
        Format::Json => serde_json::to_string_pretty(
            &serde_json::json!({ "execution": rec.id, "evaluation": evaluation }),
        )?,
        _ => evaluation.markdown(&title, true),
    };
    write(ctx, a.code.out.as_deref(), &text)?;
    Ok(match evaluation.status {
        quantd_engine::evaluate::Status::Failed => ExitCode::from(BIASED),
        _ => ExitCode::SUCCESS,
    })
}

/// Submits `request` on the pack `a` names and runs it here (or detaches); the engine and the
/// execution as it ended, `None` when detached.
async fn start(
    ctx: &Ctx,
    request: SubmitRequest,
    a: &CheckedCodeArgs,
) -> anyhow::Result<Option<(quantd_engine::exec::Engine, ExecutionRecord)>> {
    let engine = ctx.engine().await?;
    let rec = submit_and_wait(
        ctx,
        &engine,
        with_run_flags(request, a.pack.clone(), &a.run),
        &a.run,
    )
    .await?;
    Ok(rec.map(|r| (engine, r)))
}

/// `--format` (or `--out`'s extension): md or json.
fn report_format(a: &CheckedCodeArgs) -> anyhow::Result<Format> {
    match super::scan::pick_format(a.format.as_deref(), a.out.as_deref(), Format::Md)? {
        f @ (Format::Json | Format::Md) => Ok(f),
        Format::Table => Ok(Format::Md),
        other => anyhow::bail!("a report is written as md or json, not {other:?}"),
    }
}

/// Writes a report to `out`, or stdout.
fn write(ctx: &Ctx, out: Option<&Path>, text: &str) -> anyhow::Result<()> {
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

/// The request of kind `kind` for CODE (a file or stored code) or `--expr`, with the tickers
/// and parameters `a` gives.
fn code_request(kind: ExecutionKind, a: &CheckedCodeArgs) -> anyhow::Result<SubmitRequest> {
    let mut r = SubmitRequest::new(kind);
    r.tickers = a.tickers.clone();
    r.params = crate::cli::param_map(&a.params)?;
    if let Some(e) = &a.expr {
        r.expr = Some(e.clone());
        return Ok(r);
    }
    let code = a.code.as_deref().context("give CODE or --expr")?;
    let path = Path::new(code);
    if !path.is_file() {
        r.code = Some(code.to_string());
        return Ok(r);
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    if super::bot::is_python(path) {
        r.python = Some(text);
    } else if path.extension().is_some_and(|e| e == "json") {
        r.strategy = Some(serde_json::from_str(&text).with_context(|| {
            format!(
                "{} is not a strategy of expressions ({{\"entry\": \"..\", \"exit\": \"..\"}})",
                path.display()
            )
        })?);
    } else {
        r.expr = Some(text);
    }
    Ok(r)
}

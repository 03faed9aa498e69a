//! `quantd check lookahead`: the look-ahead check of a scanner or strategy, as an execution, with
//! a Markdown or JSON report and an exit code that says the verdict.

use super::Ctx;
use super::run::{exit_code, submit_and_wait, with_run_flags};
use crate::cli::LookaheadArgs;
use anyhow::Context;
use quantd_core::{ExecutionKind, ExecutionState};
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::lookahead::CheckVerdict;
use quantd_engine::results::Format;
use std::path::Path;
use std::process::ExitCode;

/// Exit code of a biased verdict.
const BIASED: u8 = 4;
/// Exit code of an inconclusive verdict.
const INCONCLUSIVE: u8 = 5;

pub async fn run(ctx: &Ctx, a: LookaheadArgs) -> anyhow::Result<ExitCode> {
    let mut request = code_request(&a)?;
    request.tickers = a.tickers.clone();
    request.cuts = Some(a.cuts);
    request.params = crate::cli::param_map(&a.params)?;
    let engine = ctx.engine().await?;
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
    if rec.state != ExecutionState::Completed {
        return Ok(exit_code(&rec));
    }
    let report = engine.check_report(&rec.id).await?;
    let format = super::scan::pick_format(a.format.as_deref(), a.out.as_deref(), Format::Md)?;
    let text = match format {
        Format::Json => serde_json::to_string_pretty(
            &serde_json::json!({ "execution": rec.id, "report": report }),
        )?,
        Format::Md | Format::Table => report.markdown(),
        other => anyhow::bail!("a check report is written as md or json, not {other:?}"),
    };
    match &a.out {
        Some(path) => {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
            if !ctx.json {
                eprintln!("report written to {}", path.display());
            }
        }
        None => println!("{text}"),
    }
    Ok(match report.verdict {
        CheckVerdict::Clean => ExitCode::SUCCESS,
        CheckVerdict::Biased => ExitCode::from(BIASED),
        CheckVerdict::Inconclusive => ExitCode::from(INCONCLUSIVE),
    })
}

/// The check request of CODE (a file or stored code) or `--expr`.
fn code_request(a: &LookaheadArgs) -> anyhow::Result<SubmitRequest> {
    let mut r = SubmitRequest::new(ExecutionKind::Check);
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

//! `quantd scan`: a scanner over a pack as a durable execution, then its rows (to stdout or a
//! file) and a summary. `quantd results` writes the rows of any finished scan the same way.

use super::Ctx;
use super::run::{exit_code, submit_and_wait, with_run_flags};
use crate::cli::ScanArgs;
use crate::output::{self, thousands};
use anyhow::Context;
use quantd_core::ExecutionKind;
use quantd_core::ExecutionState;
use quantd_core::ExportPolicy;
use quantd_engine::exec::Engine;
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::records::ExecutionRecord;
use quantd_engine::results::Format;
use quantd_engine::scan::ScanSummary;
use quantd_engine::views::ExportRequest;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Rows a `table` on the terminal shows before pointing to `--out`.
const TABLE_ROWS: usize = 20;

/// The engine request of `quantd scan`.
pub fn request(args: &ScanArgs) -> anyhow::Result<SubmitRequest> {
    let mut r = scanner_request(ExecutionKind::Scan, &args.scanner)?;
    r.tickers = args.tickers.clone();
    r.from = args.from;
    r.to = args.to;
    Ok(with_run_flags(r, args.scanner.pack.clone(), &args.run))
}

pub async fn run(ctx: &Ctx, args: ScanArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let Some(rec) = submit_and_wait(ctx, &engine, request(&args)?, &args.run).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    let format = pick_format(args.format.as_deref(), args.out.as_deref(), Format::Table)?;
    if rec.state != ExecutionState::Completed {
        return Ok(exit_code(&rec));
    }
    write_scan(
        ctx,
        &engine,
        &rec,
        format,
        args.out.as_deref(),
        args.signals_only,
    )
    .await?;
    Ok(exit_code(&rec))
}

/// A request of `kind` with the scanner flags on it: `--expr`, `--code` or `--file` (`.py`: a
/// Python scanner; else an expression), and `--param`s.
pub fn scanner_request(
    kind: ExecutionKind,
    s: &crate::cli::ScannerArgs,
) -> anyhow::Result<SubmitRequest> {
    let mut r = SubmitRequest::new(kind);
    match (&s.expr, &s.code, &s.file) {
        (Some(e), _, _) => r.expr = Some(e.clone()),
        (None, Some(c), _) => r.code = Some(c.clone()),
        (None, None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            if super::bot::is_python(path) {
                r.python = Some(text);
            } else {
                r.expr = Some(text);
            }
        }
        (None, None, None) => unreachable!("clap requires --expr, --code or --file"),
    }
    r.params = crate::cli::param_map(&s.params)?;
    Ok(r)
}

/// `--format`, else the extension of `--out`, else `default`.
pub fn pick_format(
    format: Option<&str>,
    out: Option<&Path>,
    default: Format,
) -> anyhow::Result<Format> {
    Ok(match (format, out) {
        (Some(f), _) => Format::parse(f)?,
        (None, Some(out)) => Format::from_path(out).unwrap_or(Format::Csv),
        (None, None) => default,
    })
}

/// Writes a scan's rows (all of them to a file or a machine format; the first rows as a table
/// on the terminal) and its summary, through the engine's export: data rights decide, so a file
/// or machine format of derived data the rights deny is refused, and the terminal table then
/// shows the signals alone and says why.
pub async fn write_scan(
    ctx: &Ctx,
    engine: &Engine,
    rec: &ExecutionRecord,
    format: Format,
    out: Option<&Path>,
    signals_only: bool,
) -> anyhow::Result<()> {
    let id = &rec.id;
    let summary = engine.summarize_scan(id).await?;
    let reader = super::rights::reader(engine);
    let all = ExportRequest {
        format,
        signals_only,
        max_rows: None,
    };
    let mut release = None;
    if let Some(out) = out {
        let tmp = out.with_extension("partial");
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let written = engine
            .export(rec, &all, &reader, std::io::BufWriter::new(file))
            .await;
        match written {
            Ok(r) => release = Some(r),
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.into());
            }
        }
        std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    } else if !ctx.json {
        let stdout = std::io::BufWriter::new(std::io::stdout());
        if format == Format::Table {
            // A look at the first rows: under `deny`, the signals alone, and why.
            let withheld = !signals_only
                && engine.terms_of(rec).await?.export() == ExportPolicy::Deny
                && !engine.scan_columns(id).await?.is_empty();
            if withheld {
                eprintln!(
                    "note: the `let` columns are withheld: the data's provider denies exporting values derived from its bars (see `quantd data show`)"
                );
            }
            let head = ExportRequest {
                signals_only: signals_only || withheld,
                max_rows: Some(TABLE_ROWS),
                ..all
            };
            release = Some(engine.export(rec, &head, &reader, stdout).await?);
            let shown = TABLE_ROWS.min(summary.signals as usize);
            if summary.signals as usize > shown {
                println!(
                    "… {} more rows (write them all with --out FILE.csv|.parquet or --format csv)",
                    thousands(summary.signals - shown as u64)
                );
            }
            println!();
        } else {
            release = Some(engine.export(rec, &all, &reader, stdout).await?);
        }
    }
    if ctx.json {
        output::json(&serde_json::json!({ "execution": rec, "summary": summary, "out": out }))?;
    } else {
        let to_stderr = format != Format::Table && out.is_none();
        print_summary(rec, &summary, to_stderr);
        if let Some(r) = &release {
            super::rights::attribute(r);
        }
    }
    Ok(())
}

/// The human summary of a scan.
pub fn print_summary(rec: &ExecutionRecord, sum: &ScanSummary, to_stderr: bool) {
    let seconds = match (rec.started_at, rec.finished_at) {
        (Some(s), Some(f)) => (f - s) as f64 / 1e3,
        _ => 0.0,
    };
    let mut text = format!(
        "{}: scanned {} tickers, {} bars of pack {} in {:.1} ms ({:.0} M bars/s)\n",
        rec.id,
        thousands(sum.tickers_scanned),
        thousands(sum.bars_scanned),
        &rec.pack_id[..12],
        seconds * 1e3,
        sum.bars_scanned as f64 / seconds.max(1e-6) / 1e6,
    );
    text += &format!(
        "signals: {} on {} tickers\n",
        thousands(sum.signals),
        thousands(sum.unique_tickers)
    );
    let list = |v: &[quantd_engine::scan::Count]| {
        v.iter()
            .map(|c| format!("{} ({})", c.key, c.signals))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if sum.signals > 0 {
        text += &format!("top dates:   {}\n", list(&sum.top_dates));
        text += &format!("top tickers: {}\n", list(&sum.top_tickers));
    }
    if to_stderr {
        eprint!("{text}");
    } else {
        print!("{text}");
        let _ = std::io::stdout().flush();
    }
}

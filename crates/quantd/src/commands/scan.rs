//! `quantd scan`: a scanner expression over a pack, rows to stdout or a file, then a summary.

use super::Ctx;
use crate::cli::ScanArgs;
use crate::output::{self, thousands};
use crate::progress::Bars;
use anyhow::Context;
use quantd_core::{PackState, Progress};
use quantd_engine::Packs;
use quantd_engine::results::{Format, write_signals};
use quantd_engine::scan::{self, ScanSummary, Signals};
use quantd_store::PackRecord;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

/// Rows a `table` on the terminal shows before pointing to `--out`.
const TABLE_ROWS: usize = 20;

/// A finished scan: where, what, how long.
pub struct ScanOutcome {
    pub pack: PackRecord,
    pub signals: Signals,
    pub summary: ScanSummary,
    pub seconds: f64,
}

/// Resolves the pack, compiles, scans: the part `demo` shares.
pub async fn scan(
    packs: &Packs,
    args: &ScanArgs,
    progress: Arc<dyn Progress>,
) -> anyhow::Result<ScanOutcome> {
    let pack = packs.find(args.pack.as_deref()).await?;
    if pack.state == PackState::Stale {
        eprintln!(
            "warning: pack `{}` ({}) is stale: a newer pack of that name exists",
            pack.name,
            pack.id.short()
        );
    }
    let reader = packs.open_reader(&pack)?;
    let params = args.params.iter().cloned().collect();
    let expr = scanner_source(packs, args).await?;
    let program = scan::compile(&reader, &expr, &params)?;
    let tickers = scan::select_tickers(&reader, args.tickers.as_deref())?;
    let bars: u64 = tickers
        .iter()
        .map(|&t| reader.manifest().tickers[t].rows)
        .sum();
    let (from, to) = (args.from, args.to);
    let started = Instant::now();
    let signals = tokio::task::spawn_blocking(move || {
        scan::run(
            &reader,
            &program,
            &tickers,
            from,
            to,
            &Default::default(),
            progress.as_ref(),
        )
    })
    .await
    .context("scan task failed")??;
    let seconds = started.elapsed().as_secs_f64();
    let summary = scan::summarize(
        &signals,
        args.tickers
            .as_ref()
            .map_or(pack.tickers, |t| t.len() as u64),
        bars,
    );
    Ok(ScanOutcome {
        pack,
        signals,
        summary,
        seconds,
    })
}

/// The scanner text: `--expr`, or the stored `--code NAME[@N]` (which must be an expression).
async fn scanner_source(packs: &Packs, args: &ScanArgs) -> anyhow::Result<String> {
    if let Some(e) = &args.expr {
        return Ok(e.clone());
    }
    let reference = args
        .code
        .as_deref()
        .expect("clap requires --expr or --code");
    let version = quantd_engine::code::resolve(packs.store(), reference).await?;
    anyhow::ensure!(
        version.language == "expr",
        "`{reference}` is {} code; `quantd scan` runs scanner expressions (Python scanners run once the sandbox lands)",
        version.language
    );
    Ok(version.source)
}

pub async fn run(ctx: &Ctx, args: ScanArgs) -> anyhow::Result<ExitCode> {
    let format = match (&args.format, &args.out) {
        (Some(f), _) => Format::parse(f)?,
        (None, Some(out)) => Format::from_path(out).unwrap_or(Format::Csv),
        (None, None) => Format::Table,
    };
    let packs = ctx.packs().await?;
    let outcome = scan(&packs, &args, Bars::new(ctx.json)).await?;
    let s = &outcome.signals;
    if let Some(out) = &args.out {
        let tmp = out.with_extension("partial");
        let file =
            std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        write_signals(s, format, std::io::BufWriter::new(file))?;
        std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    } else if format == Format::Table && !ctx.json {
        let head = Signals {
            ticker: s.ticker.iter().take(TABLE_ROWS).copied().collect(),
            date: s.date.iter().take(TABLE_ROWS).copied().collect(),
            values: s
                .values
                .iter()
                .take(TABLE_ROWS * s.indicators.len())
                .copied()
                .collect(),
            ..s.clone()
        };
        write_signals(
            &head,
            Format::Table,
            std::io::BufWriter::new(std::io::stdout()),
        )?;
        if s.len() > TABLE_ROWS {
            println!(
                "… {} more rows (write them all with --out FILE.csv|.parquet or --format csv)",
                thousands((s.len() - TABLE_ROWS) as u64)
            );
        }
        println!();
    } else if !ctx.json {
        write_signals(s, format, std::io::BufWriter::new(std::io::stdout()))?;
    }
    if ctx.json {
        output::json(&serde_json::json!({
            "pack": {"name": outcome.pack.name, "id": outcome.pack.id},
            "expression": args.expr,
            "code": args.code,
            "seconds": outcome.seconds,
            "summary": outcome.summary,
            "out": args.out,
        }))?;
    } else {
        // The summary goes to stderr when stdout carries machine-readable rows.
        let to_stderr = format != Format::Table && args.out.is_none();
        print_summary(&outcome, to_stderr);
    }
    Ok(ExitCode::SUCCESS)
}

/// The human summary of a scan.
pub fn print_summary(o: &ScanOutcome, to_stderr: bool) {
    let sum = &o.summary;
    let mut text = format!(
        "scanned {} tickers, {} bars of pack {} ({}) in {:.1} ms ({:.0} M bars/s)\n",
        thousands(sum.tickers_scanned),
        thousands(sum.bars_scanned),
        o.pack.name,
        o.pack.id.short(),
        o.seconds * 1e3,
        sum.bars_scanned as f64 / o.seconds.max(1e-9) / 1e6,
    );
    text += &format!(
        "signals: {} on {} tickers\n",
        thousands(sum.signals),
        thousands(sum.unique_tickers)
    );
    let list = |v: &[scan::Count]| {
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
    }
}

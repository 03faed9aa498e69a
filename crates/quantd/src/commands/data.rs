//! `quantd data synth|import|list|show|export|resample|gc`.

use super::Ctx;
use crate::cli::{DataCommand, ExportArgs, GcArgs, ImportArgs, ResampleArgs, SynthArgs};
use crate::output::{self, MESSAGE_CHARS, NAME_CHARS, thousands, untrusted, untrusted_lines};
use crate::progress::Bars;
use quantd_core::Rights;
use quantd_engine::ImportReport;
use quantd_engine::data::{ImportOptions, SynthSpec};
use std::process::ExitCode;

pub async fn run(ctx: &Ctx, cmd: DataCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        DataCommand::Synth(args) => synth(ctx, args).await,
        DataCommand::Import(args) => import(ctx, args).await,
        DataCommand::List => list(ctx).await,
        DataCommand::Show(arg) => show(ctx, &arg.pack).await,
        DataCommand::Export(args) => export(ctx, args).await,
        DataCommand::Resample(args) => resample(ctx, args).await,
        DataCommand::Gc(args) => gc(ctx, args).await,
    }
}

async fn gc(ctx: &Ctx, a: GcArgs) -> anyhow::Result<ExitCode> {
    let packs = ctx.packs().await?;
    let report = packs.gc(a.dry_run).await?;
    if ctx.json {
        output::json(&report)?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if a.dry_run { "would remove" } else { "removed" };
    let place = packs.pack_store().map(|s| s.url().to_string());
    for (list, from) in [
        (&report.store, place.as_deref().unwrap_or("the pack store")),
        (&report.local, "the data directory"),
    ] {
        for r in list {
            println!(
                "{verb} {} from {from} ({} bytes{})",
                r.id,
                thousands(r.bytes),
                if r.complete { "" } else { ", incomplete" }
            );
        }
    }
    println!(
        "{verb} {} pack folders ({} bytes); kept {}",
        report.store.len() + report.local.len(),
        thousands(report.bytes()),
        report.kept
    );
    Ok(ExitCode::SUCCESS)
}

async fn resample(ctx: &Ctx, a: ResampleArgs) -> anyhow::Result<ExitCode> {
    let packs = ctx.packs().await?;
    let rec = packs.find(Some(&a.pack)).await?;
    let report = packs
        .resample(&rec, a.to, &a.name, Bars::new(ctx.json))
        .await?;
    print_report(ctx, &report)
}

async fn synth(ctx: &Ctx, a: SynthArgs) -> anyhow::Result<ExitCode> {
    let packs = ctx.packs().await?;
    let spec = SynthSpec {
        tickers: a.tickers,
        days: a.days,
        seed: a.seed,
        start: a.start,
        interval: a.interval,
    };
    let report = packs.synth(&a.name, spec, Bars::new(ctx.json)).await?;
    print_report(ctx, &report)
}

async fn import(ctx: &Ctx, a: ImportArgs) -> anyhow::Result<ExitCode> {
    let packs = ctx.packs().await?;
    let naive_in_utc = a.tz.is_none();
    let opts = ImportOptions {
        ticker: a.ticker,
        lenient: a.lenient,
        tz: a.tz,
        epoch: a.epoch,
        interval: a.interval,
    };
    let rights = Rights {
        provider: a.provider,
        source: a.source,
        license: a.license,
        attribution: a.attribution,
        export: if a.no_export {
            quantd_core::ExportPolicy::Deny
        } else {
            a.export.unwrap_or_default()
        },
    };
    let report = packs
        .import_file(&a.file, &a.name, opts, rights, Bars::new(ctx.json))
        .await?;
    let code = print_report(ctx, &report)?;
    let t = &report.pack.timing;
    // Without --tz an intraday pack is in UTC unless its file named a zone (a tz-aware Parquet
    // column): then say how naive times, if the file had any, were read.
    if !ctx.json && naive_in_utc && t.first_bar.len() > 10 && t.zone == "UTC" {
        eprintln!(
            "times without an offset, if any, were read as UTC (give the exchange's zone with --tz, e.g. --tz America/New_York)"
        );
    }
    Ok(code)
}

/// The id on stdout (so `ID=$(quantd data import …)` works), the summary on stderr.
fn print_report(ctx: &Ctx, r: &ImportReport) -> anyhow::Result<ExitCode> {
    if ctx.json {
        output::json(r)?;
        return Ok(ExitCode::SUCCESS);
    }
    let p = &r.pack;
    let what = if r.unchanged { "unchanged" } else { "created" };
    eprintln!(
        "{what} pack {} ({}): {} tickers, {} bars of {} in {}, {} .. {}",
        untrusted(&p.name, NAME_CHARS),
        p.state,
        thousands(p.tickers),
        thousands(p.bars),
        p.timing.interval,
        p.timing.zone,
        p.timing.first_bar,
        p.timing.last_bar
    );
    if r.rows_dropped > 0 {
        eprintln!(
            "dropped {} of {} rows (--lenient)",
            thousands(r.rows_dropped),
            thousands(r.rows_read)
        );
    }
    println!("{}", p.id);
    Ok(ExitCode::SUCCESS)
}

async fn list(ctx: &Ctx) -> anyhow::Result<ExitCode> {
    let rows = ctx
        .packs()
        .await?
        .list(&quantd_engine::records::Page::all())
        .await?
        .items;
    if ctx.json {
        output::json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        eprintln!(
            "no packs yet: `quantd data synth --name demo --tickers 50 --days 500` or `quantd data import FILE --name NAME`"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|p| {
            vec![
                untrusted(&p.name, NAME_CHARS),
                p.id.short().to_string(),
                p.state.to_string(),
                thousands(p.tickers),
                thousands(p.bars),
                p.timing.interval.clone(),
                p.first_date.to_string(),
                p.last_date.to_string(),
                p.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ]
        })
        .collect();
    output::table(
        &[
            "NAME", "ID", "STATE", "TICKERS", "BARS", "INTERVAL", "FROM", "TO", "CREATED",
        ],
        &table,
    );
    Ok(ExitCode::SUCCESS)
}

async fn show(ctx: &Ctx, key: &str) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let packs = engine.packs();
    let rec = packs.find(Some(key)).await?;
    // The terms that apply: its provider's, when it names one.
    let rights = engine.pack_view(rec.clone()).await?.rights;
    let tickers: Vec<String> = match packs.reader(&rec).await {
        Ok(reader) => reader
            .manifest()
            .tickers
            .iter()
            .map(|t| t.ticker.clone())
            .collect(),
        Err(_) => vec![],
    };
    if ctx.json {
        let mut shown = serde_json::to_value(&rec)?;
        shown["rights"] = serde_json::to_value(&rights)?;
        shown["ticker_list"] = serde_json::to_value(&tickers)?;
        output::json(&shown)?;
        return Ok(ExitCode::SUCCESS);
    }
    let r = &rights;
    let field = |k: &str, v: String| println!("{k:<14} {v}");
    let text = |v: &str| untrusted_lines(v, MESSAGE_CHARS);
    let optional = |v: &Option<String>| v.as_deref().map_or_else(|| "-".into(), text);
    field("name", untrusted(&rec.name, NAME_CHARS));
    field("id", rec.id.to_string());
    field("state", rec.state.to_string());
    if let Some(e) = &rec.error {
        field("error", text(e));
    }
    field("tickers", thousands(rec.tickers));
    field("bars", thousands(rec.bars));
    field("interval", rec.timing.interval.clone());
    field("zone", rec.timing.zone.clone());
    field(
        "bars from",
        format!("{} .. {}", rec.timing.first_bar, rec.timing.last_bar),
    );
    field("columns", text(&rec.columns.join(", ")));
    field("origin", text(&rec.origin));
    if rec.rows_dropped > 0 {
        field("rows dropped", thousands(rec.rows_dropped));
    }
    field("created", rec.created_at.to_rfc3339());
    field("provider", optional(&r.provider));
    field("source", optional(&r.source));
    field("license", optional(&r.license));
    field("attribution", optional(&r.attribution));
    field(
        "export",
        match r.export {
            quantd_core::ExportPolicy::Allow => "allowed".into(),
            quantd_core::ExportPolicy::Watermark => "watermarked (each export recorded)".into(),
            quantd_core::ExportPolicy::Deny => "not allowed (derived data neither)".into(),
        },
    );
    if !tickers.is_empty() {
        let shown: Vec<String> = tickers
            .iter()
            .take(10)
            .map(|t| untrusted(t, NAME_CHARS))
            .collect();
        let more = tickers.len().saturating_sub(shown.len());
        let tail = if more > 0 {
            format!(" … (+{more})")
        } else {
            String::new()
        };
        field("ticker list", format!("{}{tail}", shown.join(", ")));
    }
    Ok(ExitCode::SUCCESS)
}

async fn export(ctx: &Ctx, a: ExportArgs) -> anyhow::Result<ExitCode> {
    let packs = ctx.packs().await?;
    let rec = packs.find(Some(&a.pack)).await?;
    let reader = quantd_engine::rights::Reader::cli(quantd_engine::DEFAULT_WORKSPACE);
    let attribution = packs
        .export(&rec, &a.out, &reader, Bars::new(ctx.json))
        .await?;
    if let Some(a) = attribution.filter(|_| !ctx.json) {
        eprintln!("data: {}", untrusted(&a, 1_000));
    }
    if ctx.json {
        output::json(&serde_json::json!({"pack": rec.id, "out": a.out}))?;
    } else {
        eprintln!(
            "exported {} bars of {} to {}",
            thousands(rec.bars),
            untrusted(&rec.name, NAME_CHARS),
            a.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

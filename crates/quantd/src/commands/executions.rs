//! `quantd show|results|pause|resume|cancel|history|summary`: executions after they start.

use super::Ctx;
use super::run::{exit_code, run_foreground};
use crate::cli::{HistoryArgs, ResultsArgs, SummaryArgs};
use crate::output::{self, thousands};
use anyhow::Context;
use quantd_core::{ExecutionId, ExecutionKind, ExecutionState};
use quantd_engine::exec::Engine;
use quantd_engine::exec::health::Health;
use quantd_engine::records::{ExecutionFilter, ExecutionRecord};
use quantd_engine::results::Format;
use quantd_engine::views::ExportRequest;
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn parse_id(s: &str) -> anyhow::Result<ExecutionId> {
    s.parse()
        .with_context(|| format!("`{s}` is not an execution id; list them with `quantd history`"))
}

fn ms_to_text(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
}

fn duration(rec: &ExecutionRecord) -> String {
    match (rec.started_at, rec.finished_at) {
        (Some(s), Some(f)) => format!("{:.3} s", (f - s) as f64 / 1e3),
        (Some(_), None) => "running".into(),
        _ => "-".into(),
    }
}

pub async fn show(ctx: &Ctx, id: &str) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let id = parse_id(id)?;
    let rec = engine.execution(&id).await?;
    let shards = engine.records().shards(&id).await?;
    let health = Health::of(&rec, &shards, chrono::Utc::now().timestamp_millis());
    let interrupted = engine.records().interrupted(&rec, &shards);
    // Running shards report their bars before they commit (in another process too).
    let bars = engine.records().bars_so_far(&rec).await?;
    // Who did what to it (oldest first), and its data's terms.
    let filter = quantd_engine::records::AuditFilter {
        execution: Some(id.clone()),
        ..Default::default()
    };
    let mut audit = engine
        .audit(&filter, &quantd_engine::records::Page::first(50))
        .await?
        .items;
    audit.reverse();
    let terms = engine.terms_of(&rec).await?;
    if ctx.json {
        output::json(
            &serde_json::json!({ "execution": rec, "health": health, "shards": shards, "interrupted": interrupted, "bars_so_far": bars, "audit": audit, "terms": terms }),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    let field = |k: &str, v: String| println!("{k:<12} {v}");
    field("execution", rec.id.to_string());
    field("kind", rec.kind.to_string());
    field("state", state_text(&rec, interrupted));
    if let Some(name) = &rec.name {
        field("code", name.clone());
    }
    field(
        "progress",
        format!(
            "{}/{} shards done, {} failed",
            rec.shards_done, rec.shards_total, rec.shards_failed
        ),
    );
    field("bars", thousands(bars));
    field("rows", thousands(rec.rows));
    field(
        "health",
        format!(
            "{} ({}), error rate {:.1}%",
            health.score,
            health.band,
            health.error_rate * 100.0
        ),
    );
    field("pack", rec.pack_id.clone());
    if !terms.sources.is_empty() {
        field(
            "data rights",
            format!(
                "export {} (provider {}){}",
                terms.export(),
                terms.binding_names(),
                terms
                    .attribution()
                    .map(|a| format!("; {a}"))
                    .unwrap_or_default()
            ),
        );
    }
    field("fingerprint", rec.fingerprint.clone());
    field("created", ms_to_text(Some(rec.created_at)));
    field("started", ms_to_text(rec.started_at));
    field("finished", ms_to_text(rec.finished_at));
    field("duration", duration(&rec));
    if let Some(msg) = &rec.error_message {
        field(
            "error",
            format!(
                "{msg} ({})",
                rec.error_class.map_or("internal", |c| c.as_str())
            ),
        );
    }
    if rec.kind == ExecutionKind::Run {
        super::bot::show_metrics(&rec);
    }
    if let (Some(parent), Some(step)) = (&rec.parent_id, &rec.parent_step) {
        field("pattern", format!("{parent}, step {step}"));
    }
    if rec.kind == ExecutionKind::Pattern {
        println!("\n{}", engine.pattern_report(&id).await?.graph().trim_end());
    }
    for s in shards
        .iter()
        .filter(|s| s.state == quantd_core::ShardState::Failed)
    {
        field(
            "failed shard",
            format!("{}: {}", s.idx, s.error_message.as_deref().unwrap_or("-")),
        );
    }
    for e in &audit {
        field(
            "audit",
            format!(
                "{} {} by {} ({})",
                ms_to_text(Some(e.at)),
                e.action,
                output::untrusted(&e.actor, 200),
                output::untrusted(&e.detail, 200)
            ),
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn results(ctx: &Ctx, a: ResultsArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let rec = engine.execution(&parse_id(&a.execution)?).await?;
    show_results(
        ctx,
        &engine,
        &rec,
        Output {
            format: a.format.as_deref(),
            out: a.out.as_deref(),
            signals_only: a.signals_only,
        },
        Format::Csv,
    )
    .await?;
    if rec.state != ExecutionState::Completed {
        eprintln!(
            "note: {} is {}; these are the results committed so far",
            rec.id, rec.state
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// What an execution produced, as `quantd results` and the command that started it print it:
/// the kind's own terminal view, or its result table in a format (`scan_default` is the
/// format of scan rows when none is asked).
pub async fn show_results(
    ctx: &Ctx,
    engine: &Engine,
    rec: &ExecutionRecord,
    asked_for: Output<'_>,
    scan_default: Format,
) -> anyhow::Result<()> {
    let Output {
        format: format_arg,
        out,
        signals_only,
    } = asked_for;
    // A format (or an --out extension) asks for the kind's result table, as the API serves
    // it; without one each kind prints its own terminal view.
    // `--json` alone keeps each kind's JSON view (a sweep's ranking, a backtest's aggregate).
    let asked = format_arg.is_some() || out.is_some();
    let format = super::scan::pick_format(format_arg, out, scan_default)?;
    match rec.kind {
        ExecutionKind::Scan => {
            super::scan::write_scan(ctx, engine, rec, format, out, signals_only).await?
        }
        ExecutionKind::Backtest => {
            super::strategy::write_backtest(ctx, engine, rec, format_arg, out, false).await?
        }
        ExecutionKind::Test if !asked || matches!(format, Format::Md) => {
            let format = if ctx.json && !asked {
                Format::Json
            } else {
                Format::Md
            };
            super::test::write_report(ctx, engine, rec, format, out).await?
        }
        ExecutionKind::Sweep if !asked => {
            super::strategy::write_sweep(
                ctx,
                engine,
                rec,
                quantd_engine::backtest::Metric::SharpeRatio,
                true,
                10,
                None,
            )
            .await?
        }
        ExecutionKind::Run if !asked => super::bot::write_run(ctx, engine, rec).await?,
        ExecutionKind::Pattern if !asked => {
            let format = if ctx.json { Format::Json } else { Format::Md };
            write_table(engine, rec, format, out).await?
        }
        _ => write_table(engine, rec, format, out).await?,
    }
    Ok(())
}

/// What `quantd results` (or the command that ran an execution) is asked to write.
#[derive(Debug, Clone, Copy, Default)]
pub struct Output<'a> {
    /// `--format`.
    pub format: Option<&'a str>,
    /// `--out`.
    pub out: Option<&'a Path>,
    /// `--signals-only`.
    pub signals_only: bool,
}

/// Writes an execution's result table (the engine's view of its kind) to `out` or stdout,
/// through the engine's export (data rights decide; a refused export writes nothing).
pub(super) async fn write_table(
    engine: &Engine,
    rec: &ExecutionRecord,
    format: Format,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let reader = super::rights::reader(engine);
    let req = ExportRequest::all(format);
    let release = match out {
        Some(path) => {
            let tmp = path.with_extension("partial");
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            let written = engine
                .export(rec, &req, &reader, std::io::BufWriter::new(file))
                .await;
            let release = match written {
                Ok(r) => r,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e.into());
                }
            };
            std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("{}: results written to {}", rec.id, path.display());
            release
        }
        None => {
            let stdout = std::io::BufWriter::new(std::io::stdout());
            engine.export(rec, &req, &reader, stdout).await?
        }
    };
    super::rights::attribute(&release);
    Ok(())
}

pub async fn pause(ctx: &Ctx, id: &str) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let rec = engine.pause(&parse_id(id)?).await?;
    let reader = super::rights::reader(&engine);
    engine.record(&reader, "paused", &rec, "from the CLI").await;
    println!(
        "{} is {}: running shards stop and go back to the queue; `quantd resume {}` continues",
        rec.id, rec.state, rec.id
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn cancel(ctx: &Ctx, id: &str) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let rec = engine.cancel(&parse_id(id)?).await?;
    let reader = super::rights::reader(&engine);
    engine
        .record(&reader, "cancelled", &rec, "from the CLI")
        .await;
    println!(
        "{} is {}; results committed so far stay readable",
        rec.id, rec.state
    );
    Ok(ExitCode::SUCCESS)
}

/// Resumes a paused execution, or continues one interrupted by a crash, in the foreground;
/// with `force`, runs a quarantined one again.
pub async fn resume(ctx: &Ctx, id: &str, force: bool) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let id = parse_id(id)?;
    let rec = engine.execution(&id).await?;
    match rec.state {
        ExecutionState::Paused => {
            engine.resume(&id).await?;
        }
        ExecutionState::Pending | ExecutionState::Running => {}
        ExecutionState::Failed if rec.quarantined && force => {
            engine.resume_quarantined(&id).await?;
        }
        ExecutionState::Failed if rec.quarantined => anyhow::bail!(
            "{id} is quarantined: a shard crashed its worker {} times; `quantd resume --force {id}` runs it again",
            engine.options().quarantine_after
        ),
        done => anyhow::bail!("{id} is {done}; there is nothing to resume"),
    }
    let rec = run_foreground(ctx, &engine, &id).await?;
    if ctx.json {
        output::json(&rec)?;
    } else {
        // The result table the original command prints.
        if rec.state == ExecutionState::Completed {
            show_results(ctx, &engine, &rec, Output::default(), Format::Table).await?;
        }
        eprintln!(
            "{} is {} ({}/{} shards)",
            rec.id, rec.state, rec.shards_done, rec.shards_total
        );
    }
    Ok(exit_code(&rec))
}

/// The state line of `show`: an interrupted execution says so, with the command that
/// continues it.
fn state_text(rec: &ExecutionRecord, interrupted: bool) -> String {
    if interrupted {
        format!(
            "interrupted: it says {}, but the process running it is gone; `quantd resume {}` continues it",
            rec.state, rec.id
        )
    } else {
        rec.state.to_string()
    }
}

/// `YYYY-MM-DD` or a duration back from now (`90m`, `12h`, `7d`).
fn parse_since(s: &str) -> anyhow::Result<i64> {
    if let Ok(d) = s.parse::<chrono::NaiveDate>() {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis());
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num.parse().with_context(|| {
        format!("--since `{s}`: use YYYY-MM-DD or a duration like 90m, 12h, 7d")
    })?;
    let ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => anyhow::bail!("--since `{s}`: use YYYY-MM-DD or a duration like 90m, 12h, 7d"),
    };
    Ok(chrono::Utc::now().timestamp_millis() - n * ms)
}

fn filter(
    name: Option<String>,
    kind: Option<&str>,
    status: Option<&str>,
    since: Option<&str>,
    limit: u32,
) -> anyhow::Result<ExecutionFilter> {
    Ok(ExecutionFilter {
        workspace: Some("default".into()),
        name,
        kind: kind
            .map(|k| k.parse::<ExecutionKind>())
            .transpose()
            .context("--kind")?,
        state: status
            .map(|s| s.parse())
            .transpose()
            .map_err(anyhow::Error::msg)?,
        since: since.map(parse_since).transpose()?,
        after: None,
        limit,
        ..Default::default()
    })
}

pub async fn history(ctx: &Ctx, a: HistoryArgs) -> anyhow::Result<ExitCode> {
    let packs = ctx.packs().await?;
    let f = ExecutionFilter {
        after: a.after,
        top_level: !a.steps,
        ..filter(
            a.name,
            a.kind.as_deref(),
            a.status.as_deref(),
            a.since.as_deref(),
            a.limit,
        )?
    };
    let page = packs.records().list(&f).await?;
    if let Some(next) = &page.next {
        eprintln!("more: add `--after {next}` for the next page");
    }
    let rows = page.items;
    if ctx.json {
        output::json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        eprintln!("no executions match");
        return Ok(ExitCode::SUCCESS);
    }
    let mut states = Vec::with_capacity(rows.len());
    for r in &rows {
        // Only a running execution can be interrupted: the others need no shard read.
        let interrupted = r.state == ExecutionState::Running
            && packs
                .records()
                .interrupted(r, &packs.records().shards(&r.id).await?);
        states.push(if interrupted {
            "interrupted".to_string()
        } else {
            r.state.to_string()
        });
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .zip(states)
        .map(|(r, state)| {
            vec![
                r.id.to_string(),
                r.kind.to_string(),
                r.name.clone().unwrap_or_else(|| "-".into()),
                state,
                format!("{}/{}", r.shards_done, r.shards_total),
                thousands(r.rows),
                duration(r),
                ms_to_text(Some(r.created_at)),
            ]
        })
        .collect();
    output::table(
        &[
            "EXECUTION",
            "KIND",
            "NAME",
            "STATE",
            "SHARDS",
            "ROWS",
            "DURATION",
            "CREATED",
        ],
        &table,
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn summary(ctx: &Ctx, a: SummaryArgs) -> anyhow::Result<ExitCode> {
    let packs = ctx.packs().await?;
    let sum = packs
        .records()
        .summary(quantd_engine::DEFAULT_WORKSPACE, a.name.as_deref())
        .await?;
    let out = serde_json::to_value(&sum)?;
    if ctx.json {
        output::json(&out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let opt = |v: &serde_json::Value, suffix: &str| {
        v.as_f64()
            .map_or_else(|| "-".into(), |x| format!("{x:.2}{suffix}"))
    };
    println!(
        "runs          {} ({} finished, {} completed)",
        out["runs"], out["finished"], out["completed"]
    );
    println!(
        "success rate  {}",
        out["success_rate"]
            .as_f64()
            .map_or_else(|| "-".into(), |x| format!("{:.1}%", x * 100.0))
    );
    println!("signals       {}", out["signals"]);
    println!("avg return    {}", opt(&out["average_return_pct"], "%"));
    println!("avg Sharpe    {}", opt(&out["average_sharpe"], ""));
    println!(
        "avg max DD    {}",
        opt(&out["average_max_drawdown_pct"], "%")
    );
    if let (Some(b), Some(w)) = (&sum.best_run, &sum.worst_run) {
        println!("best run      {} {:+.2}%", b.execution, b.return_pct);
        println!("worst run     {} {:+.2}%", w.execution, w.return_pct);
    }
    Ok(ExitCode::SUCCESS)
}

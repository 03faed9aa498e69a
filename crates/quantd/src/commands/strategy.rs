//! `quantd backtest` and `quantd sweep`: strategies as executions, with backtesting.py's
//! statistics per ticker, an aggregate across tickers, and sweep rankings and heatmaps.

use super::Ctx;
use super::run::{exit_code, submit_and_wait, with_run_flags};
use crate::cli::{BacktestArgs, PaperArgs, StrategyArgs, SweepArgs};
use crate::output::{self, thousands};
use anyhow::Context;
use quantd_core::{ExecutionKind, ExecutionState};
use quantd_engine::backtest::{Commission, Config, Fill, Metric, Sizing};
use quantd_engine::code::StrategyExprs;
use quantd_engine::exec::Engine;
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::exec::strategy::{TickerBacktest, aggregate};
use quantd_engine::records::ExecutionRecord;
use quantd_engine::results::Format;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// The simulation settings of the shared flags.
fn config(s: &StrategyArgs) -> Config {
    Config {
        cash: s.cash,
        commission: Commission {
            fixed: s.commission_fixed,
            relative: s.commission,
        },
        spread: s.spread,
        fill: if s.fill == "close" {
            Fill::Close
        } else {
            Fill::NextOpen
        },
        sizing: s.size.map_or(Sizing::Equity(s.fraction), Sizing::Units),
        fractional: s.fractional,
        exclusive_orders: s.exclusive,
        stop_loss_pct: s.sl,
        take_profit_pct: s.tp,
        finalize_trades: s.finalize_trades,
        portfolio: s.portfolio,
        ..Config::default()
    }
}

/// A request of `kind` (backtest or sweep) with the strategy flags on it.
fn request(
    kind: ExecutionKind,
    s: &StrategyArgs,
    params: &[(String, f64)],
) -> anyhow::Result<SubmitRequest> {
    let mut r = SubmitRequest::new(kind);
    match (&s.entry, &s.code, &s.file) {
        (Some(entry), _, _) => {
            r.strategy = Some(StrategyExprs {
                entry: entry.clone(),
                exit: s.exit.clone().expect("clap requires --exit"),
                short_entry: s.short_entry.clone(),
                short_exit: s.short_exit.clone(),
            })
        }
        (None, Some(code), _) => r.code = Some(code.clone()),
        (None, None, Some(path)) => {
            r.python = Some(
                std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            )
        }
        (None, None, None) => unreachable!("clap requires --entry, --code or --file"),
    }
    r.params = crate::cli::param_map(params)?;
    r.tickers = s.tickers.clone();
    r.from = s.from;
    r.to = s.to;
    r.config = Some(serde_json::to_value(config(s))?);
    Ok(r)
}

pub async fn backtest(ctx: &Ctx, a: BacktestArgs) -> anyhow::Result<ExitCode> {
    let job = request(ExecutionKind::Backtest, &a.strategy, &a.params)?;
    let shown = (a.format.as_deref(), a.out.as_deref(), a.trades);
    run_and_write(ctx, job, &a.strategy, &a.run, shown).await
}

/// `quantd paper`: a paper session in the foreground (fills and days printed by the progress
/// follower), then its results as a backtest's. With `--live`, a live session (its book
/// mirrored to the broker account): no speed, it trades bars as they come.
pub async fn paper(ctx: &Ctx, a: PaperArgs) -> anyhow::Result<ExitCode> {
    let kind = if a.live {
        ExecutionKind::Live
    } else {
        ExecutionKind::Paper
    };
    let mut job = request(kind, &a.strategy, &a.params)?;
    if a.live {
        job.confirm_live = true;
    } else {
        job.speed = Some(a.speed.clone());
    }
    job.follow = a.follow;
    run_and_write(ctx, job, &a.strategy, &a.run, (None, None, a.trades)).await
}

/// Runs a backtest or paper request in the foreground (or detached), then writes its results
/// as `format`, to `out`, with its trades or not.
async fn run_and_write(
    ctx: &Ctx,
    job: SubmitRequest,
    s: &StrategyArgs,
    run: &crate::cli::RunArgs,
    (format, out, with_trades): (Option<&str>, Option<&Path>, bool),
) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let job = with_run_flags(job, s.pack.clone(), run);
    let Some(rec) = submit_and_wait(ctx, &engine, job, run).await? else {
        return Ok(ExitCode::SUCCESS);
    };
    if rec.state == ExecutionState::Completed {
        write_backtest(ctx, &engine, &rec, format, out, with_trades).await?;
    }
    Ok(exit_code(&rec))
}

/// `quantd orders ID`: a paper session's record, as a table (one line per event, as the
/// session printed them) or JSON.
pub async fn orders(ctx: &Ctx, id: &str) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let id = super::executions::parse_id(id)?;
    let rec = engine.execution(&id).await?;
    let release = match super::rights::display(&engine, &rec, "paper orders").await? {
        Ok(release) => release,
        Err(why) => anyhow::bail!("the session's orders are not shown: {why}"),
    };
    super::rights::attribute(&release);
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = engine
            .session_record(
                &id,
                after,
                quantd_engine::exec::kinds::paper::MAX_RECORD_PAGE,
            )
            .await?;
        events.extend(page.events);
        match page.next {
            Some(next) => after = next,
            None => break,
        }
    }
    if ctx.json {
        let rows = serde_json::to_value(&events)?;
        output::json(&match &release.watermark {
            Some(w) => w.wrap(rows),
            None => rows,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    if events.is_empty() {
        eprintln!("no orders yet: the session has not traded a bar");
    }
    for e in &events {
        if let Some(line) = output::session_line(&e.event, true) {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn num(v: f64) -> String {
    if v.is_nan() {
        "--".into()
    } else {
        format!("{v:.2}")
    }
}

/// Writes a backtest's results: statistics (one ticker), a table (many), JSON, CSV or Markdown.
pub async fn write_backtest(
    ctx: &Ctx,
    engine: &Engine,
    rec: &ExecutionRecord,
    format: Option<&str>,
    out: Option<&Path>,
    with_trades: bool,
) -> anyhow::Result<()> {
    let mut results = engine.backtest_results(&rec.id).await?;
    let agg = aggregate(&results);
    let format = match (format, out) {
        (Some(f), _) => f.to_ascii_lowercase(),
        (None, Some(p)) => p
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("json")
            .to_ascii_lowercase(),
        (None, None) if ctx.json => "json".into(),
        (None, None) => "table".into(),
    };
    // JSON carries every trade and equity curve, the table with --trades every trade: derived
    // data, which the data's rights may deny (then statistics only) or watermark.
    let mut with_trades = with_trades;
    let mut watermark = None;
    if format == "json" || with_trades {
        match super::rights::display(engine, rec, &format!("backtest trades as {format}")).await? {
            Ok(release) => {
                super::rights::attribute(&release);
                watermark = release.watermark;
            }
            Err(why) => {
                eprintln!("note: trades and equity are left out: {why}");
                with_trades = false;
                for t in &mut results {
                    t.trades.clear();
                    t.open_trade = None;
                    t.equity = None;
                }
            }
        }
    }
    let mut text = Vec::new();
    if let Some(w) = watermark.as_ref().filter(|_| format != "json") {
        writeln!(text, "{}", w.line())?;
    }
    match format.as_str() {
        "json" => serde_json::to_writer_pretty(
            &mut text,
            &serde_json::json!({
                "execution": rec.id, "aggregate": agg, "tickers": results, "watermark": watermark,
            }),
        )?,
        "table" | "md" => render_backtest(&mut text, &results, &agg, format == "md", with_trades)?,
        // Every other format is the engine's result table, as the API writes it.
        other => quantd_engine::views::backtest_table(&results).write(
            Format::parse(other)?,
            quantd_engine::views::TABLE_PRECISION,
            &mut text,
        )?,
    }
    match out {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
            eprintln!(
                "{}: {} tickers written to {}",
                rec.id,
                results.len(),
                path.display()
            );
        }
        None => std::io::stdout().write_all(&text)?,
    }
    Ok(())
}

fn render_backtest(
    w: &mut Vec<u8>,
    results: &[TickerBacktest],
    agg: &serde_json::Map<String, serde_json::Value>,
    markdown: bool,
    with_trades: bool,
) -> anyhow::Result<()> {
    if let [one] = results {
        writeln!(w, "{}", one.ticker)?;
        match &one.stats {
            Some(stats) => {
                for (name, value) in stats.entries() {
                    writeln!(w, "{name:<26} {value}")?;
                }
            }
            None => writeln!(
                w,
                "no backtest: {}",
                one.error.as_deref().unwrap_or("unknown error")
            )?,
        }
    } else {
        let header: Vec<String> = [
            "ticker",
            "Return [%]",
            "Buy & Hold [%]",
            "Sharpe",
            "Max. DD [%]",
            "# Trades",
            "Win Rate [%]",
        ]
        .map(String::from)
        .to_vec();
        let mut rows: Vec<Vec<String>> = results
            .iter()
            .map(|r| match &r.stats {
                Some(s) => vec![
                    r.ticker.clone(),
                    num(s.get(Metric::Return)),
                    num(s.get(Metric::BuyHoldReturn)),
                    num(s.get(Metric::SharpeRatio)),
                    num(s.get(Metric::MaxDrawdown)),
                    (s.get(Metric::Trades) as u64).to_string(),
                    num(s.get(Metric::WinRate)),
                ],
                None => vec![
                    r.ticker.clone(),
                    format!("error: {}", r.error.as_deref().unwrap_or("-")),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ],
            })
            .collect();
        let g = |k: &str| {
            agg.get(k)
                .and_then(|v| v.as_f64())
                .map_or("--".into(), |v| format!("{v:.2}"))
        };
        rows.push(vec![
            format!("mean of {}", results.len()),
            g("Return [%]"),
            g("Buy & Hold Return [%]"),
            g("Sharpe Ratio"),
            g("Max. Drawdown [%]"),
            agg.get("# Trades").map_or("0".into(), |v| v.to_string()),
            g("Win Rate [%]"),
        ]);
        quantd_engine::results::write_table(w, &header, &rows, markdown, true)?;
    }
    if with_trades {
        writeln!(w)?;
        let header: Vec<String> = [
            "ticker",
            "size",
            "entry",
            "entry price",
            "exit",
            "exit price",
            "PnL",
            "return [%]",
        ]
        .map(String::from)
        .to_vec();
        let rows: Vec<Vec<String>> = results
            .iter()
            .flat_map(|r| {
                r.trades.iter().map(move |t| {
                    let day = |t: i64| r.calendar.format(t);
                    vec![
                        r.ticker.clone(),
                        t.size.to_string(),
                        day(t.entry_time),
                        format!("{:.4}", t.entry_price),
                        day(t.exit_time),
                        format!("{:.4}", t.exit_price),
                        format!("{:.2}", t.pnl),
                        format!("{:.2}", t.return_pct * 100.0),
                    ]
                })
            })
            .collect();
        quantd_engine::results::write_table(w, &header, &rows, markdown, true)?;
    }
    Ok(())
}

pub async fn sweep(ctx: &Ctx, a: SweepArgs) -> anyhow::Result<ExitCode> {
    let (metric_name, maximize) = match &a.minimize {
        Some(m) => (m.clone(), false),
        None => (a.maximize.clone(), true),
    };
    let metric: Metric = metric_name
        .parse()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("--maximize/--minimize `{metric_name}`"))?;
    let engine = ctx.engine().await?;
    let mut job = request(ExecutionKind::Sweep, &a.strategy, &[])?;
    job.grid = a.grid.clone();
    job.constraint = a.constraint.clone();
    let Some(rec) = submit_and_wait(
        ctx,
        &engine,
        with_run_flags(job, a.strategy.pack.clone(), &a.run),
        &a.run,
    )
    .await?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    if rec.state == ExecutionState::Completed {
        write_sweep(
            ctx,
            &engine,
            &rec,
            metric,
            maximize,
            a.top,
            a.out.as_deref(),
        )
        .await?;
    }
    Ok(exit_code(&rec))
}

/// Ranks a sweep's parameter sets by the mean of `metric` over tickers; prints the top and writes
/// the heatmap.
pub async fn write_sweep(
    ctx: &Ctx,
    engine: &Engine,
    rec: &ExecutionRecord,
    metric: Metric,
    maximize: bool,
    top: usize,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let view = engine.sweep_view(&rec.id).await?;
    if let Some(path) = out {
        let format = Format::from_path(path).unwrap_or(Format::Csv);
        let file =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        view.heatmap(metric).write(
            format,
            quantd_engine::views::TABLE_PRECISION,
            std::io::BufWriter::new(file),
        )?;
    }
    let ranked = view.ranked(metric, maximize, top);
    let (names, rows, cells) = (&view.names, view.backtests, &view.cells);
    if ctx.json {
        let best: Vec<serde_json::Value> = ranked
            .iter()
            .map(|c| {
                let mut m = serde_json::Map::new();
                for (n, v) in names.iter().zip(&c.params) {
                    m.insert(n.clone(), (*v).into());
                }
                m.insert(metric.name().into(), c.mean(metric).into());
                m.insert("tickers".into(), c.backtests.into());
                serde_json::Value::Object(m)
            })
            .collect();
        output::json(
            &serde_json::json!({ "execution": rec.id, "backtests": rows, "combinations": cells.len(), "metric": metric.name(), "top": best, "heatmap": out }),
        )?;
        return Ok(());
    }
    let seconds = rec
        .finished_at
        .zip(rec.started_at)
        .map_or(0.0, |(f, s)| (f - s) as f64 / 1e3);
    println!(
        "{}: {} backtests ({} parameter sets × tickers) in {:.2} s ({:.0} backtests/s)",
        rec.id,
        thousands(rows),
        cells.len(),
        seconds,
        rows as f64 / seconds.max(1e-6)
    );
    println!(
        "top {} by {} {} (mean over tickers):",
        ranked.len(),
        if maximize { "highest" } else { "lowest" },
        metric.name()
    );
    let mut buf = Vec::new();
    view.ranking(metric, maximize, top).write(
        Format::Table,
        quantd_engine::views::TABLE_PRECISION,
        &mut buf,
    )?;
    std::io::stdout().write_all(&buf)?;
    if let Some(p) = out {
        println!(
            "heatmap ({} parameter sets) written to {}",
            cells.len(),
            p.display()
        );
    }
    Ok(())
}

//! `quantd backtest` and `quantd sweep`: strategies as executions, with backtesting.py's
//! statistics per ticker, an aggregate across tickers, and sweep rankings and heatmaps.

use super::Ctx;
use super::run::{exit_code, submit_and_wait, submit_spec};
use crate::cli::{BacktestArgs, StrategyArgs, SweepArgs};
use crate::output::{self, thousands};
use anyhow::Context;
use quantd_engine::backtest::{Commission, Config, Fill, Metric, Sizing};
use quantd_core::ExecutionState;
use quantd_engine::code::StrategyExprs;
use quantd_engine::exec::Engine;
use quantd_engine::exec::spec::{BacktestRequest, JobRequest, StrategyChoice, SweepRequest};
use quantd_engine::exec::strategy::{TickerBacktest, aggregate};
use quantd_engine::records::ExecutionRecord;
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
        ..Config::default()
    }
}

fn request(s: &StrategyArgs, params: &[(String, f64)]) -> anyhow::Result<BacktestRequest> {
    let strategy = match (&s.entry, &s.code, &s.file) {
        (Some(entry), _, _) => StrategyChoice::Inline(StrategyExprs {
            entry: entry.clone(),
            exit: s.exit.clone().expect("clap requires --exit"),
            short_entry: s.short_entry.clone(),
            short_exit: s.short_exit.clone(),
        }),
        (None, Some(code), _) => StrategyChoice::Stored(code.clone()),
        (None, None, Some(path)) => StrategyChoice::Python(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        (None, None, None) => unreachable!("clap requires --entry, --code or --file"),
    };
    Ok(BacktestRequest {
        strategy,
        params: crate::cli::param_map(params)?,
        tickers: s.tickers.clone(),
        from: s.from,
        to: s.to,
        config: config(s),
    })
}

pub async fn backtest(ctx: &Ctx, a: BacktestArgs) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    let job = JobRequest::Backtest(request(&a.strategy, &a.params)?);
    let Some(rec) = submit_and_wait(
        ctx,
        &engine,
        submit_spec(job, a.strategy.pack.clone(), &a.run),
        &a.run,
    )
    .await?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    if rec.state == ExecutionState::Completed {
        write_backtest(
            ctx,
            &engine,
            &rec,
            a.format.as_deref(),
            a.out.as_deref(),
            a.trades,
        )
        .await?;
    }
    Ok(exit_code(&rec))
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
    let results = engine.backtest_results(&rec.id).await?;
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
    let mut text = Vec::new();
    match format.as_str() {
        "json" => serde_json::to_writer_pretty(
            &mut text,
            &serde_json::json!({ "execution": rec.id, "aggregate": agg, "tickers": results }),
        )?,
        "csv" => {
            let names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
            writeln!(
                text,
                "ticker,{}",
                names
                    .iter()
                    .map(|n| format!("\"{n}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            )?;
            for r in &results {
                let vals: Vec<String> = Metric::ALL
                    .iter()
                    .map(|&m| {
                        r.stats.as_ref().map_or(String::new(), |s| {
                            let v = s.get(m);
                            if v.is_nan() {
                                String::new()
                            } else {
                                v.to_string()
                            }
                        })
                    })
                    .collect();
                writeln!(text, "{},{}", r.ticker, vals.join(","))?;
            }
        }
        "table" | "md" => render_backtest(&mut text, &results, &agg, format == "md", with_trades)?,
        other => {
            anyhow::bail!("unknown format `{other}` for a backtest; use table, json, csv or md")
        }
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
                    let day = |d: i32| quantd_engine::data::date_from_day(d).to_string();
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
    let job = JobRequest::Sweep(SweepRequest {
        backtest: request(&a.strategy, &[])?,
        grid: a.grid.clone(),
        constraint: a.constraint.clone(),
    });
    let Some(rec) = submit_and_wait(
        ctx,
        &engine,
        submit_spec(job, a.strategy.pack.clone(), &a.run),
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

/// One heatmap cell: a parameter set and the mean of the metric over the tickers.
struct Cell {
    params: Vec<f64>,
    mean: f64,
    tickers: u64,
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
    let k = Metric::ALL
        .iter()
        .position(|&m| m == metric)
        .expect("metric in ALL");
    // Rows come sorted by (ticker, combo) per shard and shards in order, so the sums are
    // computed in the same order every time (bit-identical rankings).
    let mut sums: std::collections::BTreeMap<u32, (f64, u64)> = std::collections::BTreeMap::new();
    let mut rows = 0u64;
    let grid = engine
        .sweep_results(&rec.id, |chunk| {
            for r in chunk {
                rows += 1;
                let v = r.metrics[k];
                let e = sums.entry(r.combo).or_default();
                if v.is_finite() {
                    e.0 += v;
                    e.1 += 1;
                }
            }
            Ok(())
        })
        .await?;
    let mut values = Vec::new();
    let mut cells: Vec<Cell> = sums
        .into_iter()
        .map(|(combo, (sum, n))| {
            grid.values_at(combo as u64, &mut values);
            Cell {
                params: values.clone(),
                mean: if n > 0 { sum / n as f64 } else { f64::NAN },
                tickers: n,
            }
        })
        .collect();
    cells.sort_by(|a, b| {
        a.params
            .partial_cmp(&b.params)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let names = grid.names().to_vec();
    if let Some(path) = out {
        write_heatmap(path, &names, metric, &cells)?;
    }
    let mut ranked: Vec<&Cell> = cells.iter().filter(|c| c.mean.is_finite()).collect();
    ranked.sort_by(|a, b| {
        if maximize {
            b.mean.total_cmp(&a.mean)
        } else {
            a.mean.total_cmp(&b.mean)
        }
    });
    ranked.truncate(top);
    if ctx.json {
        let best: Vec<serde_json::Value> = ranked
            .iter()
            .map(|c| {
                let mut m = serde_json::Map::new();
                for (n, v) in names.iter().zip(&c.params) {
                    m.insert(n.clone(), (*v).into());
                }
                m.insert(metric.name().into(), c.mean.into());
                m.insert("tickers".into(), c.tickers.into());
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
    let mut header = names.clone();
    header.push(metric.name().to_string());
    header.push("tickers".into());
    let table: Vec<Vec<String>> = ranked
        .iter()
        .map(|c| {
            let mut r: Vec<String> = c.params.iter().map(|v| v.to_string()).collect();
            r.push(format!("{:.4}", c.mean));
            r.push(c.tickers.to_string());
            r
        })
        .collect();
    let mut buf = Vec::new();
    quantd_engine::results::write_table(&mut buf, &header, &table, false, true)?;
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

fn write_heatmap(
    path: &Path,
    names: &[String],
    metric: Metric,
    cells: &[Cell],
) -> anyhow::Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("csv")
        .to_ascii_lowercase();
    if ext == "parquet" {
        use arrow_array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
        let mut fields: Vec<arrow_schema::Field> = names
            .iter()
            .map(|n| arrow_schema::Field::new(n, arrow_schema::DataType::Float64, false))
            .collect();
        fields.push(arrow_schema::Field::new(
            metric.name(),
            arrow_schema::DataType::Float64,
            true,
        ));
        fields.push(arrow_schema::Field::new(
            "tickers",
            arrow_schema::DataType::UInt64,
            false,
        ));
        let schema = std::sync::Arc::new(arrow_schema::Schema::new(fields));
        let mut arrays: Vec<ArrayRef> = (0..names.len())
            .map(|i| {
                std::sync::Arc::new(Float64Array::from_iter_values(
                    cells.iter().map(|c| c.params[i]),
                )) as ArrayRef
            })
            .collect();
        arrays.push(std::sync::Arc::new(Float64Array::from_iter_values(
            cells.iter().map(|c| c.mean),
        )));
        arrays.push(std::sync::Arc::new(UInt64Array::from_iter_values(
            cells.iter().map(|c| c.tickers),
        )));
        let batch = RecordBatch::try_new(schema.clone(), arrays)?;
        let mut w =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path)?, schema, None)?;
        w.write(&batch)?;
        w.close()?;
    } else {
        let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
        writeln!(f, "{},\"{}\",tickers", names.join(","), metric.name())?;
        for c in cells {
            let p: Vec<String> = c.params.iter().map(|v| v.to_string()).collect();
            writeln!(
                f,
                "{},{},{}",
                p.join(","),
                if c.mean.is_nan() {
                    String::new()
                } else {
                    c.mean.to_string()
                },
                c.tickers
            )?;
        }
        f.flush()?;
    }
    Ok(())
}

//! Backtest and sweep jobs: strategy expressions → signals per ticker → quantd-backtest.
//!
//! The bars of each ticker are cut to the date window first (as if the user had given
//! backtesting.py that slice), then the strategy's expressions are evaluated on them and traded.
//! Trading starts at the strategy's indicator warm-up: the first bar on which every indicator it
//! calls has a value, as backtesting.py starts `next()` after its indicators' warm-up.

use super::jobs::{Job, ShardControl, ShardFailure, ShardOutput, payload_tickers, ticker_batches};
use crate::code::StrategyExprs;
use crate::error::{EngineError, Result};
use crate::exec::kinds::{backtest::ResolvedBacktest, sweep::ResolvedSweep};
use crate::inputs::{ClockBuffers, InputPlan};
use crate::scan;
use quantd_backtest::{
    Bars, Config, Metric, ParamGrid, ParamSet, SignalBuffers, SignalGenerator, Stats, Sweep,
    Ticker, Trade,
};
use quantd_core::ErrorClass;
use quantd_data::{PackReader, Projection, TickerBars};
use quantd_expr::{Params, Program, Schema, Workspace};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Tickers per backtest shard.
const BACKTEST_SHARD_TICKERS: usize = 100;
/// Tickers per sweep shard (each runs the whole grid).
pub(crate) const SWEEP_SHARD_TICKERS: usize = 25;
/// Backtests with at most this many tickers keep each ticker's equity curve.
pub const EQUITY_CURVE_MAX_TICKERS: usize = 100;

/// A compiled strategy: one program with outputs `entry`, `exit` and optionally the short ones.
struct StrategyProgram {
    program: Program,
    /// Output positions of entry, exit, short_entry, short_exit.
    outputs: [Option<usize>; 4],
    /// The projection (open high low close, then the program's other pack columns) and the
    /// program's inputs.
    inputs: InputPlan,
}

impl StrategyProgram {
    fn compile(
        reader: &PackReader,
        s: &StrategyExprs,
        params: &Params,
        limits: &quantd_expr::Limits,
    ) -> Result<StrategyProgram> {
        let program = compile_strategy(reader, s, params, limits)?;
        let find = |n: &str| program.outputs().iter().position(|o| o == n);
        let outputs = [
            find("entry"),
            find("exit"),
            find("short_entry"),
            find("short_exit"),
        ];
        let inputs = InputPlan::new(
            &["open", "high", "low", "close"],
            program.columns(),
            reader.manifest().calendar,
        );
        Ok(StrategyProgram {
            program,
            outputs,
            inputs,
        })
    }

    fn projection(&self, reader: &PackReader) -> Result<Projection> {
        self.inputs.projection(reader)
    }

    /// Evaluates the signals over `window` of a ticker's bars into `out`.
    fn signals(
        &self,
        data: &TickerBars,
        window: std::ops::Range<usize>,
        ws: &mut Workspace,
        out: &mut SignalBuffers,
    ) -> Result<()> {
        let mut clock = ClockBuffers::default();
        let inputs = self.inputs.inputs(data, window.clone(), &mut clock);
        let eval = self.program.evaluate(&inputs, ws)?;
        out.reset(window.len());
        let copy = |slot: Option<usize>, dst: &mut Vec<bool>| {
            if let Some(i) = slot {
                dst.clear();
                dst.extend_from_slice(eval.output(i));
            } else {
                dst.clear();
            }
        };
        copy(self.outputs[0], &mut out.long_entry);
        copy(self.outputs[1], &mut out.long_exit);
        copy(self.outputs[2], &mut out.short_entry);
        copy(self.outputs[3], &mut out.short_exit);
        out.warmup = self.program.indicator_warmup();
        Ok(())
    }
}

/// A strategy's expressions compiled against a pack as one program (outputs `entry`, `exit`,
/// and the short ones when given).
pub(crate) fn compile_strategy(
    reader: &PackReader,
    s: &StrategyExprs,
    params: &Params,
    limits: &quantd_expr::Limits,
) -> Result<Program> {
    let schema = Schema::new(reader.manifest().columns.iter().cloned());
    let named = s.named();
    quantd_expr::compile_set_with(&named, &schema, params, limits).map_err(|e| {
        EngineError::Expression {
            rendered: e.render_set(&named),
            message: e.to_string(),
            diagnostics: e.diagnostics,
        }
    })
}

/// The bars of a ticker in the window, for quantd-backtest.
pub(crate) fn bars_of<'a>(
    data: &'a TickerBars,
    window: std::ops::Range<usize>,
) -> std::result::Result<Bars<'a>, quantd_backtest::BacktestError> {
    let w = window;
    Bars::new(
        &data.stamps()[w.clone()],
        &data.column(0)[w.clone()],
        &data.column(1)[w.clone()],
        &data.column(2)[w.clone()],
        &data.column(3)[w],
    )
}

/// The rows of `data` within the dates `from ..= to` of a pack with `calendar`.
fn window_of(
    data: &TickerBars,
    calendar: quantd_data::time::Calendar,
    from: Option<quantd_data::when::When>,
    to: Option<quantd_data::when::When>,
) -> std::ops::Range<usize> {
    let (lo, hi) = calendar.bounds(from, to);
    data.window(lo, hi)
}

/// A point of an equity curve: (instant, equity, drawdown).
pub type EquityPoint = (i64, f64, f64);

/// One ticker's backtest, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TickerBacktest {
    /// The ticker.
    pub ticker: String,
    /// Its statistics, or why there are none.
    pub stats: Option<Stats>,
    /// Why the backtest could not run (too few bars in the window, …).
    pub error: Option<String>,
    /// Closed trades.
    pub trades: Vec<Trade>,
    /// The trade still open after the last bar (not in the trade statistics).
    pub open_trade: Option<Trade>,
    /// Equity curve: (instant, equity, drawdown), kept for small universes. Curves stored
    /// before bars had instants hold days since 1970-01-01, read as 00:00 UTC.
    #[serde(default, deserialize_with = "equity_points")]
    pub equity: Option<Vec<EquityPoint>>,
    /// How the times of the trades and the curve read (the pack's calendar; daily for results
    /// stored before packs kept instants).
    #[serde(default)]
    pub calendar: quantd_data::time::Calendar,
}

/// Reads equity points; times of at most ±10⁷ are days (stored before bars had instants: no
/// instant in nanoseconds is that close to 1970-01-01 00:00), turned into 00:00 UTC.
fn equity_points<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<EquityPoint>>, D::Error> {
    let points: Option<Vec<EquityPoint>> = serde::Deserialize::deserialize(d)?;
    Ok(points.map(|mut p| {
        if p.iter().all(|t| t.0.abs() <= 10_000_000) {
            for t in &mut p {
                t.0 *= quantd_data::time::NANOS_PER_DAY;
            }
        }
        p
    }))
}

/// A backtest: shards are batches of tickers.
pub struct BacktestJob {
    reader: Arc<PackReader>,
    strategy: StrategyProgram,
    tickers: Vec<usize>,
    spec: ResolvedBacktest,
    keep_equity: bool,
}

impl BacktestJob {
    /// Compiles the strategy against the pack and selects the tickers.
    pub fn new(
        spec: &ResolvedBacktest,
        reader: Arc<PackReader>,
        limits: &quantd_expr::Limits,
    ) -> Result<BacktestJob> {
        let strategy = StrategyProgram::compile(&reader, &spec.strategy, &spec.params, limits)?;
        let tickers = scan::select_tickers(&reader, spec.tickers.as_deref())?;
        let keep_equity = tickers.len() <= EQUITY_CURVE_MAX_TICKERS;
        Ok(BacktestJob {
            reader,
            strategy,
            tickers,
            spec: spec.clone(),
            keep_equity,
        })
    }
}

impl BacktestJob {
    /// The projection a backtest reads (open, high, low, close and the strategy's columns).
    pub fn projection(&self) -> Result<Projection> {
        self.strategy.projection(&self.reader)
    }

    /// The position of a ticker in the pack.
    pub fn ticker_index(&self, ticker: &str) -> Option<usize> {
        self.reader.ticker_index(ticker)
    }

    /// Backtests one ticker (the pack's ticker `t`): signals, simulation, statistics. Returns the
    /// result and the bars traded.
    pub fn run_ticker(
        &self,
        t: usize,
        projection: &Projection,
        ws: &mut Workspace,
        buffers: &mut SignalBuffers,
    ) -> Result<(TickerBacktest, u64)> {
        let name = self.reader.manifest().tickers[t].ticker.clone();
        let data = self.reader.read(t, projection)?;
        let window = window_of(
            &data,
            self.reader.manifest().calendar,
            self.spec.from,
            self.spec.to,
        );
        let bars = window.len() as u64;
        self.strategy.signals(&data, window.clone(), ws, buffers)?;
        let out = trade(
            name,
            &data,
            self.reader.manifest().calendar,
            window,
            &buffers.as_signals(),
            &self.spec.config,
            self.keep_equity,
        );
        Ok((out, bars))
    }
}

/// Trades `signals` over `window` of a ticker's bars (projected `open high low close` first):
/// the stored result of one ticker, whatever produced the signals (expressions or Python).
pub(crate) fn trade(
    name: String,
    data: &TickerBars,
    calendar: quantd_data::time::Calendar,
    window: std::ops::Range<usize>,
    signals: &quantd_backtest::Signals<'_>,
    config: &Config,
    keep_equity: bool,
) -> TickerBacktest {
    let result = bars_of(data, window).and_then(|b| quantd_backtest::backtest(&b, signals, config));
    ticker_backtest(
        name,
        calendar,
        result.map_err(|e| e.to_string()),
        keep_equity,
    )
}

/// What one ticker's backtest stores: its result, or why it has none.
pub(crate) fn ticker_backtest(
    name: String,
    calendar: quantd_data::time::Calendar,
    result: std::result::Result<quantd_backtest::BacktestResult, String>,
    keep_equity: bool,
) -> TickerBacktest {
    match result {
        Ok(r) => TickerBacktest {
            ticker: name,
            stats: Some(r.stats),
            error: None,
            trades: r.trades,
            open_trade: r.open_trade,
            equity: keep_equity.then(|| {
                (0..r.equity.time.len())
                    .map(|i| (r.equity.time[i], r.equity.equity[i], r.equity.drawdown[i]))
                    .collect()
            }),
            calendar,
        },
        Err(e) => TickerBacktest {
            ticker: name,
            stats: None,
            error: Some(e),
            trades: vec![],
            open_trade: None,
            equity: None,
            calendar,
        },
    }
}

impl Job for BacktestJob {
    fn plan(&self) -> Vec<Value> {
        ticker_batches(&self.tickers, BACKTEST_SHARD_TICKERS)
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let tickers: Vec<usize> = payload_tickers(payload)?;
        let projection = self.strategy.projection(&self.reader)?;
        let mut ws = Workspace::new();
        let mut buffers = SignalBuffers::default();
        let mut out = Vec::with_capacity(tickers.len());
        let mut bars_done = 0u64;
        for t in tickers {
            if ctl.stopped() {
                return Err(ShardFailure::Cancelled);
            }
            if quantd_data::failpoint::armed() {
                let name = &self.reader.manifest().tickers[t].ticker;
                quantd_data::failpoint::hit(&format!("backtest-ticker={name}"));
            }
            let (result, bars) = self.run_ticker(t, &projection, &mut ws, &mut buffers)?;
            bars_done += bars;
            ctl.add_bars(bars);
            out.push(result);
        }
        let rows = out.len() as u64;
        Ok(ShardOutput {
            bars: bars_done,
            rows,
            body: serde_json::to_vec(&out).expect("backtests serialize"),
            scan_summary: None,
            summary: None,
        })
    }
}

/// Rewrites a constraint over grid parameters (`fast < slow`) into an expression over `$fast`,
/// `$slow`, and evaluates it for every combination: the accepted combination indices.
pub fn constraint_accepts(grid: &ParamGrid, constraint: &str) -> Result<Vec<bool>> {
    let mut expr = String::new();
    let mut word = String::new();
    let flush = |word: &mut String, expr: &mut String| {
        if grid.names().iter().any(|n| n == word.as_str()) && !expr.ends_with('$') {
            expr.push('$');
        }
        expr.push_str(word);
        word.clear();
    };
    for ch in constraint.chars() {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            word.push(ch);
        } else {
            flush(&mut word, &mut expr);
            expr.push(ch);
        }
    }
    flush(&mut word, &mut expr);
    let schema = Schema::new(["x"]);
    let mut ws = Workspace::new();
    let mut values = Vec::new();
    let mut accepted = Vec::with_capacity(grid.len() as usize);
    for i in 0..grid.len() {
        grid.values_at(i, &mut values);
        let params: Params = grid
            .names()
            .iter()
            .cloned()
            .zip(values.iter().copied())
            .collect();
        let program = quantd_expr::compile(&expr, &schema, &params).map_err(|e| {
            EngineError::Invalid(format!(
                "constraint `{constraint}`: {}",
                e.render(&expr).trim_end()
            ))
        })?;
        let eval = program.evaluate(&[&[0.0]], &mut ws)?;
        accepted.push(eval.output(0)[0]);
    }
    Ok(accepted)
}

/// A sweep: shards are batches of tickers; each runs the whole grid, streaming one row per
/// (ticker, parameter set) into a compact binary body.
pub struct SweepJob {
    reader: Arc<PackReader>,
    spec: ResolvedSweep,
    grid: ParamGrid,
    accepted: Vec<bool>,
    /// One compiled strategy per grid combination (the parameters differ).
    programs: Vec<Option<StrategyProgram>>,
    tickers: Vec<usize>,
}

impl SweepJob {
    /// Parses the grid, evaluates the constraint, compiles the strategy for every accepted combo.
    pub fn new(
        spec: &ResolvedSweep,
        reader: Arc<PackReader>,
        limits: &quantd_expr::Limits,
    ) -> Result<SweepJob> {
        let grid = ParamGrid::parse(&spec.grid)?;
        let accepted = match &spec.constraint {
            Some(c) => constraint_accepts(&grid, c)?,
            None => vec![true; grid.len() as usize],
        };
        if !accepted.iter().any(|&a| a) {
            return Err(EngineError::Invalid(
                "the constraint rejects every parameter combination".into(),
            ));
        }
        let mut values = Vec::new();
        let mut programs = Vec::with_capacity(accepted.len());
        for (i, &ok) in accepted.iter().enumerate() {
            if !ok {
                programs.push(None);
                continue;
            }
            grid.values_at(i as u64, &mut values);
            let mut params = spec.backtest.params.clone();
            params.extend(grid.names().iter().cloned().zip(values.iter().copied()));
            programs.push(Some(StrategyProgram::compile(
                &reader,
                &spec.backtest.strategy,
                &params,
                limits,
            )?));
        }
        let tickers = scan::select_tickers(&reader, spec.backtest.tickers.as_deref())?;
        Ok(SweepJob {
            reader,
            spec: spec.clone(),
            grid,
            accepted,
            programs,
            tickers,
        })
    }

    /// The grid.
    pub fn grid(&self) -> &ParamGrid {
        &self.grid
    }
}

/// Per (thread, ticker): the ticker's data and a workspace.
struct SweepCache {
    data: TickerBars,
    window: std::ops::Range<usize>,
    ws: Workspace,
}

struct ExprGenerator<'a> {
    job: &'a SweepJob,
    tickers: &'a [usize],
    projection: &'a Projection,
    combo_of: HashMap<Vec<u64>, usize>,
}

impl SignalGenerator for ExprGenerator<'_> {
    type Cache = SweepCache;

    fn cache(&self, index: usize, _ticker: &Ticker<'_>) -> SweepCache {
        let data = self
            .job
            .reader
            .read(self.tickers[index], self.projection)
            .expect("read before the sweep");
        let window = window_of(
            &data,
            self.job.reader.manifest().calendar,
            self.job.spec.backtest.from,
            self.job.spec.backtest.to,
        );
        SweepCache {
            data,
            window,
            ws: Workspace::new(),
        }
    }

    fn generate(
        &self,
        _t: &Ticker<'_>,
        params: &ParamSet<'_>,
        cache: &mut SweepCache,
        out: &mut SignalBuffers,
    ) -> std::result::Result<(), quantd_backtest::sweep::BoxError> {
        let key: Vec<u64> = params.values().iter().map(|v| v.to_bits()).collect();
        let combo = *self.combo_of.get(&key).ok_or("unknown parameter set")?;
        let program = self.job.programs[combo]
            .as_ref()
            .ok_or("parameter set rejected by the constraint")?;
        program
            .signals(&cache.data, cache.window.clone(), &mut cache.ws, out)
            .map_err(|e| e.to_string().into())
    }
}

/// Bytes of one encoded sweep row: ticker (u32), combo (u32), every metric (f64).
fn row_len() -> usize {
    8 + 8 * Metric::ALL.len()
}

/// One decoded sweep row.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepResultRow {
    /// Position of the ticker in the pack.
    pub ticker: u32,
    /// Grid combination index.
    pub combo: u32,
    /// Every metric in `Metric::ALL` order (`NaN` when the backtest failed).
    pub metrics: Vec<f64>,
}

/// Encodes sweep rows `(ticker, combo, metrics in Metric::ALL order)`, sorted by the caller.
pub(crate) fn encode_sweep(rows: &[(u32, u32, Vec<f64>)]) -> Vec<u8> {
    let mut body = Vec::with_capacity(rows.len() * row_len());
    for (ticker, combo, metrics) in rows {
        body.extend_from_slice(&ticker.to_le_bytes());
        body.extend_from_slice(&combo.to_le_bytes());
        for v in metrics {
            body.extend_from_slice(&v.to_le_bytes());
        }
    }
    body
}

/// Decodes a sweep shard body.
pub fn decode_sweep(body: &[u8]) -> Result<Vec<SweepResultRow>> {
    if !body.len().is_multiple_of(row_len()) {
        return Err(EngineError::Internal(
            "stored sweep rows are malformed".into(),
        ));
    }
    Ok(body
        .chunks_exact(row_len())
        .map(|r| SweepResultRow {
            ticker: u32::from_le_bytes(r[0..4].try_into().expect("4")),
            combo: u32::from_le_bytes(r[4..8].try_into().expect("4")),
            metrics: r[8..]
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().expect("8")))
                .collect(),
        })
        .collect())
}

impl Job for SweepJob {
    fn plan(&self) -> Vec<Value> {
        ticker_batches(&self.tickers, SWEEP_SHARD_TICKERS)
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        quantd_data::failpoint::hit("sweep-shard");
        let tickers: Vec<usize> = payload_tickers(payload)?;
        let projection = self
            .programs
            .iter()
            .flatten()
            .next()
            .expect("one accepted combo")
            .projection(&self.reader)?;
        let data: Vec<TickerBars> = tickers
            .iter()
            .map(|&t| self.reader.read(t, &projection))
            .collect::<std::result::Result<_, _>>()?;
        let names: Vec<String> = tickers
            .iter()
            .map(|&t| self.reader.manifest().tickers[t].ticker.clone())
            .collect();
        let windows: Vec<_> = data
            .iter()
            .map(|d| {
                window_of(
                    d,
                    self.reader.manifest().calendar,
                    self.spec.backtest.from,
                    self.spec.backtest.to,
                )
            })
            .collect();
        let mut sweep_tickers = Vec::with_capacity(tickers.len());
        let mut bars_done = 0u64;
        for ((d, w), name) in data.iter().zip(&windows).zip(&names) {
            let bars = bars_of(d, w.clone())
                .map_err(|e| ShardFailure::Error(ErrorClass::Data, format!("{name}: {e}")))?;
            bars_done += w.len() as u64;
            sweep_tickers.push(Ticker { name, bars });
        }
        let mut combo_of = HashMap::new();
        let mut values = Vec::new();
        for i in 0..self.grid.len() {
            self.grid.values_at(i, &mut values);
            combo_of.insert(
                values.iter().map(|v| v.to_bits()).collect::<Vec<u64>>(),
                i as usize,
            );
        }
        let generator = ExprGenerator {
            job: self,
            tickers: &tickers,
            projection: &projection,
            combo_of,
        };
        let accepted = &self.accepted;
        let constraint = |p: &ParamSet<'_>| {
            let key: Vec<u64> = p.values().iter().map(|v| v.to_bits()).collect();
            generator.combo_of.get(&key).is_some_and(|&c| accepted[c])
        };
        let config: &Config = &self.spec.backtest.config;
        // Rows arrive in completion order; they are stored sorted by (ticker, combo) so the
        // same sweep always stores the same bytes.
        let mut collected: Vec<(u32, u32, Vec<f64>)> = Vec::new();
        let mut cancelled = false;
        Sweep::new(&sweep_tickers, &self.grid, config)
            .constraint(&constraint)
            .run(&generator, |row| {
                if ctl.stopped() {
                    cancelled = true;
                    return std::ops::ControlFlow::Break(());
                }
                ctl.add_bars(windows[row.ticker].len() as u64);
                let metrics = Metric::ALL
                    .iter()
                    .map(|&m| row.outcome.as_ref().map_or(f64::NAN, |s| s.get(m)))
                    .collect();
                collected.push((tickers[row.ticker] as u32, row.combo as u32, metrics));
                std::ops::ControlFlow::Continue(())
            })
            .map_err(|e| ShardFailure::Error(ErrorClass::Execution, e.to_string()))?;
        collected.sort_by_key(|r| (r.0, r.1));
        let rows = collected.len() as u64;
        let body = encode_sweep(&collected);
        if cancelled {
            return Err(ShardFailure::Cancelled);
        }
        Ok(ShardOutput {
            bars: bars_done * self.accepted.iter().filter(|&&a| a).count() as u64,
            rows,
            body,
            scan_summary: None,
            summary: None,
        })
    }
}

/// Means of the headline statistics over the tickers that ran, with backtesting.py's names (the
/// execution's summary, read by `quantd summary`).
pub fn aggregate(results: &[TickerBacktest]) -> serde_json::Map<String, Value> {
    let stats: Vec<&Stats> = results.iter().filter_map(|r| r.stats.as_ref()).collect();
    let mut m = serde_json::Map::new();
    m.insert("tickers".into(), results.len().into());
    m.insert(
        "tickers_failed".into(),
        (results.len() - stats.len()).into(),
    );
    for metric in [
        Metric::Return,
        Metric::BuyHoldReturn,
        Metric::SharpeRatio,
        Metric::SortinoRatio,
        Metric::MaxDrawdown,
        Metric::WinRate,
        Metric::ProfitFactor,
        Metric::Sqn,
    ] {
        let vals: Vec<f64> = stats
            .iter()
            .map(|s| s.get(metric))
            .filter(|v| v.is_finite())
            .collect();
        let mean = (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64);
        m.insert(metric.name().into(), mean.map_or(Value::Null, Value::from));
    }
    m.insert(
        "# Trades".into(),
        stats
            .iter()
            .map(|s| s.get(Metric::Trades) as u64)
            .sum::<u64>()
            .into(),
    );
    m
}

/// Builds the strategy jobs.
pub fn build_backtest(
    spec: &ResolvedBacktest,
    reader: Arc<PackReader>,
    limits: &quantd_expr::Limits,
) -> Result<Arc<dyn Job>> {
    Ok(Arc::new(BacktestJob::new(spec, reader, limits)?))
}

/// Builds a sweep job.
pub fn build_sweep(
    spec: &ResolvedSweep,
    reader: Arc<PackReader>,
    limits: &quantd_expr::Limits,
) -> Result<Arc<dyn Job>> {
    Ok(Arc::new(SweepJob::new(spec, reader, limits)?))
}

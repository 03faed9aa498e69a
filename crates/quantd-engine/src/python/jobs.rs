//! Python scanners and strategies as shard jobs: each shard writes its tickers' bars as one Arrow
//! IPC file, runs the entry point over them in one sandbox job (`python -m quantd.harness
//! --batch`) and turns the result rows into what the expression jobs store, so storage, result
//! formats, summaries, A+ reports and backtest statistics are the same. Result rows are
//! checked against the shard's bars first ([`read_result`]): each row is one of its ticker's
//! input bars, so the jobs index bars by the row's place instead of looking dates up.

use super::broker::{self, ClassTicker, Runs};
use super::ipc::{BatchInput, ResultRows, bars_ipc, read_result};
use super::{MAX_RESULT_BYTES, Sandboxed, params_json};
use crate::error::Result;
use crate::exec::jobs::{
    Job, ShardControl, ShardFailure, ShardOutput, bar_batches, payload_tickers, ticker_batches,
};
use crate::exec::kinds::test::{ResolvedTest, TEST_SHARD_TICKERS};
use crate::exec::kinds::{backtest::ResolvedBacktest, scan::ResolvedScan};
use crate::exec::strategy::{
    EQUITY_CURVE_MAX_TICKERS, TickerBacktest, bars_of, ticker_backtest, trade,
};
use crate::scan::{self, Signals};
use quantd_backtest::broker::SimOptions;
use quantd_core::ErrorClass;
use quantd_data::time::Stamp;
use quantd_data::{PackReader, TickerBars};
use quantd_sandbox::{Bars, EntryCall};
use serde_json::Value;
use std::net::Shutdown;
use std::ops::Range;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Shards a Python scan is planned into when its shards have the default size: a few per worker,
/// so that two cores stay busy and a failure loses little.
const PYTHON_SCAN_SHARDS: u64 = 8;
/// Bars per Python shard at least (a sandbox job costs ~10 ms; a shard should cost more).
const PYTHON_MIN_SHARD_BARS: u64 = 20_000;
/// Tickers per Python backtest shard.
const BACKTEST_SHARD_TICKERS: usize = 50;

/// Runs the entry point over the bars of `tickers` (with their row ranges) in one sandbox job.
/// Returns the checked rows (their tickers numbered in the order of `tickers`) and the bars.
fn run_batch(
    py: &Sandboxed,
    source: &str,
    params: &Value,
    reader: &PackReader,
    tickers: &[(usize, std::ops::Range<usize>)],
    cancel: &AtomicBool,
) -> std::result::Result<(ResultRows, u64), ShardFailure> {
    let (ipc, input) = bars_ipc(reader, tickers)?;
    let rows = run_entry(py, source, params, ipc, &input, cancel)?;
    Ok((rows, input.bars() as u64))
}

/// Runs the entry point over bars already written as Arrow IPC, in one sandbox job, and checks
/// its result against them (`input`).
pub(super) fn run_entry(
    py: &Sandboxed,
    source: &str,
    params: &Value,
    ipc: Vec<u8>,
    input: &BatchInput,
    cancel: &AtomicBool,
) -> std::result::Result<ResultRows, ShardFailure> {
    let outcome = py.run_ok(entry_call(source, params, ipc).job(), cancel)?;
    checked_rows(py, &outcome, input)
}

/// The harness call of a batch of tickers' bars.
fn entry_call(source: &str, params: &Value, ipc: Vec<u8>) -> EntryCall {
    EntryCall {
        code: source.to_string(),
        entry: None,
        params: params.clone(),
        bars: Bars::Ipc(ipc),
        batch: true,
    }
}

/// The result rows of a finished harness job, checked against its bars (`input`).
fn checked_rows(
    py: &Sandboxed,
    outcome: &quantd_sandbox::Outcome,
    input: &BatchInput,
) -> std::result::Result<ResultRows, ShardFailure> {
    let bytes = outcome
        .result_ipc(MAX_RESULT_BYTES)
        .map_err(|e| ShardFailure::Error(e.class(), e.to_string()))?
        .ok_or_else(|| {
            ShardFailure::Error(
                ErrorClass::Execution,
                "the Python job wrote no result file (did the code remove /out/result.arrow?)"
                    .into(),
            )
        })?;
    Ok(read_result(bytes, input, py.python().options())?)
}

pub(super) fn wrong_kind(
    rows: &ResultRows,
    want: &str,
    other: &str,
    command: &str,
) -> ShardFailure {
    let have: Vec<&str> = rows.flags.iter().map(|(n, _)| n.as_str()).collect();
    ShardFailure::Error(
        ErrorClass::Validation,
        format!(
            "the Python code returned {} instead of `{want}`: it is a {other}; run it with `quantd {command}`",
            if have.is_empty() {
                "no signal columns".to_string()
            } else {
                format!("`{}`", have.join("`, `"))
            }
        ),
    )
}

/// The whole history of each ticker.
fn full(reader: &PackReader, tickers: &[usize]) -> Vec<(usize, std::ops::Range<usize>)> {
    tickers
        .iter()
        .map(|&t| (t, 0..reader.manifest().tickers[t].rows as usize))
        .collect()
}

/// A Python scan: shards are ticker batches sized by bars.
pub struct PyScanJob {
    py: Sandboxed,
    reader: Arc<PackReader>,
    source: String,
    params: Value,
    tickers: Vec<usize>,
    from: Option<Stamp>,
    to: Option<Stamp>,
    shard_bars: u64,
}

impl PyScanJob {
    /// The job of a resolved Python scan; `shard_bars` is the engine's setting, used when it
    /// is not the default.
    pub fn new(
        s: &ResolvedScan,
        reader: Arc<PackReader>,
        py: Sandboxed,
        shard_bars: Option<u64>,
    ) -> Result<PyScanJob> {
        let tickers = scan::select_tickers(&reader, s.tickers.as_deref())?;
        let total: u64 = tickers
            .iter()
            .map(|&t| reader.manifest().tickers[t].rows)
            .sum();
        let shard_bars = shard_bars
            .unwrap_or_else(|| PYTHON_MIN_SHARD_BARS.max(total.div_ceil(PYTHON_SCAN_SHARDS)));
        let span = reader.manifest().calendar.bounds(s.from, s.to);
        Ok(PyScanJob {
            py,
            reader,
            source: s.source.clone(),
            params: params_json(&s.params),
            tickers,
            from: span.0,
            to: span.1,
            shard_bars: shard_bars.max(1),
        })
    }
}

impl Job for PyScanJob {
    fn plan(&self) -> Vec<Value> {
        bar_batches(&self.reader, &self.tickers, self.shard_bars)
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let cancel = ctl.stop_flag();
        let tickers = payload_tickers(payload)?;
        let ranges = full(&self.reader, &tickers);
        let (rows, bars) = run_batch(
            &self.py,
            &self.source,
            &self.params,
            &self.reader,
            &ranges,
            cancel,
        )?;
        let signal = rows
            .flag("signal")
            .ok_or_else(|| wrong_kind(&rows, "signal", "strategy", "backtest"))?;
        let mut out = Signals {
            tickers: self.reader.ticker_names(),
            indicators: rows.numbers.iter().map(|(n, _)| n.clone()).collect(),
            calendar: self.reader.manifest().calendar,
            ..Signals::default()
        };
        for i in 0..rows.len() {
            let d = rows.stamp[i];
            if !signal[i] || self.from.is_some_and(|f| d < f) || self.to.is_some_and(|t| d > t) {
                continue;
            }
            // Checked: the row's ticker is one of the batch's, numbered in `tickers`' order.
            out.ticker.push(tickers[rows.ticker[i] as usize] as u32);
            out.stamp.push(d);
            out.values.extend(rows.numbers.iter().map(|(_, v)| v[i]));
        }
        let mut summary = scan::SummaryBuilder::default();
        summary.add(&out);
        Ok(ShardOutput {
            bars,
            rows: out.len() as u64,
            body: out.encode_rows_named(),
            scan_summary: Some(summary),
            summary: None,
        })
    }

    fn signals_template(&self) -> Option<Signals> {
        Some(Signals {
            tickers: self.reader.ticker_names(),
            calendar: self.reader.manifest().calendar,
            ..Signals::default()
        })
    }

    fn indicators_from_results(&self) -> bool {
        true
    }
}

/// A Python A+ example test: shards are batches of the example tickers.
pub struct PyTestJob {
    py: Sandboxed,
    reader: Arc<PackReader>,
    source: String,
    params: Value,
    examples: Vec<crate::atest::Example>,
    tickers: Vec<usize>,
    tolerance: usize,
}

impl PyTestJob {
    /// The job of a resolved Python test.
    pub fn new(t: &ResolvedTest, reader: Arc<PackReader>, py: Sandboxed) -> Result<PyTestJob> {
        let tickers = t.example_tickers(&reader)?;
        Ok(PyTestJob {
            py,
            reader,
            source: t.source.clone(),
            params: params_json(&t.params),
            examples: t.examples.clone(),
            tickers,
            tolerance: t.tolerance,
        })
    }
}

impl Job for PyTestJob {
    fn plan(&self) -> Vec<Value> {
        ticker_batches(&self.tickers, TEST_SHARD_TICKERS)
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let cancel = ctl.stop_flag();
        let tickers = payload_tickers(payload)?;
        let (rows, bars) = run_batch(
            &self.py,
            &self.source,
            &self.params,
            &self.reader,
            &full(&self.reader, &tickers),
            cancel,
        )?;
        let signal = rows
            .flag("signal")
            .ok_or_else(|| wrong_kind(&rows, "signal", "strategy", "backtest"))?;
        // Each row's bar indexes its ticker's whole history (the job got every bar).
        let mut hits: Vec<Vec<usize>> = vec![Vec::new(); tickers.len()];
        for i in (0..rows.len()).filter(|&i| signal[i]) {
            hits[rows.ticker[i] as usize].push(rows.bar[i] as usize);
        }
        let by_ticker = crate::atest::by_ticker(&self.examples);
        let projection = self.reader.projection(&[])?;
        let mut reports = Vec::new();
        for (slot, t) in tickers.into_iter().enumerate() {
            let name = &self.reader.manifest().tickers[t].ticker;
            let data = self.reader.read(t, &projection)?;
            let dates = data.stamps();
            let mut mask = vec![false; dates.len()];
            for &k in &hits[slot] {
                if let Some(m) = mask.get_mut(k) {
                    *m = true;
                }
            }
            let examples = by_ticker.get(name).map(Vec::as_slice).unwrap_or_default();
            reports.push(crate::atest::judge(
                name,
                dates,
                self.reader.manifest().calendar,
                &mask,
                examples,
                self.tolerance,
            ));
        }
        Ok(ShardOutput {
            bars,
            rows: reports.len() as u64,
            body: serde_json::to_vec(&reports).expect("reports serialize"),
            scan_summary: None,
            summary: None,
        })
    }
}

/// A Python strategy backtest: shards are ticker batches; the sandbox gives entries and exits,
/// the Rust backtester trades them (signals act from the second bar: no indicator warm-up is
/// known for Python code).
pub struct PyBacktestJob {
    py: Sandboxed,
    reader: Arc<PackReader>,
    source: String,
    params: Value,
    tickers: Vec<usize>,
    spec: ResolvedBacktest,
    keep_equity: bool,
}

impl PyBacktestJob {
    /// The job of a resolved backtest whose strategy is Python.
    pub fn new(
        b: &ResolvedBacktest,
        reader: Arc<PackReader>,
        py: Sandboxed,
    ) -> Result<PyBacktestJob> {
        let tickers = scan::select_tickers(&reader, b.tickers.as_deref())?;
        Ok(PyBacktestJob {
            py,
            reader,
            source: b.python.clone().unwrap_or_default(),
            params: params_json(&b.params),
            keep_equity: tickers.len() <= EQUITY_CURVE_MAX_TICKERS,
            tickers,
            spec: b.clone(),
        })
    }
}

/// A strategy shard's bars: each ticker's OHLC read once, with its rows inside `from..=to`,
/// and the same windows as `(ticker, rows)` for [`bars_ipc`].
#[allow(clippy::type_complexity)]
pub(crate) fn read_windows(
    reader: &PackReader,
    tickers: &[usize],
    from: Option<quantd_data::when::When>,
    to: Option<quantd_data::when::When>,
) -> std::result::Result<
    (
        Vec<(usize, TickerBars, Range<usize>)>,
        Vec<(usize, Range<usize>)>,
    ),
    ShardFailure,
> {
    let projection = reader.projection(&["open", "high", "low", "close"])?;
    let (from, to) = reader.manifest().calendar.bounds(from, to);
    let mut data = Vec::with_capacity(tickers.len());
    for &t in tickers {
        let bars = reader.read(t, &projection)?;
        let window = bars.window(from, to);
        data.push((t, bars, window));
    }
    let windows = data.iter().map(|(t, _, w)| (*t, w.clone())).collect();
    Ok((data, windows))
}

impl Job for PyBacktestJob {
    fn plan(&self) -> Vec<Value> {
        ticker_batches(&self.tickers, BACKTEST_SHARD_TICKERS)
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        self.shard(payload, ctl, &mut broker::Unwatched)
            .map(|(out, _)| out)
    }
}

impl PyBacktestJob {
    /// Backtests the shard's tickers, each step watched by `watch`; says whether the strategy
    /// is a class strategy (it spoke to the broker).
    pub(super) fn shard(
        &self,
        payload: &Value,
        ctl: &ShardControl,
        watch: &mut dyn broker::Watch,
    ) -> std::result::Result<(ShardOutput, bool), ShardFailure> {
        let tickers = payload_tickers(payload)?;
        let (data, windows) = read_windows(&self.reader, &tickers, self.spec.from, self.spec.to)?;
        let (ipc, input) = bars_ipc(&self.reader, &windows)?;
        let (results, class) = backtest_shard(
            &self.py,
            (&self.source, &self.params),
            &self.reader,
            &data,
            (ipc, &input),
            &self.spec.config,
            self.keep_equity,
            (ctl.stop_flag(), watch),
        )?;
        Ok((
            ShardOutput {
                bars: input.bars() as u64,
                rows: results.len() as u64,
                body: serde_json::to_vec(&results).expect("backtests serialize"),
                scan_summary: None,
                summary: None,
            },
            class,
        ))
    }

    /// The tickers it trades.
    pub(super) fn tickers(&self) -> &[usize] {
        &self.tickers
    }
}

/// Backtests a shard's tickers (`data`, with their bars as Arrow IPC: `bars`) with a Python
/// strategy in one sandbox job: a class strategy's orders go to the broker on the job's channel;
/// a signal strategy's signals are traded by the Rust backtester. A backtest's shards, each
/// parameter set of a sweep's and a paper session's (watched) run this. Says whether the
/// strategy was a class strategy.
#[allow(clippy::too_many_arguments)]
pub(super) fn backtest_shard(
    py: &Sandboxed,
    (source, params): (&str, &Value),
    reader: &PackReader,
    data: &[(usize, TickerBars, Range<usize>)],
    (ipc, input): (Vec<u8>, &BatchInput),
    config: &quantd_backtest::Config,
    keep_equity: bool,
    (cancel, watch): (&AtomicBool, &mut dyn broker::Watch),
) -> std::result::Result<(Vec<TickerBacktest>, bool), ShardFailure> {
    let calendar = reader.manifest().calendar;
    let names: Vec<String> = data
        .iter()
        .map(|(t, _, _)| reader.manifest().tickers[*t].ticker.clone())
        .collect();
    // A class strategy places orders through the broker on the job's channel; a signal
    // strategy never speaks on it and writes its signals instead.
    let class_tickers: Vec<ClassTicker<'_>> = data
        .iter()
        .zip(&names)
        .map(|((_, bars, window), name)| ClassTicker {
            name: name.clone(),
            bars: bars_of(bars, window.clone()),
        })
        .collect();
    let options = SimOptions::from_config(config);
    let call = entry_call(source, params, ipc);
    let (outcome, served) = with_broker(
        py,
        call.job(),
        (Runs::Tickers(&class_tickers), watch),
        options,
        config,
        cancel,
    )?;
    let results = if served.used {
        class_tickers
            .iter()
            .zip(served.ends)
            .map(|(t, end)| {
                let result = match (&t.bars, end) {
                    (Ok(bars), Some(end)) => Ok(end.result(bars, &options, config.risk_free_rate)),
                    (Err(e), _) => Err(e.to_string()),
                    (Ok(_), None) => {
                        Err("the strategy did not run to the end of this ticker's bars".into())
                    }
                };
                ticker_backtest(t.name.clone(), calendar, result, keep_equity)
            })
            .collect()
    } else {
        let rows = checked_rows(py, &outcome, input)?;
        let signals = StrategySignals::new(&rows, data.len())?;
        let mut buffers = quantd_backtest::SignalBuffers::default();
        data.iter()
            .zip(names)
            .enumerate()
            .map(|(slot, ((_, data, window), name))| {
                signals.fill(slot, window.len(), &mut buffers);
                trade(
                    name,
                    data,
                    calendar,
                    window.clone(),
                    &buffers.as_signals(),
                    config,
                    keep_equity,
                )
            })
            .collect()
    };
    Ok((results, served.used))
}

/// Runs `call` with a broker channel served by [`broker::serve`] on a thread of this worker
/// for as long as the job runs. What the strategy did wrong on the channel wins over the job's
/// own failure (which is the strategy seeing the refusal).
/// A stop of the job (`cancel`: a cancel or a pause) wins over both.
fn with_broker(
    py: &Sandboxed,
    job: quantd_sandbox::Job,
    (runs, watch): (Runs<'_, '_>, &mut dyn broker::Watch),
    options: SimOptions,
    config: &quantd_backtest::Config,
    cancel: &AtomicBool,
) -> std::result::Result<(quantd_sandbox::Outcome, broker::Served), ShardFailure> {
    let internal = |e: std::io::Error| {
        ShardFailure::Error(ErrorClass::Internal, format!("broker channel: {e}"))
    };
    let (host, theirs) = UnixStream::pair().map_err(internal)?;
    let stopper = host.try_clone().map_err(internal)?;
    let job = job.with_channel(OwnedFd::from(theirs));
    let (outcome, served) = std::thread::scope(|s| {
        let server = s.spawn(|| broker::serve(host, runs, options, config.finalize_trades, watch));
        let outcome = py.run_ok(job, cancel);
        let _ = stopper.shutdown(Shutdown::Both);
        (outcome, server.join())
    });
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        return Err(ShardFailure::Cancelled);
    }
    let served = match served {
        Ok(Ok(served)) => served,
        Ok(Err(message)) => return Err(ShardFailure::Error(ErrorClass::Execution, message)),
        Err(_) => {
            return Err(ShardFailure::Error(
                ErrorClass::Internal,
                "the broker thread panicked".into(),
            ));
        }
    };
    Ok((outcome?, served))
}

/// A portfolio backtest of a class strategy: one shard, one sandbox job over every ticker, one
/// broker session with shared cash. Its results are the book's (ticker [`PORTFOLIO`]) first,
/// then each ticker's contribution.
pub struct PyPortfolioJob(PyBacktestJob);

/// The name of a portfolio backtest's book in its results.
pub const PORTFOLIO: &str = "PORTFOLIO";

impl PyPortfolioJob {
    /// The job of a resolved portfolio backtest (its strategy must be Python).
    pub fn new(
        b: &ResolvedBacktest,
        reader: Arc<PackReader>,
        py: Sandboxed,
    ) -> Result<PyPortfolioJob> {
        PyBacktestJob::new(b, reader, py).map(PyPortfolioJob)
    }
}

impl Job for PyPortfolioJob {
    fn plan(&self) -> Vec<Value> {
        vec![serde_json::json!({ "tickers": self.0.tickers })]
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        portfolio_shard(&self.0, payload, ctl, &mut broker::Unwatched)
    }
}

/// The portfolio backtest of `job`'s tickers in one broker session, each step watched by
/// `watch` (a portfolio backtest's, or a paper session's).
pub(super) fn portfolio_shard(
    job: &PyBacktestJob,
    payload: &Value,
    ctl: &ShardControl,
    watch: &mut dyn broker::Watch,
) -> std::result::Result<ShardOutput, ShardFailure> {
    let tickers = payload_tickers(payload)?;
    let (data, windows) = read_windows(&job.reader, &tickers, job.spec.from, job.spec.to)?;
    // Tickers without a bar in the window take no part.
    let (data, windows): (Vec<_>, Vec<_>) = data
        .into_iter()
        .zip(windows)
        .filter(|((_, _, w), _)| !w.is_empty())
        .unzip();
    if data.is_empty() {
        return Err(ShardFailure::Error(
            ErrorClass::Validation,
            "no ticker has a bar in the backtest's window".into(),
        ));
    }
    let (ipc, input) = bars_ipc(&job.reader, &windows)?;
    let names: Vec<String> = data
        .iter()
        .map(|(t, _, _)| job.reader.manifest().tickers[*t].ticker.clone())
        .collect();
    let columns: Vec<(&[i64], [&[f64]; 4])> = data
        .iter()
        .map(|(_, b, w)| {
            let col = |c: usize| &b.column(c)[w.clone()];
            (&b.stamps()[w.clone()], [col(0), col(1), col(2), col(3)])
        })
        .collect();
    let panel = quantd_backtest::broker::Panel::align(&columns);
    let config = &job.spec.config;
    let options = SimOptions::from_config(config);
    let sandbox_job = entry_call(&job.source, &job.params, ipc)
        .job()
        .with_args(["--portfolio"]);
    let (_, served) = with_broker(
        &job.py,
        sandbox_job,
        (Runs::Portfolio(&panel, &names), watch),
        options,
        config,
        ctl.stop_flag(),
    )?;
    let end = served.book.ok_or_else(|| {
            ShardFailure::Error(
                ErrorClass::Validation,
                "the code did not run as a portfolio: a portfolio backtest needs a class strategy (class X(qd.Strategy))".into(),
            )
        })?;
    let calendar = job.reader.manifest().calendar;
    let (book, per_ticker) =
        quantd_backtest::broker::portfolio_results(&panel, &end, &options, config.risk_free_rate)
            .map_err(|e| ShardFailure::Error(ErrorClass::Data, e.to_string()))?;
    let mut results = vec![ticker_backtest(PORTFOLIO.into(), calendar, Ok(book), true)];
    for (name, r) in names.into_iter().zip(per_ticker) {
        results.push(ticker_backtest(name, calendar, Ok(r), false));
    }
    Ok(ShardOutput {
        bars: input.bars() as u64,
        rows: results.len() as u64,
        body: serde_json::to_vec(&results).expect("backtests serialize"),
        scan_summary: None,
        summary: None,
    })
}

/// A strategy's checked result rows, by ticker.
pub(super) struct StrategySignals<'a> {
    rows: &'a ResultRows,
    entries: &'a [bool],
    exits: &'a [bool],
    /// The rows of the batch's ticker `i` are `starts[i]..starts[i + 1]`.
    starts: Vec<usize>,
}

impl<'a> StrategySignals<'a> {
    /// Indexes the rows of a batch of `tickers` tickers; fails when they are not a strategy's
    /// (`entries`, `exits`).
    pub(super) fn new(
        rows: &'a ResultRows,
        tickers: usize,
    ) -> std::result::Result<Self, ShardFailure> {
        let (Some(entries), Some(exits)) = (rows.flag("entries"), rows.flag("exits")) else {
            return Err(wrong_kind(rows, "entries`, `exits", "scanner", "scan"));
        };
        // Checked rows come ticker by ticker, in batch order.
        let starts = (0..=tickers as u32)
            .map(|slot| rows.ticker.partition_point(|&t| t < slot))
            .collect();
        Ok(StrategySignals {
            rows,
            entries,
            exits,
            starts,
        })
    }

    /// Fills long entries and exits of the batch's ticker `slot` over its `bars` traded bars (no
    /// shorts, no warm-up).
    pub(super) fn fill(
        &self,
        slot: usize,
        bars: usize,
        buffers: &mut quantd_backtest::SignalBuffers,
    ) {
        buffers.reset(bars);
        buffers.short_entry.clear();
        buffers.short_exit.clear();
        let (Some(&from), Some(&to)) = (self.starts.get(slot), self.starts.get(slot + 1)) else {
            return;
        };
        for i in from..to {
            let k = self.rows.bar[i] as usize;
            if k < bars {
                buffers.long_entry[k] |= self.entries[i];
                buffers.long_exit[k] |= self.exits[i];
            }
        }
    }
}

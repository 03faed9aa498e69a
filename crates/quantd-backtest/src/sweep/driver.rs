//! The sweep driver: every (ticker × parameter set) backtest of a grid, on a pool of worker
//! threads, with each result streamed to the caller's sink as soon as it is computed.
//!
//! Work is split into items of (one ticker, a contiguous range of parameter-set indices); a
//! worker builds the ticker's [`StatsContext`] and the generator's cache once per item and
//! reuses its simulator and signal buffers across items. Rows travel in small batches through a
//! bounded channel to the calling thread, which runs the sink: memory is bounded by the channel,
//! the per-thread buffers and the generator's caches, whatever the size of the grid. A sink that
//! returns [`ControlFlow::Break`] stops the sweep.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use quantd_core::progress::{NoProgress, Progress};
use rayon::prelude::*;

use crate::bars::{Bars, SignalBuffers};
use crate::config::Config;
use crate::error::{BacktestError, Result};
use crate::metrics::{self, StatsContext};
use crate::sim::Simulator;
use crate::stats::{Metric, Stats};
use crate::sweep::cache::SeriesCache;
use crate::sweep::grid::{Constraint, ParamGrid, ParamSet};

/// An error a signal generator returns; any error type converts with `?`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// One ticker of a sweep.
#[derive(Clone, Copy, Debug)]
pub struct Ticker<'a> {
    /// Its name (reported in errors).
    pub name: &'a str,
    /// Its bars.
    pub bars: Bars<'a>,
}

/// Writes a strategy's signals for one ticker and parameter set. The driver calls
/// [`cache`](SignalGenerator::cache) once per ticker per work item and hands the result to every
/// [`generate`](SignalGenerator::generate) call for that ticker on that thread: that is where
/// indicator series shared between parameter sets belong, and any per-ticker input beyond the
/// bars (volume, other columns) the generator looks up by the ticker's index.
pub trait SignalGenerator: Sync {
    /// Per-ticker scratch state, e.g. a [`SeriesCache`].
    type Cache;

    /// A fresh cache for the ticker at `index` in the sweep's tickers.
    fn cache(&self, index: usize, ticker: &Ticker<'_>) -> Self::Cache;

    /// Fills `out` (already [`reset`](SignalBuffers::reset) to the ticker's length: all
    /// `false`, warm-up 0) with the signals for `params`, including `out.warmup`.
    fn generate(
        &self,
        ticker: &Ticker<'_>,
        params: &ParamSet<'_>,
        cache: &mut Self::Cache,
        out: &mut SignalBuffers,
    ) -> Result<(), BoxError>;
}

/// A [`SignalGenerator`] from a closure with a [`SeriesCache`]; see [`from_fn`].
#[derive(Clone, Copy, Debug)]
pub struct FnGenerator<F>(F);

/// Makes a [`SignalGenerator`] of `f(ticker, params, cache, out)`. The cache is a
/// [`SeriesCache`] of the ticker's length, [`begin`](SeriesCache::begin)-ed before every call.
pub fn from_fn<F>(f: F) -> FnGenerator<F>
where
    F: Fn(&Ticker<'_>, &ParamSet<'_>, &mut SeriesCache, &mut SignalBuffers) -> Result<(), BoxError>
        + Sync,
{
    FnGenerator(f)
}

impl<F> SignalGenerator for FnGenerator<F>
where
    F: Fn(&Ticker<'_>, &ParamSet<'_>, &mut SeriesCache, &mut SignalBuffers) -> Result<(), BoxError>
        + Sync,
{
    type Cache = SeriesCache;

    fn cache(&self, _index: usize, ticker: &Ticker<'_>) -> SeriesCache {
        SeriesCache::new(ticker.bars.len())
    }

    fn generate(
        &self,
        ticker: &Ticker<'_>,
        params: &ParamSet<'_>,
        cache: &mut SeriesCache,
        out: &mut SignalBuffers,
    ) -> Result<(), BoxError> {
        cache.begin();
        (self.0)(ticker, params, cache, out)
    }
}

/// The result of one backtest of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow {
    /// Index of the ticker in the sweep's tickers.
    pub ticker: usize,
    /// Index of the parameter set in the grid (before the constraint).
    pub combo: u64,
    /// The parameter values, in the grid's order.
    pub params: Vec<f64>,
    /// The statistics, or why there are none (the generator failed, or its signals were unusable).
    pub outcome: Result<Stats, BacktestError>,
}

impl SweepRow {
    /// The value of `metric`, `None` for a failed backtest or a `NaN` value.
    pub fn value(&self, metric: Metric) -> Option<f64> {
        match &self.outcome {
            Ok(stats) => Some(stats.get(metric)).filter(|v| !v.is_nan()),
            Err(_) => None,
        }
    }
}

/// What a sweep did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SweepSummary {
    /// Parameter sets the constraint accepts (per ticker).
    pub param_sets: u64,
    /// Backtests planned: `param_sets × tickers`.
    pub planned: u64,
    /// Rows delivered to the sink.
    pub delivered: u64,
    /// Rows whose outcome is an error.
    pub failed: u64,
    /// Whether the sink stopped the sweep before the end.
    pub stopped: bool,
}

/// A parameter sweep: tickers × grid (× constraint), with one [`Config`].
///
/// ```
/// use std::ops::ControlFlow;
/// use quantd_backtest::{Bars, Config, ParamGrid, Sweep, Ticker, crossover, from_fn, warmup_of};
///
/// let time: Vec<i64> = (0..300).map(|d| d * quantd_backtest::calendar::NANOS_PER_DAY).collect();
/// let close: Vec<f64> = (0..300).map(|i| 100.0 + 10.0 * (i as f64 / 9.0).sin()).collect();
/// let tickers = [Ticker { name: "SIN", bars: Bars::new(&time, &close, &close, &close, &close)? }];
/// let grid = ParamGrid::parse(&["fast=5..10:5", "slow=20..40:20"])?;
/// let generator = from_fn(|t, p, cache, out| {
///     let close = t.bars.close();
///     let mut sma = |n: usize| cache.ensure(&[n as u64], |o| quantd_ta::sma(close, n, o));
///     let (fast, slow) = (sma(p.usize("fast", 1)?)?, sma(p.usize("slow", 1)?)?);
///     let (fast, slow) = (cache.get(fast), cache.get(slow));
///     crossover(fast, slow, &mut out.long_entry);
///     crossover(slow, fast, &mut out.long_exit);
///     out.warmup = warmup_of(&[fast, slow]);
///     Ok(())
/// });
/// let config = Config::default();
/// let mut rows = Vec::new();
/// let summary = Sweep::new(&tickers, &grid, &config).threads(2).run(&generator, |row| {
///     rows.push(row);
///     ControlFlow::Continue(())
/// })?;
/// assert_eq!((summary.delivered, rows.len()), (4, 4));
/// # Ok::<(), quantd_backtest::BacktestError>(())
/// ```
pub struct Sweep<'a> {
    tickers: &'a [Ticker<'a>],
    grid: &'a ParamGrid,
    config: &'a Config,
    constraint: Option<&'a Constraint<'a>>,
    threads: Option<usize>,
    progress: &'a dyn Progress,
    channel_batches: usize,
    batch_rows: usize,
}

impl<'a> Sweep<'a> {
    /// Every parameter set of `grid` on every ticker, traded with `config`.
    pub fn new(tickers: &'a [Ticker<'a>], grid: &'a ParamGrid, config: &'a Config) -> Self {
        Sweep {
            tickers,
            grid,
            config,
            constraint: None,
            threads: None,
            progress: &NoProgress,
            channel_batches: 64,
            batch_rows: 32,
        }
    }

    /// Only parameter sets `constraint` accepts (e.g. `fast < slow`).
    pub fn constraint(mut self, constraint: &'a Constraint<'a>) -> Self {
        self.constraint = Some(constraint);
        self
    }

    /// Runs on `threads` worker threads (default: one per core).
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads.max(1));
        self
    }

    /// Reports progress to `progress`: one phase `sweep` of `planned` backtests, advanced as
    /// rows reach the sink.
    pub fn progress(mut self, progress: &'a dyn Progress) -> Self {
        self.progress = progress;
        self
    }

    /// Runs the sweep and calls `sink` with every row, on the calling thread, in completion
    /// order (sort by `(ticker, combo)` for a stable order). Rows for failed backtests are
    /// delivered too, with the error.
    ///
    /// Fails before any work if the options are invalid or the worker threads cannot start.
    /// A generator that panics makes the sweep panic.
    pub fn run<G, S>(&self, generator: &G, mut sink: S) -> Result<SweepSummary>
    where
        G: SignalGenerator,
        S: FnMut(SweepRow) -> ControlFlow<()>,
    {
        self.config.validate()?;
        let threads = self
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("quantd-sweep-{i}"))
            .build()
            .map_err(|e| BacktestError::ThreadPool {
                threads,
                message: e.to_string(),
            })?;

        let param_sets = self.grid.count(self.constraint);
        let planned = param_sets * self.tickers.len() as u64;
        self.progress.phase("sweep", planned);
        let mut summary = SweepSummary {
            param_sets,
            planned,
            delivered: 0,
            failed: 0,
            stopped: false,
        };
        if planned == 0 {
            self.progress.finish();
            return Ok(summary);
        }

        // Split each ticker's grid so that there are a few items per thread even for few tickers.
        let combos = self.grid.len();
        let tickers = self.tickers.len() as u64;
        let per_ticker = (4 * threads as u64).div_ceil(tickers).clamp(1, combos);
        let chunk = combos.div_ceil(per_ticker);
        let items = tickers * per_ticker;

        let stop = AtomicBool::new(false);
        let (tx, rx) = mpsc::sync_channel::<Vec<SweepRow>>(self.channel_batches);
        pool.in_place_scope(|scope| {
            let stop = &stop;
            scope.spawn(move |_| {
                (0..items)
                    .into_par_iter()
                    .for_each_init(Worker::default, |worker, item| {
                        let ticker = (item / per_ticker) as usize;
                        let lo = (item % per_ticker) * chunk;
                        let hi = (lo + chunk).min(combos);
                        if lo < hi && !stop.load(Ordering::Relaxed) {
                            self.work(generator, worker, ticker, lo..hi, &tx, stop);
                        }
                    });
            });
            'rows: for batch in &rx {
                for row in batch {
                    summary.delivered += 1;
                    summary.failed += u64::from(row.outcome.is_err());
                    self.progress.advance(1);
                    if sink(row).is_break() {
                        summary.stopped = true;
                        stop.store(true, Ordering::Relaxed);
                        break 'rows;
                    }
                }
            }
            drop(rx);
        });
        self.progress.finish();
        Ok(summary)
    }

    /// Backtests parameter sets `range` on ticker `t` and sends the rows.
    fn work<G: SignalGenerator>(
        &self,
        generator: &G,
        w: &mut Worker,
        t: usize,
        range: std::ops::Range<u64>,
        tx: &mpsc::SyncSender<Vec<SweepRow>>,
        stop: &AtomicBool,
    ) {
        let ticker = &self.tickers[t];
        let bars = &ticker.bars;
        let ctx = StatsContext::new(bars);
        let mut cache = generator.cache(t, ticker);
        let mut batch = Vec::with_capacity(self.batch_rows);
        for combo in range {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            self.grid.values_at(combo, &mut w.values);
            let params = self.grid.param_set(&w.values);
            if let Some(accept) = self.constraint
                && !accept(&params)
            {
                continue;
            }
            w.signals.reset(bars.len());
            let outcome = match generator.generate(ticker, &params, &mut cache, &mut w.signals) {
                Err(e) => Err(BacktestError::Generator {
                    ticker: ticker.name.to_string(),
                    params: params.to_string(),
                    message: e.to_string(),
                }),
                Ok(()) => {
                    let signals = w.signals.as_signals();
                    w.sim.run(bars, &signals, self.config).map(|()| {
                        metrics::compute(
                            bars,
                            &ctx,
                            w.sim.equity(),
                            w.sim.trades(),
                            signals.warmup,
                            self.config.risk_free_rate,
                        )
                    })
                }
            };
            batch.push(SweepRow {
                ticker: t,
                combo,
                params: w.values.clone(),
                outcome,
            });
            if batch.len() == self.batch_rows {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(self.batch_rows));
                if tx.send(full).is_err() {
                    stop.store(true, Ordering::Relaxed);
                    return;
                }
            }
        }
        if !batch.is_empty() && tx.send(batch).is_err() {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// A worker thread's reusable buffers.
#[derive(Default)]
struct Worker {
    sim: Simulator,
    signals: SignalBuffers,
    values: Vec<f64>,
}

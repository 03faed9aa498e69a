//! Jobs: what each kind of execution does with one shard. A job is built once per execution
//! and process from the stored spec (compiling code, mapping the pack) and then runs shards.

use crate::error::{EngineError, Result};
use crate::exec::EngineOptions;
use crate::exec::limits::Limits;
use crate::exec::spec::{ResolvedScan, ResolvedSpec};
use crate::scan;
use quantd_core::ErrorClass;
use quantd_data::PackReader;
use quantd_expr::Program;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Bars per native scan shard at most, by default: about 25 ms of work on 2 cores, so the fixed
/// cost of a shard (claim, commit of results and events: a few store round trips, well under a
/// millisecond) stays a few per cent of it, while a crash loses little and progress moves on long
/// scans. A scan gets as few shards as cover it at this size, of equal bars; the reference
/// full-market scan (5,000 tickers × 2,520 days, 12.6 M bars) is one shard. A scan shard is itself
/// parallel (rayon over its tickers on every core); the engine runs such shards one after another,
/// claiming the next and committing the previous one while a shard computes. Cancellation also
/// works inside a shard (checked between tickers). Measured on the reference scan (2 cores,
/// `quantd-bench scan`): one shard is faster than two by 1–2 % of the scan (docs/PERFORMANCE.md).
pub const SCAN_SHARD_BARS: u64 = 1 << 24;

/// What a running shard shares with the engine that runs it: the stop flag (set by a cancel
/// or a pause of its execution; jobs check it between tickers, parameter sets, or while a
/// Python job runs) and the bars it has processed so far, which the engine reports as progress
/// while the shard runs.
#[derive(Debug, Default)]
pub struct ShardControl {
    stop: Arc<AtomicBool>,
    bars: AtomicU64,
}

impl ShardControl {
    /// A control whose stop flag is `stop` (the execution's).
    pub fn new(stop: Arc<AtomicBool>) -> ShardControl {
        ShardControl {
            stop,
            bars: AtomicU64::new(0),
        }
    }

    /// Whether the shard should stop now.
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The stop flag, for code that polls it itself (a Python job's supervisor).
    pub fn stop_flag(&self) -> &AtomicBool {
        &self.stop
    }

    /// Counts `n` more bars processed.
    pub fn add_bars(&self, n: u64) {
        self.bars.fetch_add(n, Ordering::Relaxed);
    }

    /// Bars processed so far.
    pub fn bars(&self) -> u64 {
        self.bars.load(Ordering::Relaxed)
    }
}

/// Scan progress (tickers done) as bars on a [`ShardControl`], at the shard's mean bars per
/// ticker: the running count is approximate, the committed one exact.
struct ScanBars<'a> {
    ctl: &'a ShardControl,
    bars_per_ticker: f64,
}

impl quantd_core::Progress for ScanBars<'_> {
    fn phase(&self, _name: &str, _total: u64) {}
    fn advance(&self, tickers: u64) {
        self.ctl
            .add_bars((tickers as f64 * self.bars_per_ticker) as u64);
    }
    fn finish(&self) {}
}

/// A shard's committed output.
#[derive(Debug, Clone)]
pub struct ShardOutput {
    /// Bars processed.
    pub bars: u64,
    /// Result rows.
    pub rows: u64,
    /// The encoded results.
    pub body: Vec<u8>,
    /// A scan shard's summary counts, computed while its rows are at hand so that finishing
    /// the execution merges small counts instead of decoding every shard again.
    pub scan_summary: Option<scan::SummaryBuilder>,
    /// The execution's summary, from a job of one shard whose result is its summary (imports):
    /// stored by the commit that completes the execution, so a completed execution always has it.
    pub summary: Option<serde_json::Value>,
}

/// Why a shard did not finish.
#[derive(Debug, Clone, PartialEq)]
pub enum ShardFailure {
    /// Its execution was cancelled.
    Cancelled,
    /// An error of this class.
    Error(ErrorClass, String),
    /// The work panicked (a bug, or input the code did not expect): class `internal`, and it
    /// counts towards the shard's quarantine.
    Crash(String),
}

impl From<quantd_data::DataError> for ShardFailure {
    fn from(e: quantd_data::DataError) -> Self {
        ShardFailure::Error(e.class(), e.to_string())
    }
}

impl From<EngineError> for ShardFailure {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::Cancelled => ShardFailure::Cancelled,
            other => ShardFailure::Error(other.class(), other.to_string()),
        }
    }
}

/// The pack ticker positions a ticker-batch shard covers, the payload of every ticker-sharded
/// job: `{"tickers": [..]}`, or `{"ticker_range": [first, end)}` for a run of consecutive
/// positions (a whole-market shard stays a few bytes to store, claim and read).
pub fn payload_tickers(payload: &Value) -> std::result::Result<Vec<usize>, ShardFailure> {
    let bad =
        |e: String| ShardFailure::Error(ErrorClass::Internal, format!("bad shard payload: {e}"));
    if let Some(range) = payload.get("ticker_range") {
        let [first, end]: [usize; 2] =
            serde_json::from_value(range.clone()).map_err(|e| bad(e.to_string()))?;
        if first > end {
            return Err(bad(format!("empty ticker range {first}..{end}")));
        }
        return Ok((first..end).collect());
    }
    serde_json::from_value(payload["tickers"].clone()).map_err(|e| bad(e.to_string()))
}

/// The payload of a shard covering `tickers` (pack positions, ascending): a range when they are
/// consecutive, else the list.
pub fn ticker_payload(tickers: &[usize]) -> Value {
    match (tickers.first(), tickers.last()) {
        (Some(&first), Some(&last)) if last - first + 1 == tickers.len() => {
            serde_json::json!({ "ticker_range": [first, last + 1] })
        }
        _ => serde_json::json!({ "tickers": tickers }),
    }
}

/// Ticker-batch shard payloads of at most `per_shard` tickers each.
pub fn ticker_batches(tickers: &[usize], per_shard: usize) -> Vec<Value> {
    tickers
        .chunks(per_shard.max(1))
        .map(ticker_payload)
        .collect()
}

/// Ticker-batch shard payloads of about `shard_bars` bars each (a batch closes at the ticker
/// that reaches it).
pub fn bar_batches(reader: &PackReader, tickers: &[usize], shard_bars: u64) -> Vec<Value> {
    let entries = &reader.manifest().tickers;
    let mut shards = Vec::new();
    let mut start = 0;
    let mut bars = 0;
    for (i, &t) in tickers.iter().enumerate() {
        bars += entries[t].rows;
        if bars >= shard_bars {
            shards.push(ticker_payload(&tickers[start..=i]));
            start = i + 1;
            bars = 0;
        }
    }
    if start < tickers.len() {
        shards.push(ticker_payload(&tickers[start..]));
    }
    shards
}

/// What every kind of job does.
pub trait Job: Send + Sync {
    /// The shard payloads, in order. Must depend only on the spec and the pack, so that a plan
    /// made again after a crash is the same plan.
    fn plan(&self) -> Vec<Value>;
    /// Runs one shard, stopping when `ctl` says so and counting its bars on it.
    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure>;
    /// For scans: an empty set of signal rows with the pack's tickers and the program's
    /// indicator names, to decode stored shard results into.
    fn signals_template(&self) -> Option<scan::Signals> {
        None
    }
    /// For scans whose indicator names are only known from their output (Python scanners):
    /// stored bodies carry the names, and readers take the union of every shard's names.
    fn indicators_from_results(&self) -> bool {
        false
    }
    /// Whether one shard already keeps every core busy (a native scan runs its tickers on rayon):
    /// such shards run one after another instead of side by side.
    fn parallel_inside(&self) -> bool {
        false
    }
    /// Whether a shard may start computing before the transaction that claims it commits: its
    /// run only reads the pack and returns its output (nothing outside is touched, so work whose
    /// claim never commits is simply dropped).
    fn may_run_ahead(&self) -> bool {
        false
    }
}

/// Builds the job of a spec.
pub fn build(
    spec: &ResolvedSpec,
    reader: Arc<PackReader>,
    options: &EngineOptions,
    python: &Arc<crate::python::Python>,
) -> Result<Arc<dyn Job>> {
    use crate::python::{PyBacktestJob, PyScanJob, PySweepJob, PyTestJob, RunJob};
    check_work(spec, &reader, &options.limits)?;
    let py = python.clone();
    match spec {
        ResolvedSpec::Scan(s) if s.python => {
            let custom =
                (options.scan_shard_bars != SCAN_SHARD_BARS).then_some(options.scan_shard_bars);
            Ok(Arc::new(PyScanJob::new(s, reader, py, custom)?))
        }
        ResolvedSpec::Test(t) if t.python => Ok(Arc::new(PyTestJob::new(t, reader, py)?)),
        ResolvedSpec::Backtest(b) if b.python.is_some() => {
            Ok(Arc::new(PyBacktestJob::new(b, reader, py)?))
        }
        ResolvedSpec::Sweep(s) if s.backtest.python.is_some() => {
            Ok(Arc::new(PySweepJob::new(s, reader, py)?))
        }
        ResolvedSpec::Run(r) => Ok(Arc::new(RunJob::new(r, reader, py))),
        ResolvedSpec::Import(_) => Err(EngineError::Internal(
            "import jobs read no pack; the engine builds them".into(),
        )),
        ResolvedSpec::Scan(s) => Ok(Arc::new(ScanJob::new(
            s,
            reader,
            options.scan_shard_bars,
            &options.limits,
        )?)),
        ResolvedSpec::Test(t) => Ok(Arc::new(TestJob::new(t, reader, &options.limits)?)),
        ResolvedSpec::Backtest(b) => {
            crate::exec::strategy::build_backtest(b, reader, &options.limits.expr)
        }
        ResolvedSpec::Sweep(s) => {
            crate::exec::strategy::build_sweep(s, reader, &options.limits.expr)
        }
    }
}

/// Checks the work of a spec against the pack before its job is built (a sweep grid is counted,
/// never expanded, so an absurd grid costs nothing).
fn check_work(spec: &ResolvedSpec, reader: &PackReader, limits: &Limits) -> Result<()> {
    let pack_tickers = reader.manifest().tickers.len() as u64;
    let tickers =
        |listed: &Option<Vec<String>>| listed.as_ref().map_or(pack_tickers, |t| t.len() as u64);
    match spec {
        ResolvedSpec::Scan(s) => limits.check_work(tickers(&s.tickers), "tickers to scan"),
        ResolvedSpec::Backtest(b) => limits.check_work(tickers(&b.tickers), "tickers to backtest"),
        ResolvedSpec::Sweep(s) => {
            let grid = quantd_backtest::ParamGrid::parse(&s.grid)?;
            limits.check_grid(grid.len(), tickers(&s.backtest.tickers))
        }
        ResolvedSpec::Test(_) | ResolvedSpec::Run(_) | ResolvedSpec::Import(_) => Ok(()),
    }
}

/// A scan: shards are batches of tickers.
pub struct ScanJob {
    reader: Arc<PackReader>,
    program: Program,
    tickers: Vec<usize>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    shard_bars: u64,
    max_shard_memory: u64,
}

impl ScanJob {
    /// A scan in shards of at most `max_shard_bars`, balanced: as few shards as cover its
    /// tickers' bars, of equal bars.
    /// The shard size also keeps a shard's worst case (a hit on every bar, with every indicator
    /// column) under `max_shard_memory`.
    fn new(
        s: &ResolvedScan,
        reader: Arc<PackReader>,
        max_shard_bars: u64,
        limits: &Limits,
    ) -> Result<ScanJob> {
        let max_shard_memory = limits.max_shard_memory;
        let program = scan::compile_with(&reader, &s.source, &s.params, &limits.expr)?;
        let tickers = scan::select_tickers(&reader, s.tickers.as_deref())?;
        limits.check_cost(&program.cost(), &reader, &tickers)?;
        let entries = &reader.manifest().tickers;
        let total: u64 = tickers.iter().map(|&t| entries[t].rows).sum();
        let by_memory = max_shard_memory / scan::row_bytes(program.indicators().len());
        let max_shard_bars = max_shard_bars.min(by_memory).max(1);
        let shards = total.div_ceil(max_shard_bars).max(1);
        Ok(ScanJob {
            program,
            tickers,
            from: s.from,
            to: s.to,
            shard_bars: total.div_ceil(shards).max(1),
            max_shard_memory,
            reader,
        })
    }
}

impl Job for ScanJob {
    fn plan(&self) -> Vec<Value> {
        bar_batches(&self.reader, &self.tickers, self.shard_bars)
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let tickers: Vec<usize> = payload_tickers(payload)?;
        let entries = &self.reader.manifest().tickers;
        if quantd_data::failpoint::armed() {
            for &t in &tickers {
                quantd_data::failpoint::hit(&format!("scan-ticker={}", entries[t].ticker));
            }
        }
        let bars: u64 = tickers.iter().map(|&t| entries[t].rows).sum();
        let progress = ScanBars {
            ctl,
            bars_per_ticker: bars as f64 / tickers.len().max(1) as f64,
        };
        let signals = scan::run_bounded(
            &self.reader,
            &self.program,
            &tickers,
            self.from,
            self.to,
            ctl.stop_flag(),
            &progress,
            self.max_shard_memory,
        )?;
        let mut summary = scan::SummaryBuilder::default();
        summary.add(&signals);
        Ok(ShardOutput {
            bars,
            rows: signals.len() as u64,
            body: signals.encode_rows(),
            scan_summary: Some(summary),
            summary: None,
        })
    }

    fn signals_template(&self) -> Option<scan::Signals> {
        Some(scan::Signals {
            tickers: self.reader.ticker_names(),
            indicators: self.program.indicators().to_vec(),
            ..Default::default()
        })
    }

    fn parallel_inside(&self) -> bool {
        true
    }

    fn may_run_ahead(&self) -> bool {
        true
    }
}

/// Example tickers per A+ test shard.
const TEST_SHARD_TICKERS: usize = 50;

/// An A+ example test: shards are batches of the example tickers; each shard's result is the
/// JSON list of its tickers' reports.
pub struct TestJob {
    reader: Arc<PackReader>,
    program: Program,
    examples: Vec<crate::atest::Example>,
    tickers: Vec<usize>,
    tolerance: usize,
}

impl TestJob {
    fn new(
        t: &crate::exec::spec::ResolvedTest,
        reader: Arc<PackReader>,
        limits: &Limits,
    ) -> Result<TestJob> {
        let program = scan::compile_with(&reader, &t.source, &t.params, &limits.expr)?;
        let names: Vec<String> = crate::atest::by_ticker(&t.examples).into_keys().collect();
        let tickers = scan::select_tickers(&reader, Some(&names))?;
        limits.check_cost(&program.cost(), &reader, &tickers)?;
        Ok(TestJob {
            reader,
            program,
            examples: t.examples.clone(),
            tickers,
            tolerance: t.tolerance,
        })
    }
}

impl Job for TestJob {
    fn plan(&self) -> Vec<Value> {
        ticker_batches(&self.tickers, TEST_SHARD_TICKERS)
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let tickers: Vec<usize> = payload_tickers(payload)?;
        let columns: Vec<&str> = self.program.columns().iter().map(String::as_str).collect();
        let projection = self.reader.projection(&columns)?;
        let by_ticker = crate::atest::by_ticker(&self.examples);
        let mut ws = quantd_expr::Workspace::new();
        let mut reports = Vec::new();
        let mut bars = 0;
        for t in tickers {
            if ctl.stopped() {
                return Err(ShardFailure::Cancelled);
            }
            let name = &self.reader.manifest().tickers[t].ticker;
            let data = self.reader.read(t, &projection)?;
            let inputs: Vec<&[f64]> = (0..columns.len()).map(|k| data.column(k)).collect();
            let eval = self
                .program
                .evaluate(&inputs, &mut ws)
                .map_err(|e| ShardFailure::Error(ErrorClass::Internal, e.to_string()))?;
            bars += data.len() as u64;
            ctl.add_bars(data.len() as u64);
            let examples = by_ticker.get(name).map(Vec::as_slice).unwrap_or_default();
            reports.push(crate::atest::judge(
                name,
                data.dates(),
                eval.output(0),
                examples,
                self.tolerance,
            ));
        }
        let rows = reports.len() as u64;
        Ok(ShardOutput {
            bars,
            rows,
            body: serde_json::to_vec(&reports).expect("reports serialize"),
            scan_summary: None,
            summary: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_tickers_are_stored_as_a_range_and_read_back_the_same() {
        for tickers in [vec![0, 1, 2, 3], vec![7], vec![2, 3, 5], vec![]] {
            let payload = ticker_payload(&tickers);
            let consecutive = tickers.windows(2).all(|w| w[1] == w[0] + 1) && !tickers.is_empty();
            assert_eq!(
                payload.get("ticker_range").is_some(),
                consecutive,
                "{payload}"
            );
            assert_eq!(payload_tickers(&payload).unwrap(), tickers);
        }
        assert_eq!(
            ticker_payload(&(100..5100).collect::<Vec<_>>()).to_string(),
            r#"{"ticker_range":[100,5100]}"#
        );
        assert!(payload_tickers(&serde_json::json!({ "ticker_range": [5, 2] })).is_err());
        assert!(payload_tickers(&serde_json::json!({ "ticker_range": [1] })).is_err());
    }

    #[test]
    fn batches_split_on_the_count_and_keep_every_ticker_once() {
        let tickers: Vec<usize> = (0..10).chain([12, 13, 20]).collect();
        let batches = ticker_batches(&tickers, 4);
        let back: Vec<usize> = batches
            .iter()
            .flat_map(|p| payload_tickers(p).unwrap())
            .collect();
        assert_eq!(back, tickers);
        assert_eq!(batches.len(), 4);
        assert_eq!(batches[0], serde_json::json!({ "ticker_range": [0, 4] }));
        assert_eq!(batches[2], serde_json::json!({ "tickers": [8, 9, 12, 13] }));
        assert_eq!(batches[3], serde_json::json!({ "ticker_range": [20, 21] }));
    }
}

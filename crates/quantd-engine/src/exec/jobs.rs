//! Jobs: what each kind of execution does with one shard. A job is built once per execution
//! and process from the stored spec (compiling code, mapping the pack) and then runs shards.

use crate::error::{EngineError, Result};
use crate::exec::EngineOptions;
use crate::exec::spec::{ResolvedScan, ResolvedSpec};
use crate::scan;
use quantd_core::{ErrorClass, NoProgress};
use quantd_data::PackReader;
use quantd_expr::Program;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Bars per scan shard at least: small enough that a crash loses little and progress moves,
/// large enough that per-shard commits cost little next to the work.
pub const SCAN_SHARD_BARS: u64 = 250_000;
/// Most shards a scan is planned into when its shards have the default size (bigger universes get
/// bigger shards, so commits stay a small share of the work). A scan shard is itself parallel
/// (rayon over its tickers on every core), and the engine runs such shards one after another,
/// claiming the next and committing the previous one while a shard computes; each further shard
/// adds a rayon tail (a core idle at its end) and a commit competing with the compute. Measured on
/// the reference scan (2 cores, `quantd bench scan`): 2 shards beat 4 by 1–2 ms of ~22. Shards are
/// there for durability, progress and cancellation (which also works inside a shard).
pub const SCAN_MAX_SHARDS: u64 = 2;

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

/// The pack ticker positions a ticker-batch shard covers (`{"tickers": [..]}`), the payload of
/// every ticker-sharded job.
pub fn payload_tickers(payload: &Value) -> std::result::Result<Vec<usize>, ShardFailure> {
    serde_json::from_value(payload["tickers"].clone())
        .map_err(|e| ShardFailure::Error(ErrorClass::Internal, format!("bad shard payload: {e}")))
}

/// Ticker-batch shard payloads: `{"tickers": [..]}` of at most `per_shard` tickers each.
pub fn ticker_batches(tickers: &[usize], per_shard: usize) -> Vec<Value> {
    tickers
        .chunks(per_shard.max(1))
        .map(|c| serde_json::json!({ "tickers": c }))
        .collect()
}

/// What every kind of job does.
pub trait Job: Send + Sync {
    /// The shard payloads, in order. Must depend only on the spec and the pack, so that a plan
    /// made again after a crash is the same plan.
    fn plan(&self) -> Vec<Value>;
    /// Runs one shard.
    fn run(
        &self,
        payload: &Value,
        cancel: &AtomicBool,
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
}

/// Builds the job of a spec.
pub fn build(
    spec: &ResolvedSpec,
    reader: Arc<PackReader>,
    options: &EngineOptions,
    python: &Arc<crate::python::Python>,
) -> Result<Arc<dyn Job>> {
    use crate::python::{PyBacktestJob, PyScanJob, PySweepJob, PyTestJob, RunJob};
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
        ResolvedSpec::Scan(s) => {
            let total: u64 = reader.manifest().bars;
            let shard_bars = if options.scan_shard_bars == SCAN_SHARD_BARS {
                SCAN_SHARD_BARS.max(total.div_ceil(SCAN_MAX_SHARDS))
            } else {
                options.scan_shard_bars
            };
            Ok(Arc::new(ScanJob::new(s, reader, shard_bars)?))
        }
        ResolvedSpec::Test(t) => Ok(Arc::new(TestJob::new(t, reader)?)),
        ResolvedSpec::Backtest(b) => crate::exec::strategy::build_backtest(b, reader),
        ResolvedSpec::Sweep(s) => crate::exec::strategy::build_sweep(s, reader),
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
}

impl ScanJob {
    fn new(s: &ResolvedScan, reader: Arc<PackReader>, shard_bars: u64) -> Result<ScanJob> {
        let program = scan::compile(&reader, &s.source, &s.params)?;
        let tickers = scan::select_tickers(&reader, s.tickers.as_deref())?;
        Ok(ScanJob {
            reader,
            program,
            tickers,
            from: s.from,
            to: s.to,
            shard_bars: shard_bars.max(1),
        })
    }
}

impl Job for ScanJob {
    fn plan(&self) -> Vec<Value> {
        let entries = &self.reader.manifest().tickers;
        let mut shards = Vec::new();
        let mut batch: Vec<usize> = Vec::new();
        let mut bars = 0;
        for &t in &self.tickers {
            batch.push(t);
            bars += entries[t].rows;
            if bars >= self.shard_bars {
                shards.push(serde_json::json!({ "tickers": std::mem::take(&mut batch) }));
                bars = 0;
            }
        }
        if !batch.is_empty() {
            shards.push(serde_json::json!({ "tickers": batch }));
        }
        shards
    }

    fn run(
        &self,
        payload: &Value,
        cancel: &AtomicBool,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let tickers: Vec<usize> = payload_tickers(payload)?;
        let bars = tickers
            .iter()
            .map(|&t| self.reader.manifest().tickers[t].rows)
            .sum();
        let signals = scan::run(
            &self.reader,
            &self.program,
            &tickers,
            self.from,
            self.to,
            cancel,
            &NoProgress,
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
    fn new(t: &crate::exec::spec::ResolvedTest, reader: Arc<PackReader>) -> Result<TestJob> {
        let program = scan::compile(&reader, &t.source, &t.params)?;
        let names: Vec<String> = crate::atest::by_ticker(&t.examples).into_keys().collect();
        let tickers = scan::select_tickers(&reader, Some(&names))?;
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
        cancel: &AtomicBool,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let tickers: Vec<usize> = payload_tickers(payload)?;
        let columns: Vec<&str> = self.program.columns().iter().map(String::as_str).collect();
        let projection = self.reader.projection(&columns)?;
        let by_ticker = crate::atest::by_ticker(&self.examples);
        let mut ws = quantd_expr::Workspace::new();
        let mut reports = Vec::new();
        let mut bars = 0;
        for t in tickers {
            if cancel.load(std::sync::atomic::Ordering::Relaxed) {
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

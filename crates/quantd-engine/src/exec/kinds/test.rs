//! The `test` kind: an A+ test runs a scanner on example names and compares its signals with
//! the expected hits (docs/examples.md). Shards are batches of the example tickers; each
//! shard's result is the JSON list of its tickers' reports, and the report assembled from them
//! is the execution's result and (its scores) its summary.

use super::{Kind, reader_of, spec_of};
use crate::atest::{Example, Report, TickerReport};
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::jobs::{
    Job, ShardControl, ShardFailure, ShardOutput, payload_tickers, ticker_batches,
};
use crate::exec::limits::Limits;
use crate::exec::request::SubmitRequest;
use crate::exec::spec::{CodeChoice, CodeInfo, scanner_text};
use crate::scan;
use crate::views::{Cell, Column, ColumnType, Table};
use quantd_core::{ErrorClass, ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_expr::Program;
use quantd_store::{ExecutionRecord, PackRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Bars a signal may be away from an example's date when the request does not say.
const DEFAULT_TOLERANCE: u32 = 2;

/// A resolved A+ test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedTest {
    /// The expression text (the Python source when `python`).
    pub source: String,
    /// The source is a Python scanner (run in the sandbox), not an expression.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub python: bool,
    /// The stored code it came from, if any.
    pub code: Option<CodeInfo>,
    /// The pack read.
    pub pack_id: String,
    /// Parameter values.
    pub params: BTreeMap<String, f64>,
    /// The examples, sorted.
    pub examples: Vec<Example>,
    /// Bars of tolerance.
    pub tolerance: usize,
}

impl ResolvedTest {
    /// The pack positions of the example tickers, which both test jobs (expression and Python)
    /// run on.
    pub(crate) fn example_tickers(&self, reader: &PackReader) -> Result<Vec<usize>> {
        let names: Vec<String> = crate::atest::by_ticker(&self.examples)
            .into_keys()
            .collect();
        scan::select_tickers(reader, Some(&names))
    }
}

/// The `test` kind.
pub struct Test;

impl Kind for Test {
    const KIND: ExecutionKind = ExecutionKind::Test;
    const FIELDS: &'static [&'static str] = &["code", "expr", "python", "examples", "tolerance"];
    type Spec = ResolvedTest;

    async fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        mut request: SubmitRequest,
    ) -> Result<ResolvedTest> {
        let choice = CodeChoice::of(&mut request)?;
        if request.examples.is_empty() {
            return Err(EngineError::Invalid(
                "an A+ test needs at least one example".into(),
            ));
        }
        let (source, python, code) = scanner_text(engine.store(), workspace, choice).await?;
        Ok(ResolvedTest {
            source,
            python,
            code,
            pack_id: pack.map(|p| p.id.to_string()).unwrap_or_default(),
            params: request.params,
            examples: request
                .examples
                .into_iter()
                .map(|e| Example {
                    ticker: e.ticker,
                    date: e.date,
                    expected: e.expected,
                })
                .collect(),
            tolerance: request.tolerance.unwrap_or(DEFAULT_TOLERANCE) as usize,
        })
    }

    fn sandboxed(spec: &ResolvedTest) -> bool {
        spec.python
    }

    fn code(spec: &ResolvedTest) -> Option<&CodeInfo> {
        spec.code.as_ref()
    }

    fn build<S: Store>(
        engine: &Engine<S>,
        _id: &ExecutionId,
        spec: &ResolvedTest,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        let reader = reader_of(reader)?;
        if spec.python {
            return Ok(Arc::new(crate::python::PyTestJob::new(
                spec,
                reader,
                engine.sandboxed(sandbox),
            )?));
        }
        Ok(Arc::new(TestJob::new(
            spec,
            reader,
            &engine.options.limits,
        )?))
    }

    async fn finalize<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<()> {
        engine.test_report(&rec.id).await.map(drop)
    }

    async fn outputs<S: Store>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
    ) -> Result<serde_json::Value> {
        engine.test_outputs(rec).await
    }

    async fn table<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Table> {
        Ok(report_table(&engine.test_report(&rec.id).await?))
    }
}

impl<S: Store> Engine<S> {
    /// The A+ report of a test execution, assembled from its shards; stored as its summary.
    pub async fn test_report(&self, id: &ExecutionId) -> Result<Report> {
        let rec = self.execution(id).await?;
        let spec = spec_of::<Test>(&rec)?;
        let tickers: Vec<TickerReport> = self.shard_lists(id, "test").await?;
        let report = Report::new(spec.tolerance, tickers);
        let summary = serde_json::json!({
            "precision": report.precision, "recall": report.recall, "accuracy": report.accuracy,
            "matched": report.matched, "missed": report.missed, "unexpected": report.unexpected,
        });
        self.store().set_summary(id, &summary).await?;
        Ok(report)
    }
}

/// An A+ report as rows: one per example or unexpected signal, with its verdict.
pub fn report_table(report: &Report) -> Table {
    let mut t = Table::new(vec![
        Column::new("ticker", ColumnType::Text),
        Column::new("date", ColumnType::Text),
        Column::new("verdict", ColumnType::Text),
        Column::new("signal", ColumnType::Text),
    ]);
    for r in &report.tickers {
        let mut rows: Vec<(&str, &str, Option<&str>)> = Vec::new();
        rows.extend(
            r.matched
                .iter()
                .map(|(e, f)| (e.as_str(), "matched", Some(f.as_str()))),
        );
        rows.extend(r.missed.iter().map(|d| (d.as_str(), "missed", None)));
        rows.extend(
            r.unexpected
                .iter()
                .map(|d| (d.as_str(), "unexpected", Some(d.as_str()))),
        );
        rows.extend(r.silent.iter().map(|d| (d.as_str(), "silent", None)));
        rows.extend(
            r.false_alarms
                .iter()
                .map(|d| (d.as_str(), "false alarm", None)),
        );
        rows.extend(
            r.not_in_data
                .iter()
                .map(|d| (d.as_str(), "not in data", None)),
        );
        rows.sort_by_key(|&(d, v, _)| (d, v));
        for (date, verdict, signal) in rows {
            t.push(vec![
                r.ticker.as_str().into(),
                date.into(),
                verdict.into(),
                signal.map_or(Cell::Null, Cell::from),
            ]);
        }
    }
    t
}

/// Example tickers per A+ test shard (expression and Python scanners alike).
pub(crate) const TEST_SHARD_TICKERS: usize = 50;

/// An A+ example test of an expression scanner.
pub struct TestJob {
    reader: Arc<PackReader>,
    program: Program,
    examples: Vec<Example>,
    tickers: Vec<usize>,
    tolerance: usize,
}

impl TestJob {
    fn new(t: &ResolvedTest, reader: Arc<PackReader>, limits: &Limits) -> Result<TestJob> {
        let program = scan::compile_with(&reader, &t.source, &t.params, &limits.expr)?;
        let tickers = t.example_tickers(&reader)?;
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
        let calendar = self.reader.manifest().calendar;
        let plan = crate::inputs::InputPlan::new(&[], self.program.columns(), calendar);
        let projection = plan.projection(&self.reader)?;
        let mut clock = crate::inputs::ClockBuffers::default();
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
            let inputs = plan.inputs(&data, 0..data.len(), &mut clock);
            let eval = self
                .program
                .evaluate(&inputs, &mut ws)
                .map_err(|e| ShardFailure::Error(ErrorClass::Internal, e.to_string()))?;
            bars += data.len() as u64;
            ctl.add_bars(data.len() as u64);
            let examples = by_ticker.get(name).map(Vec::as_slice).unwrap_or_default();
            reports.push(crate::atest::judge(
                name,
                data.stamps(),
                self.reader.manifest().calendar,
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

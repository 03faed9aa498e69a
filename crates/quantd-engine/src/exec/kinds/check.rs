//! The `check` kind: a look-ahead check of a scanner or a strategy ([`crate::lookahead`]).
//! Shards are batches of tickers (those asked for, else an even sample of the pack); each
//! shard's result is the JSON list of its tickers' [`TickerCheck`]s, and the
//! [`CheckReport`] assembled from them is the execution's summary.

use super::{Kind, reader_of, spec_of};
use crate::code::{self, CodeSource, StrategyExprs};
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::jobs::Job;
use crate::exec::request::SubmitRequest;
use crate::exec::spec::CodeInfo;
use crate::lookahead::cuts::Settings;
use crate::lookahead::expr::ExprCheckJob;
use crate::lookahead::{
    CheckReport, DEFAULT_CUTS, MAX_CUTS, MAX_TICKERS, MIN_BARS, SAMPLE_TICKERS, TickerCheck,
    shown_value,
};
use crate::results::Writing;
use crate::views::{Cell, Column, ColumnType, TABLE_PRECISION, Table};
use quantd_core::{ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_store::{ExecutionRecord, PackRecord, Store};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

/// The code a check runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckedCode {
    /// A scanner expression.
    Expr(String),
    /// A strategy of expressions.
    Strategy(StrategyExprs),
    /// A Python scanner or strategy (run in the sandbox).
    Python(String),
}

impl CheckedCode {
    /// `expression` or `python`, as the report names it.
    pub fn language(&self) -> &'static str {
        match self {
            CheckedCode::Python(_) => "python",
            _ => "expression",
        }
    }

    /// Expression code compiled against `reader` (a scanner's program, or a strategy's with its
    /// outputs `entry`, `exit`, …); `None` for Python.
    pub(crate) fn compile(
        &self,
        reader: &PackReader,
        params: &BTreeMap<String, f64>,
        limits: &quantd_expr::Limits,
    ) -> Option<Result<quantd_expr::Program>> {
        match self {
            CheckedCode::Expr(src) => Some(crate::scan::compile_with(reader, src, params, limits)),
            CheckedCode::Strategy(s) => Some(crate::exec::strategy::compile_strategy(
                reader, s, params, limits,
            )),
            CheckedCode::Python(_) => None,
        }
    }
}

/// The look-ahead check job of `checked` on `tickers`, cut as `settings` says: expression code
/// compiled and priced against `limits`, Python code run by `py`. The `check` kind's job, and
/// the look-ahead part of an evaluation.
pub(crate) fn check_job(
    checked: &CheckedCode,
    params: &BTreeMap<String, f64>,
    reader: Arc<PackReader>,
    tickers: Vec<usize>,
    settings: Settings,
    limits: &crate::exec::limits::Limits,
    py: crate::python::Sandboxed,
) -> Result<Arc<dyn Job>> {
    match (checked.compile(&reader, params, &limits.expr), checked) {
        (Some(program), _) => {
            let program = program?;
            limits.check_cost(&program.cost(), &reader, &tickers)?;
            Ok(Arc::new(ExprCheckJob::new(
                reader, program, tickers, settings,
            )))
        }
        (None, CheckedCode::Python(src)) => Ok(Arc::new(crate::python::PyCheckJob::new(
            py,
            reader,
            src,
            params,
            tickers,
            quantd_sandbox::CheckArgs {
                cuts: settings.cuts,
                min_bars: settings.min_bars,
                seed: settings.seed,
            },
        ))),
        (None, _) => Err(EngineError::Internal(
            "expression code that does not compile to a program".into(),
        )),
    }
}

/// A resolved look-ahead check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedCheck {
    /// The code checked.
    pub checked: CheckedCode,
    /// The stored code it came from, if any.
    pub code: Option<CodeInfo>,
    /// The pack read.
    pub pack_id: String,
    /// Parameter values.
    pub params: BTreeMap<String, f64>,
    /// The tickers asked for; `None`: an even sample of the pack ([`SAMPLE_TICKERS`]).
    pub tickers: Option<Vec<String>>,
    /// Cut points per ticker.
    pub cuts: u32,
    /// Bars a cut leaves at least.
    pub min_bars: u32,
}

impl ResolvedCheck {
    fn settings(&self) -> Settings {
        Settings {
            cuts: self.cuts,
            min_bars: self.min_bars,
            seed: 0,
        }
    }

    /// The pack positions of the tickers checked: those asked for, else up to
    /// [`SAMPLE_TICKERS`] evenly spaced over the pack.
    fn tickers(&self, reader: &PackReader) -> Result<Vec<usize>> {
        crate::scan::sample_tickers(reader, self.tickers.as_deref(), SAMPLE_TICKERS)
    }
}

/// Resolves the code of a check request: exactly one of `code` (stored: an expression, a
/// strategy or Python), `expr`, `strategy` or `python`.
pub(crate) async fn checked_code<S: Store>(
    engine: &Engine<S>,
    workspace: &str,
    request: &mut SubmitRequest,
) -> Result<(CheckedCode, Option<CodeInfo>)> {
    match (
        request.code.take(),
        request.expr.take(),
        request.strategy.take(),
        request.python.take(),
    ) {
        (None, Some(e), None, None) => Ok((CheckedCode::Expr(e), None)),
        (None, None, Some(s), None) => Ok((CheckedCode::Strategy(s), None)),
        (None, None, None, Some(p)) => Ok((CheckedCode::Python(p), None)),
        (Some(reference), None, None, None) => {
            let v = code::resolve(engine.store(), workspace, &reference).await?;
            let info = CodeInfo {
                name: v.name.clone(),
                version: v.version,
                id: v.id.to_string(),
            };
            let checked = match CodeSource::from_stored(&v.language, &v.source)? {
                CodeSource::Expr(e) => CheckedCode::Expr(e),
                CodeSource::Strategy(s) => CheckedCode::Strategy(s),
                CodeSource::Python(p) => CheckedCode::Python(p),
                CodeSource::Pattern(_) => {
                    return Err(EngineError::Invalid(format!(
                        "`{reference}` is a pattern: check the scanners and strategies its steps run instead"
                    )));
                }
            };
            Ok((checked, Some(info)))
        }
        _ => Err(EngineError::Invalid(
            "give exactly one of `code`, `expr`, `strategy` or `python` to check".into(),
        )),
    }
}

/// The `check` kind.
pub struct Check;

impl Kind for Check {
    const KIND: ExecutionKind = ExecutionKind::Check;
    const FIELDS: &'static [&'static str] =
        &["code", "expr", "python", "strategy", "tickers", "cuts"];
    type Spec = ResolvedCheck;

    async fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        mut request: SubmitRequest,
    ) -> Result<ResolvedCheck> {
        let cuts = request.cuts.unwrap_or(DEFAULT_CUTS);
        if !(2..=MAX_CUTS).contains(&cuts) {
            return Err(EngineError::Invalid(format!(
                "`cuts` is {cuts}; give 2 to {MAX_CUTS} cut points per ticker"
            )));
        }
        if let Some(t) = &request.tickers
            && (t.is_empty() || t.len() > MAX_TICKERS)
        {
            return Err(EngineError::Invalid(format!(
                "`tickers` lists {}; a check takes 1 to {MAX_TICKERS} (leave it out for a sample of {SAMPLE_TICKERS})",
                t.len()
            )));
        }
        let (checked, code) = checked_code(engine, workspace, &mut request).await?;
        Ok(ResolvedCheck {
            checked,
            code,
            pack_id: pack.map(|p| p.id.to_string()).unwrap_or_default(),
            params: request.params,
            tickers: request.tickers,
            cuts,
            min_bars: MIN_BARS,
        })
    }

    fn sandboxed(spec: &ResolvedCheck) -> bool {
        matches!(spec.checked, CheckedCode::Python(_))
    }

    fn code(spec: &ResolvedCheck) -> Option<&CodeInfo> {
        spec.code.as_ref()
    }

    fn name(spec: &ResolvedCheck) -> Option<String> {
        Some(
            spec.code
                .as_ref()
                .map_or_else(|| "lookahead".to_string(), |c| c.name.clone()),
        )
    }

    fn build<S: Store>(
        engine: &Engine<S>,
        _id: &ExecutionId,
        spec: &ResolvedCheck,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        let reader = reader_of(reader)?;
        let tickers = spec.tickers(&reader)?;
        check_job(
            &spec.checked,
            &spec.params,
            reader,
            tickers,
            spec.settings(),
            &engine.options.limits,
            engine.sandboxed(sandbox),
        )
    }

    async fn finalize<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<()> {
        engine.check_report(&rec.id).await.map(drop)
    }

    async fn table<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Table> {
        Ok(checks_table(&engine.ticker_checks(&rec.id).await?))
    }

    async fn write_results<S: Store, W: Write + Send>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
        how: &Writing<'_>,
        mut out: W,
    ) -> Result<()> {
        let checks = engine.ticker_checks(&rec.id).await?;
        if how.format == crate::results::Format::Md {
            let spec = spec_of::<Check>(rec)?;
            let report = CheckReport::assemble(spec.checked.language(), &checks);
            let text = format!("{}\n## Tickers\n\n", report.markdown());
            out.write_all(text.as_bytes())
                .map_err(|e| EngineError::Internal(format!("writing the report: {e}")))?;
        }
        checks_table(&checks).write_marked(how.format, TABLE_PRECISION, out, how.mark)
    }
}

impl<S: Store> Engine<S> {
    /// The tickers' checks of a check execution, in ticker order of its shards.
    pub async fn ticker_checks(&self, id: &ExecutionId) -> Result<Vec<TickerCheck>> {
        self.shard_lists(id, "check").await
    }

    /// The report of a check execution, assembled from its shards; stored as its summary.
    pub async fn check_report(&self, id: &ExecutionId) -> Result<CheckReport> {
        let rec = self.execution(id).await?;
        let spec = spec_of::<Check>(&rec)?;
        let report = CheckReport::assemble(spec.checked.language(), &self.ticker_checks(id).await?);
        let summary = serde_json::to_value(&report).expect("reports serialize");
        self.store().set_summary(id, &summary).await?;
        Ok(report)
    }
}

/// The tickers' checks as rows: what each found.
pub fn checks_table(checks: &[TickerCheck]) -> Table {
    let mut t = Table::new(vec![
        Column::new("ticker", ColumnType::Text),
        Column::new("verdict", ColumnType::Text),
        Column::new("bars", ColumnType::Int),
        Column::new("cuts", ColumnType::Int),
        Column::new("signal_bars", ColumnType::Int),
        Column::new("first_bar", ColumnType::Text),
        Column::new("column", ColumnType::Text),
        Column::new("full", ColumnType::Text),
        Column::new("cut", ColumnType::Text),
        Column::new("ahead", ColumnType::Int),
        Column::new("found_by", ColumnType::Text),
    ]);
    for c in checks {
        let (verdict, d) = match (&c.difference, &c.nondeterministic, &c.skipped) {
            (Some(d), _, _) => ("biased", Some(d)),
            (None, Some(d), _) => ("nondeterministic", Some(d)),
            (None, None, Some(_)) => ("skipped", None),
            (None, None, None) => ("clean", None),
        };
        t.push(vec![
            c.ticker.as_str().into(),
            verdict.into(),
            Cell::Int(c.bars as i64),
            Cell::Int(c.cuts as i64),
            Cell::Int(c.signal_bars as i64),
            d.map_or(Cell::Null, |d| d.date.as_str().into()),
            d.map_or(Cell::Null, |d| d.column.as_str().into()),
            d.map_or(Cell::Null, |d| shown_value(&d.full).as_str().into()),
            d.map_or(Cell::Null, |d| shown_value(&d.cut).as_str().into()),
            d.and_then(|d| d.ahead)
                .map_or(Cell::Null, |k| Cell::Int(k as i64)),
            d.map_or(Cell::Null, |d| d.found_by.as_str().into()),
        ]);
    }
    t
}

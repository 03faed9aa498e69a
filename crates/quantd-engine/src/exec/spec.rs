//! What users ask for ([`SubmitSpec`]) and what the engine stores after resolving names
//! ([`ResolvedSpec`]): the code text and its version id, the pack id, the parameters. A stored
//! spec alone is enough to run the execution again after a crash, and its fingerprint names the
//! result: same fingerprint, same results.

use super::{ENGINE_VERSION, ExecutionOptions};
use crate::code;
use crate::code::StrategyExprs;
use crate::error::{EngineError, Result};
use quantd_core::ExecutionKind;
use quantd_store::{PackRecord, Store};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where the code comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeChoice {
    /// Expression text given inline.
    Inline(String),
    /// Stored code: `NAME` or `NAME@N`.
    Stored(String),
    /// Python scanner source given inline (`--file F.py`); runs in the sandbox.
    Python(String),
}

/// A scan request.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanRequest {
    /// The scanner.
    pub code: CodeChoice,
    /// `$name` values.
    pub params: BTreeMap<String, f64>,
    /// Only these tickers.
    pub tickers: Option<Vec<String>>,
    /// First signal date kept.
    pub from: Option<chrono::NaiveDate>,
    /// Last signal date kept.
    pub to: Option<chrono::NaiveDate>,
}

/// An A+ example test request.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRequest {
    /// The scanner.
    pub code: CodeChoice,
    /// `$name` values.
    pub params: BTreeMap<String, f64>,
    /// The examples.
    pub examples: Vec<crate::atest::Example>,
    /// Bars of tolerance when matching.
    pub tolerance: usize,
}

/// Where a strategy comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum StrategyChoice {
    /// Expressions given inline.
    Inline(StrategyExprs),
    /// Stored strategy code: `NAME` or `NAME@N`.
    Stored(String),
    /// Python strategy source given inline (`--file F.py`); runs in the sandbox.
    Python(String),
}

/// A backtest request.
#[derive(Debug, Clone, PartialEq)]
pub struct BacktestRequest {
    /// The strategy.
    pub strategy: StrategyChoice,
    /// `$name` values.
    pub params: BTreeMap<String, f64>,
    /// Only these tickers.
    pub tickers: Option<Vec<String>>,
    /// First bar traded (the data is cut to the window before indicators are computed).
    pub from: Option<chrono::NaiveDate>,
    /// Last bar traded.
    pub to: Option<chrono::NaiveDate>,
    /// Cash, commissions, fills, sizing, stops.
    pub config: quantd_backtest::Config,
}

/// A sweep request: a backtest over a parameter grid.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepRequest {
    /// The backtest; its `params` hold fixed values of parameters not in the grid.
    pub backtest: BacktestRequest,
    /// Grid ranges, `name=start..end:step` or `name=v1,v2`.
    pub grid: Vec<String>,
    /// A condition on the parameters, e.g. `fast < slow`.
    pub constraint: Option<String>,
}

/// A whole bot script run (`quantd run`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunRequest {
    /// The Python script.
    pub script: String,
    /// The name the run is listed under (`quantd history --name`).
    pub name: String,
    /// Arguments passed to the script (`sys.argv[1:]`).
    pub args: Vec<String>,
    /// Wall-clock limit in seconds.
    pub timeout_secs: u64,
}

/// The work of an execution, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum JobRequest {
    /// A scan.
    Scan(ScanRequest),
    /// An A+ example test.
    Test(TestRequest),
    /// A backtest.
    Backtest(BacktestRequest),
    /// A parameter sweep.
    Sweep(SweepRequest),
    /// A whole bot script.
    Run(RunRequest),
    /// An uploaded file to import as a pack (no input pack: [`SubmitSpec::pack`] is ignored).
    Import(super::import::ImportRequest),
}

/// A request to run something.
#[derive(Debug, Clone, PartialEq)]
pub struct SubmitSpec {
    /// The work.
    pub job: JobRequest,
    /// Pack name, id or prefix; the newest fresh pack when `None`.
    pub pack: Option<String>,
    /// Retry and failure policies.
    pub options: ExecutionOptions,
    /// Return a completed execution with the same fingerprint instead of running again.
    pub reuse: bool,
}

/// Stored code an execution runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeInfo {
    /// Its name.
    pub name: String,
    /// Its version number.
    pub version: u32,
    /// Its content id.
    pub id: String,
}

/// A resolved scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedScan {
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
    /// Ticker selection.
    pub tickers: Option<Vec<String>>,
    /// Date window.
    pub from: Option<chrono::NaiveDate>,
    /// Date window.
    pub to: Option<chrono::NaiveDate>,
}

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
    pub examples: Vec<crate::atest::Example>,
    /// Bars of tolerance.
    pub tolerance: usize,
}

/// A resolved backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedBacktest {
    /// The strategy's expressions (empty when `python` is set).
    pub strategy: StrategyExprs,
    /// A Python strategy's source (run in the sandbox) instead of expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// The stored code it came from, if any.
    pub code: Option<CodeInfo>,
    /// The pack read.
    pub pack_id: String,
    /// Parameter values.
    pub params: BTreeMap<String, f64>,
    /// Ticker selection.
    pub tickers: Option<Vec<String>>,
    /// Date window.
    pub from: Option<chrono::NaiveDate>,
    /// Date window.
    pub to: Option<chrono::NaiveDate>,
    /// Simulation settings.
    pub config: quantd_backtest::Config,
}

/// A resolved sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedSweep {
    /// The backtest (fixed parameters in `params`).
    pub backtest: ResolvedBacktest,
    /// Grid ranges.
    pub grid: Vec<String>,
    /// Constraint on the parameters.
    pub constraint: Option<String>,
}

/// A resolved bot script run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedRun {
    /// The Python script.
    pub script: String,
    /// The run's name.
    pub name: String,
    /// Script arguments.
    pub args: Vec<String>,
    /// Wall-clock limit in seconds.
    pub timeout_secs: u64,
    /// The pack the script can read.
    pub pack_id: String,
}

/// A resolved spec, as stored with the execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ResolvedSpec {
    /// A scan.
    Scan(ResolvedScan),
    /// An A+ example test.
    Test(ResolvedTest),
    /// A backtest.
    Backtest(ResolvedBacktest),
    /// A parameter sweep.
    Sweep(ResolvedSweep),
    /// A whole bot script.
    Run(ResolvedRun),
    /// An upload to import as a pack.
    Import(super::import::ResolvedImport),
}

impl ResolvedSpec {
    /// The execution kind.
    pub fn kind(&self) -> ExecutionKind {
        match self {
            ResolvedSpec::Scan(_) => ExecutionKind::Scan,
            ResolvedSpec::Test(_) => ExecutionKind::Test,
            ResolvedSpec::Backtest(_) => ExecutionKind::Backtest,
            ResolvedSpec::Sweep(_) => ExecutionKind::Sweep,
            ResolvedSpec::Run(_) => ExecutionKind::Run,
            ResolvedSpec::Import(_) => ExecutionKind::Import,
        }
    }

    fn code(&self) -> Option<&CodeInfo> {
        match self {
            ResolvedSpec::Scan(s) => s.code.as_ref(),
            ResolvedSpec::Test(t) => t.code.as_ref(),
            ResolvedSpec::Backtest(b) => b.code.as_ref(),
            ResolvedSpec::Sweep(s) => s.backtest.code.as_ref(),
            ResolvedSpec::Run(_) | ResolvedSpec::Import(_) => None,
        }
    }

    /// The stored code's name, for history.
    pub fn code_name(&self) -> Option<String> {
        match self {
            ResolvedSpec::Run(r) => return Some(r.name.clone()),
            ResolvedSpec::Import(i) => return Some(i.name.clone()),
            _ => {}
        }
        self.code().map(|c| c.name.clone())
    }

    /// The stored code's version id.
    pub fn code_version(&self) -> Option<String> {
        self.code().map(|c| c.id.clone())
    }

    /// Hash of everything that decides the results: the engine version and the whole resolved
    /// spec (code text, pack, parameters, tickers, dates, …) except the code's name and number,
    /// which do not change what runs.
    pub fn fingerprint(&self) -> String {
        let mut spec = serde_json::to_value(self).expect("specs serialize");
        if let Some(obj) = spec.as_object_mut() {
            obj.remove("code");
            if let Some(b) = obj.get_mut("backtest").and_then(|b| b.as_object_mut()) {
                b.remove("code");
            }
        }
        let input = serde_json::json!({ "engine": ENGINE_VERSION, "spec": spec });
        blake3::hash(input.to_string().as_bytes())
            .to_hex()
            .to_string()
    }
}

/// Resolves a code choice to expression or Python text, whether it is Python, and the stored
/// version it came from.
async fn scanner_text(
    store: &impl Store,
    workspace: &str,
    choice: &CodeChoice,
) -> Result<(String, bool, Option<CodeInfo>)> {
    match choice {
        CodeChoice::Inline(text) => Ok((text.clone(), false, None)),
        CodeChoice::Python(text) => Ok((text.clone(), true, None)),
        CodeChoice::Stored(reference) => {
            let v = code::resolve(store, workspace, reference).await?;
            if v.language != "expr" && v.language != "python" {
                return Err(EngineError::Invalid(format!(
                    "`{reference}` is {} code, not a scanner (an expression or a Python file)",
                    v.language
                )));
            }
            Ok((
                v.source.clone(),
                v.language == "python",
                Some(CodeInfo {
                    name: v.name,
                    version: v.version,
                    id: v.id.to_string(),
                }),
            ))
        }
    }
}

/// Resolves a strategy choice to its expressions or Python source (and the stored version it
/// came from).
async fn strategy_exprs(
    store: &impl Store,
    workspace: &str,
    choice: &StrategyChoice,
) -> Result<(StrategyExprs, Option<String>, Option<CodeInfo>)> {
    match choice {
        StrategyChoice::Inline(s) => Ok((s.clone(), None, None)),
        StrategyChoice::Python(text) => Ok((StrategyExprs::default(), Some(text.clone()), None)),
        StrategyChoice::Stored(reference) => {
            let v = code::resolve(store, workspace, reference).await?;
            let info = CodeInfo {
                name: v.name.clone(),
                version: v.version,
                id: v.id.to_string(),
            };
            match code::CodeSource::from_stored(&v.language, &v.source)? {
                code::CodeSource::Python(text) => {
                    Ok((StrategyExprs::default(), Some(text), Some(info)))
                }
                code::CodeSource::Strategy(s) => Ok((s, None, Some(info))),
                _ => Err(EngineError::Invalid(format!(
                    "`{reference}` is {} code, not a strategy; add one with `quantd code add NAME --entry .. --exit ..`",
                    v.language
                ))),
            }
        }
    }
}

async fn resolve_backtest(
    store: &impl Store,
    workspace: &str,
    r: &BacktestRequest,
    pack: &PackRecord,
) -> Result<ResolvedBacktest> {
    r.config.validate()?;
    let (strategy, python, code) = strategy_exprs(store, workspace, &r.strategy).await?;
    Ok(ResolvedBacktest {
        strategy,
        python,
        code,
        pack_id: pack.id.to_string(),
        params: r.params.clone(),
        tickers: r.tickers.clone(),
        from: r.from,
        to: r.to,
        config: r.config.clone(),
    })
}

/// Resolves names: stored code (of `workspace`) to its text and version, the pack to its id.
pub async fn resolve(
    store: &impl Store,
    workspace: &str,
    request: &SubmitSpec,
    pack: &PackRecord,
) -> Result<ResolvedSpec> {
    match &request.job {
        JobRequest::Scan(r) => {
            let (source, python, code) = scanner_text(store, workspace, &r.code).await?;
            Ok(ResolvedSpec::Scan(ResolvedScan {
                source,
                python,
                code,
                pack_id: pack.id.to_string(),
                params: r.params.clone(),
                tickers: r.tickers.clone(),
                from: r.from,
                to: r.to,
            }))
        }
        JobRequest::Backtest(r) => Ok(ResolvedSpec::Backtest(
            resolve_backtest(store, workspace, r, pack).await?,
        )),
        JobRequest::Sweep(r) => Ok(ResolvedSpec::Sweep(ResolvedSweep {
            backtest: resolve_backtest(store, workspace, &r.backtest, pack).await?,
            grid: r.grid.clone(),
            constraint: r.constraint.clone(),
        })),
        JobRequest::Import(r) => Ok(ResolvedSpec::Import(r.into())),
        JobRequest::Run(r) => Ok(ResolvedSpec::Run(ResolvedRun {
            script: r.script.clone(),
            name: r.name.clone(),
            args: r.args.clone(),
            timeout_secs: r.timeout_secs,
            pack_id: pack.id.to_string(),
        })),
        JobRequest::Test(r) => {
            let (source, python, code) = scanner_text(store, workspace, &r.code).await?;
            if r.examples.is_empty() {
                return Err(EngineError::Invalid(
                    "an A+ test needs at least one example".into(),
                ));
            }
            Ok(ResolvedSpec::Test(ResolvedTest {
                source,
                python,
                code,
                pack_id: pack.id.to_string(),
                params: r.params.clone(),
                examples: r.examples.clone(),
                tolerance: r.tolerance,
            }))
        }
    }
}

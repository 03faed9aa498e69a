//! [`SubmitRequest`]: the one request type for starting an execution. It is the body of
//! `POST /v1/executions`, what the CLI's flags are mapped onto, and the arguments of the MCP
//! tools that start work — so every surface is checked by the same rules, here.
//!
//! A request is plain data (serde, unknown fields refused). [`SubmitRequest::into_spec`] checks
//! what depends on the request alone (which fields go with which kind, exactly one source of
//! code) and gives the engine's typed [`SubmitSpec`]; the limits and the checks that need the
//! store or the pack follow in [`Engine::submit`](super::Engine::submit).

use super::retry::RetryPolicy;
use super::spec::{
    BacktestRequest, CodeChoice, JobRequest, RunRequest, ScanRequest, StrategyChoice, SubmitSpec,
    SweepRequest, TestRequest,
};
use super::{ExecutionOptions, ShardFailurePolicy};
use crate::code::StrategyExprs;
use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kinds of execution a request starts (uploads start `import` executions their own way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SubmitKind {
    /// A scanner over a pack: signal rows.
    Scan,
    /// An A+ test of a scanner on example names.
    Test,
    /// A strategy backtest per ticker.
    Backtest,
    /// A backtest over a parameter grid.
    Sweep,
    /// A whole Python bot script in the sandbox (`script`, `name`, `args`, `timeout`), with the
    /// pack readable; its log and metrics are its results.
    Run,
}

/// An A+ test example: a ticker and a date where the scanner should (or should not) fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExampleRequest {
    /// The ticker.
    pub ticker: String,
    /// The date a signal is (or is not) expected on.
    pub date: chrono::NaiveDate,
    /// Whether a signal is expected (default true).
    #[serde(default = "yes")]
    pub expected: bool,
}

fn yes() -> bool {
    true
}

/// Retries and the failure policy of an execution.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RequestOptions {
    /// Attempts per shard, the first included (retryable errors only; default 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10))]
    pub max_attempts: Option<u32>,
    /// What a shard that fails for good does: `fail` the execution (default) or `continue`.
    #[serde(default)]
    pub on_shard_failure: ShardFailurePolicy,
}

/// What to run: one request type for every surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The kind of execution.
    pub kind: SubmitKind,
    /// Stored code, `NAME` or `NAME@N` (a scanner for scan/test, a strategy for backtest/sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// An inline scanner expression (scan, test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Inline Python source: a `@qd.scanner` (scan, test) or a `@qd.strategy` (backtest, sweep),
    /// run in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// An inline strategy of expressions (backtest, sweep).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategyExprs>,
    /// Pack name, id or id prefix; default: the newest fresh pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// `$name` parameter values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, f64>,
    /// Only these tickers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickers: Option<Vec<String>>,
    /// First date (scan: signals kept; backtest: first bar traded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<chrono::NaiveDate>,
    /// Last date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<chrono::NaiveDate>,
    /// A+ test examples.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub examples: Vec<ExampleRequest>,
    /// A+ test: bars a signal may be away from an example date (default 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(maximum = 1000))]
    pub tolerance: Option<u32>,
    /// Sweep grid: `name=start..end:step` or `name=v1,v2`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grid: Vec<String>,
    /// Sweep: a condition on the parameters, e.g. `fast < slow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraint: Option<String>,
    /// Backtest settings (cash, commission, fill, sizing, stops), as docs/backtesting.md shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub config: Option<serde_json::Value>,
    /// Retries and failure policy.
    #[serde(default)]
    pub options: RequestOptions,
    /// Return a completed execution with the same fingerprint instead of running again.
    #[serde(default)]
    pub reuse: bool,
    /// Run: the Python script's source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script: Option<String>,
    /// Run: the name it is listed under in history and summary (default `run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Run: the script's arguments (`sys.argv[1:]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Run: wall-clock limit in seconds (default 300; at most the server's `max_run_timeout_secs`,
    /// one day unless changed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 86400))]
    pub timeout: Option<u64>,
}

impl SubmitRequest {
    /// A request of `kind` with every other field empty (callers fill in what they use).
    pub fn new(kind: SubmitKind) -> SubmitRequest {
        SubmitRequest {
            kind,
            code: None,
            expr: None,
            python: None,
            strategy: None,
            pack: None,
            params: BTreeMap::new(),
            tickers: None,
            from: None,
            to: None,
            examples: Vec::new(),
            tolerance: None,
            grid: Vec::new(),
            constraint: None,
            config: None,
            options: RequestOptions::default(),
            reuse: false,
            script: None,
            name: None,
            args: Vec::new(),
            timeout: None,
        }
    }

    /// The engine's typed request, or which field is wrong for this kind and how to fix it.
    pub fn into_spec(self) -> Result<SubmitSpec> {
        self.check_fields()?;
        let options = ExecutionOptions {
            retry: RetryPolicy {
                maximum_attempts: self.options.max_attempts.unwrap_or(3),
                ..RetryPolicy::default()
            },
            on_shard_failure: self.options.on_shard_failure,
        };
        let (pack, reuse) = (self.pack.clone(), self.reuse);
        let job = match self.kind {
            SubmitKind::Run => JobRequest::Run(RunRequest {
                script: self.script.ok_or_else(|| {
                    invalid("kind `run` needs `script`: the Python source of the bot")
                })?,
                name: self.name.unwrap_or_else(|| "run".into()),
                args: self.args,
                timeout_secs: self.timeout.unwrap_or(300),
            }),
            SubmitKind::Scan => JobRequest::Scan(ScanRequest {
                code: scanner(self.code, self.expr, self.python)?,
                params: self.params,
                tickers: self.tickers,
                from: self.from,
                to: self.to,
            }),
            SubmitKind::Test => JobRequest::Test(TestRequest {
                code: scanner(self.code, self.expr, self.python)?,
                params: self.params,
                examples: self
                    .examples
                    .into_iter()
                    .map(|e| crate::atest::Example {
                        ticker: e.ticker,
                        date: e.date,
                        expected: e.expected,
                    })
                    .collect(),
                tolerance: self.tolerance.unwrap_or(2) as usize,
            }),
            SubmitKind::Backtest | SubmitKind::Sweep => {
                let config = match self.config {
                    Some(v) => serde_json::from_value(v).map_err(|e| {
                        invalid(&format!(
                            "`config`: {e}; see docs/backtesting.md for its fields"
                        ))
                    })?,
                    None => quantd_backtest::Config::default(),
                };
                let backtest = BacktestRequest {
                    strategy: strategy(self.code, self.strategy, self.python)?,
                    params: self.params,
                    tickers: self.tickers,
                    from: self.from,
                    to: self.to,
                    config,
                };
                if self.kind == SubmitKind::Backtest {
                    JobRequest::Backtest(backtest)
                } else {
                    JobRequest::Sweep(SweepRequest {
                        backtest,
                        grid: self.grid,
                        constraint: self.constraint,
                    })
                }
            }
        };
        Ok(SubmitSpec {
            job,
            pack,
            options,
            reuse,
        })
    }

    /// Refuses fields that do not belong to the request's kind, naming them.
    fn check_fields(&self) -> Result<()> {
        let k = self.kind;
        let mut stray: Vec<&str> = Vec::new();
        let mut not_for = |present: bool, field: &'static str, kinds: &[SubmitKind]| {
            if present && !kinds.contains(&k) {
                stray.push(field);
            }
        };
        use SubmitKind::*;
        not_for(self.expr.is_some(), "expr", &[Scan, Test]);
        not_for(self.strategy.is_some(), "strategy", &[Backtest, Sweep]);
        not_for(self.code.is_some(), "code", &[Scan, Test, Backtest, Sweep]);
        not_for(
            self.python.is_some(),
            "python",
            &[Scan, Test, Backtest, Sweep],
        );
        not_for(!self.examples.is_empty(), "examples", &[Test]);
        not_for(self.tolerance.is_some(), "tolerance", &[Test]);
        not_for(!self.grid.is_empty(), "grid", &[Sweep]);
        not_for(self.constraint.is_some(), "constraint", &[Sweep]);
        not_for(self.config.is_some(), "config", &[Backtest, Sweep]);
        not_for(self.tickers.is_some(), "tickers", &[Scan, Backtest, Sweep]);
        not_for(self.from.is_some(), "from", &[Scan, Backtest, Sweep]);
        not_for(self.to.is_some(), "to", &[Scan, Backtest, Sweep]);
        not_for(self.script.is_some(), "script", &[Run]);
        not_for(self.name.is_some(), "name", &[Run]);
        not_for(!self.args.is_empty(), "args", &[Run]);
        not_for(self.timeout.is_some(), "timeout", &[Run]);
        if stray.is_empty() {
            return Ok(());
        }
        Err(invalid(&format!(
            "{} {} not for kind `{}`; remove {}",
            stray
                .iter()
                .map(|f| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if stray.len() == 1 { "is" } else { "are" },
            serde_json::to_value(k)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            if stray.len() == 1 { "it" } else { "them" }
        )))
    }
}

fn invalid(message: &str) -> EngineError {
    EngineError::Invalid(message.to_string())
}

/// Exactly one source of scanner code.
fn scanner(
    code: Option<String>,
    expr: Option<String>,
    python: Option<String>,
) -> Result<CodeChoice> {
    match (code, expr, python) {
        (Some(c), None, None) => Ok(CodeChoice::Stored(c)),
        (None, Some(e), None) => Ok(CodeChoice::Inline(e)),
        (None, None, Some(p)) => Ok(CodeChoice::Python(p)),
        _ => Err(invalid(
            "give exactly one of `code`, `expr` or `python` for a scanner",
        )),
    }
}

/// Exactly one source of strategy code.
fn strategy(
    code: Option<String>,
    exprs: Option<StrategyExprs>,
    python: Option<String>,
) -> Result<StrategyChoice> {
    match (code, exprs, python) {
        (Some(c), None, None) => Ok(StrategyChoice::Stored(c)),
        (None, Some(s), None) => Ok(StrategyChoice::Inline(s)),
        (None, None, Some(p)) => Ok(StrategyChoice::Python(p)),
        _ => Err(invalid(
            "give exactly one of `code`, `strategy` or `python` for a strategy",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<SubmitSpec> {
        serde_json::from_value::<SubmitRequest>(v)
            .map_err(|e| invalid(&e.to_string()))?
            .into_spec()
    }

    #[test]
    fn each_kind_takes_its_fields_and_names_the_stray_ones() {
        let spec =
            parse(serde_json::json!({"kind": "scan", "expr": "close > 1", "pack": "u"})).unwrap();
        assert!(matches!(spec.job, JobRequest::Scan(_)));
        assert_eq!(spec.pack.as_deref(), Some("u"));
        let err = parse(
            serde_json::json!({"kind": "scan", "expr": "close > 1", "grid": ["x=1"], "timeout": 5}),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "`grid`, `timeout` are not for kind `scan`; remove them"
        );
        let err = parse(serde_json::json!({"kind": "scan", "expr": "x", "code": "y"}))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("exactly one of `code`, `expr` or `python`"),
            "{err}"
        );
        let err = parse(serde_json::json!({"kind": "run"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("needs `script`"), "{err}");
        let err =
            parse(serde_json::json!({"kind": "backtest", "code": "s", "config": {"cash": "lots"}}))
                .unwrap_err()
                .to_string();
        assert!(err.starts_with("`config`:"), "{err}");
        assert!(
            serde_json::from_value::<SubmitRequest>(
                serde_json::json!({"kind": "scan", "exprr": "x"})
            )
            .is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn a_request_round_trips_through_json() {
        let mut r = SubmitRequest::new(SubmitKind::Sweep);
        r.code = Some("smacross".into());
        r.grid = vec!["fast=5..50:5".into()];
        r.options.max_attempts = Some(2);
        let back: SubmitRequest =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}

//! [`SubmitRequest`]: the one request type for starting an execution. It is the body of
//! `POST /v1/executions`, what the CLI's flags are mapped onto, and the arguments of the MCP
//! tools that start work — so every surface is checked by the same rules, here.
//!
//! A request is plain data (serde, unknown fields refused). [`Engine::submit`](super::Engine::submit)
//! checks it: the fields its kind takes (each kind's module under [`super::kinds`] lists them),
//! the limits, then what needs the store or the pack (names, code, the freshness gate).

use super::retry::{ClassPolicies, RetryPolicy, merge_classes};
use super::sandbox::SandboxRequest;
use super::{ExecutionOptions, ShardFailurePolicy};
use crate::code::StrategyExprs;
use quantd_core::ExecutionKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// An A+ test example: a ticker and a date where the scanner should (or should not) fire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExampleRequest {
    /// The ticker.
    pub ticker: String,
    /// The session date a signal is (or is not) expected on (`2024-01-02`: any bar of that day),
    /// or a bar's exact time with its UTC offset (`2024-01-02T09:45:00-05:00`).
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "2024-01-02"))]
    pub date: crate::atest::When,
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
    /// Retries per error class, over the workspace's defaults (`quantd policy`): e.g.
    /// `{"network": {"maximum_attempts": 5}, "timeout": {"maximum_attempts": 3,
    /// "timeout_multiplier": 2.0}, "execution": {"maximum_attempts": 1}}`. Classes: validation,
    /// data, policy, timeout, resource, execution, internal, network, circuit_open.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub retry: ClassPolicies,
    /// Limits of each sandboxed job (Python code only), within the server's maxima: e.g.
    /// `{"memory_mib": 1024, "cpu_secs": 60, "wall_secs": 120, "pids": 32, "output_mib": 4}`
    /// (docs/limits.md, "Sandbox").
    #[serde(default, skip_serializing_if = "SandboxRequest::is_empty")]
    pub sandbox: SandboxRequest,
}

/// What to run: one request type for every surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    /// The kind of execution (`import` executions start from an upload instead).
    pub kind: ExecutionKind,
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
    /// Start of the window (scan: signals kept; backtest: first bar traded): a date
    /// (`2024-03-11`, the whole day in the pack's zone) or a time with its UTC offset
    /// (`2024-03-11T09:45:00-04:00`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "2024-03-11"))]
    pub from: Option<quantd_data::when::When>,
    /// End of the window, included: a date (its whole day) or a time with its offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, example = "2024-03-11T15:59:00-04:00"))]
    pub to: Option<quantd_data::when::When>,
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
    /// Priority, -10 to 10 (default 0): higher is claimed first, and waiting work ages (one
    /// point per 5 minutes waited), so old low-priority work is never starved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = -10, maximum = 10))]
    pub priority: Option<i8>,
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
    /// Pattern: the values of its inputs by name (the pattern's defaults fill the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub inputs: Option<serde_json::Map<String, serde_json::Value>>,
    /// Check: cut points per ticker (default 200, 2 to 2,000): every bar where a signal fired
    /// and sampled other bars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 2, maximum = 2000))]
    pub cuts: Option<u32>,
    /// Paper: how fast the pack is replayed — `60x` (bars arrive 60 times faster than their
    /// times are apart), `1x` (as they happened; the default) or `max` (as fast as the strategy
    /// goes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(example = "60x"))]
    pub speed: Option<String>,
    /// Paper: after the pack's last bar, wait for newer versions of the pack's name (each
    /// import under that name appends bars) and trade them as they come, instead of
    /// completing.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow: bool,
    /// Live: the caller's confirmation that this session places real orders at the broker
    /// account (`true` required; the workspace must also be allowed by the operator).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm_live: bool,
}

/// A look-ahead check: the body of `POST /v1/checks/lookahead` and the arguments of the MCP tool
/// `check_lookahead` — a [`SubmitRequest`] of kind `check` without the fields checks do not take.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LookaheadRequest {
    /// Stored code, `NAME` or `NAME@N`: a scanner, a strategy or Python.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// An inline scanner expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Inline Python source: a `@qd.scanner` or a `@qd.strategy`, run in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// An inline strategy of expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategyExprs>,
    /// Pack name, id or id prefix; default: the newest fresh pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// Parameter values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, f64>,
    /// The tickers to check (1 to 500); default: 50 spread over the pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickers: Option<Vec<String>>,
    /// Cut points per ticker (default 200, 2 to 2,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 2, maximum = 2000))]
    pub cuts: Option<u32>,
    /// Retries, failure policy and sandbox limits.
    #[serde(default)]
    pub options: RequestOptions,
    /// Return a completed check with the same fingerprint instead of running again.
    #[serde(default)]
    pub reuse: bool,
    /// Priority, -10 to 10 (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = -10, maximum = 10))]
    pub priority: Option<i8>,
}

impl LookaheadRequest {
    /// The same request as a [`SubmitRequest`] of kind `check`.
    pub fn into_submit(self) -> SubmitRequest {
        let mut r = SubmitRequest::new(ExecutionKind::Check);
        r.code = self.code;
        r.expr = self.expr;
        r.python = self.python;
        r.strategy = self.strategy;
        r.pack = self.pack;
        r.params = self.params;
        r.tickers = self.tickers;
        r.cuts = self.cuts;
        r.options = self.options;
        r.reuse = self.reuse;
        r.priority = self.priority;
        r
    }
}

/// An evaluation: the arguments of the MCP tool `evaluate_code` — a [`SubmitRequest`] of kind
/// `evaluate` without the fields evaluations do not take.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// Stored code, `NAME` or `NAME@N`: a scanner, a strategy or Python (its evaluation is then
    /// the version's deployment status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// An inline scanner expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    /// Inline Python source: a `@qd.scanner` or a `@qd.strategy`, run in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
    /// An inline strategy of expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<StrategyExprs>,
    /// Pack name, id or id prefix; default: the newest fresh pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// Parameter values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, f64>,
    /// The tickers to run on (1 to 100); default: 20 spread over the pack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tickers: Option<Vec<String>>,
    /// Retries, failure policy and sandbox limits.
    #[serde(default)]
    pub options: RequestOptions,
}

impl EvaluateRequest {
    /// The same request as a [`SubmitRequest`] of kind `evaluate`.
    pub fn into_submit(self) -> SubmitRequest {
        let mut r = SubmitRequest::new(ExecutionKind::Evaluate);
        r.code = self.code;
        r.expr = self.expr;
        r.python = self.python;
        r.strategy = self.strategy;
        r.pack = self.pack;
        r.params = self.params;
        r.tickers = self.tickers;
        r.options = self.options;
        r
    }
}

impl SubmitRequest {
    /// Every field whose use depends on the kind (each kind names those it takes).
    pub const FIELDS: &'static [&'static str] = &[
        "code",
        "expr",
        "python",
        "strategy",
        "tickers",
        "from",
        "to",
        "examples",
        "tolerance",
        "grid",
        "constraint",
        "config",
        "script",
        "name",
        "args",
        "timeout",
        "inputs",
        "cuts",
        "speed",
        "follow",
        "confirm_live",
    ];

    /// A request of `kind` with every other field empty (callers fill in what they use).
    pub fn new(kind: ExecutionKind) -> SubmitRequest {
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
            priority: None,
            script: None,
            name: None,
            args: Vec::new(),
            timeout: None,
            inputs: None,
            cuts: None,
            speed: None,
            follow: false,
            confirm_live: false,
        }
    }

    /// The kind-dependent fields this request sets, in [`SubmitRequest::FIELDS`] order.
    pub fn kind_fields(&self) -> Vec<&'static str> {
        let set = [
            self.code.is_some(),
            self.expr.is_some(),
            self.python.is_some(),
            self.strategy.is_some(),
            self.tickers.is_some(),
            self.from.is_some(),
            self.to.is_some(),
            !self.examples.is_empty(),
            self.tolerance.is_some(),
            !self.grid.is_empty(),
            self.constraint.is_some(),
            self.config.is_some(),
            self.script.is_some(),
            self.name.is_some(),
            !self.args.is_empty(),
            self.timeout.is_some(),
            self.inputs.is_some(),
            self.cuts.is_some(),
            self.speed.is_some(),
            self.follow,
            self.confirm_live,
        ];
        Self::FIELDS
            .iter()
            .zip(set)
            .filter_map(|(f, set)| set.then_some(*f))
            .collect()
    }

    /// The policies stored with the execution: `retry` (the engine's, with the workspace's
    /// per-class defaults) with the request's attempts and per-class overrides.
    pub fn execution_options(&self, retry: &RetryPolicy) -> ExecutionOptions {
        ExecutionOptions {
            retry: RetryPolicy {
                maximum_attempts: self.options.max_attempts.unwrap_or(retry.maximum_attempts),
                per_class: merge_classes(&retry.per_class, &self.options.retry),
                ..retry.clone()
            },
            on_shard_failure: self.options.on_shard_failure,
            priority: self.priority.unwrap_or(0),
            sandbox: self.options.sandbox.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::kinds::{Kind, check_fields, scan::Scan};

    fn scan_fields(v: serde_json::Value) -> String {
        let r: SubmitRequest = serde_json::from_value(v).unwrap();
        check_fields(&r, Scan::FIELDS).unwrap_err().to_string()
    }

    #[test]
    fn each_kind_takes_its_fields_and_names_the_stray_ones() {
        assert_eq!(
            scan_fields(
                serde_json::json!({"kind": "scan", "expr": "close > 1", "grid": ["x=1"], "timeout": 5})
            ),
            "`grid`, `timeout` are not for kind `scan`; remove them"
        );
        assert_eq!(
            scan_fields(serde_json::json!({"kind": "scan", "expr": "x", "script": "s"})),
            "`script` is not for kind `scan`; remove it"
        );
        assert!(
            serde_json::from_value::<SubmitRequest>(
                serde_json::json!({"kind": "scan", "exprr": "x"})
            )
            .is_err(),
            "unknown fields are refused"
        );
    }

    #[test]
    fn every_field_is_listed_once() {
        let mut r = SubmitRequest::new(ExecutionKind::Run);
        r.code = Some("c".into());
        r.expr = Some("e".into());
        r.python = Some("p".into());
        r.strategy = Some(StrategyExprs::default());
        r.tickers = Some(vec![]);
        r.from = Some(chrono::NaiveDate::MIN.into());
        r.to = Some(chrono::NaiveDate::MIN.into());
        r.examples = vec![ExampleRequest {
            ticker: "A".into(),
            date: chrono::NaiveDate::MIN.into(),
            expected: true,
        }];
        r.tolerance = Some(1);
        r.grid = vec!["x=1".into()];
        r.constraint = Some("x > 0".into());
        r.config = Some(serde_json::json!({}));
        r.script = Some("s".into());
        r.name = Some("n".into());
        r.args = vec!["a".into()];
        r.timeout = Some(1);
        r.inputs = Some(serde_json::Map::new());
        r.cuts = Some(10);
        r.speed = Some("60x".into());
        r.follow = true;
        r.confirm_live = true;
        assert_eq!(r.kind_fields(), SubmitRequest::FIELDS);
        let json = serde_json::to_value(&r).unwrap();
        for f in SubmitRequest::FIELDS {
            assert!(json.get(f).is_some(), "`{f}` is a request field");
        }
    }

    #[test]
    fn a_request_round_trips_through_json() {
        let mut r = SubmitRequest::new(ExecutionKind::Sweep);
        r.code = Some("smacross".into());
        r.grid = vec!["fast=5..50:5".into()];
        r.options.max_attempts = Some(2);
        let back: SubmitRequest =
            serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}

//! Kind `run`: a whole bot script, one shard, in the sandbox with the chosen pack readable
//! (its bars file as `$QUANTD_PACK`, its manifest as `$QUANTD_PACK_MANIFEST`). Its stdout and
//! stderr (capped by the sandbox) are the run's log; its metrics come from the line
//! `QUANTD_RESULT {json}` or, without one, from plain lines such as `Return: 15.42%`, and are
//! stored under the backtest statistics' names so that `quantd summary` averages them.

use super::{Python, tail};
use crate::exec::jobs::{Job, ShardFailure, ShardOutput};
use crate::exec::spec::ResolvedRun;
use quantd_core::ErrorClass;
use quantd_data::PackReader;
use quantd_sandbox::{Limits, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// The environment variable naming the pack's bars file (an Arrow IPC file) inside the job.
pub const RUN_PACK_ENV: &str = "QUANTD_PACK";
/// The environment variable naming the pack's manifest (JSON) inside the job.
pub const RUN_MANIFEST_ENV: &str = "QUANTD_PACK_MANIFEST";
/// The line prefix of a script's metrics.
pub const RESULT_PREFIX: &str = "QUANTD_RESULT ";

/// Metric names as stored (backtesting.py's, as the backtest summary uses), and the labels and
/// keys that map onto them (lower case, without `[%]`, punctuation or extra spaces).
const METRICS: &[(&str, &[&str])] = &[
    (
        "Return [%]",
        &[
            "return",
            "total return",
            "total_return",
            "return_pct",
            "returns",
        ],
    ),
    ("Sharpe Ratio", &["sharpe ratio", "sharpe", "sharpe_ratio"]),
    (
        "Sortino Ratio",
        &["sortino ratio", "sortino", "sortino_ratio"],
    ),
    (
        "Max. Drawdown [%]",
        &[
            "max drawdown",
            "max. drawdown",
            "max_drawdown",
            "maximum drawdown",
            "drawdown",
            "max dd",
        ],
    ),
    ("Win Rate [%]", &["win rate", "win_rate", "winrate"]),
    (
        "# Trades",
        &[
            "trades",
            "# trades",
            "total trades",
            "num_trades",
            "number of trades",
            "n_trades",
        ],
    ),
    ("Profit Factor", &["profit factor", "profit_factor"]),
];

/// The metrics a run reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunMetrics {
    /// `QUANTD_RESULT` (the JSON line) or `text` (plain lines), `none` when nothing was found.
    pub source: String,
    /// Known metrics under the backtest statistics' names (`Return [%]`, `Sharpe Ratio`, ...).
    pub metrics: Map<String, Value>,
    /// The `QUANTD_RESULT` object as printed, when there was one.
    pub result: Option<Value>,
}

fn normalize(label: &str) -> String {
    let l = label
        .to_ascii_lowercase()
        .replace("[%]", "")
        .replace('%', "");
    let kept: String = l
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '#' || c == '_' || c == '.' {
                c
            } else {
                ' '
            }
        })
        .collect();
    kept.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn canonical(label: &str) -> Option<&'static str> {
    let n = normalize(label);
    let n = n.trim_end_matches('.');
    METRICS
        .iter()
        .find(|(_, aliases)| aliases.contains(&n))
        .map(|(name, _)| *name)
}

/// The leading number of a value such as `15.42%`, `-8.23 %`, `$1,234.5` or `23`.
fn leading_number(text: &str) -> Option<f64> {
    let t = text.trim().trim_start_matches('$').replace(',', "");
    let end = t
        .char_indices()
        .take_while(|&(i, c)| {
            c.is_ascii_digit() || c == '.' || ((c == '-' || c == '+') && i == 0) || c == 'e'
        })
        .map(|(i, c)| i + c.len_utf8())
        .last()?;
    t[..end].parse::<f64>().ok().filter(|v| v.is_finite())
}

/// A metric as JSON: counts as integers, the rest as floats.
fn metric_value(name: &str, x: f64) -> Value {
    if name == "# Trades" && x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        Value::from(x)
    }
}

/// Parses a run's stdout: the last `QUANTD_RESULT {json}` line wins; without one, plain lines
/// `Label: value` whose label is a known metric.
pub fn parse_metrics(stdout: &str) -> RunMetrics {
    if let Some(json) = stdout
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix(RESULT_PREFIX))
        && let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(json.trim())
    {
        let mut metrics = Map::new();
        for (k, v) in &obj {
            if let (Some(name), Some(x)) = (canonical(k), v.as_f64()) {
                metrics.insert(name.into(), metric_value(name, x));
            }
        }
        return RunMetrics {
            source: "QUANTD_RESULT".into(),
            metrics,
            result: Some(Value::Object(obj)),
        };
    }
    let mut metrics = Map::new();
    for line in stdout.lines() {
        let Some((label, value)) = line.split_once(':') else {
            continue;
        };
        if let (Some(name), Some(x)) = (canonical(label), leading_number(value)) {
            metrics.insert(name.into(), metric_value(name, x));
        }
    }
    RunMetrics {
        source: if metrics.is_empty() { "none" } else { "text" }.into(),
        metrics,
        result: None,
    }
}

/// What a run stores as its shard body: its log and metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLog {
    /// The verdict (`ok` for a stored log).
    pub verdict: String,
    /// The script's exit status.
    pub exit_code: Option<i32>,
    /// Wall time in milliseconds.
    pub wall_ms: u64,
    /// CPU time in milliseconds.
    pub cpu_ms: u64,
    /// The metrics found.
    pub metrics: RunMetrics,
    /// Captured stdout (capped).
    pub stdout: String,
    /// Captured stderr (capped).
    pub stderr: String,
}

impl RunLog {
    /// The execution summary: the metrics under their statistic names, plus where they came from.
    pub fn summary(&self) -> Value {
        let mut m = self.metrics.metrics.clone();
        m.insert("metrics_source".into(), self.metrics.source.clone().into());
        if let Some(r) = &self.metrics.result {
            m.insert("result".into(), r.clone());
        }
        m.insert("wall_ms".into(), self.wall_ms.into());
        Value::Object(m)
    }
}

/// A bot script run: one shard.
pub struct RunJob {
    py: Arc<Python>,
    reader: Arc<PackReader>,
    spec: ResolvedRun,
}

impl RunJob {
    /// The job of a resolved run.
    pub fn new(spec: &ResolvedRun, reader: Arc<PackReader>, py: Arc<Python>) -> RunJob {
        RunJob {
            py,
            reader,
            spec: spec.clone(),
        }
    }

    fn job(&self) -> quantd_sandbox::Job {
        let timeout = Duration::from_secs(self.spec.timeout_secs);
        let limits = Limits {
            wall: timeout,
            // CPU time gets headroom so a busy script ends on the wall limit the user set.
            cpu: timeout + Duration::from_secs(5),
            ..Limits::default()
        };
        let bars = self.reader.dir().join(quantd_data::format::BARS_FILE);
        let manifest = self.reader.dir().join(quantd_data::format::MANIFEST_FILE);
        let mut job = quantd_sandbox::Job::script(self.spec.script.clone())
            .with_args(self.spec.args.iter().cloned())
            .with_limits(limits);
        if self.py.unsafe_no_sandbox() {
            job.env
                .push((RUN_PACK_ENV.into(), bars.display().to_string()));
            job.env
                .push((RUN_MANIFEST_ENV.into(), manifest.display().to_string()));
        } else {
            job = job
                .with_host_file("pack.arrow", bars)
                .with_host_file("pack.json", manifest);
            let dir = quantd_sandbox::JOB_DIR;
            job.env
                .push((RUN_PACK_ENV.into(), format!("{dir}/pack.arrow")));
            job.env
                .push((RUN_MANIFEST_ENV.into(), format!("{dir}/pack.json")));
        }
        job
    }
}

impl Job for RunJob {
    fn plan(&self) -> Vec<Value> {
        vec![serde_json::json!({ "script": self.spec.name })]
    }

    fn run(
        &self,
        _payload: &Value,
        cancel: &AtomicBool,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let outcome = self.py.run(&self.job(), cancel)?;
        if outcome.verdict != Verdict::Ok {
            let ShardFailure::Error(class, mut message) = super::verdict_failure(&outcome) else {
                return Err(ShardFailure::Cancelled);
            };
            if !outcome.stdout.is_empty() && outcome.verdict != Verdict::OutputLimit {
                message.push_str("\nstdout (end): ");
                message.push_str(&tail(&outcome.stdout, 2000));
            }
            return Err(ShardFailure::Error(class, message));
        }
        let stdout = String::from_utf8_lossy(&outcome.stdout).into_owned();
        let log = RunLog {
            verdict: outcome.verdict.to_string(),
            exit_code: outcome.exit_code,
            wall_ms: outcome.wall_time.as_millis() as u64,
            cpu_ms: outcome.cpu_time.as_millis() as u64,
            metrics: parse_metrics(&stdout),
            stdout,
            stderr: String::from_utf8_lossy(&outcome.stderr).into_owned(),
        };
        Ok(ShardOutput {
            bars: 0,
            rows: log.metrics.metrics.len() as u64,
            body: serde_json::to_vec(&log)
                .map_err(|e| ShardFailure::Error(ErrorClass::Internal, format!("run log: {e}")))?,
            scan_summary: None,
            summary: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_line_wins() {
        let out = "Return: 1%\nQUANTD_RESULT {\"total_return\": 15.42, \"sharpe\": 1.45, \"trades\": 23, \"win_rate\": 56.5, \"max_drawdown\": -8.23, \"note\": \"x\"}\n";
        let m = parse_metrics(out);
        assert_eq!(m.source, "QUANTD_RESULT");
        assert_eq!(m.metrics["Return [%]"], 15.42);
        assert_eq!(m.metrics["Sharpe Ratio"], 1.45);
        assert_eq!(m.metrics["# Trades"], 23);
        assert_eq!(m.metrics["Win Rate [%]"], 56.5);
        assert_eq!(m.metrics["Max. Drawdown [%]"], -8.23);
        assert_eq!(m.result.unwrap()["note"], "x");
    }

    #[test]
    fn plain_lines_are_the_fallback() {
        let out = "starting\nReturn: 15.42%\nSharpe Ratio: 1.45\nTrades: 23\nWin Rate: 56.5%\nMax Drawdown: -8.23%\nFinal equity: $11,542.00\nnoise: abc\n";
        let m = parse_metrics(out);
        assert_eq!(m.source, "text");
        assert_eq!(m.metrics.len(), 5, "{:?}", m.metrics);
        assert_eq!(m.metrics["Return [%]"], 15.42);
        assert_eq!(m.metrics["Sharpe Ratio"], 1.45);
        assert_eq!(m.metrics["# Trades"], 23);
        assert_eq!(m.metrics["Win Rate [%]"], 56.5);
        assert_eq!(m.metrics["Max. Drawdown [%]"], -8.23);
    }

    #[test]
    fn label_variants_map_to_statistics() {
        let m = parse_metrics(
            "Total Return [%]: 3.5\nMax. Drawdown [%]: -2\n# Trades: 4\nsharpe: 0.5\nWinRate: 10 %\n",
        );
        assert_eq!(m.metrics["Return [%]"], 3.5);
        assert_eq!(m.metrics["Max. Drawdown [%]"], -2.0);
        assert_eq!(m.metrics["# Trades"], 4);
        assert_eq!(m.metrics["Sharpe Ratio"], 0.5);
        assert_eq!(m.metrics["Win Rate [%]"], 10.0);
    }

    #[test]
    fn nothing_found() {
        let m = parse_metrics("hello\nworld: 1\n");
        assert_eq!(m.source, "none");
        assert!(m.metrics.is_empty());
        let bad = parse_metrics("QUANTD_RESULT not json\nReturn: 2%\n");
        assert_eq!(bad.source, "text");
        assert_eq!(bad.metrics["Return [%]"], 2.0);
    }

    #[test]
    fn numbers_are_read_from_the_front() {
        assert_eq!(leading_number(" -8.23%"), Some(-8.23));
        assert_eq!(leading_number("$1,234.5"), Some(1234.5));
        assert_eq!(leading_number("abc"), None);
        assert_eq!(leading_number("+3 trades"), Some(3.0));
    }
}

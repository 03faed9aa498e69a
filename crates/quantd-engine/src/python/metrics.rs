//! A run's metrics, read from its stdout: the last line `QUANTD_RESULT {json}` or, without one,
//! plain lines such as `Return: 15.42%`. Known metrics are stored under the backtest
//! statistics' names so that `quantd summary` averages them.
//!
//! The output is the script's, so nothing in it is believed unchecked ([`PythonOptions`]): the
//! object keeps at most `max_result_keys` entries (known metrics first), keys are short and
//! printable, numbers are within `max_metric_magnitude`, strings are cut to
//! `max_result_string_chars`, nested values are dropped, and known metrics must be in their
//! range (`# Trades` a whole number ≥ 0; `Win Rate [%]` and `Exposure Time [%]` 0..=100;
//! `Max. Drawdown [%]` -100..=100; `Return [%]` ≥ -100; `Profit Factor` ≥ 0). What is dropped
//! or cut is said in [`RunMetrics::warnings`]; so a stored summary never holds a non-finite or
//! absurd number.

use super::PythonOptions;
use super::options::{forbidden_in_name, shown};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The line prefix of a script's metrics.
pub const RESULT_PREFIX: &str = "QUANTD_RESULT ";

/// Warnings kept in a run's log; more are counted in one last line.
const MAX_WARNINGS: usize = 20;

/// A known metric: its stored name (backtesting.py's, as the backtest summary uses), the labels
/// and keys that map onto it (lower case, without `[%]`, punctuation or extra spaces), and the
/// values it can take.
struct Known {
    name: &'static str,
    aliases: &'static [&'static str],
    min: f64,
    max: f64,
    whole: bool,
}

const fn known(name: &'static str, aliases: &'static [&'static str], min: f64, max: f64) -> Known {
    Known {
        name,
        aliases,
        min,
        max,
        whole: false,
    }
}

const METRICS: &[Known] = &[
    known(
        "Return [%]",
        &[
            "return",
            "total return",
            "total_return",
            "return_pct",
            "returns",
        ],
        -100.0,
        f64::INFINITY,
    ),
    known(
        "Sharpe Ratio",
        &["sharpe ratio", "sharpe", "sharpe_ratio"],
        f64::NEG_INFINITY,
        f64::INFINITY,
    ),
    known(
        "Sortino Ratio",
        &["sortino ratio", "sortino", "sortino_ratio"],
        f64::NEG_INFINITY,
        f64::INFINITY,
    ),
    known(
        "Max. Drawdown [%]",
        &[
            "max drawdown",
            "max. drawdown",
            "max_drawdown",
            "maximum drawdown",
            "drawdown",
            "max dd",
        ],
        -100.0,
        100.0,
    ),
    known(
        "Win Rate [%]",
        &["win rate", "win_rate", "winrate"],
        0.0,
        100.0,
    ),
    known(
        "Exposure Time [%]",
        &["exposure time", "exposure", "exposure_time", "exposure_pct"],
        0.0,
        100.0,
    ),
    Known {
        whole: true,
        ..known(
            "# Trades",
            &[
                "trades",
                "# trades",
                "total trades",
                "num_trades",
                "number of trades",
                "n_trades",
            ],
            0.0,
            f64::INFINITY,
        )
    },
    known(
        "Profit Factor",
        &["profit factor", "profit_factor"],
        0.0,
        f64::INFINITY,
    ),
];

/// The metrics a run reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RunMetrics {
    /// `QUANTD_RESULT` (the JSON line) or `text` (plain lines), `none` when nothing was found.
    pub source: String,
    /// Known metrics under the backtest statistics' names (`Return [%]`, `Sharpe Ratio`, ...).
    pub metrics: Map<String, Value>,
    /// The `QUANTD_RESULT` object as printed, less the entries that were dropped.
    pub result: Option<Value>,
    /// What was dropped or cut from the output, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
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

fn canonical(label: &str) -> Option<&'static Known> {
    if label.len() > 64 {
        return None;
    }
    let n = normalize(label);
    let n = n.trim_end_matches('.');
    METRICS.iter().find(|k| k.aliases.contains(&n))
}

/// The leading number of a value such as `15.42%`, `-8.23 %`, `$1,234.5` or `23`.
pub(crate) fn leading_number(text: &str) -> Option<f64> {
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

/// Warnings, at most [`MAX_WARNINGS`] of them, then a count.
#[derive(Default)]
struct Warnings {
    list: Vec<String>,
    more: usize,
}

impl Warnings {
    fn push(&mut self, w: String) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(w);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.more > 0 {
            self.list.push(format!("… and {} more warnings", self.more));
        }
        self.list
    }
}

/// A known metric's value, or why it is not kept.
fn metric_value(k: &Known, x: f64, limits: &PythonOptions) -> Result<Value, String> {
    let max = limits.max_metric_magnitude;
    if !x.is_finite() || x.abs() > max {
        return Err(format!(
            "{x} is beyond ±{max:e} (limit `max_metric_magnitude` of the engine's Python options)"
        ));
    }
    if x < k.min || x > k.max {
        let range = match (k.min.is_finite(), k.max.is_finite()) {
            (true, true) => format!("from {} to {}", k.min, k.max),
            _ => format!("at least {}", k.min),
        };
        return Err(format!("{x} is out of range: {} is {range}", k.name));
    }
    if k.whole {
        if x.fract() != 0.0 {
            return Err(format!("{x} is not a whole number: {} counts", k.name));
        }
        return Ok(Value::from(x as i64));
    }
    Ok(Value::from(x))
}

/// Why a `QUANTD_RESULT` key is not kept, if it is not.
fn key_problem(key: &str, limits: &PythonOptions) -> Option<String> {
    let chars = key.chars().count();
    if chars == 0 {
        Some("it is empty".into())
    } else if chars > limits.max_result_key_chars {
        Some(format!(
            "it is {chars} characters long, more than {} (limit `max_result_key_chars` of the engine's Python options)",
            limits.max_result_key_chars
        ))
    } else if key.chars().any(forbidden_in_name) {
        Some("it contains control or bidirectional-override characters".into())
    } else {
        None
    }
}

/// A value of an unknown key as kept (strings cut), or why it is dropped.
fn plain_value(
    key: &str,
    v: &Value,
    limits: &PythonOptions,
    warnings: &mut Warnings,
) -> Result<Value, String> {
    match v {
        Value::Null | Value::Bool(_) => Ok(v.clone()),
        Value::Number(n) => match n.as_f64() {
            Some(x) if x.abs() <= limits.max_metric_magnitude => Ok(v.clone()),
            _ => Err(format!(
                "{n} is beyond ±{:e} (limit `max_metric_magnitude` of the engine's Python options)",
                limits.max_metric_magnitude
            )),
        },
        Value::String(s) => {
            let max = limits.max_result_string_chars;
            let chars = s.chars().count();
            if chars <= max {
                return Ok(v.clone());
            }
            warnings.push(format!(
                "QUANTD_RESULT `{}`: the string of {chars} characters was cut to {max} (limit `max_result_string_chars` of the engine's Python options)",
                shown(key, 64)
            ));
            Ok(Value::from(
                s.chars().take(max).chain(['…']).collect::<String>(),
            ))
        }
        Value::Array(_) | Value::Object(_) => Err(
            "nested values (lists, objects) are not kept; report numbers, strings or booleans"
                .into(),
        ),
    }
}

/// The entries of a `QUANTD_RESULT` object that are kept, and the known metrics among them.
fn from_result(
    obj: &Map<String, Value>,
    limits: &PythonOptions,
    warnings: &mut Warnings,
) -> (Map<String, Value>, Map<String, Value>) {
    let (mut kept, mut metrics) = (Map::new(), Map::new());
    let (known, other): (Vec<_>, Vec<_>) = obj.iter().partition(|(k, _)| canonical(k).is_some());
    let mut over = 0usize;
    for (k, v) in known.into_iter().chain(other) {
        if kept.len() >= limits.max_result_keys {
            over += 1;
            continue;
        }
        let drop = |why: String| format!("QUANTD_RESULT `{}` was dropped: {why}", shown(k, 64));
        if let Some(why) = key_problem(k, limits) {
            warnings.push(drop(why));
            continue;
        }
        let value = match canonical(k) {
            Some(m) => v
                .as_f64()
                .ok_or_else(|| format!("{} must be a number, not {v}", m.name))
                .and_then(|x| metric_value(m, x, limits))
                .map(|x| {
                    metrics.insert(m.name.to_string(), x);
                    v.clone()
                }),
            None => plain_value(k, v, limits, warnings),
        };
        match value {
            Ok(v) => {
                kept.insert(k.clone(), v);
            }
            Err(why) => warnings.push(drop(why)),
        }
    }
    if over > 0 {
        warnings.push(format!(
            "QUANTD_RESULT has {} entries: {over} were dropped, {} kept (limit `max_result_keys` of the engine's Python options; known metrics first)",
            obj.len(),
            kept.len()
        ));
    }
    (kept, metrics)
}

/// Parses a run's stdout: the last `QUANTD_RESULT {json}` line wins; without one (or when it is
/// not a JSON object), plain lines `Label: value` whose label is a known metric. Entries out of
/// `limits` are dropped or cut, each with a warning.
pub fn parse_metrics(stdout: &str, limits: &PythonOptions) -> RunMetrics {
    let mut warnings = Warnings::default();
    if let Some(json) = stdout
        .lines()
        .rev()
        .find_map(|l| l.trim_start().strip_prefix(RESULT_PREFIX))
    {
        match serde_json::from_str::<Value>(json.trim()) {
            Ok(Value::Object(obj)) => {
                let (kept, metrics) = from_result(&obj, limits, &mut warnings);
                return RunMetrics {
                    source: "QUANTD_RESULT".into(),
                    metrics,
                    result: Some(Value::Object(kept)),
                    warnings: warnings.finish(),
                };
            }
            Ok(other) => warnings.push(format!(
                "the last QUANTD_RESULT line holds {}, not a JSON object; metrics were read from plain lines",
                json_kind(&other)
            )),
            Err(e) => warnings.push(format!(
                "the last QUANTD_RESULT line is not valid JSON ({e}); metrics were read from plain lines"
            )),
        }
    }
    let mut metrics = Map::new();
    for line in stdout.lines() {
        let Some((label, value)) = line.split_once(':') else {
            continue;
        };
        let (Some(m), Some(x)) = (canonical(label), leading_number(value)) else {
            continue;
        };
        match metric_value(m, x, limits) {
            Ok(v) => {
                metrics.insert(m.name.into(), v);
            }
            Err(why) => warnings.push(format!(
                "the line `{}` was not used: {why}",
                shown(line.trim(), 80)
            )),
        }
    }
    RunMetrics {
        source: if metrics.is_empty() { "none" } else { "text" }.into(),
        metrics,
        result: None,
        warnings: warnings.finish(),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(stdout: &str) -> RunMetrics {
        parse_metrics(stdout, &PythonOptions::default())
    }

    #[test]
    fn the_result_line_wins() {
        let out = "Return: 1%\nQUANTD_RESULT {\"total_return\": 15.42, \"sharpe\": 1.45, \"trades\": 23, \"win_rate\": 56.5, \"max_drawdown\": -8.23, \"note\": \"x\"}\n";
        let m = parse(out);
        assert_eq!(m.source, "QUANTD_RESULT");
        assert_eq!(m.metrics["Return [%]"], 15.42);
        assert_eq!(m.metrics["Sharpe Ratio"], 1.45);
        assert_eq!(m.metrics["# Trades"], 23);
        assert_eq!(m.metrics["Win Rate [%]"], 56.5);
        assert_eq!(m.metrics["Max. Drawdown [%]"], -8.23);
        assert_eq!(m.result.unwrap()["note"], "x");
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn plain_lines_are_the_fallback() {
        let out = "starting\nReturn: 15.42%\nSharpe Ratio: 1.45\nTrades: 23\nWin Rate: 56.5%\nMax Drawdown: -8.23%\nFinal equity: $11,542.00\nnoise: abc\n";
        let m = parse(out);
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
        let m = parse(
            "Total Return [%]: 3.5\nMax. Drawdown [%]: -2\n# Trades: 4\nsharpe: 0.5\nWinRate: 10 %\nExposure Time [%]: 40\n",
        );
        assert_eq!(m.metrics["Return [%]"], 3.5);
        assert_eq!(m.metrics["Max. Drawdown [%]"], -2.0);
        assert_eq!(m.metrics["# Trades"], 4);
        assert_eq!(m.metrics["Sharpe Ratio"], 0.5);
        assert_eq!(m.metrics["Win Rate [%]"], 10.0);
        assert_eq!(m.metrics["Exposure Time [%]"], 40.0);
    }

    #[test]
    fn nothing_found() {
        let m = parse("hello\nworld: 1\n");
        assert_eq!(m.source, "none");
        assert!(m.metrics.is_empty());
        let bad = parse("QUANTD_RESULT not json\nReturn: 2%\n");
        assert_eq!(bad.source, "text");
        assert_eq!(bad.metrics["Return [%]"], 2.0);
        assert!(
            bad.warnings[0].contains("not valid JSON"),
            "{:?}",
            bad.warnings
        );
    }

    #[test]
    fn numbers_are_read_from_the_front() {
        assert_eq!(leading_number(" -8.23%"), Some(-8.23));
        assert_eq!(leading_number("$1,234.5"), Some(1234.5));
        assert_eq!(leading_number("abc"), None);
        assert_eq!(leading_number("+3 trades"), Some(3.0));
    }
}

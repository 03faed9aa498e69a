//! The look-ahead check of Python code as a shard job: a batch of tickers' bars in, one sandbox
//! job running `python -m quantd.lookahead`, its JSON report out.
//!
//! The report is untrusted (the code under check runs in the same interpreter and can rewrite
//! `/out/lookahead.json`): [`read_checks`] accepts one entry per ticker of the batch, in batch
//! order, with that ticker's name and bar count, rows within its bars, column names within the
//! limits of result columns, values that are booleans, numbers or `NaN`/`inf`; dates are never
//! read from it — they are the pack's, looked up by row. Anything else fails the shard (class
//! `execution`) naming the entry and field.

use super::ipc::{BatchInput, bars_ipc};
use super::options::{forbidden_in_name, shown};
use super::{PythonOptions, Sandboxed, params_json};
use crate::exec::jobs::{
    Job, ShardControl, ShardFailure, ShardOutput, payload_tickers, ticker_batches,
};
use crate::lookahead::expr::SHARD_TICKERS;
use crate::lookahead::{Difference, TickerCheck};
use quantd_core::ErrorClass;
use quantd_data::PackReader;
use quantd_sandbox::{Bars, CheckArgs, EntryCall};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Largest report a check job may hand back.
pub const MAX_CHECK_BYTES: u64 = 4 << 20;
/// Longest error or skip reason kept from a report, in characters.
const MAX_TEXT: usize = 2_000;

/// A look-ahead check of Python code over tickers of a pack.
pub struct PyCheckJob {
    py: Sandboxed,
    reader: Arc<PackReader>,
    source: String,
    params: Value,
    tickers: Vec<usize>,
    args: CheckArgs,
}

impl PyCheckJob {
    /// The job checking `source` (with `params`) on `tickers`, cut as `args` says.
    pub fn new(
        py: Sandboxed,
        reader: Arc<PackReader>,
        source: &str,
        params: &BTreeMap<String, f64>,
        tickers: Vec<usize>,
        args: CheckArgs,
    ) -> PyCheckJob {
        PyCheckJob {
            py,
            reader,
            source: source.to_string(),
            params: params_json(params),
            tickers,
            args,
        }
    }
}

impl Job for PyCheckJob {
    fn plan(&self) -> Vec<Value> {
        ticker_batches(&self.tickers, SHARD_TICKERS)
    }

    fn run(&self, payload: &Value, ctl: &ShardControl) -> Result<ShardOutput, ShardFailure> {
        let tickers = payload_tickers(payload)?;
        let ranges: Vec<_> = tickers
            .iter()
            .map(|&t| (t, 0..self.reader.manifest().tickers[t].rows as usize))
            .collect();
        let (ipc, input) = bars_ipc(&self.reader, &ranges)?;
        let call = EntryCall {
            code: self.source.clone(),
            entry: None,
            params: self.params.clone(),
            bars: Bars::Ipc(ipc),
            batch: true,
        };
        let outcome = self.py.run_ok(call.check_job(self.args), ctl.stop_flag())?;
        let bytes = outcome
            .check_json(MAX_CHECK_BYTES)
            .map_err(|e| ShardFailure::Error(e.class(), e.to_string()))?
            .ok_or_else(|| {
                bad("the check wrote no report (did the code remove /out/lookahead.json?)")
            })?;
        let checks = read_checks(&bytes, &input, self.py.python().options())?;
        let bars = input.bars() as u64;
        ctl.add_bars(bars);
        Ok(ShardOutput {
            bars,
            rows: checks.len() as u64,
            body: serde_json::to_vec(&checks).expect("checks serialize"),
            scan_summary: None,
            summary: None,
        })
    }
}

fn bad(why: impl std::fmt::Display) -> ShardFailure {
    ShardFailure::Error(
        ErrorClass::Execution,
        format!("the look-ahead report of the Python job is not valid: {why}"),
    )
}

/// One ticker's entry as `quantd.lookahead` writes it.
#[derive(Debug, Deserialize)]
struct RawCheck {
    ticker: String,
    bars: u64,
    #[serde(default)]
    cuts: u64,
    #[serde(default)]
    signal_bars: u64,
    #[serde(default)]
    signal_cuts: u64,
    #[serde(default)]
    perturbations: u64,
    #[serde(default)]
    runs: u64,
    #[serde(default)]
    errors: u64,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    skipped: Option<String>,
    #[serde(default)]
    nondeterministic: Option<RawNondeterminism>,
    #[serde(default)]
    difference: Option<RawDifference>,
    #[serde(default)]
    seconds: f64,
}

#[derive(Debug, Deserialize)]
struct RawNondeterminism {
    row: u64,
    column: String,
    first: Value,
    second: Value,
}

#[derive(Debug, Deserialize)]
struct RawDifference {
    row: u64,
    column: String,
    full: Value,
    cut: Value,
    cut_at: u64,
    found_by: String,
    #[serde(default)]
    ahead: Option<u64>,
}

/// The checked report of a batch: see the module docs.
pub fn read_checks(
    bytes: &[u8],
    input: &BatchInput,
    options: &PythonOptions,
) -> Result<Vec<TickerCheck>, ShardFailure> {
    let raw: Vec<RawCheck> = serde_json::from_slice(bytes).map_err(bad)?;
    if raw.len() != input.tickers() {
        return Err(bad(format!(
            "{} entries for a batch of {} tickers",
            raw.len(),
            input.tickers()
        )));
    }
    raw.into_iter()
        .enumerate()
        .map(|(slot, r)| {
            checked(slot, r, input, options).map_err(|e| bad(format!("entry {slot}: {e}")))
        })
        .collect()
}

fn checked(
    slot: usize,
    r: RawCheck,
    input: &BatchInput,
    options: &PythonOptions,
) -> Result<TickerCheck, String> {
    let stamps = input.stamps(slot);
    let n = stamps.len() as u64;
    if r.ticker != input.name(slot) {
        return Err(format!(
            "ticker `{}` where the batch has `{}`",
            shown(&r.ticker, 64),
            input.name(slot)
        ));
    }
    if r.bars != n {
        return Err(format!("`bars` is {} but the ticker has {n}", r.bars));
    }
    let date = |row: u64, field: &str| -> Result<String, String> {
        stamps
            .get(row as usize)
            .map(|&s| input.calendar().format(s))
            .ok_or_else(|| format!("`{field}` {row} is not one of the ticker's {n} bars"))
    };
    let column = |c: &str| -> Result<String, String> {
        if c.chars().count() > options.max_column_name_chars || c.chars().any(forbidden_in_name) {
            return Err(format!(
                "column name `{}` is too long or has control characters",
                shown(c, 64)
            ));
        }
        Ok(c.to_string())
    };
    let nondeterministic = match r.nondeterministic {
        None => None,
        Some(d) => Some(Difference {
            date: date(d.row, "row")?,
            row: d.row,
            column: column(&d.column)?,
            full: cell(d.first)?,
            cut: cell(d.second)?,
            cut_at: n.saturating_sub(1),
            cut_date: date(n.saturating_sub(1), "bars")?,
            found_by: "second run".into(),
            ahead: None,
        }),
    };
    let difference = match r.difference {
        None => None,
        Some(d) => {
            if !matches!(
                d.found_by.as_str(),
                "prefix" | "perturbation" | "appended bars"
            ) {
                return Err(format!("`found_by` is `{}`", shown(&d.found_by, 32)));
            }
            if d.row > d.cut_at || d.ahead.is_some_and(|k| d.row + k >= n) {
                return Err("`row`, `cut_at` and `ahead` do not fit the ticker's bars".into());
            }
            Some(Difference {
                date: date(d.row, "row")?,
                row: d.row,
                column: column(&d.column)?,
                full: cell(d.full)?,
                cut: cell(d.cut)?,
                cut_date: date(d.cut_at, "cut_at")?,
                cut_at: d.cut_at,
                found_by: d.found_by,
                ahead: d.ahead,
            })
        }
    };
    Ok(TickerCheck {
        ticker: r.ticker,
        bars: n,
        cuts: r.cuts.min(n),
        signal_bars: r.signal_bars.min(n),
        signal_cuts: r.signal_cuts.min(n),
        perturbations: r.perturbations,
        runs: r.runs,
        errors: r.errors.min(r.runs),
        error: r.error.map(|e| shown(&e, MAX_TEXT)),
        skipped: r.skipped.map(|e| shown(&e, MAX_TEXT)),
        nondeterministic,
        difference,
        seconds: if r.seconds.is_finite() && r.seconds >= 0.0 {
            r.seconds
        } else {
            0.0
        },
    })
}

/// A cell of the report: a bool, a number, `null`, or one of `NaN`, `inf`, `-inf`.
fn cell(v: Value) -> Result<Value, String> {
    match &v {
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(v),
        Value::String(s) if matches!(s.as_str(), "NaN" | "inf" | "-inf") => Ok(v),
        other => Err(format!(
            "a value is `{}`; expected a bool, a number, NaN or inf",
            shown(&other.to_string(), 32)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantd_data::time::{Calendar, NANOS_PER_DAY};

    fn input() -> BatchInput {
        let days = (0..100).map(|d| (19_000 + d) * NANOS_PER_DAY).collect();
        BatchInput::new(vec![("AAA".into(), days)], Calendar::DAILY)
    }

    fn read(json: serde_json::Value) -> Result<Vec<TickerCheck>, String> {
        read_checks(
            json.to_string().as_bytes(),
            &input(),
            &PythonOptions::default(),
        )
        .map_err(|e| match e {
            ShardFailure::Error(ErrorClass::Execution, m) => m,
            other => panic!("{other:?}"),
        })
    }

    #[test]
    fn a_report_gets_its_dates_from_the_pack_and_nothing_it_made_up_is_believed() {
        let good = serde_json::json!([{"ticker": "AAA", "bars": 100, "cuts": 40, "runs": 44,
            "difference": {"row": 60, "column": "signal", "full": true, "cut": false,
                "cut_at": 60, "found_by": "prefix", "ahead": 1}}]);
        let c = read(good).unwrap();
        let d = c[0].difference.as_ref().unwrap();
        assert_eq!(d.date, "2022-03-09");
        assert_eq!(d.ahead, Some(1));
        for (bad, why) in [
            (serde_json::json!([]), "0 entries"),
            (
                serde_json::json!([{"ticker": "BBB", "bars": 100}]),
                "ticker `BBB`",
            ),
            (
                serde_json::json!([{"ticker": "AAA", "bars": 7}]),
                "`bars` is 7",
            ),
            (
                serde_json::json!([{"ticker": "AAA", "bars": 100, "difference": {"row": 100, "column": "s", "full": 1, "cut": 2, "cut_at": 100, "found_by": "prefix"}}]),
                "`row` 100 is not one of",
            ),
            (
                serde_json::json!([{"ticker": "AAA", "bars": 100, "difference": {"row": 5, "column": "s\u{202e}", "full": 1, "cut": 2, "cut_at": 5, "found_by": "prefix"}}]),
                "control characters",
            ),
            (
                serde_json::json!([{"ticker": "AAA", "bars": 100, "difference": {"row": 5, "column": "s", "full": [1], "cut": 2, "cut_at": 5, "found_by": "prefix"}}]),
                "a value is",
            ),
            (
                serde_json::json!([{"ticker": "AAA", "bars": 100, "difference": {"row": 5, "column": "s", "full": 1, "cut": 2, "cut_at": 5, "found_by": "magic"}}]),
                "`found_by`",
            ),
        ] {
            let e = read(bad).unwrap_err();
            assert!(e.contains(why), "{e} (want {why})");
        }
    }
}

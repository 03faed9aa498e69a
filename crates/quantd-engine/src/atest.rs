//! A+ example tests: does a scanner fire where the user says it should, and stay silent where
//! it should not?
//!
//! Input: examples `ticker,date[,expected]` (expected defaults to true) and a tolerance in bars.
//! Per ticker, the scanner's signals are compared with the examples inside the ticker's window
//! (its first example minus the tolerance to its last example plus the tolerance):
//! - a positive example is **matched** by the nearest unused signal within `tolerance` bars, else
//!   **missed**;
//! - a signal in the window that matches no positive example is **unexpected**;
//! - a negative example (`expected=false`) is **silent** (correct) when no signal falls within
//!   `tolerance` bars of it, else a **false alarm**.
//!
//! Totals: precision = matched / (matched + unexpected + false alarms); recall = matched /
//! positives; accuracy = (matched + silent) / (positives + negatives + unexpected).

use crate::error::{EngineError, Result};
use quantd_data::bars::{Day, date_from_day, day_from_date};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Example {
    /// The ticker.
    pub ticker: String,
    /// The date.
    pub date: chrono::NaiveDate,
    /// Whether the scanner should fire there.
    pub expected: bool,
}

/// Parses an examples CSV: a header naming `ticker` and `date` (and optionally `expected`),
/// then rows; errors name the line and say how to fix it.
pub fn parse_examples(text: &str) -> Result<Vec<Example>> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or_else(|| {
        EngineError::Invalid(
            "the examples file is empty; expected a header `ticker,date[,expected]`".into(),
        )
    })?;
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let find = |name: &str| cols.iter().position(|c| c == name);
    let (Some(ti), Some(di)) = (find("ticker"), find("date")) else {
        return Err(EngineError::Invalid(format!(
            "examples header `{header}` must name `ticker` and `date` (and optionally `expected`)"
        )));
    };
    let ei = find("expected");
    let mut out = Vec::new();
    for (n, line) in lines {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let at = |what: &str| EngineError::Invalid(format!("examples line {}: {what}", n + 1));
        let ticker = f
            .get(ti)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| at("missing ticker"))?;
        let date_text = f.get(di).ok_or_else(|| at("missing date"))?;
        let date = date_text
            .parse()
            .map_err(|_| at(&format!("`{date_text}` is not a date (YYYY-MM-DD)")))?;
        let expected = match ei.and_then(|i| f.get(i)).map(|s| s.to_ascii_lowercase()) {
            None => true,
            Some(s) if s.is_empty() || ["1", "true", "yes", "y"].contains(&s.as_str()) => true,
            Some(s) if ["0", "false", "no", "n"].contains(&s.as_str()) => false,
            Some(s) => return Err(at(&format!("expected `{s}` is not true/false"))),
        };
        out.push(Example {
            ticker: ticker.to_string(),
            date,
            expected,
        });
    }
    if out.is_empty() {
        return Err(EngineError::Invalid(
            "the examples file has a header but no rows".into(),
        ));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The verdicts for one ticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TickerReport {
    /// The ticker.
    pub ticker: String,
    /// Signal dates inside the window.
    pub found: Vec<chrono::NaiveDate>,
    /// Positive example dates.
    pub expected: Vec<chrono::NaiveDate>,
    /// (expected, found) pairs matched within the tolerance.
    pub matched: Vec<(chrono::NaiveDate, chrono::NaiveDate)>,
    /// Positive examples with no signal near them.
    pub missed: Vec<chrono::NaiveDate>,
    /// Signals matching no positive example.
    pub unexpected: Vec<chrono::NaiveDate>,
    /// Negative examples with no signal near them (correct).
    pub silent: Vec<chrono::NaiveDate>,
    /// Negative examples with a signal near them.
    pub false_alarms: Vec<chrono::NaiveDate>,
    /// Examples whose date is not a bar of the ticker.
    pub not_in_data: Vec<chrono::NaiveDate>,
}

/// Compares one ticker's signals (`mask` over its `dates`) with its examples.
pub fn judge(
    ticker: &str,
    dates: &[Day],
    mask: &[bool],
    examples: &[&Example],
    tolerance: usize,
) -> TickerReport {
    let mut r = TickerReport {
        ticker: ticker.to_string(),
        ..Default::default()
    };
    let bar_of = |d: chrono::NaiveDate| dates.binary_search(&day_from_date(d)).ok();
    let mut located: Vec<(usize, &Example)> = Vec::new();
    for e in examples {
        match bar_of(e.date) {
            Some(b) => located.push((b, e)),
            None => r.not_in_data.push(e.date),
        }
    }
    let Some(lo) = located.iter().map(|x| x.0).min() else {
        return r;
    };
    let hi = located.iter().map(|x| x.0).max().expect("non-empty");
    let window = lo.saturating_sub(tolerance)..(hi + tolerance + 1).min(dates.len());
    let signals: Vec<usize> = window.clone().filter(|&b| mask[b]).collect();
    r.found = signals.iter().map(|&b| date_from_day(dates[b])).collect();
    let mut used = vec![false; signals.len()];
    for &(b, e) in located.iter().filter(|x| x.1.expected) {
        r.expected.push(e.date);
        let nearest = signals
            .iter()
            .enumerate()
            .filter(|(i, s)| !used[*i] && s.abs_diff(b) <= tolerance)
            .min_by_key(|(_, s)| (s.abs_diff(b), **s));
        match nearest {
            Some((i, &s)) => {
                used[i] = true;
                r.matched.push((e.date, date_from_day(dates[s])));
            }
            None => r.missed.push(e.date),
        }
    }
    r.unexpected = signals
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(&s, _)| date_from_day(dates[s]))
        .collect();
    for &(b, e) in located.iter().filter(|x| !x.1.expected) {
        if signals.iter().any(|s| s.abs_diff(b) <= tolerance) {
            r.false_alarms.push(e.date);
        } else {
            r.silent.push(e.date);
        }
    }
    r
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The tolerance in bars.
    pub tolerance: usize,
    /// Per ticker, by ticker.
    pub tickers: Vec<TickerReport>,
    /// Matched positives.
    pub matched: usize,
    /// Missed positives.
    pub missed: usize,
    /// Unexpected signals.
    pub unexpected: usize,
    /// Silent negatives.
    pub silent: usize,
    /// Negatives with a signal.
    pub false_alarms: usize,
    /// matched / (matched + unexpected + false alarms).
    pub precision: Option<f64>,
    /// matched / positives.
    pub recall: Option<f64>,
    /// (matched + silent) / (positives + negatives + unexpected).
    pub accuracy: Option<f64>,
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

impl Report {
    /// Totals over per-ticker reports.
    pub fn new(tolerance: usize, mut tickers: Vec<TickerReport>) -> Report {
        tickers.sort_by(|a, b| a.ticker.cmp(&b.ticker));
        let sum = |f: fn(&TickerReport) -> usize| tickers.iter().map(f).sum::<usize>();
        let (matched, missed, unexpected) = (
            sum(|t| t.matched.len()),
            sum(|t| t.missed.len()),
            sum(|t| t.unexpected.len()),
        );
        let (silent, false_alarms) = (sum(|t| t.silent.len()), sum(|t| t.false_alarms.len()));
        Report {
            tolerance,
            precision: ratio(matched, matched + unexpected + false_alarms),
            recall: ratio(matched, matched + missed),
            accuracy: ratio(
                matched + silent,
                matched + missed + silent + false_alarms + unexpected,
            ),
            tickers,
            matched,
            missed,
            unexpected,
            silent,
            false_alarms,
        }
    }

    /// The report as Markdown.
    pub fn markdown(&self, title: &str) -> String {
        let pct = |x: Option<f64>| x.map_or_else(|| "n/a".into(), |v| format!("{:.1}%", v * 100.0));
        let dates = |v: &[chrono::NaiveDate]| {
            if v.is_empty() {
                "–".to_string()
            } else {
                v.iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let mut s = format!("# A+ test: {title}\n\n");
        s += &format!(
            "**precision {}** · **recall {}** · **accuracy {}** · tolerance ±{} bars\n\n",
            pct(self.precision),
            pct(self.recall),
            pct(self.accuracy),
            self.tolerance
        );
        s += &format!(
            "matched {} · missed {} · unexpected {} · silent {} · false alarms {}\n\n",
            self.matched, self.missed, self.unexpected, self.silent, self.false_alarms
        );
        s += "| ticker | expected | found | matched | missed | unexpected | false alarms |\n| --- | --- | --- | --- | --- | --- | --- |\n";
        for t in &self.tickers {
            let matched: Vec<String> = t
                .matched
                .iter()
                .map(|(e, f)| {
                    if e == f {
                        e.to_string()
                    } else {
                        format!("{e}→{f}")
                    }
                })
                .collect();
            s += &format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                t.ticker,
                dates(&t.expected),
                dates(&t.found),
                if matched.is_empty() {
                    "–".into()
                } else {
                    matched.join(", ")
                },
                dates(&t.missed),
                dates(&t.unexpected),
                dates(&t.false_alarms)
            );
        }
        let missing: Vec<String> = self
            .tickers
            .iter()
            .flat_map(|t| {
                t.not_in_data
                    .iter()
                    .map(move |d| format!("{} {d}", t.ticker))
            })
            .collect();
        if !missing.is_empty() {
            s += &format!(
                "\nExamples on dates the pack has no bar for (ignored): {}\n",
                missing.join(", ")
            );
        }
        s
    }
}

/// Examples grouped by ticker.
pub fn by_ticker(examples: &[Example]) -> BTreeMap<String, Vec<&Example>> {
    let mut m: BTreeMap<String, Vec<&Example>> = BTreeMap::new();
    for e in examples {
        m.entry(e.ticker.clone()).or_default().push(e);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> chrono::NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn examples_parse_with_line_numbers_in_errors() {
        let ex = parse_examples(
            "Ticker,Date,Expected\nAAA,2024-01-03,true\nAAA,2024-01-05,0\nBBB,2024-01-02,\n",
        )
        .unwrap();
        assert_eq!(ex.len(), 3);
        assert!(!ex[1].expected);
        assert!(ex[2].expected);
        let err = parse_examples("ticker,date\nAAA,2024-13-01\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "examples line 2: `2024-13-01` is not a date (YYYY-MM-DD)"
        );
        assert!(
            parse_examples("symbol,day\n")
                .unwrap_err()
                .to_string()
                .contains("must name `ticker` and `date`")
        );
    }

    #[test]
    fn matching_uses_the_tolerance_and_each_signal_once() {
        // Bars on ten consecutive days from 2024-01-01.
        let start = day_from_date(d("2024-01-01"));
        let dates: Vec<Day> = (0..10).map(|i| start + i).collect();
        let mut mask = vec![false; 10];
        mask[2] = true; // 01-03
        mask[6] = true; // 01-07
        let ex = [
            Example {
                ticker: "A".into(),
                date: d("2024-01-04"),
                expected: true,
            }, // matches 01-03 (1 bar)
            Example {
                ticker: "A".into(),
                date: d("2024-01-05"),
                expected: true,
            }, // 01-03 used; 01-07 is 2 bars: match
            Example {
                ticker: "A".into(),
                date: d("2024-01-09"),
                expected: false,
            }, // 01-07 within 2 → false alarm
            Example {
                ticker: "A".into(),
                date: d("2024-02-01"),
                expected: true,
            }, // no such bar
        ];
        let refs: Vec<&Example> = ex.iter().collect();
        let r = judge("A", &dates, &mask, &refs, 2);
        assert_eq!(
            r.matched,
            [
                (d("2024-01-04"), d("2024-01-03")),
                (d("2024-01-05"), d("2024-01-07"))
            ]
        );
        assert!(r.missed.is_empty() && r.unexpected.is_empty());
        assert_eq!(r.false_alarms, [d("2024-01-09")]);
        assert_eq!(r.not_in_data, [d("2024-02-01")]);
        let tight = judge("A", &dates, &mask, &refs, 0);
        assert_eq!(tight.missed.len(), 2);
        assert_eq!(
            tight.unexpected.len(),
            1,
            "01-07 is inside the window, 01-03 is not (window 01-04..01-09)"
        );
        let report = Report::new(2, vec![r]);
        assert_eq!(
            (report.precision, report.recall, report.accuracy),
            (Some(2.0 / 3.0), Some(1.0), Some(2.0 / 3.0))
        );
        assert!(
            report
                .markdown("t")
                .contains("| A | 2024-01-04, 2024-01-05 |")
        );
    }
}

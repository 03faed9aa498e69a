//! A+ example tests: does a scanner fire where the user says it should, and stay silent where
//! it should not?
//!
//! Input: examples `ticker,date[,expected]` (expected defaults to true) and a tolerance in bars.
//! An example's `date` is a session date (`2024-01-02`: any bar of that day, which for daily bars
//! is the one bar) or a bar's exact time with its offset (`2024-01-02T09:45:00-05:00`).
//! Distances are in bars from the example's bars (the first or last bar of its day).
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
use quantd_data::time::{Calendar, Stamp};
pub use quantd_data::when::When;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::ops::Range;

/// The bars (a range of `stamps`, a ticker's instants) an example at `when` names; `None` when
/// the ticker has no bar then.
fn bars_of(when: When, stamps: &[Stamp], calendar: Calendar) -> Option<Range<usize>> {
    let (lo, hi) = calendar.bounds(Some(when), Some(when));
    let (lo, hi) = (lo.unwrap_or(Stamp::MIN), hi.unwrap_or(Stamp::MAX));
    let range = stamps.partition_point(|&s| s < lo)..stamps.partition_point(|&s| s <= hi);
    (!range.is_empty()).then_some(range)
}

/// One example.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub struct Example {
    /// The ticker.
    pub ticker: String,
    /// The session date or bar time.
    pub date: When,
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
        let date = When::parse(date_text).map_err(|e| {
            at(&format!(
                "`{}` is not a date (YYYY-MM-DD) or a bar time: {e}",
                quantd_data::text::echo(date_text)
            ))
        })?;
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
    /// Signal bars inside the window (dates of daily bars, times of intraday ones).
    pub found: Vec<String>,
    /// Positive examples.
    pub expected: Vec<String>,
    /// (expected, found) pairs matched within the tolerance.
    pub matched: Vec<(String, String)>,
    /// Positive examples with no signal near them.
    pub missed: Vec<String>,
    /// Signals matching no positive example.
    pub unexpected: Vec<String>,
    /// Negative examples with no signal near them (correct).
    pub silent: Vec<String>,
    /// Negative examples with a signal near them.
    pub false_alarms: Vec<String>,
    /// Examples the ticker has no bar for.
    pub not_in_data: Vec<String>,
}

/// Bars from `s` to the nearest bar of `r`: 0 inside.
fn gap(s: usize, r: &Range<usize>) -> usize {
    if s < r.start {
        r.start - s
    } else {
        s.saturating_sub(r.end - 1)
    }
}

/// Compares one ticker's signals (`mask` over its bars at `stamps`) with its examples.
pub fn judge(
    ticker: &str,
    stamps: &[Stamp],
    calendar: Calendar,
    mask: &[bool],
    examples: &[&Example],
    tolerance: usize,
) -> TickerReport {
    let mut r = TickerReport {
        ticker: ticker.to_string(),
        ..Default::default()
    };
    let show = |e: &Example| e.date.show(calendar);
    let bar = |b: usize| calendar.format(stamps[b]);
    let mut located: Vec<(Range<usize>, &Example)> = Vec::new();
    for e in examples {
        match bars_of(e.date, stamps, calendar) {
            Some(bars) => located.push((bars, e)),
            None => r.not_in_data.push(show(e)),
        }
    }
    let Some(lo) = located.iter().map(|x| x.0.start).min() else {
        return r;
    };
    let hi = located.iter().map(|x| x.0.end).max().expect("non-empty");
    let window = lo.saturating_sub(tolerance)..(hi + tolerance).min(stamps.len());
    let signals: Vec<usize> = window.clone().filter(|&b| mask[b]).collect();
    r.found = signals.iter().map(|&b| bar(b)).collect();
    let mut used = vec![false; signals.len()];
    for (bars, e) in located.iter().filter(|x| x.1.expected) {
        r.expected.push(show(e));
        let nearest = signals
            .iter()
            .enumerate()
            .filter(|(i, s)| !used[*i] && gap(**s, bars) <= tolerance)
            .min_by_key(|(_, s)| (gap(**s, bars), **s));
        match nearest {
            Some((i, &s)) => {
                used[i] = true;
                r.matched.push((show(e), bar(s)));
            }
            None => r.missed.push(show(e)),
        }
    }
    r.unexpected = signals
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(&s, _)| bar(s))
        .collect();
    for (bars, e) in located.iter().filter(|x| !x.1.expected) {
        if signals.iter().any(|&s| gap(s, bars) <= tolerance) {
            r.false_alarms.push(show(e));
        } else {
            r.silent.push(show(e));
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
        let dates = |v: &[String]| {
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

    fn d(s: &str) -> When {
        When::Day(s.parse().unwrap())
    }

    fn shown(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
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
        assert!(
            err.starts_with(
                "examples line 2: `2024-13-01` is not a date (YYYY-MM-DD) or a bar time"
            ),
            "{err}"
        );
        let err = parse_examples("ticker,date\nAAA,2024-01-02 09:45\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a time needs its UTC offset or Z"), "{err}");
        let ex = parse_examples("ticker,date\nAAA,2024-01-02T09:45:00-05:00\n").unwrap();
        assert_eq!(ex[0].date, When::At(1_704_206_700_000_000_000));
        assert_eq!(
            serde_json::to_string(&ex[0].date).unwrap(),
            "\"2024-01-02T14:45:00+00:00\""
        );
        let back: When = serde_json::from_str("\"2024-01-02\"").unwrap();
        assert_eq!(back, d("2024-01-02"));
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
        let start = quantd_data::bars::day_from_date("2024-01-01".parse().unwrap());
        let stamps: Vec<Stamp> = (0..10)
            .map(|i| i64::from(start + i) * quantd_data::time::NANOS_PER_DAY)
            .collect();
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
        let daily = Calendar::DAILY;
        let r = judge("A", &stamps, daily, &mask, &refs, 2);
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            r.matched,
            [
                pair("2024-01-04", "2024-01-03"),
                pair("2024-01-05", "2024-01-07")
            ]
        );
        assert!(r.missed.is_empty() && r.unexpected.is_empty());
        assert_eq!(r.false_alarms, shown(&["2024-01-09"]));
        assert_eq!(r.not_in_data, shown(&["2024-02-01"]));
        let tight = judge("A", &stamps, daily, &mask, &refs, 0);
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

    #[test]
    fn on_intraday_bars_a_date_means_any_bar_of_that_day_and_a_time_one_bar() {
        // Hourly bars 09:00..=16:00 New York on 2024-01-02 and 2024-01-03.
        let ny: quantd_data::time::Zone = "America/New_York".parse().unwrap();
        let calendar = Calendar {
            interval: quantd_data::time::Interval::Hour1,
            zone: ny,
            daily: false,
        };
        let hour = 3_600 * quantd_data::time::NANOS_PER_SECOND;
        let jan2_9 = 1_704_204_000_000_000_000; // 2024-01-02 14:00 UTC = 09:00 New York
        let stamps: Vec<Stamp> = (0..8)
            .map(|h| jan2_9 + h * hour)
            .chain((0..8).map(|h| jan2_9 + 24 * hour + h * hour))
            .collect();
        let mut mask = vec![false; 16];
        mask[5] = true; // 2024-01-02 14:00
        mask[12] = true; // 2024-01-03 13:00
        let ex = [
            Example {
                ticker: "A".into(),
                date: d("2024-01-02"),
                expected: true,
            },
            Example {
                ticker: "A".into(),
                date: When::parse("2024-01-03T11:00:00-05:00").unwrap(),
                expected: true,
            },
            Example {
                ticker: "A".into(),
                date: d("2024-01-04"),
                expected: true,
            },
        ];
        let refs: Vec<&Example> = ex.iter().collect();
        let r = judge("A", &stamps, calendar, &mask, &refs, 2);
        assert_eq!(
            r.matched,
            [
                (
                    "2024-01-02".to_string(),
                    "2024-01-02T14:00:00-05:00".to_string()
                ),
                (
                    "2024-01-03T11:00:00-05:00".to_string(),
                    "2024-01-03T13:00:00-05:00".to_string()
                ),
            ]
        );
        assert_eq!(r.not_in_data, shown(&["2024-01-04"]));
        // One bar off the tolerance: 13:00 is two bars after 11:00, not one.
        let tight = judge("A", &stamps, calendar, &mask, &refs, 1);
        assert_eq!(tight.missed, shown(&["2024-01-03T11:00:00-05:00"]));
    }
}

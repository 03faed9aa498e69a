//! Look-ahead checks: does a scanner's or strategy's output at bar `t` depend on bars after `t`?
//!
//! A `check` execution ([`crate::exec::kinds::check`]) runs one of two checkers over a sample of
//! the pack's tickers, one shard per batch of tickers, and stores a [`TickerCheck`] per ticker:
//!
//! - **Python** code runs `python -m quantd.lookahead` in the sandbox (`python/quantd/lookahead.py`
//!   describes the method): prefix invariance at every signal bar and at sampled other bars, the
//!   first differing cut searched for, how far ahead its first offending bar looks, and
//!   perturbation of future bars. Its report is untrusted and checked ([`crate::python`]).
//! - **Expression** code is proved clean by the language ([`STATIC_PROOF`]) and the proof is
//!   confirmed by the same prefix and perturbation checks, run natively ([`cuts`]).
//!
//! [`CheckReport::assemble`] turns the tickers' checks into the execution's verdict (`clean`,
//! `biased`, `inconclusive` with why), stored as its summary; [`CheckReport::markdown`] renders it.

pub mod cuts;
pub mod expr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Why expression code cannot look ahead, as the report states it.
pub const STATIC_PROOF: &str = "The expression language cannot read a later bar: it has no negative offsets (`shift(x, n)` takes a whole n >= 0), every indicator is a running computation over bars at or before the current one, and the session values (`day_high`, `day_low`, `vwap`, ...) are running values of the session so far.";

/// Cut points per ticker unless a request asks for another number.
pub const DEFAULT_CUTS: u32 = 200;
/// Most cut points per ticker a request may ask for.
pub const MAX_CUTS: u32 = 2_000;
/// Bars a cut leaves at least (code may refuse shorter histories).
pub const MIN_BARS: u32 = 50;
/// Tickers a check samples from its pack when the request names none.
pub const SAMPLE_TICKERS: usize = 50;
/// Most tickers one check may cover.
pub const MAX_TICKERS: usize = 500;
/// Cuts that may raise (as a share of the runs) before a check without findings is inconclusive.
const MAX_ERROR_SHARE: f64 = 0.1;
/// Tickers listed by name in a report's reasons at most.
const LISTED: usize = 10;

/// One ticker's check, as its shard stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TickerCheck {
    /// The ticker.
    pub ticker: String,
    /// Its bars.
    pub bars: u64,
    /// Cut points checked (prefix invariance).
    pub cuts: u64,
    /// Bars where a signal fired on the whole history.
    pub signal_bars: u64,
    /// Of those, how many were checked as cut points.
    pub signal_cuts: u64,
    /// Perturbed runs checked.
    pub perturbations: u64,
    /// Runs of the code in all.
    pub runs: u64,
    /// Runs that raised.
    pub errors: u64,
    /// The first error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Why the ticker was not checked, if it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// Two runs on the same bars that differed, if they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nondeterministic: Option<Difference>,
    /// The first look-ahead found, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub difference: Option<Difference>,
    /// Seconds the checker spent on the ticker.
    pub seconds: f64,
}

/// An output that changed: at bar `row` (`date`), column `column` read `full` on the whole
/// history and `cut` on the bars cut just after bar `cut_at` (or perturbed after it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Difference {
    /// The bar's row in the ticker's history (from 0).
    pub row: u64,
    /// The bar's date (or time, for an intraday pack).
    pub date: String,
    /// The output column.
    pub column: String,
    /// Its value on the whole history (bool, number, `"NaN"`, `"inf"`).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub full: Value,
    /// Its value on the cut (or perturbed, or second) run.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub cut: Value,
    /// The last bar the cut kept (or after which bars were perturbed).
    pub cut_at: u64,
    /// That bar's date.
    pub cut_date: String,
    /// `prefix`, `perturbation`, `appended bars`, or `second run` (non-determinism).
    pub found_by: String,
    /// Bars after `row` the output needs before it equals the whole history's (a prefix
    /// finding): how far ahead it looks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ahead: Option<u64>,
}

/// What a check concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CheckVerdict {
    /// No output changed when later bars were removed or changed.
    Clean,
    /// An output changed: the code reads bars it could not have known.
    Biased,
    /// The check could not decide (see the reasons).
    Inconclusive,
}

impl CheckVerdict {
    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clean => "clean",
            Self::Biased => "biased",
            Self::Inconclusive => "inconclusive",
        }
    }
}

/// The first look-ahead of a check, with its ticker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Finding {
    /// The ticker.
    pub ticker: String,
    /// What changed.
    #[serde(flatten)]
    pub difference: Difference,
}

/// A check execution's report (its summary).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckReport {
    /// The verdict.
    pub verdict: CheckVerdict,
    /// Why, in sentences.
    pub reasons: Vec<String>,
    /// `expression` or `python`.
    pub language: String,
    /// For expression code: why it cannot look ahead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_proof: Option<String>,
    /// Tickers in the check.
    pub tickers: u64,
    /// Of those, checked (not skipped).
    pub tickers_checked: u64,
    /// Bars of the checked tickers.
    pub bars: u64,
    /// Cut points checked.
    pub cuts: u64,
    /// Signal bars on the whole histories.
    pub signal_bars: u64,
    /// Signal bars checked as cut points.
    pub signal_cuts: u64,
    /// Perturbed runs checked.
    pub perturbations: u64,
    /// Runs of the code in all.
    pub runs: u64,
    /// Runs that raised.
    pub errors: u64,
    /// Tickers where look-ahead was found.
    pub biased_tickers: Vec<String>,
    /// The first look-ahead found (in ticker order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first: Option<Finding>,
    /// Seconds the checkers spent (summed over tickers).
    pub seconds: f64,
}

impl CheckReport {
    /// The report of the tickers' checks of `language` code (`expression` or `python`).
    pub fn assemble(language: &str, checks: &[TickerCheck]) -> CheckReport {
        let sum = |f: fn(&TickerCheck) -> u64| checks.iter().map(f).sum::<u64>();
        let checked: Vec<&TickerCheck> = checks.iter().filter(|c| c.skipped.is_none()).collect();
        let biased: Vec<&TickerCheck> = checks.iter().filter(|c| c.difference.is_some()).collect();
        let mut report = CheckReport {
            verdict: CheckVerdict::Clean,
            reasons: Vec::new(),
            language: language.to_string(),
            static_proof: (language == "expression").then(|| STATIC_PROOF.to_string()),
            tickers: checks.len() as u64,
            tickers_checked: checked.len() as u64,
            bars: checked.iter().map(|c| c.bars).sum(),
            cuts: sum(|c| c.cuts),
            signal_bars: sum(|c| c.signal_bars),
            signal_cuts: sum(|c| c.signal_cuts),
            perturbations: sum(|c| c.perturbations),
            runs: sum(|c| c.runs),
            errors: sum(|c| c.errors),
            biased_tickers: biased.iter().map(|c| c.ticker.clone()).collect(),
            first: biased.first().map(|c| Finding {
                ticker: c.ticker.clone(),
                difference: c.difference.clone().expect("filtered on difference"),
            }),
            seconds: checks.iter().map(|c| c.seconds).sum(),
        };
        report.decide(checks);
        report
    }

    fn decide(&mut self, checks: &[TickerCheck]) {
        if let Some(f) = &self.first {
            self.verdict = CheckVerdict::Biased;
            let d = &f.difference;
            self.reasons.push(format!(
                "{} of {} tickers read bars they could not have known; first: {} on {} (row {}), column `{}` is {} on the whole history but {} {}",
                self.biased_tickers.len(),
                self.tickers,
                f.ticker,
                d.date,
                d.row,
                d.column,
                shown_value(&d.full),
                shown_value(&d.cut),
                match d.found_by.as_str() {
                    "prefix" => format!("with the bars cut after {}", d.cut_date),
                    "appended bars" => "with extreme bars appended after the last".to_string(),
                    _ => format!("with the bars after {} changed", d.cut_date),
                },
            ));
            if let Some(k) = d.ahead {
                self.reasons.push(format!(
                    "that bar's output needs {k} later bar{} to match: the code looks {k} bar{} ahead",
                    if k == 1 { "" } else { "s" },
                    if k == 1 { "" } else { "s" },
                ));
            }
            return;
        }
        let unsure: Vec<&TickerCheck> = checks
            .iter()
            .filter(|c| c.nondeterministic.is_some())
            .collect();
        if let Some(c) = unsure.first() {
            let d = c.nondeterministic.as_ref().expect("filtered");
            self.verdict = CheckVerdict::Inconclusive;
            self.reasons.push(format!(
                "the code is not deterministic: two runs on the same bars of {} differ at {} in `{}` ({} then {}); make it deterministic (seed any randomness) and check again",
                c.ticker,
                d.date,
                d.column,
                shown_value(&d.full),
                shown_value(&d.cut)
            ));
            return;
        }
        if self.tickers_checked == 0 {
            self.verdict = CheckVerdict::Inconclusive;
            let why = checks
                .iter()
                .find_map(|c| c.skipped.clone())
                .unwrap_or_else(|| "no tickers".into());
            self.reasons.push(format!(
                "no ticker could be checked ({why}); check a pack or tickers with more than {MIN_BARS} bars"
            ));
            return;
        }
        if self.errors > 0 {
            let first = checks
                .iter()
                .find_map(|c| c.error.clone())
                .unwrap_or_default();
            let share = self.errors as f64 / self.runs.max(1) as f64;
            let line = format!(
                "{} of {} runs raised (first: {})",
                self.errors,
                self.runs,
                crate::python::shown(&first, 300)
            );
            if share > MAX_ERROR_SHARE {
                self.verdict = CheckVerdict::Inconclusive;
                self.reasons.push(format!(
                    "{line}: too many cuts were not checked; make the code handle short histories (return no signal instead of raising)"
                ));
                return;
            }
            self.reasons
                .push(format!("{line}; those cuts were not checked"));
        }
        let skipped: Vec<&str> = checks
            .iter()
            .filter(|c| c.skipped.is_some())
            .map(|c| c.ticker.as_str())
            .collect();
        if !skipped.is_empty() {
            self.reasons.push(format!(
                "{} ticker{} not checked (too short): {}",
                skipped.len(),
                if skipped.len() == 1 { "" } else { "s" },
                listed(&skipped)
            ));
        }
        self.reasons.push(format!(
            "no output changed at {} cut points ({} of {} signal bars among them) and {} perturbed runs over {} tickers",
            self.cuts, self.signal_cuts, self.signal_bars, self.perturbations, self.tickers_checked
        ));
        if self.signal_bars == 0 {
            self.reasons.push(
                "the code never fired on these tickers: only bars without a signal were cut; check tickers where it fires".into(),
            );
        }
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "# Look-ahead check: {}\n\n",
            self.verdict.as_str().to_uppercase()
        );
        for r in &self.reasons {
            s.push_str(&format!("- {r}\n"));
        }
        if let Some(p) = &self.static_proof {
            s.push_str(&format!("\n**Static proof.** {p}\n"));
        }
        s.push_str("\n| checked | |\n| --- | ---: |\n");
        for (k, v) in [
            ("language", self.language.clone()),
            (
                "tickers checked",
                format!("{} of {}", self.tickers_checked, self.tickers),
            ),
            ("bars", self.bars.to_string()),
            ("cut points", self.cuts.to_string()),
            (
                "signal bars cut",
                format!("{} of {}", self.signal_cuts, self.signal_bars),
            ),
            ("perturbed runs", self.perturbations.to_string()),
            ("runs of the code", self.runs.to_string()),
            ("runs that raised", self.errors.to_string()),
            ("checker time", format!("{:.2} s", self.seconds)),
        ] {
            s.push_str(&format!("| {k} | {v} |\n"));
        }
        if let Some(f) = &self.first {
            let d = &f.difference;
            s.push_str(&format!(
                "\n## First difference\n\n| ticker | bar | column | whole history | {} | cut after | looks ahead |\n| --- | --- | --- | ---: | ---: | --- | ---: |\n| {} | {} (row {}) | `{}` | {} | {} | {} | {} |\n",
                if d.found_by == "prefix" { "cut" } else { "perturbed" },
                f.ticker,
                d.date,
                d.row,
                d.column,
                shown_value(&d.full),
                shown_value(&d.cut),
                d.cut_date,
                d.ahead.map_or("-".to_string(), |k| format!("{k} bars")),
            ));
        }
        if self.biased_tickers.len() > 1 {
            let names: Vec<&str> = self.biased_tickers.iter().map(String::as_str).collect();
            s.push_str(&format!("\nBiased tickers: {}\n", listed(&names)));
        }
        s
    }
}

/// A cell value as a report shows it.
pub fn shown_value(v: &Value) -> String {
    match v {
        Value::Null => "missing".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| n.to_string(), |f| format!("{f:.6}"))
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string(),
        other => other.to_string(),
    }
}

fn listed(names: &[&str]) -> String {
    let mut s = names
        .iter()
        .take(LISTED)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > LISTED {
        s.push_str(&format!(" and {} more", names.len() - LISTED));
    }
    s
}

//! Validation of imported rows and the report users read when an import is refused.
//!
//! Every problem names where it is (the CSV line or the Parquet row), the column and the value,
//! and the report says how to proceed: fix the rows, or `--lenient` to drop them. Input quoted in
//! a problem is stored as [`crate::text::echo`] gives it (escaped, at most
//! [`crate::text::ECHO_CHARS`] characters), so a report stays a few KB whatever the input.

use crate::bars::{MAX_DATE, MIN_DATE};
use std::fmt;

/// How many problems a report shows in full; the rest are counted.
pub const SHOWN_PROBLEMS: usize = 20;

/// Where a row came from in the input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RowRef {
    /// A CSV line, 1-based, counting the header as line 1.
    Line(u64),
    /// A Parquet data row, 1-based.
    Row(u64),
}

impl fmt::Display for RowRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowRef::Line(n) => write!(f, "line {n}"),
            RowRef::Row(n) => write!(f, "row {n}"),
        }
    }
}

/// What is wrong with a row.
#[derive(Debug, Clone, PartialEq)]
pub enum ProblemKind {
    /// A value is not a number or not a date.
    Unparsable {
        /// The column (echoed).
        column: String,
        /// The text found (echoed).
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A local time that does not exist or occurs twice in the zone (daylight saving).
    LocalTime {
        /// The column (echoed).
        column: String,
        /// The text found (echoed).
        value: String,
        /// Which of the two, with how to fix it.
        fault: crate::time::TimeFault,
    },
    /// A date is outside [`MIN_DATE`] ..= [`MAX_DATE`].
    DateOutOfRange {
        /// The column (echoed).
        column: String,
        /// The value found (echoed).
        value: String,
    },
    /// A ticker symbol that cannot be stored.
    BadTicker {
        /// The ticker (echoed).
        value: String,
        /// What is wrong with it.
        fault: TickerFault,
    },
    /// The same (ticker, date) appears again; `first` is where it appeared first.
    Duplicate {
        /// The ticker.
        ticker: String,
        /// The date.
        date: String,
        /// The first occurrence.
        first: RowRef,
    },
    /// A price is zero or negative.
    NonPositivePrice {
        /// The column.
        column: &'static str,
        /// The value.
        value: f64,
    },
    /// `low` is above `open` or `close`.
    LowAboveBody {
        /// The low.
        low: f64,
        /// min(open, close).
        body_min: f64,
    },
    /// `high` is below `open` or `close`.
    HighBelowBody {
        /// The high.
        high: f64,
        /// max(open, close).
        body_max: f64,
    },
    /// Volume is negative.
    NegativeVolume {
        /// The value.
        value: f64,
    },
}

/// What is wrong with a ticker symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickerFault {
    /// It contains a control character (C0, DEL, C1) or a bidi control (U+202A–U+202E,
    /// U+2066–U+2069): see [`crate::text::is_unsafe_char`].
    Control(char),
    /// It is longer than the import limit `max_ticker_bytes`.
    TooLong {
        /// Its length in bytes.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// Its bytes are not UTF-8 text (a Parquet binary column).
    NotUtf8,
}

/// One problem at one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Where.
    pub at: RowRef,
    /// What.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.kind)
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::Unparsable {
                column,
                value,
                expected,
            } if value.is_empty() => write!(f, "column `{column}` is empty; expected {expected}"),
            ProblemKind::Unparsable {
                column,
                value,
                expected,
            } => write!(f, "column `{column}`: `{value}` is not {expected}"),
            ProblemKind::LocalTime {
                column,
                value,
                fault,
            } => write!(f, "column `{column}`: `{value}`: {fault}"),
            ProblemKind::DateOutOfRange { column, value } => write!(
                f,
                "column `{column}`: `{value}` is outside the supported dates {MIN_DATE} ..= {MAX_DATE}"
            ),
            ProblemKind::BadTicker { value, fault } => match fault {
                TickerFault::Control(c) => write!(
                    f,
                    "ticker `{value}` contains the control character U+{:04X}; tickers may not contain control or bidi characters",
                    u32::from(*c)
                ),
                TickerFault::TooLong { bytes, max } => write!(
                    f,
                    "ticker `{value}` is {bytes} bytes long; tickers are at most {max} bytes (import limit `max_ticker_bytes`)"
                ),
                TickerFault::NotUtf8 => write!(f, "ticker `{value}` is not valid UTF-8 text"),
            },
            ProblemKind::Duplicate {
                ticker,
                date,
                first,
            } => write!(f, "duplicate bar for {ticker} on {date} (first at {first})"),
            ProblemKind::NonPositivePrice { column, value } => {
                write!(f, "column `{column}`: price {value} is not positive")
            }
            ProblemKind::LowAboveBody { low, body_min } => {
                write!(f, "low {low} is above min(open, close) = {body_min}")
            }
            ProblemKind::HighBelowBody { high, body_max } => {
                write!(f, "high {high} is below max(open, close) = {body_max}")
            }
            ProblemKind::NegativeVolume { value } => {
                write!(f, "column `volume`: {value} is negative")
            }
        }
    }
}

/// Problems found in an input, kept in input order; at most [`SHOWN_PROBLEMS`] in full.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ValidationReport {
    /// The input file's name, for the heading.
    pub source: String,
    /// The first problems, in row order.
    pub shown: Vec<Problem>,
    /// How many problems there are in all.
    pub total: usize,
    /// How many distinct rows have problems.
    pub bad_rows: usize,
}

impl ValidationReport {
    /// Sorts the shown problems by row and keeps the first [`SHOWN_PROBLEMS`].
    pub(crate) fn from_problems(
        source: String,
        mut problems: Vec<Problem>,
        bad_rows: usize,
    ) -> Self {
        problems.sort_by_key(|p| p.at);
        let total = problems.len();
        problems.truncate(SHOWN_PROBLEMS);
        ValidationReport {
            source,
            shown: problems,
            total,
            bad_rows,
        }
    }
}

impl fmt::Display for ValidationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "import of `{}` refused: {} problem{} in {} row{}; nothing was imported",
            self.source,
            self.total,
            if self.total == 1 { "" } else { "s" },
            self.bad_rows,
            if self.bad_rows == 1 { "" } else { "s" },
        )?;
        for p in &self.shown {
            writeln!(f, "  {p}")?;
        }
        if self.total > self.shown.len() {
            writeln!(f, "  … and {} more", self.total - self.shown.len())?;
        }
        write!(
            f,
            "  help: fix these rows, or pass --lenient to drop them (the pack records how many were dropped)"
        )
    }
}

/// What is wrong with a ticker symbol (already trimmed), if anything: longer than `max_bytes`,
/// or holding a character a terminal acts on.
pub fn ticker_fault(ticker: &str, max_bytes: usize) -> Option<TickerFault> {
    if ticker.len() > max_bytes {
        return Some(TickerFault::TooLong {
            bytes: ticker.len(),
            max: max_bytes,
        });
    }
    ticker
        .chars()
        .find(|&c| crate::text::is_unsafe_char(c))
        .map(TickerFault::Control)
}

/// Checks the price and volume rules of one bar, pushing a problem for each broken rule.
/// Returns whether the bar is valid.
pub(crate) fn check_bar(at: RowRef, ohlcv: [f64; 5], out: &mut Vec<Problem>) -> bool {
    let [open, high, low, close, volume] = ohlcv;
    let before = out.len();
    for (column, value) in [
        ("open", open),
        ("high", high),
        ("low", low),
        ("close", close),
    ] {
        if value <= 0.0 {
            out.push(Problem {
                at,
                kind: ProblemKind::NonPositivePrice { column, value },
            });
        }
    }
    let body_min = open.min(close);
    let body_max = open.max(close);
    if low > body_min {
        out.push(Problem {
            at,
            kind: ProblemKind::LowAboveBody { low, body_min },
        });
    }
    if high < body_max {
        out.push(Problem {
            at,
            kind: ProblemKind::HighBelowBody { high, body_max },
        });
    }
    if volume < 0.0 {
        out.push(Problem {
            at,
            kind: ProblemKind::NegativeVolume { value: volume },
        });
    }
    out.len() == before
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_bar_has_no_problems() {
        let mut v = vec![];
        assert!(check_bar(
            RowRef::Line(2),
            [10.0, 11.0, 9.0, 10.5, 100.0],
            &mut v
        ));
        assert!(v.is_empty());
    }

    #[test]
    fn every_rule_reports_its_own_problem() {
        let mut v = vec![];
        assert!(!check_bar(
            RowRef::Row(7),
            [-1.0, 0.5, 2.0, 1.0, -5.0],
            &mut v
        ));
        let text: Vec<_> = v.iter().map(|p| p.to_string()).collect();
        assert_eq!(
            text,
            [
                "row 7: column `open`: price -1 is not positive",
                "row 7: low 2 is above min(open, close) = -1",
                "row 7: high 0.5 is below max(open, close) = 1",
                "row 7: column `volume`: -5 is negative",
            ]
        );
    }

    #[test]
    fn the_report_shows_twenty_and_counts_the_rest() {
        let problems: Vec<_> = (0..25)
            .rev()
            .map(|i| Problem {
                at: RowRef::Line(i + 2),
                kind: ProblemKind::NegativeVolume { value: -1.0 },
            })
            .collect();
        let r = ValidationReport::from_problems("x.csv".into(), problems, 25);
        assert_eq!(r.shown.len(), SHOWN_PROBLEMS);
        assert_eq!(r.shown[0].at, RowRef::Line(2));
        let text = r.to_string();
        assert!(text.contains("… and 5 more"), "{text}");
        assert!(text.contains("--lenient"));
    }
}

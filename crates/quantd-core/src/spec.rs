//! What an execution is asked to do: its kind, its code, its universe, its dates, its pack and
//! its parameters.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// The kinds of execution (see DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionKind {
    /// Mark (ticker, date) rows where a scanner's setup occurs.
    Scan,
    /// Run a scanner on example names and compare with expected hits.
    Test,
    /// Trade a strategy's signals and measure the result.
    Backtest,
    /// Backtest a parameter grid.
    Sweep,
    /// Run a whole bot script.
    Run,
    /// A DAG of steps.
    Pattern,
    /// Import an uploaded file as a data pack.
    Import,
}

impl ExecutionKind {
    /// The kind's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scan => "scan",
            Self::Test => "test",
            Self::Backtest => "backtest",
            Self::Sweep => "sweep",
            Self::Run => "run",
            Self::Pattern => "pattern",
            Self::Import => "import",
        }
    }
}

impl fmt::Display for ExecutionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which code an execution runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CodeRef {
    /// An expression given inline.
    Expression {
        /// The expression source.
        source: String,
    },
    /// A stored scanner or strategy: its name and optionally a version (latest when absent).
    Named {
        /// The code's name.
        name: String,
        /// Version number, from 1.
        version: Option<u32>,
    },
}

/// The tickers an execution covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "type", content = "value", rename_all = "snake_case")]
pub enum Universe {
    /// Every ticker of the pack.
    #[default]
    All,
    /// An explicit list of tickers.
    List(Vec<String>),
    /// A named list stored by the user.
    Named(String),
}

/// A request to run something.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionSpec {
    /// What kind of work.
    pub kind: ExecutionKind,
    /// The code to run.
    pub code: CodeRef,
    /// The tickers to cover.
    #[serde(default)]
    pub universe: Universe,
    /// First date included (inclusive), if limited.
    pub from: Option<chrono::NaiveDate>,
    /// Last date included (inclusive), if limited.
    pub to: Option<chrono::NaiveDate>,
    /// Pack name or id; the newest fresh pack when absent.
    pub pack: Option<String>,
    /// Parameter values for `$name` placeholders.
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
}

impl ExecutionSpec {
    /// Checks rules that need no data: a date window that is not empty.
    pub fn validate(&self) -> Result<(), String> {
        if let (Some(from), Some(to)) = (self.from, self.to)
            && from > to
        {
            return Err(format!(
                "`from` ({from}) is after `to` ({to}); swap them or widen the window"
            ));
        }
        if let Universe::List(tickers) = &self.universe
            && tickers.is_empty()
        {
            return Err("the ticker list is empty; name at least one ticker or use `all`".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ExecutionSpec {
        ExecutionSpec {
            kind: ExecutionKind::Scan,
            code: CodeRef::Expression {
                source: "close > 1".into(),
            },
            universe: Universe::All,
            from: None,
            to: None,
            pack: None,
            params: BTreeMap::new(),
        }
    }

    #[test]
    fn an_inverted_date_window_is_rejected_with_a_fix() {
        let mut s = spec();
        s.from = chrono::NaiveDate::from_ymd_opt(2024, 2, 1);
        s.to = chrono::NaiveDate::from_ymd_opt(2024, 1, 1);
        let err = s.validate().unwrap_err();
        assert!(err.contains("swap them"), "{err}");
        s.to = s.from;
        assert!(s.validate().is_ok());
    }

    #[test]
    fn an_empty_ticker_list_is_rejected() {
        let mut s = spec();
        s.universe = Universe::List(vec![]);
        assert!(s.validate().is_err());
    }

    #[test]
    fn specs_round_trip_through_json() {
        let mut s = spec();
        s.universe = Universe::List(vec!["AAPL".into()]);
        s.params.insert("rsi_max".into(), 30.0);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<ExecutionSpec>(&json).unwrap(), s);
    }
}

//! The kinds of execution that exist: [`ExecutionKind`], with the one list of their names
//! ([`ExecutionKind::ALL`]) that surfaces offer and parse (list filters, `--kind`).
//!
//! What an execution is asked to do (its code, pack, tickers, dates, parameters) is the engine's
//! request type, `quantd_engine::exec::request::SubmitRequest`, and what each kind does is one
//! module of the engine (`quantd_engine::exec::kinds`); this crate only names the kinds.
//! Kinds DESIGN.md plans (`paper`) are added here when they can
//! run, so no surface offers one that cannot occur; the enum is `#[non_exhaustive]` so that
//! adding one does not break a surface's `match`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The kinds of execution (see DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
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
    /// Import an uploaded file as a data pack (started by an upload, not by a submit request).
    Import,
    /// Run a stored pattern: a DAG of steps, each a child execution (or a select or an agent call).
    Pattern,
    /// Check a scanner or strategy for look-ahead (prefix invariance and perturbation).
    Check,
    /// Evaluate a scanner or strategy: static checks, runs, sanity, robustness, a score.
    Evaluate,
    /// Trade a class strategy on paper: a pack replayed bar by bar at a chosen speed, its
    /// orders and fills recorded as they happen.
    Paper,
    /// A paper session following a pack's new bars whose book is mirrored to a broker account
    /// (Alpaca): real orders. Allowed per workspace by the operator and confirmed per request.
    Live,
}

impl ExecutionKind {
    /// Every kind, in the order surfaces list them.
    pub const ALL: [ExecutionKind; 11] = [
        Self::Scan,
        Self::Test,
        Self::Backtest,
        Self::Sweep,
        Self::Run,
        Self::Import,
        Self::Pattern,
        Self::Check,
        Self::Evaluate,
        Self::Paper,
        Self::Live,
    ];

    /// Whether one shard of the kind may hold its worker for hours or days: a bot script
    /// (`run`, up to its timeout) and a trading session (`paper`, `live`, which wait for bars).
    /// Every other kind's shards are bounded work. A pool keeps a worker for bounded work, so
    /// long work cannot take every worker (docs/limits.md, "Workers").
    pub fn is_long(self) -> bool {
        matches!(self, Self::Run | Self::Paper | Self::Live)
    }

    /// The kind's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scan => "scan",
            Self::Test => "test",
            Self::Backtest => "backtest",
            Self::Sweep => "sweep",
            Self::Run => "run",
            Self::Import => "import",
            Self::Pattern => "pattern",
            Self::Check => "check",
            Self::Evaluate => "evaluate",
            Self::Paper => "paper",
            Self::Live => "live",
        }
    }
}

impl fmt::Display for ExecutionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an [`ExecutionKind`]; its message lists the kinds there are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown execution kind `{name}`; use one of {}", kind_names())]
pub struct UnknownKind {
    /// The name given.
    pub name: String,
}

fn kind_names() -> String {
    ExecutionKind::ALL.map(ExecutionKind::as_str).join(", ")
}

impl std::str::FromStr for ExecutionKind {
    type Err = UnknownKind;

    /// A kind by its stable name (`scan`, `test`, …), as [`ExecutionKind::as_str`] writes it.
    fn from_str(s: &str) -> Result<Self, UnknownKind> {
        ExecutionKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind {
                name: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fails to compile when a kind is added without a place here, so `ALL` stays complete.
    fn listed(kind: ExecutionKind) -> bool {
        match kind {
            ExecutionKind::Scan
            | ExecutionKind::Test
            | ExecutionKind::Backtest
            | ExecutionKind::Sweep
            | ExecutionKind::Run
            | ExecutionKind::Import
            | ExecutionKind::Pattern
            | ExecutionKind::Check
            | ExecutionKind::Evaluate
            | ExecutionKind::Paper
            | ExecutionKind::Live => ExecutionKind::ALL.contains(&kind),
        }
    }

    #[test]
    fn every_kind_is_listed_once_and_its_names_agree() {
        for kind in ExecutionKind::ALL {
            assert!(listed(kind));
            assert_eq!(ExecutionKind::ALL.iter().filter(|k| **k == kind).count(), 1);
            let serde_name = serde_json::to_value(kind).unwrap();
            assert_eq!(serde_name, kind.as_str(), "serde and as_str agree");
            assert_eq!(kind.as_str().parse::<ExecutionKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
    }

    #[test]
    fn kinds_that_cannot_occur_are_not_offered() {
        // A kind is declared only once something runs it (`pattern` once was before: a list
        // filter offered and accepted a kind no execution could have).
        let planned = "optimize";
        let err = planned.parse::<ExecutionKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown execution kind `optimize`; use one of scan, test, backtest, sweep, run, import, pattern, check, evaluate, paper, live"
        );
        assert!(
            serde_json::from_value::<ExecutionKind>(serde_json::json!(planned)).is_err(),
            "`{planned}` deserializes"
        );
    }
}

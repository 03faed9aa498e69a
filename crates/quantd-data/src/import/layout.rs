//! Maps an input header to quantd's columns: case-insensitive names, a few aliases, a pandas
//! date index, the ticker from a column or from `--ticker`.

use crate::bars::BASE_COLUMNS;
use crate::error::{DataError, Result};
use crate::text::echo;

/// Header names an error message lists before counting the rest.
const LISTED_NAMES: usize = 20;

/// Names accepted for the ticker column (lowercase).
const TICKER_NAMES: [&str; 2] = ["ticker", "symbol"];
/// Names accepted for the date column (lowercase). `""` is the unnamed first column pandas writes
/// for an index without a name; `__index_level_0__` is how pyarrow stores such an index.
const DATE_NAMES: [&str; 5] = ["date", "datetime", "timestamp", "time", "__index_level_0__"];

/// Where each of quantd's columns is in the input.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// The ticker column, or `None` when the whole file is one ticker (`--ticker`).
    pub ticker: Option<usize>,
    /// The date column.
    pub date: usize,
    /// `open high low close volume`.
    pub base: [usize; 5],
    /// Extra numeric columns: normalized name and position.
    pub extras: Vec<(String, usize)>,
}

/// Normalizes a header name: trimmed, lowercase, runs of other characters than letters, digits and
/// `_` turned into one `_` (so `Adj Close` becomes `adj_close`, usable in expressions).
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for ch in name.trim().chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_alphanumeric() || ch == '_' {
            out.push(ch);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    out.trim_matches('_').to_string()
}

impl Layout {
    /// Builds the layout from header names, or explains what is missing and how to fix it.
    /// `source` names the file in messages.
    pub fn from_header(
        source: &str,
        header: &[String],
        ticker_flag: Option<&str>,
    ) -> Result<Layout> {
        let names: Vec<String> = header
            .iter()
            .map(|h| {
                let t = h.trim().to_ascii_lowercase();
                if t == "__index_level_0__" {
                    t
                } else {
                    normalize(h)
                }
            })
            .collect();
        let find =
            |candidates: &[&str]| names.iter().position(|n| candidates.contains(&n.as_str()));
        let ticker = find(&TICKER_NAMES);
        let date = find(&DATE_NAMES)
            .or_else(|| (names.first().is_some_and(|n| n.is_empty())).then_some(0));
        let mut missing: Vec<&str> = Vec::new();
        if date.is_none() {
            missing.push("date");
        }
        let mut base = [0usize; 5];
        for (slot, want) in base.iter_mut().zip(BASE_COLUMNS) {
            match names.iter().position(|n| n == want) {
                Some(i) => *slot = i,
                None => missing.push(want),
            }
        }
        match (ticker, ticker_flag) {
            (None, None) => missing.insert(0, "ticker"),
            (Some(_), Some(flag)) => {
                return Err(DataError::Input {
                    what: format!(
                        "`{source}` has a ticker column, and --ticker {} was given too",
                        echo(flag)
                    ),
                    fix: "drop --ticker (it is only for files of a single ticker without a ticker column)".into(),
                });
            }
            _ => {}
        }
        let Some(date) = date.filter(|_| missing.is_empty()) else {
            let mut fix = format!(
                "the header must name ticker,date,open,high,low,close,volume (any case, any order); found: {}",
                listed(header)
            );
            if missing.first() == Some(&"ticker") {
                fix.push_str("; for a file of one ticker, pass --ticker SYMBOL");
            }
            return Err(DataError::Input {
                what: format!(
                    "`{source}` is missing required column{} {}",
                    if missing.len() == 1 { "" } else { "s" },
                    missing
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                fix,
            });
        };
        let used: Vec<usize> = base.iter().copied().chain([date]).chain(ticker).collect();
        let mut extras = Vec::new();
        for (i, n) in names.iter().enumerate() {
            if used.contains(&i) {
                continue;
            }
            if n.is_empty() {
                return Err(DataError::Input {
                    what: format!("`{source}`: column {} has no name", i.saturating_add(1)),
                    fix: "name every column in the header, or remove the unnamed one".into(),
                });
            }
            if extras.iter().any(|(e, _): &(String, usize)| e == n)
                || used.iter().any(|&u| &names[u] == n)
            {
                return Err(DataError::Input {
                    what: format!(
                        "`{source}`: column `{}` appears twice (names are case-insensitive)",
                        echo(n)
                    ),
                    fix: "rename or remove one of them".into(),
                });
            }
            extras.push((n.clone(), i));
        }
        Ok(Layout {
            ticker,
            date,
            base,
            extras,
        })
    }

    /// Names of the extra columns, in input order.
    pub fn extra_names(&self) -> Vec<String> {
        self.extras.iter().map(|(n, _)| n.clone()).collect()
    }
}

/// The first [`LISTED_NAMES`] header names, quoted and echoed, then a count of the rest.
fn listed(header: &[String]) -> String {
    let mut out: Vec<String> = header
        .iter()
        .take(LISTED_NAMES)
        .map(|h| format!("`{}`", echo(h)))
        .collect();
    if header.len() > LISTED_NAMES {
        out.push(format!("… and {} more", header.len() - LISTED_NAMES));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(s: &str) -> Vec<String> {
        s.split(',').map(str::to_string).collect()
    }

    #[test]
    fn names_are_case_insensitive_and_extras_normalized() {
        let l = Layout::from_header(
            "f",
            &header("Ticker,DATE,Open,High,Low,Close,Volume,Adj Close"),
            None,
        )
        .unwrap();
        assert_eq!(l.ticker, Some(0));
        assert_eq!(l.date, 1);
        assert_eq!(l.base, [2, 3, 4, 5, 6]);
        assert_eq!(l.extras, vec![("adj_close".to_string(), 7)]);
    }

    #[test]
    fn a_pandas_index_column_is_the_date() {
        let l =
            Layout::from_header("f", &header(",Open,High,Low,Close,Volume"), Some("GOOG")).unwrap();
        assert_eq!((l.ticker, l.date), (None, 0));
        let l = Layout::from_header(
            "f",
            &header("open,high,low,close,volume,__index_level_0__"),
            Some("X"),
        )
        .unwrap();
        assert_eq!(l.date, 5);
    }

    #[test]
    fn missing_columns_are_named_with_a_fix() {
        let e = Layout::from_header("f.csv", &header("date,open,close"), None)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("missing required columns `ticker`, `high`, `low`, `volume`"),
            "{e}"
        );
        assert!(e.contains("--ticker SYMBOL"), "{e}");
    }

    #[test]
    fn ticker_flag_and_ticker_column_conflict() {
        let e = Layout::from_header(
            "f",
            &header("ticker,date,open,high,low,close,volume"),
            Some("X"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("drop --ticker"));
    }

    #[test]
    fn duplicate_names_are_refused() {
        let e = Layout::from_header(
            "f",
            &header("ticker,date,open,high,low,close,volume,x,X"),
            None,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`x` appears twice"), "{e}");
    }
}

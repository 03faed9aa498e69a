//! [`BarTable`]: bars in memory, columnar, sorted by (ticker, date), with a ticker → row-range
//! index. Import produces one, the pack writer stores one, synthetic universes generate one.

use crate::error::{DataError, Result};
use chrono::NaiveDate;

/// The price and volume columns every pack has, in canonical order (after `date`).
pub const BASE_COLUMNS: [&str; 5] = ["open", "high", "low", "close", "volume"];

/// Days since 1970-01-01 (the Arrow `Date32` representation).
pub type Day = i32;

/// Converts a date to [`Day`].
pub fn day_from_date(d: NaiveDate) -> Day {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as Day
}

/// Converts a [`Day`] back to a date.
pub fn date_from_day(day: Day) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::TimeDelta::days(day as i64)
}

/// Bars of many tickers, columnar, sorted by ticker name then date, dates unique per ticker.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarTable {
    /// Ticker symbols, sorted ascending (byte order).
    pub tickers: Vec<String>,
    /// Row ranges: ticker `i` owns rows `offsets[i]..offsets[i + 1]`; `offsets.len() == tickers.len() + 1`.
    pub offsets: Vec<usize>,
    /// The date of each row.
    pub dates: Vec<Day>,
    /// Columns in canonical order: `open high low close volume`, then extra columns sorted by name.
    pub columns: Vec<Column>,
}

/// One named numeric column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Lowercase column name.
    pub name: String,
    /// One value per row.
    pub values: Vec<f64>,
}

impl BarTable {
    /// Number of rows (bars).
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// The rows of ticker number `i`.
    pub fn range(&self, i: usize) -> std::ops::Range<usize> {
        self.offsets[i]..self.offsets[i + 1]
    }

    /// Column names in canonical order.
    pub fn column_names(&self) -> impl Iterator<Item = &str> {
        self.columns.iter().map(|c| c.name.as_str())
    }

    /// A column by name.
    pub fn column(&self, name: &str) -> Option<&[f64]> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.values.as_slice())
    }

    /// Checks the structural invariants (sorted unique tickers, consistent offsets, column
    /// lengths, strictly increasing dates per ticker). Import and synthesis guarantee them; this
    /// guards data built elsewhere.
    pub fn check_invariants(&self) -> Result<()> {
        let fail = |m: String| {
            Err(DataError::Input {
                what: format!("bar table is inconsistent: {m}"),
                fix: "build the table through import or synth".into(),
            })
        };
        if self.offsets.len() != self.tickers.len() + 1
            || self.offsets.first() != Some(&0)
            || self.offsets.last() != Some(&self.len())
        {
            return fail("offsets do not cover the rows".into());
        }
        if self.tickers.windows(2).any(|w| w[0] >= w[1]) {
            return fail("tickers are not sorted and unique".into());
        }
        for (i, c) in self.columns.iter().enumerate() {
            if c.values.len() != self.len() {
                return fail(format!(
                    "column `{}` has {} values for {} rows",
                    c.name,
                    c.values.len(),
                    self.len()
                ));
            }
            if i < BASE_COLUMNS.len() && c.name != BASE_COLUMNS[i] {
                return fail(format!(
                    "column {i} is `{}`, expected `{}`",
                    c.name, BASE_COLUMNS[i]
                ));
            }
        }
        if self.columns.len() < BASE_COLUMNS.len() {
            return fail("missing base columns".into());
        }
        for i in 0..self.tickers.len() {
            let r = self.range(i);
            if r.start > r.end || self.dates[r].windows(2).any(|w| w[0] >= w[1]) {
                return fail(format!(
                    "dates of `{}` are not strictly increasing",
                    self.tickers[i]
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_conversion_round_trips() {
        for (y, m, d) in [(1970, 1, 1), (2004, 8, 19), (1960, 2, 29), (2100, 12, 31)] {
            let date = NaiveDate::from_ymd_opt(y, m, d).unwrap();
            assert_eq!(date_from_day(day_from_date(date)), date);
        }
        assert_eq!(
            day_from_date(NaiveDate::from_ymd_opt(1970, 1, 2).unwrap()),
            1
        );
    }
}

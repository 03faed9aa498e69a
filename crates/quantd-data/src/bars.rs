//! [`BarTable`]: bars in memory, columnar, sorted by (ticker, instant), with a ticker → row-range
//! index and the [`Calendar`] its instants read by. Import produces one, the pack writer stores
//! one, synthetic universes generate one.

use crate::error::{DataError, Result};
use crate::time::{Calendar, Stamp};
use chrono::{Datelike, NaiveDate};

/// The price and volume columns every pack has, in canonical order (after the bar's instant).
pub const BASE_COLUMNS: [&str; 5] = ["open", "high", "low", "close", "volume"];

/// Days since 1970-01-01 (the Arrow `Date32` representation). Every day a pack holds lies in
/// [`MIN_DAY`]`..=`[`MAX_DAY`]; values read from untrusted sources go through [`checked_day`].
pub type Day = i32;

/// The earliest date a pack may hold: 1800-01-01 (before any exchange's daily data; earlier dates
/// are almost always a broken year, like `0024` for `2024`).
pub const MIN_DATE: NaiveDate = match NaiveDate::from_ymd_opt(1800, 1, 1) {
    Some(d) => d,
    None => panic!("1800-01-01 is a date"),
};
/// The latest date a pack may hold: 2262-04-11, the last day whose start a bar's instant
/// ([`crate::time::Stamp`], nanoseconds since 1970 in an `i64`) can hold.
pub const MAX_DATE: NaiveDate = match NaiveDate::from_ymd_opt(2262, 4, 11) {
    Some(d) => d,
    None => panic!("2262-04-11 is a date"),
};
/// [`MIN_DATE`] as a [`Day`].
pub const MIN_DAY: Day = -62_091;
/// [`MAX_DATE`] as a [`Day`].
pub const MAX_DAY: Day = 106_751;
/// Days from 0001-01-01 (chrono's day 1 of the common era) to 1970-01-01.
const EPOCH_FROM_CE: i32 = 719_163;

/// A day outside [`MIN_DATE`]`..=`[`MAX_DATE`], with the raw value that was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "day {day} (days since 1970-01-01) is outside the supported dates {MIN_DATE} ..= {MAX_DATE}"
)]
pub struct DayOutOfRange {
    /// The value that was out of range, in days since 1970-01-01.
    pub day: i64,
}

/// `raw` (days since 1970-01-01, e.g. an Arrow `Date32` read from a file or a job's output) as a
/// [`Day`], if it is within [`MIN_DAY`]`..=`[`MAX_DAY`]. Call this on every date from outside.
pub fn checked_day(raw: i64) -> Result<Day, DayOutOfRange> {
    match Day::try_from(raw) {
        Ok(day) if (MIN_DAY..=MAX_DAY).contains(&day) => Ok(day),
        _ => Err(DayOutOfRange { day: raw }),
    }
}

/// Converts a date to [`Day`]. Total: every [`NaiveDate`] fits (chrono's dates span about
/// ±95 million days); use [`checked_day_from_date`] when the result must be a pack's day.
pub fn day_from_date(d: NaiveDate) -> Day {
    d.num_days_from_ce() - EPOCH_FROM_CE
}

/// Converts a date to [`Day`], refusing dates outside [`MIN_DATE`]`..=`[`MAX_DATE`].
pub fn checked_day_from_date(d: NaiveDate) -> Result<Day, DayOutOfRange> {
    checked_day(i64::from(day_from_date(d)))
}

/// Converts a [`Day`] back to a date, or says that it is outside [`MIN_DATE`]`..=`[`MAX_DATE`].
pub fn try_date_from_day(day: Day) -> Result<NaiveDate, DayOutOfRange> {
    checked_day(i64::from(day))?;
    NaiveDate::from_num_days_from_ce_opt(day + EPOCH_FROM_CE).ok_or(DayOutOfRange {
        day: i64::from(day),
    })
}

/// Converts a [`Day`] back to a date. Total: a day within [`MIN_DAY`]`..=`[`MAX_DAY`] (all that
/// checked input holds) converts exactly, any other day as far as chrono can represent it, and
/// beyond that to chrono's first or last date — never a panic. Use [`try_date_from_day`] to
/// detect out-of-range days.
pub fn date_from_day(day: Day) -> NaiveDate {
    day.checked_add(EPOCH_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .unwrap_or(if day < 0 {
            NaiveDate::MIN
        } else {
            NaiveDate::MAX
        })
}

/// Bars of many tickers, columnar, sorted by ticker name then instant, instants unique per ticker.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BarTable {
    /// Ticker symbols, sorted ascending (byte order).
    pub tickers: Vec<String>,
    /// Row ranges: ticker `i` owns rows `offsets[i]..offsets[i + 1]`; `offsets.len() == tickers.len() + 1`.
    pub offsets: Vec<usize>,
    /// The instant of each row (a daily bar's is its date at 00:00 UTC).
    pub stamps: Vec<Stamp>,
    /// How the instants read: interval, zone, daily or intraday.
    pub calendar: Calendar,
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
        self.stamps.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.stamps.is_empty()
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
    /// lengths, strictly increasing instants per ticker). Import and synthesis guarantee them; this
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
            if r.start > r.end || self.stamps[r].windows(2).any(|w| w[0] >= w[1]) {
                return fail(format!(
                    "instants of `{}` are not strictly increasing",
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

    #[test]
    fn the_range_constants_agree_with_the_dates() {
        assert_eq!(day_from_date(MIN_DATE), MIN_DAY);
        assert_eq!(day_from_date(MAX_DATE), MAX_DAY);
        assert_eq!(try_date_from_day(MIN_DAY), Ok(MIN_DATE));
        assert_eq!(try_date_from_day(MAX_DAY), Ok(MAX_DATE));
    }

    #[test]
    fn every_day_converts_without_panicking() {
        for raw in [
            i64::MIN,
            i64::from(i32::MIN),
            i64::from(MIN_DAY) - 1,
            i64::from(MAX_DAY) + 1,
            i64::from(i32::MAX),
            i64::MAX,
        ] {
            let e = checked_day(raw).unwrap_err();
            assert!(e.to_string().contains("1800-01-01 ..= 2262-04-11"), "{e}");
        }
        for day in [i32::MIN, MIN_DAY - 1, MAX_DAY + 1, i32::MAX] {
            assert!(try_date_from_day(day).is_err(), "{day}");
            let _ = date_from_day(day);
        }
        assert_eq!(date_from_day(i32::MAX), NaiveDate::MAX);
        assert_eq!(date_from_day(i32::MIN), NaiveDate::MIN);
        assert_eq!(checked_day(0), Ok(0));
        assert!(checked_day_from_date(NaiveDate::from_ymd_opt(1799, 12, 31).unwrap()).is_err());
        assert!(checked_day_from_date(NaiveDate::MAX).is_err());
    }
}

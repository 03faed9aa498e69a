//! Days since 1970-01-01 (the bars' time) as calendar dates: conversion, weekdays, the
//! resampling periods backtesting.py annualizes with, and a serde format that writes a day as
//! `"YYYY-MM-DD"`.

use chrono::{Datelike, NaiveDate};

/// 1970-01-01.
const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => unreachable!(),
};

/// The calendar date of `days` since 1970-01-01 (every `i32` is in chrono's range).
pub fn date(days: i32) -> NaiveDate {
    EPOCH + chrono::Duration::days(i64::from(days))
}

/// Days since 1970-01-01 of `date`, `None` outside the `i32` range.
pub fn days(date: NaiveDate) -> Option<i32> {
    i32::try_from((date - EPOCH).num_days()).ok()
}

/// Day of the week, Monday = 0 … Sunday = 6 (pandas' `dayofweek`); 1970-01-01 was a Thursday.
pub fn weekday(days: i32) -> u32 {
    (i64::from(days) + 3).rem_euclid(7) as u32
}

/// The period backtesting.py resamples the equity curve by before computing period returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Period {
    /// Calendar days (`'D'`).
    Day,
    /// Weeks ending on Sunday (`'W'`).
    Week,
    /// Calendar months (`'ME'`).
    Month,
    /// Calendar years (`'YE'`).
    Year,
}

impl Period {
    /// A key that is equal for two days exactly when they fall in the same period.
    pub(crate) fn key(self, day: i32) -> i64 {
        match self {
            Period::Day => i64::from(day),
            // The Sunday that ends the week.
            Period::Week => i64::from(day) + i64::from(6 - weekday(day)),
            Period::Month => {
                let d = date(day);
                i64::from(d.year()) * 12 + i64::from(d.month0())
            }
            Period::Year => i64::from(date(day).year()),
        }
    }
}

/// Serde format of a day (days since 1970-01-01) as an ISO date `"YYYY-MM-DD"`.
pub mod serde_day {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the day as `"YYYY-MM-DD"`.
    pub fn serialize<S: Serializer>(day: &i32, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&super::date(*day).format("%Y-%m-%d"))
    }

    /// Reads a `"YYYY-MM-DD"` date.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
        let text = String::deserialize(d)?;
        let date = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d")
            .map_err(|e| serde::de::Error::custom(format!("date `{text}`: {e}")))?;
        super::days(date)
            .ok_or_else(|| serde::de::Error::custom(format!("date `{text}` out of range")))
    }
}

/// Serde format of an `f64` that writes `NaN` as `null` and reads `null` back as `NaN`.
pub(crate) mod serde_nan {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_nan() {
            s.serialize_none()
        } else {
            s.serialize_f64(*v)
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates() {
        assert_eq!(date(0), NaiveDate::from_ymd_opt(1970, 1, 1).unwrap());
        let d = NaiveDate::from_ymd_opt(2004, 8, 19).unwrap();
        assert_eq!(date(days(d).unwrap()), d);
        assert_eq!(weekday(0), 3); // Thursday
        assert_eq!(weekday(days(d).unwrap()), 3); // 2004-08-19 was a Thursday
        assert_eq!(weekday(-1), 2);
    }

    #[test]
    fn period_keys() {
        let d = |y, m, dd| days(NaiveDate::from_ymd_opt(y, m, dd).unwrap()).unwrap();
        // 2024-01-07 is a Sunday: Monday the 1st through Sunday the 7th are one week.
        assert_eq!(
            Period::Week.key(d(2024, 1, 1)),
            Period::Week.key(d(2024, 1, 7))
        );
        assert_ne!(
            Period::Week.key(d(2024, 1, 7)),
            Period::Week.key(d(2024, 1, 8))
        );
        assert_eq!(
            Period::Month.key(d(2024, 1, 1)),
            Period::Month.key(d(2024, 1, 31))
        );
        assert_ne!(
            Period::Month.key(d(2024, 1, 31)),
            Period::Month.key(d(2024, 2, 1))
        );
        assert_eq!(
            Period::Year.key(d(2024, 1, 1)),
            Period::Year.key(d(2024, 12, 31))
        );
    }
}

//! The bars' instants (nanoseconds since 1970-01-01 00:00 UTC; a daily bar's is its date at
//! 00:00) as calendar dates and times: conversion, weekdays, the resampling periods
//! backtesting.py annualizes with, the resolution it rounds mean durations to, and a serde
//! format that writes a daily instant as `"YYYY-MM-DD"` and any other with its time.

use chrono::{Datelike, NaiveDate};

/// Nanoseconds in a day.
pub const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// 1970-01-01.
const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => unreachable!(),
};

/// The UTC day of an instant, in days since 1970-01-01.
pub fn day(stamp: i64) -> i64 {
    stamp.div_euclid(NANOS_PER_DAY)
}

/// The calendar date of an instant (in UTC).
pub fn date(stamp: i64) -> NaiveDate {
    EPOCH + chrono::Duration::days(day(stamp))
}

/// The instant of `date` at 00:00 UTC, `None` past the range of an `i64` of nanoseconds.
pub fn stamp_of(date: NaiveDate) -> Option<i64> {
    (date - EPOCH).num_days().checked_mul(NANOS_PER_DAY)
}

/// A span of nanoseconds in days.
pub fn days(nanos: i128) -> f64 {
    nanos as f64 / NANOS_PER_DAY as f64
}

/// Day of the week, Monday = 0 … Sunday = 6 (pandas' `dayofweek`); 1970-01-01 was a Thursday.
pub fn weekday(stamp: i64) -> u32 {
    (day(stamp) + 3).rem_euclid(7) as u32
}

/// An instant as pandas prints a timestamp: `2024-01-02` at midnight, else
/// `2024-01-02 09:30:00` (UTC; a fraction of a second when there is one).
pub fn show(stamp: i64) -> String {
    let t = chrono::DateTime::from_timestamp_nanos(stamp).naive_utc();
    if stamp.rem_euclid(NANOS_PER_DAY) == 0 {
        t.format("%Y-%m-%d").to_string()
    } else if stamp.rem_euclid(1_000_000_000) == 0 {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S%.f").to_string()
    }
}

/// The resolution backtesting.py rounds mean durations up to: the largest of a day, an hour, a
/// minute, a second, a millisecond, a microsecond and a nanosecond that divides the bars'
/// median spacing (pandas' `Timedelta.resolution_string`).
pub(crate) fn resolution(median: i64) -> i64 {
    [
        NANOS_PER_DAY,
        3_600_000_000_000,
        60_000_000_000,
        1_000_000_000,
        1_000_000,
        1_000,
    ]
    .into_iter()
    .find(|&unit| median % unit == 0)
    .unwrap_or(1)
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
    /// A key that is equal for two instants exactly when they fall in the same period.
    pub(crate) fn key(self, stamp: i64) -> i64 {
        match self {
            Period::Day => day(stamp),
            // The Sunday that ends the week.
            Period::Week => day(stamp) + i64::from(6 - weekday(stamp)),
            Period::Month => {
                let d = date(stamp);
                i64::from(d.year()) * 12 + i64::from(d.month0())
            }
            Period::Year => i64::from(date(stamp).year()),
        }
    }
}

/// Serde format of an instant: `"YYYY-MM-DD"` at 00:00 UTC (a daily bar), else RFC 3339 in UTC
/// (`"2024-01-02T09:30:00+00:00"`). Reads either.
pub mod serde_time {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the instant.
    pub fn serialize<S: Serializer>(stamp: &i64, s: S) -> Result<S::Ok, S::Error> {
        if stamp.rem_euclid(super::NANOS_PER_DAY) == 0 {
            s.collect_str(&super::date(*stamp).format("%Y-%m-%d"))
        } else {
            let t = chrono::DateTime::from_timestamp_nanos(*stamp);
            s.collect_str(&t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
        }
    }

    /// Reads a `"YYYY-MM-DD"` date or an RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        let text = String::deserialize(d)?;
        let bad =
            |e: &dyn std::fmt::Display| serde::de::Error::custom(format!("time `{text}`: {e}"));
        if text.len() == 10 {
            let date = chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|e| bad(&e))?;
            return super::stamp_of(date).ok_or_else(|| bad(&"out of range"));
        }
        chrono::DateTime::parse_from_rfc3339(&text)
            .map_err(|e| bad(&e))?
            .timestamp_nanos_opt()
            .ok_or_else(|| bad(&"out of range"))
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
    fn instants_and_dates() {
        assert_eq!(date(0), NaiveDate::from_ymd_opt(1970, 1, 1).unwrap());
        let d = NaiveDate::from_ymd_opt(2004, 8, 19).unwrap();
        assert_eq!(date(stamp_of(d).unwrap()), d);
        assert_eq!(date(stamp_of(d).unwrap() + NANOS_PER_DAY - 1), d);
        assert_eq!(weekday(0), 3); // Thursday
        assert_eq!(weekday(stamp_of(d).unwrap()), 3); // 2004-08-19 was a Thursday
        assert_eq!(weekday(-1), 2);
        assert_eq!(show(stamp_of(d).unwrap()), "2004-08-19");
        assert_eq!(
            show(stamp_of(d).unwrap() + 9 * 3_600_000_000_000),
            "2004-08-19 09:00:00"
        );
    }

    #[test]
    fn resolutions_follow_pandas() {
        let hour = 3_600_000_000_000;
        assert_eq!(resolution(NANOS_PER_DAY), NANOS_PER_DAY);
        assert_eq!(resolution(7 * NANOS_PER_DAY), NANOS_PER_DAY);
        assert_eq!(resolution(NANOS_PER_DAY + hour), hour);
        assert_eq!(resolution(hour), hour);
        assert_eq!(resolution(5 * 60_000_000_000), 60_000_000_000);
        assert_eq!(resolution(90_000_000_000), 1_000_000_000);
        assert_eq!(resolution(1), 1);
    }

    #[test]
    fn times_serialize_as_dates_or_rfc3339_and_read_back() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct T(#[serde(with = "serde_time")] i64);
        let day = stamp_of(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap()).unwrap();
        for (t, text) in [
            (day, "\"2024-01-02\""),
            (day + 34_200_000_000_000, "\"2024-01-02T09:30:00+00:00\""),
        ] {
            assert_eq!(serde_json::to_string(&T(t)).unwrap(), text);
            assert_eq!(serde_json::from_str::<T>(text).unwrap(), T(t));
        }
    }

    #[test]
    fn period_keys() {
        let d = |y, m, dd| stamp_of(NaiveDate::from_ymd_opt(y, m, dd).unwrap()).unwrap();
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

//! Bars resampled to a coarser interval (issue: intraday bars; the kernel of
//! `quantd data resample`, not yet wired to packs or the CLI): open first, high max, low min,
//! close last, volume sum, per bucket of the exchange's local time.
//!
//! Buckets follow the exchange's wall clock ([`Zone`]), so a US session's hourly bars start at
//! 09:00, 10:00, … New York time in winter and in summer alike:
//! - intraday intervals (`1m` … `4h`): multiples of the interval since local midnight, labelled
//!   by the instant they start (a `4h` bucket starts at 00:00, 04:00, … local time every day; pandas
//!   instead steps 4 hours on from the first day's midnight, which drifts by an hour after a
//!   daylight-saving change);
//! - `1d`: the local date, labelled as daily bars are (the session date at 00:00 UTC);
//! - `1w`: the local week from Monday, labelled by its Monday; `1mo`: the local month, labelled by
//!   its first day.
//!
//! Only buckets holding a bar are made (no empty bars for nights, weekends or holidays).

use crate::bars::{Day, checked_day_from_date, date_from_day};
use crate::time::{
    Interval, NANOS_PER_DAY, NANOS_PER_SECOND, Stamp, Zone, day_of_stamp, stamp_of_day,
};
use chrono::Datelike;

/// One ticker's bars, ascending by instant; every column as long as `stamps`.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// Instants.
    pub stamps: &'a [Stamp],
    /// Opens.
    pub open: &'a [f64],
    /// Highs.
    pub high: &'a [f64],
    /// Lows.
    pub low: &'a [f64],
    /// Closes.
    pub close: &'a [f64],
    /// Volumes.
    pub volume: &'a [f64],
}

/// Resampled bars, one per bucket that held a bar, ascending.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resampled {
    /// Each bucket's label.
    pub stamps: Vec<Stamp>,
    /// First open.
    pub open: Vec<f64>,
    /// Highest high.
    pub high: Vec<f64>,
    /// Lowest low.
    pub low: Vec<f64>,
    /// Last close.
    pub close: Vec<f64>,
    /// Volume summed.
    pub volume: Vec<f64>,
}

/// Why bars cannot be resampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ResampleError {
    /// `irregular` names no bucket.
    #[error("bars cannot be resampled to `irregular`: give an interval such as 1h, 1d or 1w")]
    Irregular,
    /// Columns of different lengths.
    #[error("the bar columns have different lengths")]
    Lengths,
    /// Bars out of order (or two at one instant).
    #[error(
        "bar {row} is not later than the bar before it: resampling needs bars in ascending order of time"
    )]
    Unordered {
        /// The row (from 0) of the bar.
        row: usize,
    },
    /// An instant whose bucket is past the supported range.
    #[error("bar {row}'s bucket is outside the supported range of instants")]
    OutOfRange {
        /// The row (from 0) of the bar.
        row: usize,
    },
}

/// The label of the bucket of `to` (in `zone`'s wall clock) that holds the instant `t`.
pub fn bucket(t: Stamp, to: Interval, zone: Zone) -> Option<Stamp> {
    let offset = i64::from(zone.offset_at(t.div_euclid(NANOS_PER_SECOND))?);
    let local = t.checked_add(offset.checked_mul(NANOS_PER_SECOND)?)?;
    let day: Day = day_of_stamp(local);
    match to {
        Interval::Irregular => None,
        Interval::Day1 => stamp_of_day(day),
        Interval::Week1 => {
            // 1970-01-01 was a Thursday: Monday is 0.
            let weekday = (day + 3).rem_euclid(7);
            stamp_of_day(day - weekday)
        }
        Interval::Month1 => {
            let date = date_from_day(day);
            let first = date.with_day(1)?;
            stamp_of_day(checked_day_from_date(first).ok()?)
        }
        intraday => {
            let n = intraday.nanos()?;
            let within = local.rem_euclid(NANOS_PER_DAY).rem_euclid(n);
            t.checked_sub(within)
        }
    }
}

/// Resamples one ticker's bars to `to`, bucketed in `zone`.
pub fn resample(s: Series<'_>, to: Interval, zone: Zone) -> Result<Resampled, ResampleError> {
    if to == Interval::Irregular {
        return Err(ResampleError::Irregular);
    }
    let n = s.stamps.len();
    if [s.open, s.high, s.low, s.close, s.volume]
        .iter()
        .any(|c| c.len() != n)
    {
        return Err(ResampleError::Lengths);
    }
    let mut out = Resampled::default();
    let mut last: Option<Stamp> = None;
    for (row, &t) in s.stamps.iter().enumerate() {
        if row > 0 && t <= s.stamps[row - 1] {
            return Err(ResampleError::Unordered { row });
        }
        let label = bucket(t, to, zone).ok_or(ResampleError::OutOfRange { row })?;
        if last == Some(label) {
            let k = out.stamps.len() - 1;
            out.high[k] = out.high[k].max(s.high[row]);
            out.low[k] = out.low[k].min(s.low[row]);
            out.close[k] = s.close[row];
            out.volume[k] += s.volume[row];
        } else {
            out.stamps.push(label);
            out.open.push(s.open[row]);
            out.high.push(s.high[row]);
            out.low.push(s.low[row]);
            out.close.push(s.close[row]);
            out.volume.push(s.volume[row]);
            last = Some(label);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::utc as at;

    fn ny() -> Zone {
        "America/New_York".parse().expect("a zone")
    }

    #[test]
    fn hours_follow_the_wall_clock_through_daylight_saving() {
        // 09:30 New York is 14:30 UTC in winter and 13:30 UTC in summer: the bucket is 09:00
        // local both times.
        assert_eq!(
            bucket(at("2024-03-08T14:30:00Z"), Interval::Hour1, ny()),
            Some(at("2024-03-08T14:00:00Z"))
        );
        assert_eq!(
            bucket(at("2024-03-11T13:30:00Z"), Interval::Hour1, ny()),
            Some(at("2024-03-11T13:00:00Z"))
        );
        // 4-hour buckets start at local midnight every day: 08:00–12:00 New York.
        assert_eq!(
            bucket(at("2024-03-11T13:30:00Z"), Interval::Hour4, ny()),
            Some(at("2024-03-11T12:00:00Z"))
        );
        // The repeated hour of 2024-11-03 gives two buckets an hour apart.
        let first = bucket(at("2024-11-03T05:30:00Z"), Interval::Hour1, ny());
        let second = bucket(at("2024-11-03T06:30:00Z"), Interval::Hour1, ny());
        assert_eq!(
            (first, second),
            (
                Some(at("2024-11-03T05:00:00Z")),
                Some(at("2024-11-03T06:00:00Z"))
            )
        );
    }

    #[test]
    fn days_weeks_and_months_are_local_dates() {
        // 23:30 New York on Sunday 2024-03-10 is Monday 03:30 UTC: the day is Sunday's.
        let t = at("2024-03-11T03:30:00Z");
        assert_eq!(
            bucket(t, Interval::Day1, ny()),
            Some(at("2024-03-10T00:00:00Z"))
        );
        assert_eq!(
            bucket(t, Interval::Day1, Zone::UTC),
            Some(at("2024-03-11T00:00:00Z"))
        );
        assert_eq!(
            bucket(t, Interval::Week1, ny()),
            Some(at("2024-03-04T00:00:00Z"))
        );
        assert_eq!(
            bucket(t, Interval::Week1, Zone::UTC),
            Some(at("2024-03-11T00:00:00Z"))
        );
        assert_eq!(
            bucket(t, Interval::Month1, ny()),
            Some(at("2024-03-01T00:00:00Z"))
        );
        assert_eq!(
            bucket(at("2024-03-01T03:00:00Z"), Interval::Month1, ny()),
            Some(at("2024-02-01T00:00:00Z"))
        );
    }

    #[test]
    fn aggregates_first_max_min_last_sum() {
        let stamps = [
            at("2024-01-02T09:00:00Z"),
            at("2024-01-02T09:30:00Z"),
            at("2024-01-02T10:15:00Z"),
        ];
        let s = Series {
            stamps: &stamps,
            open: &[1.0, 2.0, 3.0],
            high: &[5.0, 7.0, 4.0],
            low: &[0.5, 0.25, 2.0],
            close: &[2.0, 3.0, 3.5],
            volume: &[10.0, 20.0, 5.0],
        };
        let r = resample(s, Interval::Hour1, Zone::UTC).expect("resampled");
        assert_eq!(
            r.stamps,
            [at("2024-01-02T09:00:00Z"), at("2024-01-02T10:00:00Z")]
        );
        assert_eq!(
            (r.open, r.high, r.low, r.close, r.volume),
            (
                vec![1.0, 3.0],
                vec![7.0, 4.0],
                vec![0.25, 2.0],
                vec![3.0, 3.5],
                vec![30.0, 5.0]
            )
        );
    }

    #[test]
    fn bad_input_is_refused() {
        let one = [0.0; 2];
        let s = |stamps: &'static [Stamp]| Series {
            stamps,
            open: &one,
            high: &one,
            low: &one,
            close: &one,
            volume: &one,
        };
        assert_eq!(
            resample(s(&[5, 5]), Interval::Minute1, Zone::UTC),
            Err(ResampleError::Unordered { row: 1 })
        );
        assert_eq!(
            resample(s(&[1, 2]), Interval::Irregular, Zone::UTC),
            Err(ResampleError::Irregular)
        );
        let short = Series {
            stamps: &[1, 2, 3],
            ..s(&[1, 2])
        };
        assert_eq!(
            resample(short, Interval::Hour1, Zone::UTC),
            Err(ResampleError::Lengths)
        );
        let empty = Series {
            stamps: &[],
            open: &[],
            high: &[],
            low: &[],
            close: &[],
            volume: &[],
        };
        assert_eq!(
            resample(empty, Interval::Day1, Zone::UTC),
            Ok(Resampled::default())
        );
    }
}

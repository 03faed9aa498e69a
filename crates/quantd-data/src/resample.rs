//! Bars resampled to a coarser interval (`quantd data resample`): open first, high max, low min,
//! close last, volume sum, per bucket of the exchange's local time. [`resample_table`] does a
//! whole pack's table; columns other than the five base ones are not carried over (no rule
//! aggregates an arbitrary column).
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

use crate::bars::{BASE_COLUMNS, BarTable, Column, Day, checked_day_from_date, date_from_day};
use crate::time::{
    Calendar, Interval, NANOS_PER_DAY, NANOS_PER_SECOND, Stamp, Zone, day_of_stamp, stamp_of_day,
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
    /// A target interval that is not coarser than the bars'.
    #[error(
        "bars of {from} cannot be resampled to {to}: resampling only makes bars coarser (give an interval longer than {from})"
    )]
    NotCoarser {
        /// The bars' interval.
        from: Interval,
        /// The interval asked for.
        to: Interval,
    },
}

/// An interval's length for ordering, months as 31 days (`None`: irregular).
fn span(i: Interval) -> Option<i64> {
    match i {
        Interval::Month1 => Some(31 * NANOS_PER_DAY),
        other => other.nanos(),
    }
}

/// What a table resampled to `to` starts as, or why it cannot be: the calendar of the new bars
/// (daily when `to` is a day or longer), and the zone buckets are found in (a daily bar's instant
/// is its date at 00:00 UTC: its bucket is found in UTC).
fn start(calendar: Calendar, to: Interval) -> Result<(BarTable, Zone), ResampleError> {
    let from = calendar.interval;
    if let (Some(a), Some(b)) = (span(from), span(to))
        && b <= a
    {
        return Err(ResampleError::NotCoarser { from, to });
    }
    let table = BarTable {
        calendar: Calendar {
            interval: to,
            zone: calendar.zone,
            daily: !to.is_intraday(),
        },
        offsets: vec![0],
        columns: BASE_COLUMNS
            .iter()
            .map(|n| Column {
                name: n.to_string(),
                values: Vec::new(),
            })
            .collect(),
        ..BarTable::default()
    };
    let zone = if calendar.daily {
        Zone::UTC
    } else {
        calendar.zone
    };
    Ok((table, zone))
}

/// Appends one ticker's bars, resampled, to `out`.
fn push(
    out: &mut BarTable,
    ticker: &str,
    series: Series<'_>,
    zone: Zone,
) -> Result<(), ResampleError> {
    let bars = resample(series, out.calendar.interval, zone)?;
    out.tickers.push(ticker.to_string());
    out.stamps.extend_from_slice(&bars.stamps);
    for (c, v) in
        out.columns
            .iter_mut()
            .zip([bars.open, bars.high, bars.low, bars.close, bars.volume])
    {
        c.values.extend(v);
    }
    out.offsets.push(out.stamps.len());
    Ok(())
}

/// A whole table resampled to `to`, every ticker bucketed in the table's zone, labelled as
/// [`bucket`] says. Only the base columns are kept.
pub fn resample_table(table: &BarTable, to: Interval) -> Result<BarTable, ResampleError> {
    let (mut out, zone) = start(table.calendar, to)?;
    let col = |name: &str| table.column(name).ok_or(ResampleError::Lengths);
    let (open, high, low, close, volume) = (
        col("open")?,
        col("high")?,
        col("low")?,
        col("close")?,
        col("volume")?,
    );
    for (i, ticker) in table.tickers.iter().enumerate() {
        let r = table.range(i);
        let series = Series {
            stamps: &table.stamps[r.clone()],
            open: &open[r.clone()],
            high: &high[r.clone()],
            low: &low[r.clone()],
            close: &close[r.clone()],
            volume: &volume[r],
        };
        push(&mut out, ticker, series, zone)?;
    }
    Ok(out)
}

/// A pack resampled to `to`, read one ticker at a time (memory: the pack's mapped file and the
/// resampled bars, never the pack's bars copied whole).
pub fn resample_pack(
    reader: &crate::PackReader,
    to: Interval,
) -> Result<BarTable, crate::DataError> {
    let invalid = |e: ResampleError| crate::DataError::Input {
        what: e.to_string(),
        fix: "give --to an interval longer than the pack's (`quantd data show` names it)".into(),
    };
    let (mut out, zone) = start(reader.manifest().calendar, to).map_err(invalid)?;
    let projection = reader.projection(&BASE_COLUMNS)?;
    for (i, t) in reader.manifest().tickers.iter().enumerate() {
        let bars = reader.read(i, &projection)?;
        let series = Series {
            stamps: bars.stamps(),
            open: bars.column(0),
            high: bars.column(1),
            low: bars.column(2),
            close: bars.column(3),
            volume: bars.column(4),
        };
        push(&mut out, &t.ticker, series, zone).map_err(invalid)?;
    }
    Ok(out)
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
    fn a_table_resamples_to_coarser_bars_only() {
        // Two hours of 30-minute bars in New York, one ticker.
        let stamps = vec![
            at("2024-03-08T14:30:00Z"),
            at("2024-03-08T15:00:00Z"),
            at("2024-03-08T15:30:00Z"),
            at("2024-03-11T13:30:00Z"),
        ];
        let col = |name: &str, v: [f64; 4]| Column {
            name: name.into(),
            values: v.to_vec(),
        };
        let table = BarTable {
            tickers: vec!["A".into()],
            offsets: vec![0, 4],
            stamps,
            calendar: Calendar {
                interval: Interval::Minute30,
                zone: ny(),
                daily: false,
            },
            columns: vec![
                col("open", [1.0, 2.0, 3.0, 4.0]),
                col("high", [5.0, 6.0, 7.0, 8.0]),
                col("low", [0.5, 0.4, 0.3, 0.2]),
                col("close", [1.5, 2.5, 3.5, 4.5]),
                col("volume", [10.0, 20.0, 30.0, 40.0]),
            ],
        };
        let hourly = resample_table(&table, Interval::Hour1).unwrap();
        hourly.check_invariants().unwrap();
        assert_eq!(hourly.stamps.len(), 3);
        assert_eq!(hourly.column("volume").unwrap(), [10.0, 50.0, 40.0]);
        assert_eq!(hourly.column("open").unwrap(), [1.0, 2.0, 4.0]);
        assert_eq!(hourly.column("close").unwrap(), [1.5, 3.5, 4.5]);
        let daily = resample_table(&table, Interval::Day1).unwrap();
        assert!(daily.calendar.daily);
        assert_eq!(daily.calendar.zone, ny());
        assert_eq!(daily.calendar.format(daily.stamps[0]), "2024-03-08");
        assert_eq!(daily.column("high").unwrap(), [7.0, 8.0]);
        // Days to weeks: the daily dates are bucketed as dates (not shifted by the zone).
        let weekly = resample_table(&daily, Interval::Week1).unwrap();
        assert_eq!(weekly.calendar.format(weekly.stamps[0]), "2024-03-04");
        assert_eq!(weekly.calendar.format(weekly.stamps[1]), "2024-03-11");
        let e = resample_table(&table, Interval::Minute15).unwrap_err();
        assert!(e.to_string().contains("only makes bars coarser"), "{e}");
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

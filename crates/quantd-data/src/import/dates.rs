//! Times of imported rows from Parquet values: Arrow dates (a session date), timestamps with a
//! time zone (UTC, a fixed offset or an IANA zone such as `America/New_York`: the instant is
//! stored, its local date and whether it is local midnight decide a daily bar), naive timestamps
//! (wall-clock times in the zone given with `--tz`, daylight-saving faults included) and epoch
//! integers (`--epoch`). Text cells go through [`crate::time::StampReader`]. Every time is checked
//! against the pack range ([`crate::bars::MIN_DATE`] ..= [`crate::bars::MAX_DATE`]).

use crate::bars::checked_day;
use crate::time::{self, NANOS_PER_SECOND, Read, TimeFault, offset_seconds};
use arrow_schema::TimeUnit;
use chrono::NaiveTime;

/// How a time zone of an Arrow timestamp column maps instants to local times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zone {
    /// A fixed offset: seconds east of UTC.
    Fixed(i64),
    /// An IANA zone (`America/New_York`): its offset at each instant, daylight saving included.
    Named(time::Zone),
}

impl Zone {
    /// UTC.
    pub const UTC: Zone = Zone::Fixed(0);

    /// Seconds east of UTC at the instant `value` ticks of `unit` after the epoch; `None` when
    /// the instant is past what the zone database covers.
    fn offset_at(self, value: i64, unit: TimeUnit) -> Option<i64> {
        match self {
            Zone::Fixed(seconds) => Some(seconds),
            Zone::Named(zone) => zone
                .offset_at(value.div_euclid(ticks_per_second(unit)))
                .map(i64::from),
        }
    }
}

/// The zone named by an Arrow timestamp's time zone: UTC (under its usual names), a fixed offset
/// (`+05:00`) or an IANA name (`America/New_York`). `None` for anything else.
pub(crate) fn zone_of(tz: &str) -> Option<Zone> {
    let utc = [
        "UTC",
        "Etc/UTC",
        "GMT",
        "Etc/GMT",
        "Z",
        "Zulu",
        "Universal",
        "Etc/Universal",
        "UCT",
        "Etc/UCT",
    ];
    if utc.iter().any(|u| u.eq_ignore_ascii_case(tz.trim())) {
        return Some(Zone::UTC);
    }
    let b = tz.trim().as_bytes();
    let (sign, rest) = match b.split_first()? {
        (b'+', rest) => (1, rest),
        (b'-', rest) => (-1, rest),
        _ => return tz.parse().ok().map(Zone::Named),
    };
    offset_seconds(rest).ok().map(|s| Zone::Fixed(sign * s))
}

/// Ticks of `unit` in one second.
pub(crate) fn ticks_per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// A timestamp (`value` ticks of `unit` since 1970-01-01 00:00 UTC) with its local date and
/// time of day in `zone`.
pub(crate) fn read_ticks(value: i64, unit: TimeUnit, zone: Zone) -> Result<Read, TimeFault> {
    let per_second = ticks_per_second(unit);
    let stamp = value
        .checked_mul(NANOS_PER_SECOND / per_second)
        .ok_or(TimeFault::OutOfRange)?;
    let local = zone
        .offset_at(value, unit)
        .and_then(|offset| offset.checked_mul(per_second))
        .and_then(|offset| value.checked_add(offset))
        .ok_or(TimeFault::OutOfRange)?;
    let per_day = per_second * 86_400;
    let day = checked_day(local.div_euclid(per_day)).map_err(|_| TimeFault::OutOfRange)?;
    Ok(Read {
        stamp,
        day,
        date_only: false,
        midnight: local.rem_euclid(per_day) == 0,
    })
}

/// A naive timestamp (`value` ticks of `unit` after 1970-01-01 00:00 on the wall clock) read as
/// a local time in `zone`: a local time that does not exist or occurs twice there is a fault.
pub(crate) fn read_naive_ticks(
    value: i64,
    unit: TimeUnit,
    zone: time::Zone,
) -> Result<Read, TimeFault> {
    let as_utc = read_ticks(value, unit, Zone::UTC)?;
    let local = chrono::DateTime::from_timestamp_nanos(as_utc.stamp).naive_utc();
    let stamp = zone.instant(local)?;
    Ok(Read {
        stamp,
        day: as_utc.day,
        date_only: false,
        midnight: local.time() == NaiveTime::MIN,
    })
}

/// A session date (days since 1970-01-01, as Arrow `date32` holds it).
pub(crate) fn read_days(value: i64) -> Result<Read, TimeFault> {
    let day = checked_day(value).map_err(|_| TimeFault::OutOfRange)?;
    Ok(Read {
        stamp: time::stamp_of_day(day).ok_or(TimeFault::OutOfRange)?,
        day,
        date_only: true,
        midnight: true,
    })
}

/// The Arrow unit of an epoch unit.
pub(crate) fn unit_of(epoch: time::Epoch) -> TimeUnit {
    match epoch {
        time::Epoch::Seconds => TimeUnit::Second,
        time::Epoch::Millis => TimeUnit::Millisecond,
        time::Epoch::Nanos => TimeUnit::Nanosecond,
    }
}

/// A timestamp as people read it: `2024-01-02 09:30:00` (local to `zone`) when its date is in
/// range, else the raw value with its unit.
pub(crate) fn show_timestamp(value: i64, unit: TimeUnit, zone: Zone) -> String {
    let per_second = ticks_per_second(unit);
    let local = zone
        .offset_at(value, unit)
        .and_then(|o| o.checked_mul(per_second))
        .and_then(|o| value.checked_add(o));
    let shown = local.and_then(|local| {
        let secs = local.div_euclid(per_second);
        let sub = local.rem_euclid(per_second);
        let day = checked_day(secs.div_euclid(86_400)).ok()?;
        let date = crate::bars::try_date_from_day(day).ok()?;
        let sod = secs.rem_euclid(86_400);
        let mut s = format!(
            "{date} {:02}:{:02}:{:02}",
            sod / 3600,
            sod / 60 % 60,
            sod % 60
        );
        if sub != 0 {
            let width = per_second.ilog10() as usize;
            s.push_str(&format!(".{sub:0width$}"));
        }
        Some(s)
    });
    shown.unwrap_or_else(|| format!("{value} {} since 1970-01-01", unit_name(unit)))
}

fn unit_name(unit: TimeUnit) -> &'static str {
    match unit {
        TimeUnit::Second => "seconds",
        TimeUnit::Millisecond => "milliseconds",
        TimeUnit::Microsecond => "microseconds",
        TimeUnit::Nanosecond => "nanoseconds",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bars::{Day, day_from_date};
    use crate::time::utc;

    fn day(s: &str) -> Day {
        day_from_date(s.parse().unwrap())
    }

    #[test]
    fn timestamps_keep_their_instant_and_their_local_date() {
        let utc_zone = Zone::UTC;
        let d = day("2024-01-02");
        let secs = i64::from(d) * 86_400;
        let r = read_ticks(secs, TimeUnit::Second, utc_zone).unwrap();
        assert_eq!(
            (r.stamp, r.day, r.midnight),
            (utc("2024-01-02T00:00:00Z"), d, true)
        );
        let r = read_ticks(secs * 1_000_000_000, TimeUnit::Nanosecond, utc_zone).unwrap();
        assert_eq!((r.day, r.midnight), (d, true));
        let ny = zone_of("-05:00").unwrap();
        let r = read_ticks((secs + 5 * 3600) * 1000, TimeUnit::Millisecond, ny).unwrap();
        assert_eq!((r.day, r.midnight), (d, true));
        let r = read_ticks(secs + 9 * 3600 + 1800, TimeUnit::Second, utc_zone).unwrap();
        assert_eq!(
            (r.stamp, r.day, r.midnight),
            (utc("2024-01-02T09:30:00Z"), d, false)
        );
        assert_eq!(
            show_timestamp((secs + 34_200) * 1000 + 5, TimeUnit::Millisecond, utc_zone),
            "2024-01-02 09:30:00.005"
        );
    }

    #[test]
    fn naive_timestamps_are_wall_clock_times_in_the_zone() {
        let ny: time::Zone = "America/New_York".parse().unwrap();
        let nine_thirty = (i64::from(day("2024-01-02")) * 86_400 + 34_200) * 1000;
        let r = read_naive_ticks(nine_thirty, TimeUnit::Millisecond, ny).unwrap();
        assert_eq!(r.stamp, utc("2024-01-02T14:30:00Z"));
        assert!(!r.midnight);
        // 2024-03-10 02:30 does not exist in New York; 2024-11-03 01:30 happens twice.
        let gap = (i64::from(day("2024-03-10")) * 86_400 + 9_000) * 1000;
        assert!(matches!(
            read_naive_ticks(gap, TimeUnit::Millisecond, ny),
            Err(TimeFault::Skipped { .. })
        ));
        let twice = (i64::from(day("2024-11-03")) * 86_400 + 5_400) * 1000;
        assert!(matches!(
            read_naive_ticks(twice, TimeUnit::Millisecond, ny),
            Err(TimeFault::Ambiguous { .. })
        ));
    }

    #[test]
    fn extreme_timestamps_are_out_of_range_without_overflow() {
        let utc_zone = Zone::UTC;
        let east = zone_of("+14:00").unwrap();
        for (v, unit) in [
            (i64::MIN, TimeUnit::Second),
            (i64::MAX, TimeUnit::Second),
            (1_000_000_000_000, TimeUnit::Second),
            (-1_000_000_000_000, TimeUnit::Second),
            (i64::MIN, TimeUnit::Nanosecond),
        ] {
            assert_eq!(
                read_ticks(v, unit, utc_zone),
                Err(TimeFault::OutOfRange),
                "{v} {unit:?}"
            );
            assert!(read_ticks(v, unit, east).is_err(), "{v} {unit:?}");
            let _ = show_timestamp(v, unit, east);
        }
        assert_eq!(read_days(i64::from(i32::MAX)), Err(TimeFault::OutOfRange));
        assert_eq!(
            show_timestamp(1_000_000_000_000, TimeUnit::Second, utc_zone),
            "1000000000000 seconds since 1970-01-01"
        );
    }

    #[test]
    fn zones_are_utc_or_fixed_offsets() {
        assert_eq!(zone_of("UTC"), Some(Zone::UTC));
        assert_eq!(zone_of("etc/utc"), Some(Zone::UTC));
        assert_eq!(zone_of("+05:30"), Some(Zone::Fixed(19_800)));
        assert_eq!(zone_of("-0800"), Some(Zone::Fixed(-28_800)));
        assert_eq!(
            zone_of("America/New_York"),
            "America/New_York".parse().ok().map(Zone::Named)
        );
        assert_eq!(zone_of("Mars/Olympus"), None);
        assert_eq!(zone_of("+99:00"), None);
    }
}

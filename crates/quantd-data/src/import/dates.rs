//! Dates of imported rows: `YYYY-MM-DD` text (optionally with a midnight time and a UTC offset, as
//! pandas writes daily indexes), and Arrow date and timestamp values (naive, in UTC, at a fixed
//! offset or in an IANA zone such as `America/New_York`: a timestamp's date is its local date
//! there, daylight saving included). Every date is checked
//! against the pack date range ([`crate::bars::MIN_DATE`] ..= [`crate::bars::MAX_DATE`]); a time
//! of day other than midnight is refused, because packs hold daily bars.

use crate::bars::{Day, checked_day, checked_day_from_date};
use crate::time::{self, digits, offset_seconds};
use arrow_schema::TimeUnit;

/// Why a value is not a pack date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateFault {
    /// Not a date at all.
    Malformed,
    /// A date and a time other than midnight.
    TimeOfDay,
    /// A date outside the pack date range.
    OutOfRange,
}

/// Parses `YYYY-MM-DD`, optionally followed by `T` or a space and a midnight time
/// (`00:00`, `00:00:00`, `00:00:00.000`), optionally with `Z` or a UTC offset (`+05:00`,
/// `-0500`, `+05`). The date is the one written: an offset only says where midnight was.
pub(crate) fn parse_date(s: &str) -> Result<Day, DateFault> {
    let b = s.trim().as_bytes();
    let (date, rest) = b.split_at_checked(10).ok_or(DateFault::Malformed)?;
    let day = ymd(date)?;
    if let Some((&sep, time)) = rest.split_first() {
        if sep != b'T' && sep != b' ' {
            return Err(DateFault::Malformed);
        }
        if !is_midnight(time)? {
            return Err(DateFault::TimeOfDay);
        }
    }
    Ok(day)
}

/// `YYYY-MM-DD` (exactly ten bytes).
fn ymd(b: &[u8]) -> Result<Day, DateFault> {
    checked_day_from_date(time::ymd(b)?).map_err(|_| DateFault::OutOfRange)
}

impl From<time::TimeFault> for DateFault {
    fn from(f: time::TimeFault) -> Self {
        match f {
            time::TimeFault::OutOfRange => DateFault::OutOfRange,
            _ => DateFault::Malformed,
        }
    }
}

/// Whether a time (`HH:MM[:SS[.fff]][zone]`) is midnight; `Malformed` when it is not a time.
fn is_midnight(b: &[u8]) -> Result<bool, DateFault> {
    let zone_at = b
        .iter()
        .position(|&c| matches!(c, b'Z' | b'+' | b'-'))
        .unwrap_or(b.len());
    let (clock, zone) = b.split_at(zone_at);
    check_zone(zone)?;
    let (hms, frac) = match clock.iter().position(|&c| c == b'.') {
        Some(i) => (&clock[..i], &clock[i + 1..]),
        None => (clock, &[][..]),
    };
    let mut zero = true;
    let mut parts = 0;
    for (i, part) in hms.split(|&c| c == b':').enumerate() {
        let v = if part.len() == 2 {
            digits(part)?
        } else {
            return Err(DateFault::Malformed);
        };
        let max = [23, 59, 60][i.min(2)];
        if i > 2 || v > max {
            return Err(DateFault::Malformed);
        }
        zero &= v == 0;
        parts += 1;
    }
    if parts < 2 || (!frac.is_empty() && parts < 3) {
        return Err(DateFault::Malformed);
    }
    if !frac.iter().all(u8::is_ascii_digit) || (clock.ends_with(b".")) {
        return Err(DateFault::Malformed);
    }
    Ok(zero && frac.iter().all(|&c| c == b'0'))
}

/// `Z`, `+HH:MM`, `-HH:MM`, `+HHMM`, `+HH` or nothing.
fn check_zone(z: &[u8]) -> Result<(), DateFault> {
    match z {
        [] | [b'Z'] => Ok(()),
        [b'+' | b'-', rest @ ..] => Ok(offset_seconds(rest).map(|_| ())?),
        _ => Err(DateFault::Malformed),
    }
}

/// How a time zone of an Arrow timestamp column maps instants to dates.
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

/// The date of a timestamp (`value` ticks of `unit` since 1970-01-01 00:00 UTC) in `zone`.
pub(crate) fn day_of_timestamp(value: i64, unit: TimeUnit, zone: Zone) -> Result<Day, DateFault> {
    let per_second = ticks_per_second(unit);
    let local = zone
        .offset_at(value, unit)
        .and_then(|offset| offset.checked_mul(per_second))
        .and_then(|offset| value.checked_add(offset))
        .ok_or(DateFault::OutOfRange)?;
    let per_day = per_second * 86_400;
    let day = checked_day(local.div_euclid(per_day)).map_err(|_| DateFault::OutOfRange)?;
    if local.rem_euclid(per_day) != 0 {
        return Err(DateFault::TimeOfDay);
    }
    Ok(day)
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
    use crate::bars::day_from_date;
    use DateFault::*;

    fn day(s: &str) -> Day {
        day_from_date(s.parse().unwrap())
    }

    #[test]
    fn dates_parse_with_or_without_a_midnight_time() {
        let d = day("2004-08-19");
        for ok in [
            "2004-08-19",
            " 2004-08-19 ",
            "2004-08-19 00:00",
            "2004-08-19 00:00:00",
            "2004-08-19T00:00:00.000000",
            "2004-08-19T00:00:00Z",
            "2004-08-19T00:00:00+00:00",
            "2004-08-19 00:00:00-05:00",
            "2004-08-19 00:00:00+0530",
            "2004-08-19 00:00:00+05",
        ] {
            assert_eq!(parse_date(ok), Ok(d), "{ok}");
        }
    }

    #[test]
    fn a_time_of_day_is_refused_not_dropped() {
        for t in [
            "2024-01-02 09:30",
            "2024-01-02T23:59:59",
            "2024-01-02 00:00:00.001",
            "2024-01-02 00:00:01+00:00",
        ] {
            assert_eq!(parse_date(t), Err(TimeOfDay), "{t}");
        }
    }

    #[test]
    fn dates_outside_the_range_are_refused() {
        for t in ["1799-12-31", "0000-01-01", "0024-01-02"] {
            assert_eq!(parse_date(t), Err(OutOfRange), "{t}");
        }
        assert_eq!(parse_date("1800-01-01"), Ok(crate::bars::MIN_DAY));
        assert_eq!(parse_date("9999-12-31"), Ok(crate::bars::MAX_DAY));
    }

    #[test]
    fn malformed_text_is_not_a_date() {
        for bad in [
            "2004-8-19",
            "2004-02-30",
            "19/08/2004",
            "2004-08-19x",
            "2004-08-19 garbage",
            "2004-08-19 24:00",
            "2004-08-19 00",
            "2004-08-19 00:00:00.",
            "2004-08-19 00:00.5",
            "2004-08-19 00:00:00+5",
            "2004-08-19 00:00:00 UTC",
            "-29719-04-05",
            "+33658-09-27",
            "",
            "abcd-ef-gh",
            "2004-08-19T",
        ] {
            assert_eq!(parse_date(bad), Err(Malformed), "{bad}");
        }
    }

    #[test]
    fn timestamps_give_their_local_date_at_midnight_only() {
        let utc = Zone::UTC;
        let d = day("2024-01-02");
        let secs = i64::from(d) * 86_400;
        assert_eq!(day_of_timestamp(secs, TimeUnit::Second, utc), Ok(d));
        assert_eq!(
            day_of_timestamp(secs * 1_000_000_000, TimeUnit::Nanosecond, utc),
            Ok(d)
        );
        let ny = zone_of("-05:00").unwrap();
        assert_eq!(
            day_of_timestamp((secs + 5 * 3600) * 1000, TimeUnit::Millisecond, ny),
            Ok(d)
        );
        assert_eq!(
            day_of_timestamp(secs + 9 * 3600 + 1800, TimeUnit::Second, utc),
            Err(TimeOfDay)
        );
        assert_eq!(
            show_timestamp((secs + 34_200) * 1000 + 5, TimeUnit::Millisecond, utc),
            "2024-01-02 09:30:00.005"
        );
    }

    #[test]
    fn extreme_timestamps_are_out_of_range_without_overflow() {
        let utc = Zone::UTC;
        let east = zone_of("+14:00").unwrap();
        for (v, unit, want) in [
            (i64::MIN, TimeUnit::Second, Err(OutOfRange)),
            (i64::MAX, TimeUnit::Second, Err(OutOfRange)),
            (1_000_000_000_000, TimeUnit::Second, Err(OutOfRange)),
            (-1_000_000_000_000, TimeUnit::Second, Err(OutOfRange)),
            (i64::MIN, TimeUnit::Nanosecond, Err(OutOfRange)),
            (i64::MAX, TimeUnit::Nanosecond, Err(TimeOfDay)),
        ] {
            assert_eq!(day_of_timestamp(v, unit, utc), want, "{v} {unit:?}");
            assert!(day_of_timestamp(v, unit, east).is_err(), "{v} {unit:?}");
            let _ = show_timestamp(v, unit, east);
        }
        assert_eq!(
            show_timestamp(1_000_000_000_000, TimeUnit::Second, utc),
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

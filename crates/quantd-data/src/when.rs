//! A point in time as people name it to a scan, a backtest or an A+ example: a session date
//! (`2024-01-02`: the whole local day, in the pack's zone) or an exact instant with its offset
//! (`2024-01-02T09:45:00-05:00`, or `Z`). Windows (`from`, `to`) and examples take either; a
//! [`Calendar`] turns them into instants ([`Calendar::bounds`]).

use crate::bars::{date_from_day, day_from_date};
use crate::time::{Calendar, Stamp, StampReader};
use serde::{Deserialize, Serialize};

/// A session date or an exact instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum When {
    /// The whole session date, on the pack's local clock.
    Day(chrono::NaiveDate),
    /// This instant.
    At(Stamp),
}

impl When {
    /// `YYYY-MM-DD`, or a date and time with `Z` or a UTC offset (RFC 3339 or with a space). A
    /// time without an offset is refused: it would mean different instants in different packs.
    pub fn parse(text: &str) -> Result<When, String> {
        let t = text.trim();
        let read = StampReader::default().read(t).map_err(|e| e.to_string())?;
        if read.date_only {
            return Ok(When::Day(date_from_day(read.day)));
        }
        if !t
            .get(10..)
            .is_some_and(|rest| rest.contains(['Z', 'z', '+', '-']))
        {
            return Err(
                "a time needs its UTC offset or Z (e.g. 2024-01-02T09:45:00-05:00), or give the date alone for the whole day"
                    .into(),
            );
        }
        Ok(When::At(read.stamp))
    }

    /// As people read it in a pack with `calendar`.
    pub fn show(self, calendar: Calendar) -> String {
        match self {
            When::Day(d) => d.to_string(),
            When::At(t) => calendar.format(t),
        }
    }

    /// The earliest instant this can mean in any zone, to order two of them without a pack: a
    /// date's 00:00 UTC minus a day (no zone is more than 14 hours ahead of UTC).
    fn earliest(self) -> i128 {
        match self {
            When::Day(d) => {
                i128::from(day_from_date(d) - 1) * i128::from(crate::time::NANOS_PER_DAY)
            }
            When::At(t) => i128::from(t),
        }
    }

    /// The latest instant this can mean in any zone: the end of the date's day after, in UTC.
    fn latest(self) -> i128 {
        match self {
            When::Day(d) => {
                i128::from(day_from_date(d) + 2) * i128::from(crate::time::NANOS_PER_DAY) - 1
            }
            When::At(t) => i128::from(t),
        }
    }

    /// Whether a window `from ..= to` is empty in every zone (it ends before it starts).
    pub fn ends_before(from: When, to: When) -> bool {
        match (from, to) {
            (When::Day(a), When::Day(b)) => b < a,
            _ => to.latest() < from.earliest(),
        }
    }
}

impl Calendar {
    /// The instants a window `from ..= to` covers in a pack with this calendar: a date means its
    /// whole local day (from its first instant to the last before the next day), an instant
    /// itself. `None` bounds are open.
    pub fn bounds(self, from: Option<When>, to: Option<When>) -> (Option<Stamp>, Option<Stamp>) {
        let day = |w: Option<When>| match w {
            Some(When::Day(d)) => Some(day_from_date(d)),
            _ => None,
        };
        let (lo, hi) = self.span(day(from), day(to));
        let at = |w: Option<When>| match w {
            Some(When::At(t)) => Some(t),
            _ => None,
        };
        (at(from).or(lo), at(to).or(hi))
    }
}

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            When::Day(d) => write!(f, "{d}"),
            When::At(t) => f.write_str(
                &Calendar {
                    daily: false,
                    ..Calendar::DAILY
                }
                .format(*t),
            ),
        }
    }
}

impl std::str::FromStr for When {
    type Err = String;
    fn from_str(s: &str) -> Result<When, String> {
        When::parse(s)
    }
}

impl Serialize for When {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for When {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        When::parse(&text).map_err(|e| serde::de::Error::custom(format!("`{text}`: {e}")))
    }
}

impl From<chrono::NaiveDate> for When {
    fn from(d: chrono::NaiveDate) -> When {
        When::Day(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> Calendar {
        Calendar {
            interval: "1m".parse().unwrap(),
            zone: "America/New_York".parse().unwrap(),
            daily: false,
        }
    }

    #[test]
    fn dates_and_instants_parse_and_print_back() {
        let d = When::parse("2024-03-11").unwrap();
        assert_eq!(
            d,
            When::Day(chrono::NaiveDate::from_ymd_opt(2024, 3, 11).unwrap())
        );
        let t = When::parse("2024-03-11T09:45:00-04:00").unwrap();
        assert_eq!(t.show(ny()), "2024-03-11T09:45:00-04:00");
        assert_eq!(t.to_string(), "2024-03-11T13:45:00+00:00");
        let e = When::parse("2024-03-11T09:45").unwrap_err();
        assert!(e.contains("needs its UTC offset"), "{e}");
        assert!(When::parse("2024-13-01").is_err());
        assert!(When::parse("").is_err());
    }

    #[test]
    fn a_date_bounds_its_local_day_and_an_instant_itself() {
        let (d, t) = (
            When::parse("2024-03-11").unwrap(),
            When::parse("2024-03-11T09:45:00-04:00").unwrap(),
        );
        let (lo, hi) = ny().bounds(Some(d), Some(d));
        // 2024-03-11 00:00 EDT = 04:00 UTC, to the instant before 2024-03-12 00:00 EDT.
        assert_eq!(
            lo,
            Some(When::parse("2024-03-11T04:00:00Z").unwrap().stamp())
        );
        assert_eq!(
            hi,
            Some(When::parse("2024-03-12T04:00:00Z").unwrap().stamp() - 1)
        );
        let (lo, hi) = ny().bounds(Some(t), None);
        assert_eq!((lo, hi), (Some(t.stamp()), None));
        let (lo, hi) = Calendar::DAILY.bounds(Some(d), Some(t));
        assert_eq!(
            lo,
            Some(When::parse("2024-03-11T00:00:00Z").unwrap().stamp())
        );
        assert_eq!(hi, Some(t.stamp()));
    }

    #[test]
    fn windows_that_end_before_they_start_are_found_in_any_zone() {
        let w = |s: &str| When::parse(s).unwrap();
        assert!(When::ends_before(w("2024-03-12"), w("2024-03-11")));
        assert!(!When::ends_before(w("2024-03-11"), w("2024-03-11")));
        assert!(When::ends_before(
            w("2024-03-11T10:00:00Z"),
            w("2024-03-11T09:00:00Z")
        ));
        // A date and a time of that day (or the day next to it, in some zone) may overlap.
        assert!(!When::ends_before(
            w("2024-03-11"),
            w("2024-03-10T23:00:00Z")
        ));
        assert!(When::ends_before(
            w("2024-03-11"),
            w("2024-03-09T00:00:00Z")
        ));
    }

    impl When {
        fn stamp(self) -> Stamp {
            match self {
                When::At(t) => t,
                When::Day(_) => unreachable!("a test asked for the instant of a date"),
            }
        }
    }
}

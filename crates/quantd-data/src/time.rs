//! Time of bars (issue: intraday bars): a bar's instant ([`Stamp`], nanoseconds since
//! 1970-01-01 00:00 UTC), the bar interval a pack records ([`Interval`], given or inferred from
//! the most common gap), the exchange time zone ([`Zone`], an IANA name), and the reading of
//! timestamp text with a zone ([`StampReader`]: ISO 8601 with an offset or `Z`, naive local times
//! in the zone with daylight-saving faults, epoch seconds, milliseconds or nanoseconds).
//!
//! A daily bar's instant is its session date at 00:00 UTC ([`stamp_of_day`]), so a daily pack's
//! days and instants convert both ways exactly.
//!
//! A pack's [`Calendar`] (interval, zone, and whether its bars are daily) says how its instants
//! read as dates and times: a daily pack's bars are dates, an intraday pack's are instants shown
//! in the exchange's zone with their offset.

use crate::bars::{Day, MAX_DAY, MIN_DAY, checked_day_from_date};
use chrono::{
    Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Timelike,
};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// A bar's instant: nanoseconds since 1970-01-01 00:00 UTC (Arrow's `timestamp[ns, tz=UTC]`).
/// Spans 1677-09-21 ..= 2262-04-11.
pub type Stamp = i64;

/// Nanoseconds in a second.
pub const NANOS_PER_SECOND: i64 = 1_000_000_000;
/// Nanoseconds in a day of 24 hours.
pub const NANOS_PER_DAY: i64 = 86_400 * NANOS_PER_SECOND;

/// A daily bar's instant: its session date at 00:00 UTC. `None` past the range of [`Stamp`]
/// (after 2262-04-11, before 1677-09-21).
pub fn stamp_of_day(day: Day) -> Option<Stamp> {
    i64::from(day).checked_mul(NANOS_PER_DAY)
}

/// The UTC date of an instant.
pub fn day_of_stamp(stamp: Stamp) -> Day {
    // |stamp / NANOS_PER_DAY| ≤ 106,752 days: always an i32.
    stamp.div_euclid(NANOS_PER_DAY) as Day
}

/// A pack's bar interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Interval {
    /// One minute.
    Minute1,
    /// Five minutes.
    Minute5,
    /// Fifteen minutes.
    Minute15,
    /// Thirty minutes.
    Minute30,
    /// One hour.
    Hour1,
    /// Four hours.
    Hour4,
    /// One session (a trading day).
    Day1,
    /// One week.
    Week1,
    /// One calendar month.
    Month1,
    /// Bars at no fixed interval (ticks aggregated by volume, a series with holes everywhere).
    Irregular,
}

impl Interval {
    /// Every interval, shortest first ([`Interval::Irregular`] last).
    pub const ALL: [Interval; 10] = [
        Interval::Minute1,
        Interval::Minute5,
        Interval::Minute15,
        Interval::Minute30,
        Interval::Hour1,
        Interval::Hour4,
        Interval::Day1,
        Interval::Week1,
        Interval::Month1,
        Interval::Irregular,
    ];

    /// The name used in manifests, flags and the API: `1m`, `5m`, `15m`, `30m`, `1h`, `4h`,
    /// `1d`, `1w`, `1mo`, `irregular`.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Minute1 => "1m",
            Interval::Minute5 => "5m",
            Interval::Minute15 => "15m",
            Interval::Minute30 => "30m",
            Interval::Hour1 => "1h",
            Interval::Hour4 => "4h",
            Interval::Day1 => "1d",
            Interval::Week1 => "1w",
            Interval::Month1 => "1mo",
            Interval::Irregular => "irregular",
        }
    }

    /// The fixed length of a bar, for the intervals that have one (not months, not irregular).
    pub fn nanos(self) -> Option<i64> {
        let minutes = match self {
            Interval::Minute1 => 1,
            Interval::Minute5 => 5,
            Interval::Minute15 => 15,
            Interval::Minute30 => 30,
            Interval::Hour1 => 60,
            Interval::Hour4 => 240,
            Interval::Day1 => 1_440,
            Interval::Week1 => 10_080,
            Interval::Month1 | Interval::Irregular => return None,
        };
        Some(minutes * 60 * NANOS_PER_SECOND)
    }

    /// Whether bars are shorter than a session (their instants carry a time of day).
    pub fn is_intraday(self) -> bool {
        self.nanos().is_some_and(|n| n < NANOS_PER_DAY)
    }

    /// The interval of bars at `stamps` (each slice one ticker's instants, ascending): the most
    /// common gap between neighbours, when it is one of the intervals (a daily series' weekends
    /// and holidays are rarer than its one-day gaps; a minute series' nights rarer than its
    /// minutes); a gap of 28 to 31 days is a month. [`Interval::Irregular`] when the most common
    /// gap is none of these; `None` when no ticker has two bars.
    pub fn infer<'a>(stamps: impl IntoIterator<Item = &'a [Stamp]>) -> Option<Interval> {
        let mut gaps: HashMap<i64, u64> = HashMap::new();
        for series in stamps {
            for pair in series.windows(2) {
                *gaps.entry(pair[1].saturating_sub(pair[0])).or_default() += 1;
            }
        }
        // The most common gap; among equally common ones the shortest, so the answer does not
        // depend on the map's order.
        let (&gap, _) = gaps.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))?;
        if (28 * NANOS_PER_DAY..=31 * NANOS_PER_DAY).contains(&gap) {
            return Some(Interval::Month1);
        }
        Some(
            Interval::ALL
                .into_iter()
                .find(|i| i.nanos() == Some(gap))
                .unwrap_or(Interval::Irregular),
        )
    }
}

impl Default for Interval {
    /// Daily bars.
    fn default() -> Self {
        Interval::Day1
    }
}

impl serde::Serialize for Interval {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Interval {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bar interval that is not one of [`Interval::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{given}` is not a bar interval: use one of 1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w, 1mo or irregular"
)]
pub struct IntervalError {
    /// What was given.
    pub given: String,
}

impl FromStr for Interval {
    type Err = IntervalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Interval::ALL
            .into_iter()
            .find(|i| i.as_str() == t)
            .ok_or_else(|| IntervalError {
                given: crate::text::echo(t),
            })
    }
}

/// An exchange time zone: an IANA name (`America/New_York`, `Europe/London`) or `UTC`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Zone(chrono_tz::Tz);

impl Zone {
    /// UTC: FX, crypto, and data already in UTC.
    pub const UTC: Zone = Zone(chrono_tz::Tz::UTC);

    /// The zone's IANA name.
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The instant of a local wall-clock time in this zone. A time that occurs twice (the hour
    /// repeated when clocks go back) or never (the hour skipped when they go forward) is a
    /// [`TimeFault`]: which instant was meant cannot be known.
    pub fn instant(self, local: NaiveDateTime) -> Result<Stamp, TimeFault> {
        match self.0.from_local_datetime(&local) {
            LocalResult::Single(t) => t.timestamp_nanos_opt().ok_or(TimeFault::OutOfRange),
            LocalResult::Ambiguous(..) => Err(TimeFault::Ambiguous { zone: self.name() }),
            LocalResult::None => Err(TimeFault::Skipped { zone: self.name() }),
        }
    }

    /// Seconds east of UTC in this zone at an instant (seconds since the epoch, UTC), daylight
    /// saving included; `None` past the range of dates chrono represents.
    pub fn offset_at(self, utc_seconds: i64) -> Option<i32> {
        let at = chrono::DateTime::from_timestamp(utc_seconds, 0)?;
        Some(
            self.0
                .offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc(),
        )
    }

    /// The local wall-clock time of an instant in this zone.
    pub fn local(self, stamp: Stamp) -> NaiveDateTime {
        chrono::DateTime::from_timestamp_nanos(stamp)
            .with_timezone(&self.0)
            .naive_local()
    }
}

impl serde::Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone::UTC
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Each bar's place on the exchange's calendar and clock: what the expression functions of time
/// (`hour`, `minute`, `day_of_week`, `time_of_day`) and the session kernels
/// (`quantd_ta::session`, keyed by [`Clock::session`]) read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Clock {
    /// The local date (days since 1970-01-01): the session key.
    pub session: Vec<i64>,
    /// Minutes since local midnight, 0 ..= 1439.
    pub minute_of_day: Vec<u16>,
    /// The local weekday, Monday 0 ..= Sunday 6.
    pub weekday: Vec<u8>,
}

impl Clock {
    /// The clock of bars at `stamps` in `zone`.
    pub fn of(stamps: &[Stamp], zone: Zone) -> Clock {
        let mut clock = Clock {
            session: Vec::with_capacity(stamps.len()),
            minute_of_day: Vec::with_capacity(stamps.len()),
            weekday: Vec::with_capacity(stamps.len()),
        };
        for &t in stamps {
            let local = zone.local(t);
            let day = crate::bars::day_from_date(local.date());
            clock.session.push(i64::from(day));
            clock
                .minute_of_day
                .push((local.hour() * 60 + local.minute()) as u16);
            clock
                .weekday
                .push(local.weekday().num_days_from_monday() as u8);
        }
        clock
    }
}

/// How a pack's instants read: its bar interval, the exchange's time zone, and whether its bars
/// are daily (each instant is a session date at 00:00 UTC, shown as that date) or intraday
/// (instants shown in the zone's wall clock with their UTC offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Calendar {
    /// The bar interval.
    pub interval: Interval,
    /// The exchange's time zone (`UTC` for FX and crypto, and for daily data given without one).
    pub zone: Zone,
    /// Whether the bars are daily: keyed by session date, not by time of day.
    pub daily: bool,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar::DAILY
    }
}

impl Calendar {
    /// Daily bars in UTC: what every pack was before packs kept instants.
    pub const DAILY: Calendar = Calendar {
        interval: Interval::Day1,
        zone: Zone::UTC,
        daily: true,
    };

    /// The session date of a bar: a daily bar's date, an intraday bar's local date in the zone.
    pub fn day_of(self, stamp: Stamp) -> Day {
        if self.daily {
            day_of_stamp(stamp)
        } else {
            crate::bars::day_from_date(self.zone.local(stamp).date())
        }
    }

    /// The first instant of session date `day`: a daily bar's instant, or the zone's first
    /// instant of that local date (its midnight, or the first hour after a skipped midnight).
    pub fn day_start(self, day: Day) -> Option<Stamp> {
        let start = stamp_of_day(day)?;
        if self.daily {
            return Some(start);
        }
        let date = crate::bars::try_date_from_day(day).ok()?;
        (0..24).find_map(|hour| {
            let local = date.and_hms_opt(hour, 0, 0)?;
            self.zone
                .0
                .from_local_datetime(&local)
                .earliest()?
                .timestamp_nanos_opt()
        })
    }

    /// The instants `from ..= to` (dates, both optional) cover: from the first instant of `from`
    /// to the last instant before the day after `to`.
    pub fn span(self, from: Option<Day>, to: Option<Day>) -> (Option<Stamp>, Option<Stamp>) {
        let lo = from.map(|d| self.day_start(d).unwrap_or(Stamp::MIN));
        let hi = to.map(|d| {
            d.checked_add(1)
                .and_then(|next| self.day_start(next))
                .map_or(Stamp::MAX, |s| s - 1)
        });
        (lo, hi)
    }

    /// A bar's instant as people and files read it: `2024-01-02` for a daily bar,
    /// `2024-01-02T09:30:00-05:00` (local time with its offset, RFC 3339) for an intraday one.
    pub fn format(self, stamp: Stamp) -> String {
        if self.daily {
            return crate::bars::date_from_day(day_of_stamp(stamp)).to_string();
        }
        let local = self.zone.local(stamp);
        let offset = self
            .zone
            .offset_at(stamp.div_euclid(NANOS_PER_SECOND))
            .unwrap_or(0);
        let sign = if offset < 0 { '-' } else { '+' };
        let off = offset.unsigned_abs();
        let mut s = local.format("%Y-%m-%dT%H:%M:%S").to_string();
        let nanos = local.nanosecond();
        if nanos != 0 {
            let frac = format!("{nanos:09}");
            s.push('.');
            s.push_str(frac.trim_end_matches('0'));
        }
        s.push_str(&format!("{sign}{:02}:{:02}", off / 3600, off / 60 % 60));
        s
    }

    /// The name of the key column in results and exports: `date` or `time`.
    pub fn key_name(self) -> &'static str {
        if self.daily { "date" } else { "time" }
    }

    /// Each bar's place on the exchange's clock (a daily bar's is its date at 00:00).
    pub fn clock(self, stamps: &[Stamp]) -> Clock {
        Clock::of(stamps, if self.daily { Zone::UTC } else { self.zone })
    }
}

/// A time of day written `HH:MM` (as in `time_of_day >= "09:45"`), in minutes since midnight.
pub fn minute_of_day(text: &str) -> Option<u16> {
    match text.trim().as_bytes() {
        [h1, h2, b':', m1, m2] => {
            let (h, m) = (digits(&[*h1, *h2]).ok()?, digits(&[*m1, *m2]).ok()?);
            (h < 24 && m < 60).then(|| (h * 60 + m) as u16)
        }
        _ => None,
    }
}

/// A time zone name that is not in the IANA database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{given}` is not a time zone: give an IANA name such as America/New_York, Europe/London or UTC"
)]
pub struct ZoneError {
    /// What was given.
    pub given: String,
}

impl FromStr for Zone {
    type Err = ZoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") {
            return Ok(Zone::UTC);
        }
        chrono_tz::Tz::from_str(t).map(Zone).map_err(|_| ZoneError {
            given: crate::text::echo(t),
        })
    }
}

/// The unit of epoch timestamps in a file (`--epoch s|ms|ns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epoch {
    /// Seconds since 1970-01-01 00:00 UTC.
    Seconds,
    /// Milliseconds.
    Millis,
    /// Nanoseconds.
    Nanos,
}

impl Epoch {
    fn nanos(self) -> i64 {
        match self {
            Epoch::Seconds => NANOS_PER_SECOND,
            Epoch::Millis => 1_000_000,
            Epoch::Nanos => 1,
        }
    }
}

impl Epoch {
    /// `s`, `ms` or `ns`.
    pub fn as_str(self) -> &'static str {
        match self {
            Epoch::Seconds => "s",
            Epoch::Millis => "ms",
            Epoch::Nanos => "ns",
        }
    }
}

impl serde::Serialize for Epoch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Epoch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl FromStr for Epoch {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "s" => Ok(Epoch::Seconds),
            "ms" => Ok(Epoch::Millis),
            "ns" => Ok(Epoch::Nanos),
            other => Err(format!(
                "`{}` is not an epoch unit: use s, ms or ns",
                crate::text::echo(other)
            )),
        }
    }
}

/// Why a timestamp cell has no instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TimeFault {
    /// Not a date, a datetime or (with an epoch unit) an integer.
    #[error(
        "not a timestamp: write YYYY-MM-DD, YYYY-MM-DD HH:MM[:SS[.fraction]] with an optional Z or \
         offset (+05:00), or an integer with --epoch s|ms|ns"
    )]
    Malformed,
    /// Before 1677-09-21 or after 2262-04-11 (or before the earliest pack date).
    #[error("the timestamp is outside the supported range 1800-01-01 ..= 2262-04-11")]
    OutOfRange,
    /// A local time that occurs twice in the zone (clocks going back).
    #[error(
        "this local time occurs twice in {zone} (clocks go back): write it with its UTC offset, or \
         import data written in UTC with --tz UTC"
    )]
    Ambiguous {
        /// The zone.
        zone: &'static str,
    },
    /// A local time that never occurs in the zone (clocks going forward).
    #[error(
        "this local time does not exist in {zone} (clocks go forward): check the row, or the zone \
         given with --tz"
    )]
    Skipped {
        /// The zone.
        zone: &'static str,
    },
}

/// A timestamp cell as read: its instant, and the date written (the local date of a naive or
/// offset time, the zone's date of an epoch value), which a daily bar keeps as its session date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// The instant.
    pub stamp: Stamp,
    /// The date as written.
    pub day: Day,
    /// Whether only a date was written (no time of day).
    pub date_only: bool,
    /// Whether the time written is midnight where it was written (true for a date alone): a file
    /// whose every time is midnight holds daily bars.
    pub midnight: bool,
}

/// Reads timestamp cells: naive times are local to `zone`, integers are `epoch` units.
#[derive(Debug, Clone, Copy)]
pub struct StampReader {
    /// The zone of naive times (`--tz`, default UTC).
    pub zone: Zone,
    /// The unit of integer cells; without it an integer is malformed.
    pub epoch: Option<Epoch>,
}

impl Default for StampReader {
    fn default() -> Self {
        StampReader {
            zone: Zone::UTC,
            epoch: None,
        }
    }
}

impl StampReader {
    /// One cell: `YYYY-MM-DD` (a session date: its instant is 00:00 UTC),
    /// `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]]` local to the zone, the same with `Z` or an offset
    /// (`+05:00`, `-0500`, `+05`), or an integer with an epoch unit.
    pub fn read(&self, cell: &str) -> Result<Read, TimeFault> {
        let s = cell.trim();
        if let Some(epoch) = self.epoch
            && !s.is_empty()
            && s.bytes()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == b'-'))
        {
            let v: i64 =
                s.parse()
                    .map_err(|e: std::num::ParseIntError| match e.kind() {
                        std::num::IntErrorKind::PosOverflow
                        | std::num::IntErrorKind::NegOverflow => TimeFault::OutOfRange,
                        _ => TimeFault::Malformed,
                    })?;
            let stamp = v.checked_mul(epoch.nanos()).ok_or(TimeFault::OutOfRange)?;
            let local = self.zone.local(stamp);
            return Ok(Read {
                stamp,
                day: checked(local.date())?,
                date_only: false,
                midnight: local.time() == NaiveTime::MIN,
            });
        }
        let b = s.as_bytes();
        let (date, rest) = b.split_at_checked(10).ok_or(TimeFault::Malformed)?;
        let date = ymd(date)?;
        let day = checked(date)?;
        let Some((&sep, rest)) = rest.split_first() else {
            let stamp = stamp_of_day(day).ok_or(TimeFault::OutOfRange)?;
            return Ok(Read {
                stamp,
                day,
                date_only: true,
                midnight: true,
            });
        };
        if sep != b'T' && sep != b' ' {
            return Err(TimeFault::Malformed);
        }
        let zone_at = rest
            .iter()
            .position(|&c| matches!(c, b'Z' | b'z' | b'+' | b'-'))
            .unwrap_or(rest.len());
        let (clock, offset) = rest.split_at(zone_at);
        let time = clock_time(clock)?;
        let local = date.and_time(time);
        let stamp = match offset {
            [] => self.zone.instant(local)?,
            [b'Z' | b'z'] => utc_nanos(local)?,
            [sign @ (b'+' | b'-'), hm @ ..] => {
                let secs = offset_seconds(hm)?;
                let secs = if *sign == b'-' { -secs } else { secs };
                utc_nanos(local)?
                    .checked_sub(secs * NANOS_PER_SECOND)
                    .ok_or(TimeFault::OutOfRange)?
            }
            _ => return Err(TimeFault::Malformed),
        };
        Ok(Read {
            stamp,
            day,
            date_only: false,
            midnight: time == NaiveTime::MIN,
        })
    }
}

fn checked(date: NaiveDate) -> Result<Day, TimeFault> {
    let day = checked_day_from_date(date).map_err(|_| TimeFault::OutOfRange)?;
    debug_assert!((MIN_DAY..=MAX_DAY).contains(&day));
    Ok(day)
}

fn utc_nanos(local: NaiveDateTime) -> Result<Stamp, TimeFault> {
    local
        .and_utc()
        .timestamp_nanos_opt()
        .ok_or(TimeFault::OutOfRange)
}

/// `YYYY-MM-DD`.
pub(crate) fn ymd(b: &[u8]) -> Result<NaiveDate, TimeFault> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(TimeFault::Malformed);
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    NaiveDate::from_ymd_opt(y as i32, m, d).ok_or(TimeFault::Malformed)
}

/// `HH:MM[:SS[.fraction]]`, the fraction up to nanoseconds; no leap seconds.
fn clock_time(b: &[u8]) -> Result<NaiveTime, TimeFault> {
    let (hms, frac) = match b.iter().position(|&c| c == b'.') {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[][..]),
    };
    let parts: Vec<&[u8]> = hms.split(|&c| c == b':').collect();
    let two = |p: &[u8]| {
        if p.len() == 2 {
            digits(p)
        } else {
            Err(TimeFault::Malformed)
        }
    };
    let (h, m, s) = match parts.as_slice() {
        [h, m] if frac.is_empty() => (two(h)?, two(m)?, 0),
        [h, m, s] => (two(h)?, two(m)?, two(s)?),
        _ => return Err(TimeFault::Malformed),
    };
    if b.ends_with(b".") || frac.len() > 9 {
        return Err(TimeFault::Malformed);
    }
    let nanos = if frac.is_empty() {
        0
    } else {
        digits(frac)? * 10u32.pow(9 - frac.len() as u32)
    };
    NaiveTime::from_hms_nano_opt(h, m, s, nanos).ok_or(TimeFault::Malformed)
}

/// The value of 1 to 9 ASCII digits.
pub(crate) fn digits(b: &[u8]) -> Result<u32, TimeFault> {
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return Err(TimeFault::Malformed);
    }
    Ok(b.iter()
        .fold(0u32, |acc, &c| acc * 10 + u32::from(c - b'0')))
}

/// The seconds of an offset without its sign: `HH:MM`, `HHMM` or `HH`.
pub(crate) fn offset_seconds(b: &[u8]) -> Result<i64, TimeFault> {
    let (h, m) = match b {
        [h1, h2] => ([*h1, *h2], [b'0', b'0']),
        [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => ([*h1, *h2], [*m1, *m2]),
        _ => return Err(TimeFault::Malformed),
    };
    let (h, m) = (digits(&h)?, digits(&m)?);
    if h > 23 || m > 59 {
        return Err(TimeFault::Malformed);
    }
    Ok(i64::from(h * 3600 + m * 60))
}

/// The instant of an RFC 3339 text, for tests.
#[cfg(test)]
pub(crate) fn utc(s: &str) -> Stamp {
    chrono::DateTime::parse_from_rfc3339(s)
        .expect("a test instant")
        .timestamp_nanos_opt()
        .expect("in range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ny() -> StampReader {
        StampReader {
            zone: "America/New_York".parse().expect("a zone"),
            epoch: None,
        }
    }

    #[test]
    fn dates_are_sessions_at_midnight_utc() {
        let r = StampReader::default().read("2024-03-08").expect("a date");
        assert_eq!(r.stamp, utc("2024-03-08T00:00:00Z"));
        assert!(r.date_only);
        assert_eq!(day_of_stamp(r.stamp), r.day);
        assert_eq!(stamp_of_day(r.day), Some(r.stamp));
        // The zone does not move a session date.
        assert_eq!(ny().read("2024-03-08").expect("a date").stamp, r.stamp);
    }

    #[test]
    fn offsets_and_z_name_the_instant_whatever_the_zone() {
        let want = utc("2017-04-20T13:00:00Z");
        for cell in [
            "2017-04-20T13:00:00Z",
            "2017-04-20 13:00:00+00:00",
            "2017-04-20T09:00:00-04:00",
            "2017-04-20T09:00-0400",
            "2017-04-20T18:30:00+05:30",
            "2017-04-20T15:00:00.000000000+02",
        ] {
            assert_eq!(ny().read(cell).map(|r| r.stamp), Ok(want), "{cell}");
        }
        // The date written stays the date of the row, even when UTC's date differs.
        let r = ny().read("2017-04-21T01:00:00+05:00").expect("a time");
        assert_eq!(r.day, day_of_stamp(utc("2017-04-21T00:00:00Z")));
        assert_eq!(r.stamp, utc("2017-04-20T20:00:00Z"));
    }

    #[test]
    fn naive_times_are_local_to_the_zone() {
        // New York is UTC-5 in winter, UTC-4 in summer.
        assert_eq!(
            ny().read("2024-01-02 09:30").map(|r| r.stamp),
            Ok(utc("2024-01-02T14:30:00Z"))
        );
        assert_eq!(
            ny().read("2024-07-02 09:30:00").map(|r| r.stamp),
            Ok(utc("2024-07-02T13:30:00Z"))
        );
        assert_eq!(
            StampReader::default()
                .read("2024-07-02T09:30:00.5")
                .map(|r| r.stamp),
            Ok(utc("2024-07-02T09:30:00.5Z"))
        );
    }

    #[test]
    fn daylight_saving_gaps_and_repeats_are_faults() {
        // 2024-03-10: 02:00 → 03:00 in New York; 2024-11-03: 01:00–02:00 happens twice.
        assert_eq!(
            ny().read("2024-03-10 02:30:00"),
            Err(TimeFault::Skipped {
                zone: "America/New_York"
            })
        );
        assert_eq!(
            ny().read("2024-11-03 01:30:00"),
            Err(TimeFault::Ambiguous {
                zone: "America/New_York"
            })
        );
        // With an offset the instant is known; in UTC nothing is skipped or repeated.
        assert!(ny().read("2024-11-03 01:30:00-04:00").is_ok());
        assert!(StampReader::default().read("2024-03-10 02:30:00").is_ok());
    }

    #[test]
    fn epochs_in_each_unit() {
        let want = utc("2017-04-20T13:00:00Z");
        for (unit, cell) in [
            (Epoch::Seconds, "1492693200"),
            (Epoch::Millis, "1492693200000"),
            (Epoch::Nanos, "1492693200000000000"),
        ] {
            let reader = StampReader {
                zone: Zone::UTC,
                epoch: Some(unit),
            };
            assert_eq!(reader.read(cell).map(|r| r.stamp), Ok(want), "{cell}");
        }
        // Without a unit an integer is not a timestamp; a huge one is out of range.
        assert_eq!(
            StampReader::default().read("1492693200"),
            Err(TimeFault::Malformed)
        );
        let s = StampReader {
            zone: Zone::UTC,
            epoch: Some(Epoch::Seconds),
        };
        assert_eq!(s.read("99999999999999"), Err(TimeFault::OutOfRange));
        assert_eq!(s.read("99999999999999999999"), Err(TimeFault::OutOfRange));
        assert_eq!(s.read("-"), Err(TimeFault::Malformed));
        assert_eq!(s.read("-1").map(|r| r.stamp), Ok(-NANOS_PER_SECOND));
        assert_eq!(
            "us".parse::<Epoch>().map_err(|e| e.contains("s, ms or ns")),
            Err(true)
        );
    }

    #[test]
    fn malformed_cells() {
        for cell in [
            "",
            "2024-13-01",
            "2024-02-30",
            "2024-01-02X09:30",
            "2024-01-02 9:30",
            "2024-01-02 24:00",
            "2024-01-02 09:30:00.",
            "2024-01-02 09:30:00.1234567890",
            "2024-01-02 09:30+5:00",
            "2024-01-02 09:30:00+24:00",
            "yesterday",
        ] {
            assert_eq!(ny().read(cell), Err(TimeFault::Malformed), "{cell:?}");
        }
    }

    #[test]
    fn intervals_parse_print_and_infer() {
        for i in Interval::ALL {
            assert_eq!(i.as_str().parse::<Interval>(), Ok(i));
        }
        let e = "2h".parse::<Interval>().expect_err("not an interval");
        assert!(
            e.to_string()
                .contains("1m, 5m, 15m, 30m, 1h, 4h, 1d, 1w, 1mo"),
            "{e}"
        );
        assert!(Interval::Hour1.is_intraday() && !Interval::Day1.is_intraday());

        let h = 3_600 * NANOS_PER_SECOND;
        // Hourly bars with a weekend gap: the hour wins.
        let hourly: Vec<Stamp> = (0..120)
            .map(|i| i * h)
            .chain((0..24).map(|i| (170 + i) * h))
            .collect();
        assert_eq!(Interval::infer([hourly.as_slice()]), Some(Interval::Hour1));
        // Weekdays only: one-day gaps outnumber weekends.
        let days: Vec<Stamp> = (0..70)
            .filter(|d| d % 7 < 5)
            .map(|d| d * NANOS_PER_DAY)
            .collect();
        assert_eq!(Interval::infer([days.as_slice()]), Some(Interval::Day1));
        // Month starts.
        let months: Vec<Stamp> = (1..=12)
            .map(|m| {
                stamp_of_day(
                    checked_day_from_date(NaiveDate::from_ymd_opt(2024, m, 1).expect("a date"))
                        .expect("in range"),
                )
                .expect("in range")
            })
            .collect();
        assert_eq!(Interval::infer([months.as_slice()]), Some(Interval::Month1));
        // Seven-minute bars are none of the intervals; one bar per ticker says nothing.
        let odd: Vec<Stamp> = (0..10).map(|i| i * 420 * NANOS_PER_SECOND).collect();
        assert_eq!(Interval::infer([odd.as_slice()]), Some(Interval::Irregular));
        assert_eq!(Interval::infer([&[5][..], &[7][..]]), None);
    }

    #[test]
    fn the_clock_is_the_exchanges_wall_clock() {
        let stamps = [
            utc("2024-03-08T14:30:00Z"), // Friday 09:30 EST
            utc("2024-03-11T13:30:00Z"), // Monday 09:30 EDT
            utc("2024-03-12T03:59:00Z"), // Monday 23:59 EDT: still Monday's session
        ];
        let c = Clock::of(&stamps, ny().zone);
        let day = |s: &str| i64::from(day_of_stamp(utc(s)));
        assert_eq!(
            c.session,
            [
                day("2024-03-08T00:00:00Z"),
                day("2024-03-11T00:00:00Z"),
                day("2024-03-11T00:00:00Z")
            ]
        );
        assert_eq!(c.minute_of_day, [570, 570, 1439]);
        assert_eq!(c.weekday, [4, 0, 0]);
        let u = Clock::of(&stamps, Zone::UTC);
        assert_eq!(u.minute_of_day, [870, 810, 239]);
        assert_eq!(u.weekday, [4, 0, 1]);
        assert_eq!(minute_of_day("09:45"), Some(585));
        assert_eq!(minute_of_day("23:59"), Some(1439));
        for bad in ["24:00", "9:45", "09:60", "09:45:00", "noon"] {
            assert_eq!(minute_of_day(bad), None, "{bad}");
        }
    }

    #[test]
    fn zones_by_name() {
        assert_eq!("utc".parse::<Zone>().map(Zone::name), Ok("UTC"));
        assert_eq!(
            "Europe/London".parse::<Zone>().map(Zone::name),
            Ok("Europe/London")
        );
        let e = "Mars/Olympus".parse::<Zone>().expect_err("no such zone");
        assert!(e.to_string().contains("IANA name"), "{e}");
    }
}

//! The clock of each bar, as programs that use functions of time (`hour`, `time_of_day`,
//! `bars_since_open`, `vwap`, …) receive it: three input columns the engine computes from the
//! bars' instants in the pack's time zone, named [`SESSION`], [`MINUTE_OF_DAY`] and [`WEEKDAY`].
//!
//! A program lists the clock columns it needs in [`crate::Program::columns`], after the pack's
//! columns, and takes them in [`crate::Program::evaluate`] like any other column. A program
//! that uses no function of time lists none, so it reads exactly what it would without this
//! module. The names start with `@`, which no pack column and no user code can contain: code
//! cannot name them (the lexer refuses `@`), only the functions of time read them.
//!
//! This module also reads the time strings of comparisons like `time_of_day >= "09:45"`.

/// The session key of each bar: the local date, as days since 1970-01-01. Equal for the bars of
/// one session, increasing from session to session (whole numbers; never NaN).
///
/// Session values are computed from the first bar passed: its session counts as the first one
/// (`prev_day_close` is NaN in it) and starts at that bar. A caller that evaluates a window of a
/// ticker's bars rather than all of them should start the window at a session's first bar, one
/// session before the first it reports; [`crate::Cost::max_lookback`] does not count this.
pub const SESSION: &str = "@session";

/// Minutes since local midnight of each bar's start, `0..=1439`.
pub const MINUTE_OF_DAY: &str = "@minute_of_day";

/// The local day of the week of each bar: Monday 0 … Sunday 6.
pub const WEEKDAY: &str = "@weekday";

/// Every clock column, in the order [`crate::Program::columns`] lists those a program uses.
pub const COLUMNS: [&str; 3] = [SESSION, MINUTE_OF_DAY, WEEKDAY];

/// Whether `name` is a clock column ([`SESSION`], [`MINUTE_OF_DAY`] or [`WEEKDAY`]), which the
/// engine computes rather than reads from the pack.
pub fn is_clock_column(name: &str) -> bool {
    COLUMNS.contains(&name)
}

/// A clock column, as the compiler tracks it. The order is [`COLUMNS`]'s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum ClockCol {
    Session,
    MinuteOfDay,
    Weekday,
}

impl ClockCol {
    /// The column's name ([`SESSION`], …).
    pub fn name(self) -> &'static str {
        COLUMNS[self as usize]
    }
}

/// Minutes since midnight of a time of day written `"HH:MM"` (24-hour clock, `00:00` to
/// `23:59`), or how to write it when `text` is not one.
pub(crate) fn parse_time_of_day(text: &str) -> Result<u32, String> {
    const FORM: &str = "write a time of day as \"HH:MM\" on a 24-hour clock, from \"00:00\" to \
                        \"23:59\", e.g. \"09:45\"";
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    let Some((h, m)) = text.split_once(':') else {
        return Err(FORM.to_string());
    };
    if !digits(h) || !digits(m) || m.len() != 2 {
        return Err(FORM.to_string());
    }
    // At most two digits each, so these parse.
    let (hour, minute): (u32, u32) = (h.parse().unwrap_or(99), m.parse().unwrap_or(99));
    if minute > 59 {
        return Err(format!("the minutes run from 00 to 59; {FORM}"));
    }
    if hour > 23 {
        return Err(format!("the hours run from 00 to 23; {FORM}"));
    }
    if h.len() != 2 {
        return Err(format!("write the hour with two digits: \"{hour:02}:{m}\""));
    }
    Ok(hour * 60 + minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_order() {
        assert_eq!(ClockCol::Session.name(), "@session");
        assert_eq!(ClockCol::MinuteOfDay.name(), "@minute_of_day");
        assert_eq!(ClockCol::Weekday.name(), "@weekday");
        assert!(
            ClockCol::Session < ClockCol::MinuteOfDay && ClockCol::MinuteOfDay < ClockCol::Weekday
        );
        assert!(is_clock_column("@weekday"));
        assert!(!is_clock_column("weekday") && !is_clock_column("close"));
    }

    #[test]
    fn times_of_day() {
        assert_eq!(parse_time_of_day("00:00"), Ok(0));
        assert_eq!(parse_time_of_day("09:45"), Ok(585));
        assert_eq!(parse_time_of_day("23:59"), Ok(1439));
        for bad in [
            "9:75", "24:00", "09:60", "0945", "09:5", "09:45:00", "", ":", "ab:cd", "-1:00",
            "+9:00", "09 :45",
        ] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
        assert!(
            parse_time_of_day("9:75")
                .unwrap_err()
                .starts_with("the minutes run")
        );
        assert!(
            parse_time_of_day("24:00")
                .unwrap_err()
                .starts_with("the hours run")
        );
        assert_eq!(
            parse_time_of_day("9:45").unwrap_err(),
            "write the hour with two digits: \"09:45\""
        );
    }
}

//! The built-in functions: names, signatures, argument kinds and result shapes, in one table
//! that the checker, the error messages and the docs all follow.
//!
//! The functions of time (`hour`, `vwap`, `bars_since_open`, …) take no arguments: they read
//! the bar's clock ([`crate::clock`]) and, for the session values, pack columns. They are
//! *values*: written as a bare name (`hour >= 10`) or as a call (`hour()`); see
//! [`Spec::is_value`].

/// A built-in function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Func {
    Sma,
    Ema,
    Wma,
    Rsi,
    Atr,
    Natr,
    Macd,
    Bbands,
    Stddev,
    Roc,
    Mom,
    Obv,
    Stoch,
    Adx,
    Cci,
    Willr,
    Highest,
    Lowest,
    Shift,
    CrossesAbove,
    CrossesBelow,
    Abs,
    Min,
    Max,
    PctChange,
    Rising,
    Falling,
    Hour,
    Minute,
    DayOfWeek,
    TimeOfDay,
    BarsSinceOpen,
    FirstBarOfDay,
    Vwap,
    DayOpen,
    DayHigh,
    DayLow,
    PrevDayClose,
}

/// What an argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// A number series (a constant is broadcast).
    Series,
    /// A number or a condition series; the result has the same type.
    AnySeries,
    /// A constant whole number from `min` to [`MAX_COUNT`]: a period or a number of bars.
    Count { min: u32 },
    /// A constant number (e.g. a number of standard deviations).
    Real,
}

/// The largest period or bar count accepted (TA-Lib's limit).
pub(crate) const MAX_COUNT: u32 = 100_000;

/// What a function returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Returns {
    Number,
    Condition,
    /// The type of the first argument.
    SameAsFirst,
}

/// One row of the table.
pub(crate) struct Spec {
    pub name: &'static str,
    pub func: Func,
    pub args: &'static [(&'static str, ArgKind)],
    /// How many leading arguments are required; the rest are optional.
    pub required: usize,
    /// Output fields of a multi-output function; empty for one output.
    pub fields: &'static [&'static str],
    pub returns: Returns,
}

use crate::clock::ClockCol;
use ArgKind::{AnySeries, Count, Real, Series};

const X_PERIOD2: &[(&str, ArgKind)] = &[("x", Series), ("period", Count { min: 2 })];
const X_PERIOD1: &[(&str, ArgKind)] = &[("x", Series), ("period", Count { min: 1 })];
const HLC_PERIOD1: &[(&str, ArgKind)] = &[
    ("high", Series),
    ("low", Series),
    ("close", Series),
    ("period", Count { min: 1 }),
];
const HLC_PERIOD2: &[(&str, ArgKind)] = &[
    ("high", Series),
    ("low", Series),
    ("close", Series),
    ("period", Count { min: 2 }),
];
const X_N1: &[(&str, ArgKind)] = &[("x", Series), ("n", Count { min: 1 })];
const A_B: &[(&str, ArgKind)] = &[("a", Series), ("b", Series)];

const fn spec(
    name: &'static str,
    func: Func,
    args: &'static [(&'static str, ArgKind)],
    returns: Returns,
) -> Spec {
    Spec {
        name,
        func,
        args,
        required: args.len(),
        fields: &[],
        returns,
    }
}

/// Every function, in the order the docs list them.
pub(crate) static FUNCTIONS: &[Spec] = &[
    spec("sma", Func::Sma, X_PERIOD1, Returns::Number),
    spec("ema", Func::Ema, X_PERIOD1, Returns::Number),
    spec("wma", Func::Wma, X_PERIOD1, Returns::Number),
    spec("rsi", Func::Rsi, X_PERIOD2, Returns::Number),
    spec("atr", Func::Atr, HLC_PERIOD1, Returns::Number),
    spec("natr", Func::Natr, HLC_PERIOD1, Returns::Number),
    Spec {
        name: "macd",
        func: Func::Macd,
        args: &[
            ("x", Series),
            ("fast", Count { min: 2 }),
            ("slow", Count { min: 2 }),
            ("signal", Count { min: 1 }),
        ],
        required: 4,
        fields: &["macd", "signal", "hist"],
        returns: Returns::Number,
    },
    Spec {
        name: "bbands",
        func: Func::Bbands,
        args: &[
            ("x", Series),
            ("period", Count { min: 2 }),
            ("nbdev", Real),
            ("nbdev_dn", Real),
        ],
        required: 3,
        fields: &["upper", "middle", "lower"],
        returns: Returns::Number,
    },
    Spec {
        name: "stddev",
        func: Func::Stddev,
        args: &[("x", Series), ("period", Count { min: 2 }), ("nbdev", Real)],
        required: 2,
        fields: &[],
        returns: Returns::Number,
    },
    spec("roc", Func::Roc, X_PERIOD1, Returns::Number),
    spec("mom", Func::Mom, X_PERIOD1, Returns::Number),
    spec(
        "obv",
        Func::Obv,
        &[("close", Series), ("volume", Series)],
        Returns::Number,
    ),
    Spec {
        name: "stoch",
        func: Func::Stoch,
        args: &[
            ("high", Series),
            ("low", Series),
            ("close", Series),
            ("fastk", Count { min: 1 }),
            ("slowk", Count { min: 1 }),
            ("slowd", Count { min: 1 }),
        ],
        required: 6,
        fields: &["k", "d"],
        returns: Returns::Number,
    },
    spec("adx", Func::Adx, HLC_PERIOD2, Returns::Number),
    spec("cci", Func::Cci, HLC_PERIOD2, Returns::Number),
    spec("willr", Func::Willr, HLC_PERIOD2, Returns::Number),
    spec("highest", Func::Highest, X_N1, Returns::Number),
    spec("lowest", Func::Lowest, X_N1, Returns::Number),
    spec(
        "shift",
        Func::Shift,
        &[("x", AnySeries), ("n", Count { min: 0 })],
        Returns::SameAsFirst,
    ),
    spec("crosses_above", Func::CrossesAbove, A_B, Returns::Condition),
    spec("crosses_below", Func::CrossesBelow, A_B, Returns::Condition),
    spec("abs", Func::Abs, &[("x", Series)], Returns::Number),
    spec("min", Func::Min, A_B, Returns::Number),
    spec("max", Func::Max, A_B, Returns::Number),
    spec("pct_change", Func::PctChange, X_N1, Returns::Number),
    spec("rising", Func::Rising, X_N1, Returns::Condition),
    spec("falling", Func::Falling, X_N1, Returns::Condition),
    spec("hour", Func::Hour, &[], Returns::Number),
    spec("minute", Func::Minute, &[], Returns::Number),
    spec("day_of_week", Func::DayOfWeek, &[], Returns::Number),
    spec("time_of_day", Func::TimeOfDay, &[], Returns::Number),
    spec("bars_since_open", Func::BarsSinceOpen, &[], Returns::Number),
    spec(
        "first_bar_of_day",
        Func::FirstBarOfDay,
        &[],
        Returns::Condition,
    ),
    spec("vwap", Func::Vwap, &[], Returns::Number),
    spec("day_open", Func::DayOpen, &[], Returns::Number),
    spec("day_high", Func::DayHigh, &[], Returns::Number),
    spec("day_low", Func::DayLow, &[], Returns::Number),
    spec("prev_day_close", Func::PrevDayClose, &[], Returns::Number),
];

/// The table row for `name`.
pub(crate) fn lookup(name: &str) -> Option<&'static Spec> {
    FUNCTIONS.iter().find(|s| s.name == name)
}

impl Func {
    pub(crate) fn spec(self) -> &'static Spec {
        FUNCTIONS
            .iter()
            .find(|s| s.func == self)
            .expect("every function is in the table")
    }

    /// What a function of time reads: its clock columns and the pack columns it needs (by
    /// name); `None` for the other functions.
    pub(crate) fn reads(self) -> Option<(&'static [ClockCol], &'static [&'static str])> {
        use ClockCol::{MinuteOfDay, Session, Weekday};
        Some(match self {
            Func::Hour | Func::Minute | Func::TimeOfDay => (&[MinuteOfDay], &[]),
            Func::DayOfWeek => (&[Weekday], &[]),
            Func::BarsSinceOpen | Func::FirstBarOfDay => (&[Session], &[]),
            Func::Vwap => (&[Session], &["high", "low", "close", "volume"]),
            Func::DayOpen => (&[Session], &["open"]),
            Func::DayHigh => (&[Session], &["high"]),
            Func::DayLow => (&[Session], &["low"]),
            Func::PrevDayClose => (&[Session], &["close"]),
            _ => return None,
        })
    }
}

impl Spec {
    /// Whether this is a value of each bar (a function of time, taking no arguments), which can
    /// be written as a bare name: `hour` as well as `hour()`.
    pub(crate) fn is_value(&self) -> bool {
        self.args.is_empty()
    }

    /// `sma(x, period)`, `bbands(x, period, nbdev[, nbdev_dn])`.
    pub(crate) fn signature(&self) -> String {
        let mut s = format!("{}(", self.name);
        for (i, (name, _)) in self.args.iter().enumerate() {
            if i == self.required {
                s.push('[');
            }
            if i > 0 {
                s.push_str(", ");
            }
            s.push_str(name);
        }
        if self.args.len() > self.required {
            s.push(']');
        }
        s.push(')');
        if !self.fields.is_empty() {
            s.push_str(&format!(".{{{}}}", self.fields.join(", ")));
        }
        s
    }

    /// "`.macd`, `.signal` or `.hist`" (with `conjunction` "or").
    pub(crate) fn field_list(&self, conjunction: &str) -> String {
        let quoted: Vec<String> = self.fields.iter().map(|f| format!("`.{f}`")).collect();
        match quoted.split_last() {
            Some((last, rest)) if !rest.is_empty() => {
                format!("{} {conjunction} {last}", rest.join(", "))
            }
            _ => quoted.join(""),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        assert_eq!(lookup("sma").unwrap().signature(), "sma(x, period)");
        assert_eq!(
            lookup("bbands").unwrap().signature(),
            "bbands(x, period, nbdev[, nbdev_dn]).{upper, middle, lower}"
        );
        assert_eq!(
            lookup("macd").unwrap().field_list("or"),
            "`.macd`, `.signal` or `.hist`"
        );
        assert_eq!(lookup("stoch").unwrap().field_list("and"), "`.k` and `.d`");
        assert_eq!(lookup("vwap").unwrap().signature(), "vwap()");
    }

    #[test]
    fn values_are_exactly_the_functions_of_time() {
        for s in FUNCTIONS {
            assert_eq!(s.is_value(), s.func.reads().is_some(), "{}", s.name);
        }
    }

    /// Every function has a row in a table of docs/expressions.md: `| `sma(` …, or `| `hour` `
    /// for a value.
    #[test]
    fn docs_list_every_function() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/expressions.md");
        let doc = std::fs::read_to_string(path).expect("docs/expressions.md exists");
        let missing: Vec<&str> = FUNCTIONS
            .iter()
            .map(|s| s.name)
            .filter(|name| {
                !doc.contains(&format!("| `{name}(")) && !doc.contains(&format!("| `{name}` "))
            })
            .collect();
        assert!(
            missing.is_empty(),
            "not in docs/expressions.md: {missing:?}"
        );
    }

    #[test]
    fn table_is_consistent() {
        for (i, s) in FUNCTIONS.iter().enumerate() {
            assert_eq!(s.func.spec().name, s.name);
            assert!(s.required <= s.args.len());
            assert!(
                FUNCTIONS[..i].iter().all(|o| o.name != s.name),
                "{} twice",
                s.name
            );
        }
    }
}

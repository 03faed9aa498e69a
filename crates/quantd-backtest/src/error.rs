//! The one error type of this crate.
//!
//! Every failure is caused by the caller's input (bars, signals, options, a parameter grid) or by
//! the caller's signal generator; none is transient, so none is worth retrying as is. Each maps
//! to an [`ErrorClass`] for the engine and the API.

use quantd_core::error::ErrorClass;

/// What went wrong. Nothing is simulated when a function returns an error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BacktestError {
    /// A backtest needs at least one bar.
    #[error("bars: there are no bars; a backtest needs at least one")]
    NoBars,

    /// A column (of bars or of signals) does not have as many rows as the bars' `time`.
    #[error(
        "{what}: column `{column}` has {len} rows but `time` has {expected}; \
         every column must have one row per bar"
    )]
    LengthMismatch {
        /// `"bars"` or `"signals"`.
        what: &'static str,
        /// The column whose length is wrong.
        column: &'static str,
        /// Its length.
        len: usize,
        /// The number of bars.
        expected: usize,
    },

    /// A price is not a finite positive number.
    #[error(
        "bars: `{column}` at row {row} is {value}; prices must be finite and greater than 0 \
         (drop or fill the row before backtesting)"
    )]
    BadPrice {
        /// `open`, `high`, `low` or `close`.
        column: &'static str,
        /// The 0-based row.
        row: usize,
        /// The value found.
        value: f64,
    },

    /// Bar times are not strictly increasing.
    #[error(
        "bars: time at row {row} ({}) is not after the previous row's ({}); bars must be \
         sorted by time, one bar per instant",
        crate::calendar::show(*time),
        crate::calendar::show(*previous)
    )]
    UnsortedTime {
        /// The 0-based row whose time is not after its predecessor's.
        row: usize,
        /// Its instant, nanoseconds since 1970-01-01 00:00 UTC.
        time: i64,
        /// The previous row's instant.
        previous: i64,
    },

    /// An option is out of its range.
    #[error("backtest option `{field}` is {value}; {rule}")]
    Config {
        /// The option's name, as in [`crate::Config`].
        field: &'static str,
        /// The value given.
        value: String,
        /// What the value must be.
        rule: &'static str,
    },

    /// A parameter range (`name=start..end:step`) or grid could not be used.
    #[error("parameter `{spec}`: {reason}")]
    Grid {
        /// The specification as written (or the parameter's name).
        spec: String,
        /// What is wrong and how to write it instead.
        reason: String,
    },

    /// A signal generator asked for a parameter the grid does not have, or of the wrong kind.
    #[error("parameter `{name}`: {reason}")]
    Param {
        /// The parameter's name.
        name: String,
        /// What is wrong.
        reason: String,
    },

    /// A statistic's name that is not one of [`crate::Metric`]'s.
    #[error("`{name}` is not a statistic; use one of: {known}")]
    UnknownMetric {
        /// The name given.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },

    /// The caller's signal generator failed for one ticker and parameter set.
    #[error("signals for {ticker} with {params}: {message}")]
    Generator {
        /// The ticker's name.
        ticker: String,
        /// The parameter set, as `name=value, ...`.
        params: String,
        /// The generator's error message.
        message: String,
    },

    /// A parameter-sweep worker thread pool could not be started.
    #[error("sweep: could not start {threads} worker threads: {message}")]
    ThreadPool {
        /// The number of threads asked for.
        threads: usize,
        /// The system's reason.
        message: String,
    },
}

impl BacktestError {
    /// The error's class: bad bars are [`ErrorClass::Data`], a failing signal generator is
    /// [`ErrorClass::Execution`], a thread pool that cannot start is [`ErrorClass::Resource`],
    /// everything else is the caller's input, [`ErrorClass::Validation`].
    pub fn class(&self) -> ErrorClass {
        match self {
            BacktestError::NoBars
            | BacktestError::BadPrice { .. }
            | BacktestError::UnsortedTime { .. } => ErrorClass::Data,
            BacktestError::LengthMismatch { what, .. } if *what == "bars" => ErrorClass::Data,
            BacktestError::Generator { .. } => ErrorClass::Execution,
            BacktestError::ThreadPool { .. } => ErrorClass::Resource,
            _ => ErrorClass::Validation,
        }
    }

    /// Whether the same call could succeed if tried again: only when threads could not start.
    pub fn is_retryable(&self) -> bool {
        matches!(self, BacktestError::ThreadPool { .. })
    }

    pub(crate) fn config(field: &'static str, value: impl ToString, rule: &'static str) -> Self {
        BacktestError::Config {
            field,
            value: value.to_string(),
            rule,
        }
    }

    pub(crate) fn grid(spec: impl Into<String>, reason: impl Into<String>) -> Self {
        BacktestError::Grid {
            spec: spec.into(),
            reason: reason.into(),
        }
    }
}

/// The result of this crate's fallible functions.
pub type Result<T, E = BacktestError> = std::result::Result<T, E>;

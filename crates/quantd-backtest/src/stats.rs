//! The statistics of a backtest ([`Stats`]) under backtesting.py's names, in its order, and the
//! numeric ones as [`Metric`]s a sweep can rank by. How each is computed is in [`crate::metrics`]
//! and in `docs/backtesting.md`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::calendar::{self, serde_nan, serde_time};
use crate::error::BacktestError;

/// backtesting.py's statistics of one backtest. Serialized as a map with backtesting.py's
/// names as keys (`"Sharpe Ratio"`, `"Max. Drawdown [%]"`, …), in its order; `NaN` as `null`;
/// `Start`/`End` as `YYYY-MM-DD` for daily bars, else RFC 3339 in UTC; durations as a number of
/// days (fractional for intraday bars).
///
/// Unlike backtesting.py, `Commissions [$]` is always present (it omits it when zero).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// First bar's instant (nanoseconds since 1970-01-01 00:00 UTC).
    #[serde(rename = "Start", with = "serde_time")]
    pub start: i64,
    /// Last bar's instant.
    #[serde(rename = "End", with = "serde_time")]
    pub end: i64,
    /// `End - Start`, days.
    #[serde(rename = "Duration", with = "serde_nan")]
    pub duration: f64,
    /// Share of bars on which a (closed) trade was open, %.
    #[serde(rename = "Exposure Time [%]", with = "serde_nan")]
    pub exposure_time_pct: f64,
    /// Equity at the last bar.
    #[serde(rename = "Equity Final [$]", with = "serde_nan")]
    pub equity_final: f64,
    /// Highest equity.
    #[serde(rename = "Equity Peak [$]", with = "serde_nan")]
    pub equity_peak: f64,
    /// Commissions paid by the closed trades.
    #[serde(rename = "Commissions [$]", with = "serde_nan")]
    pub commissions: f64,
    /// Total return, %.
    #[serde(rename = "Return [%]", with = "serde_nan")]
    pub return_pct: f64,
    /// Return of holding from the warm-up bar's close to the last close, %.
    #[serde(rename = "Buy & Hold Return [%]", with = "serde_nan")]
    pub buy_hold_return_pct: f64,
    /// Geometric mean period return, compounded over a year, %.
    #[serde(rename = "Return (Ann.) [%]", with = "serde_nan")]
    pub return_ann_pct: f64,
    /// Annualized volatility of period returns, %.
    #[serde(rename = "Volatility (Ann.) [%]", with = "serde_nan")]
    pub volatility_ann_pct: f64,
    /// Compound annual growth rate over the calendar duration, %.
    #[serde(rename = "CAGR [%]", with = "serde_nan")]
    pub cagr_pct: f64,
    /// (Return (Ann.) − risk-free) / Volatility (Ann.).
    #[serde(rename = "Sharpe Ratio", with = "serde_nan")]
    pub sharpe_ratio: f64,
    /// (Return (Ann.) − risk-free) / annualized downside deviation.
    #[serde(rename = "Sortino Ratio", with = "serde_nan")]
    pub sortino_ratio: f64,
    /// Return (Ann.) / −Max. Drawdown.
    #[serde(rename = "Calmar Ratio", with = "serde_nan")]
    pub calmar_ratio: f64,
    /// Jensen's alpha against Buy & Hold, %.
    #[serde(rename = "Alpha [%]", with = "serde_nan")]
    pub alpha_pct: f64,
    /// Beta of the equity's log returns to the close's log returns.
    #[serde(rename = "Beta", with = "serde_nan")]
    pub beta: f64,
    /// Deepest drawdown from a running equity peak, % (≤ 0).
    #[serde(rename = "Max. Drawdown [%]", with = "serde_nan")]
    pub max_drawdown_pct: f64,
    /// Mean of the drawdown periods' deepest points, % (≤ 0).
    #[serde(rename = "Avg. Drawdown [%]", with = "serde_nan")]
    pub avg_drawdown_pct: f64,
    /// Longest drawdown period, days.
    #[serde(rename = "Max. Drawdown Duration", with = "serde_nan")]
    pub max_drawdown_duration: f64,
    /// Mean drawdown period, days (rounded up).
    #[serde(rename = "Avg. Drawdown Duration", with = "serde_nan")]
    pub avg_drawdown_duration: f64,
    /// Number of closed trades.
    #[serde(rename = "# Trades")]
    pub trades: u64,
    /// Share of closed trades with a positive PnL, %.
    #[serde(rename = "Win Rate [%]", with = "serde_nan")]
    pub win_rate_pct: f64,
    /// Best trade return, %.
    #[serde(rename = "Best Trade [%]", with = "serde_nan")]
    pub best_trade_pct: f64,
    /// Worst trade return, %.
    #[serde(rename = "Worst Trade [%]", with = "serde_nan")]
    pub worst_trade_pct: f64,
    /// Geometric mean trade return, %.
    #[serde(rename = "Avg. Trade [%]", with = "serde_nan")]
    pub avg_trade_pct: f64,
    /// Longest trade, days.
    #[serde(rename = "Max. Trade Duration", with = "serde_nan")]
    pub max_trade_duration: f64,
    /// Mean trade duration, days (rounded up).
    #[serde(rename = "Avg. Trade Duration", with = "serde_nan")]
    pub avg_trade_duration: f64,
    /// Sum of winning trade returns / −sum of losing trade returns.
    #[serde(rename = "Profit Factor", with = "serde_nan")]
    pub profit_factor: f64,
    /// Arithmetic mean trade return, %.
    #[serde(rename = "Expectancy [%]", with = "serde_nan")]
    pub expectancy_pct: f64,
    /// Van Tharp's System Quality Number: √trades × mean PnL / std PnL.
    #[serde(rename = "SQN", with = "serde_nan")]
    pub sqn: f64,
    /// Kelly fraction: win rate − loss rate / (mean win / mean loss).
    #[serde(rename = "Kelly Criterion", with = "serde_nan")]
    pub kelly_criterion: f64,
}

/// One value of [`Stats`] for display.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StatValue {
    /// A bar's instant (`Start`, `End`): a date for daily bars, a date and time otherwise.
    Time(i64),
    /// A duration in days (`NaN`: none).
    Days(f64),
    /// A count (`# Trades`).
    Count(u64),
    /// Any other number (`NaN`: undefined, e.g. a ratio with a zero denominator).
    Number(f64),
}

impl fmt::Display for StatValue {
    /// Instants as pandas prints them (`YYYY-MM-DD`, or with `HH:MM:SS`), durations as pandas
    /// prints a `Timedelta` (`N days`, or `N days HH:MM:SS` with a time part), numbers with 5
    /// decimals, `NaN` as `--` (backtesting.py's display).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StatValue::Time(t) => f.write_str(&calendar::show(t)),
            StatValue::Days(d) if d.is_nan() => f.write_str("--"),
            StatValue::Days(d) => f.write_str(&timedelta(d)),
            StatValue::Count(c) => write!(f, "{c}"),
            StatValue::Number(x) if x.is_nan() => f.write_str("--"),
            StatValue::Number(x) => write!(f, "{x:.5}"),
        }
    }
}

/// A span of `days` as pandas prints a `Timedelta`: `3 days`, `0 days 05:00:00`,
/// `1 days 02:30:00` (to the second, rounded to the nearest).
pub fn timedelta(days: f64) -> String {
    let seconds = (days * 86_400.0).round();
    if seconds % 86_400.0 == 0.0 {
        return format!("{} days", seconds / 86_400.0);
    }
    let s = seconds as i64;
    let (d, rest) = (s.div_euclid(86_400), s.rem_euclid(86_400));
    format!(
        "{d} days {:02}:{:02}:{:02}",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

macro_rules! metrics {
    ($( $variant:ident => $field:ident, $name:literal, $kind:ident; )*) => {
        /// A numeric statistic of [`Stats`], to rank sweep results by or draw as a heatmap.
        /// Parsed from backtesting.py's name (`"Sharpe Ratio"`, case-insensitive) or from the
        /// snake-case field name (`sharpe_ratio`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Metric {
            $(
                #[doc = concat!("`", $name, "`")]
                $variant,
            )*
        }

        impl Metric {
            /// Every metric, in backtesting.py's order.
            pub const ALL: &'static [Metric] = &[$(Metric::$variant),*];

            /// backtesting.py's name, e.g. `"Sharpe Ratio"`.
            pub fn name(self) -> &'static str {
                match self { $(Metric::$variant => $name,)* }
            }

            /// The snake-case name, e.g. `"sharpe_ratio"` (the [`Stats`] field).
            pub fn key(self) -> &'static str {
                match self { $(Metric::$variant => stringify!($field),)* }
            }
        }

        impl Stats {
            /// The value of `metric` (`# Trades` as a float).
            pub fn get(&self, metric: Metric) -> f64 {
                match metric { $(Metric::$variant => ToF64::to_f64(self.$field),)* }
            }

            /// Every statistic with its backtesting.py name, in backtesting.py's order.
            pub fn entries(&self) -> Vec<(&'static str, StatValue)> {
                let mut out = vec![
                    ("Start", StatValue::Time(self.start)),
                    ("End", StatValue::Time(self.end)),
                ];
                $( out.push(($name, metrics!(@value $kind, self.$field))); )*
                out
            }
        }
    };
    (@value Days, $e:expr) => { StatValue::Days($e) };
    (@value Count, $e:expr) => { StatValue::Count($e) };
    (@value Number, $e:expr) => { StatValue::Number($e) };
}

trait ToF64 {
    fn to_f64(self) -> f64;
}

impl ToF64 for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}

impl ToF64 for u64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

metrics! {
    Duration => duration, "Duration", Days;
    ExposureTime => exposure_time_pct, "Exposure Time [%]", Number;
    EquityFinal => equity_final, "Equity Final [$]", Number;
    EquityPeak => equity_peak, "Equity Peak [$]", Number;
    Commissions => commissions, "Commissions [$]", Number;
    Return => return_pct, "Return [%]", Number;
    BuyHoldReturn => buy_hold_return_pct, "Buy & Hold Return [%]", Number;
    ReturnAnn => return_ann_pct, "Return (Ann.) [%]", Number;
    VolatilityAnn => volatility_ann_pct, "Volatility (Ann.) [%]", Number;
    Cagr => cagr_pct, "CAGR [%]", Number;
    SharpeRatio => sharpe_ratio, "Sharpe Ratio", Number;
    SortinoRatio => sortino_ratio, "Sortino Ratio", Number;
    CalmarRatio => calmar_ratio, "Calmar Ratio", Number;
    Alpha => alpha_pct, "Alpha [%]", Number;
    Beta => beta, "Beta", Number;
    MaxDrawdown => max_drawdown_pct, "Max. Drawdown [%]", Number;
    AvgDrawdown => avg_drawdown_pct, "Avg. Drawdown [%]", Number;
    MaxDrawdownDuration => max_drawdown_duration, "Max. Drawdown Duration", Days;
    AvgDrawdownDuration => avg_drawdown_duration, "Avg. Drawdown Duration", Days;
    Trades => trades, "# Trades", Count;
    WinRate => win_rate_pct, "Win Rate [%]", Number;
    BestTrade => best_trade_pct, "Best Trade [%]", Number;
    WorstTrade => worst_trade_pct, "Worst Trade [%]", Number;
    AvgTrade => avg_trade_pct, "Avg. Trade [%]", Number;
    MaxTradeDuration => max_trade_duration, "Max. Trade Duration", Days;
    AvgTradeDuration => avg_trade_duration, "Avg. Trade Duration", Days;
    ProfitFactor => profit_factor, "Profit Factor", Number;
    Expectancy => expectancy_pct, "Expectancy [%]", Number;
    Sqn => sqn, "SQN", Number;
    KellyCriterion => kelly_criterion, "Kelly Criterion", Number;
}

impl Metric {
    /// Whether the metric is a duration in days.
    pub fn is_duration(self) -> bool {
        matches!(
            self,
            Metric::Duration
                | Metric::MaxDrawdownDuration
                | Metric::AvgDrawdownDuration
                | Metric::MaxTradeDuration
                | Metric::AvgTradeDuration
        )
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Metric {
    type Err = BacktestError;

    fn from_str(s: &str) -> Result<Self, BacktestError> {
        let wanted = s.trim();
        Metric::ALL
            .iter()
            .copied()
            .find(|m| m.name().eq_ignore_ascii_case(wanted) || m.key().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| BacktestError::UnknownMetric {
                name: wanted.to_string(),
                known: Metric::ALL
                    .iter()
                    .map(|m| m.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

impl Serialize for Metric {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Metric {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_names_parse() {
        assert_eq!(
            "Sharpe Ratio".parse::<Metric>().unwrap(),
            Metric::SharpeRatio
        );
        assert_eq!(
            "sharpe ratio".parse::<Metric>().unwrap(),
            Metric::SharpeRatio
        );
        assert_eq!(
            "max_drawdown_pct".parse::<Metric>().unwrap(),
            Metric::MaxDrawdown
        );
        assert_eq!("# Trades".parse::<Metric>().unwrap(), Metric::Trades);
        let err = "Sharpe".parse::<Metric>().unwrap_err().to_string();
        assert!(err.starts_with("`Sharpe` is not a statistic; use one of: Duration,"));
        assert_eq!(Metric::ALL.len(), 30);
    }
}

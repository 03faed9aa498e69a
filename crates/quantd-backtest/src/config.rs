//! The options of a backtest ([`Config`]): cash, commission, spread, margin, fill price, position
//! sizing, exclusive orders, stop-loss and take-profit, finalizing trades. The defaults are
//! backtesting.py 0.6.6's `Backtest` defaults, so a default `Config` reproduces its results.

use serde::{Deserialize, Serialize};

use crate::error::{BacktestError, Result};

/// How a backtest trades its signals. See `docs/backtesting.md` for the exact semantics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Starting cash; must be positive. Default 10 000.
    pub cash: f64,
    /// Commission charged on every fill, at entry and at exit. Default none.
    pub commission: Commission,
    /// Bid-ask spread / slippage as a fraction of the price: long entries fill this fraction
    /// higher, short entries lower (exits are not adjusted, as in backtesting.py). Default 0.
    pub spread: f64,
    /// Margin requirement, `1 / leverage`, in `(0, 1]`. Default 1 (no leverage).
    pub margin: f64,
    /// Which price a market order placed on a signal bar fills at. Default the next bar's open.
    pub fill: Fill,
    /// How many units an entry buys or sells. Default all available equity.
    pub sizing: Sizing,
    /// Allow fractional units (default `false`: whole units, as backtesting.py).
    pub fractional: bool,
    /// A new entry signal first closes the open trade, even one in the other direction
    /// (backtesting.py `exclusive_orders=True`). Without it an entry against an open position
    /// is ignored unless the same bar also signals that position's exit. Default `false`.
    pub exclusive_orders: bool,
    /// Stop-loss distance from the entry price, in percent (5.0 = 5 %); `None`: no stop.
    pub stop_loss_pct: Option<f64>,
    /// Take-profit distance from the entry price, in percent; `None`: no take-profit.
    pub take_profit_pct: Option<f64>,
    /// Close a trade still open after the last bar at the last bar's close and count it in the
    /// trade statistics. Default `false`: it stays open, is left out of the trade statistics and
    /// only marked to market in the equity curve (backtesting.py's default).
    pub finalize_trades: bool,
    /// Annual risk-free rate as a fraction, in `(-1, 1)`, for Sharpe, Sortino and Alpha. Default 0.
    pub risk_free_rate: f64,
    /// Run a class strategy once over all the tickers with shared cash (a portfolio) instead of
    /// once per ticker. Default `false`.
    pub portfolio: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cash: 10_000.0,
            commission: Commission::default(),
            spread: 0.0,
            margin: 1.0,
            fill: Fill::NextOpen,
            sizing: Sizing::Equity(1.0),
            fractional: false,
            exclusive_orders: false,
            stop_loss_pct: None,
            take_profit_pct: None,
            finalize_trades: false,
            risk_free_rate: 0.0,
            portfolio: false,
        }
    }
}

impl Config {
    /// Fails with [`BacktestError::Config`] naming the first option out of range.
    pub fn validate(&self) -> Result<()> {
        fn ensure(ok: bool, field: &'static str, value: f64, rule: &'static str) -> Result<()> {
            if ok {
                Ok(())
            } else {
                Err(BacktestError::config(field, value, rule))
            }
        }
        let c = &self.commission;
        ensure(
            self.cash.is_finite() && self.cash > 0.0,
            "cash",
            self.cash,
            "it must be a finite amount greater than 0",
        )?;
        ensure(
            c.fixed.is_finite() && c.fixed >= 0.0,
            "commission.fixed",
            c.fixed,
            "it must be a finite amount of 0 or more",
        )?;
        ensure(
            (-0.1..0.1).contains(&c.relative),
            "commission.relative",
            c.relative,
            "it must be a fraction of the order value in [-0.1, 0.1) (0.002 = 0.2 %; negative for rebates)",
        )?;
        ensure(
            (0.0..0.1).contains(&self.spread),
            "spread",
            self.spread,
            "it must be a fraction of the price in [0, 0.1) (0.0005 = 0.05 %)",
        )?;
        ensure(
            self.margin > 0.0 && self.margin <= 1.0,
            "margin",
            self.margin,
            "it must be in (0, 1]: 1 / leverage",
        )?;
        match self.sizing {
            Sizing::Equity(f) => ensure(
                f > 0.0 && f <= 1.0,
                "sizing",
                f,
                "a fraction of equity must be in (0, 1]",
            )?,
            Sizing::Units(u) => {
                ensure(
                    u.is_finite() && u > 0.0,
                    "sizing",
                    u,
                    "a number of units must be greater than 0",
                )?;
                ensure(
                    self.fractional || u.fract() == 0.0,
                    "sizing",
                    u,
                    "a number of units must be whole unless `fractional` is set",
                )?;
            }
        }
        for (field, pct) in [
            ("stop_loss_pct", self.stop_loss_pct),
            ("take_profit_pct", self.take_profit_pct),
        ] {
            if let Some(p) = pct {
                ensure(
                    p > 0.0 && p < 100.0,
                    field,
                    p,
                    "it must be a percentage in (0, 100)",
                )?;
            }
        }
        ensure(
            self.risk_free_rate > -1.0 && self.risk_free_rate < 1.0,
            "risk_free_rate",
            self.risk_free_rate,
            "it must be an annual fraction in (-1, 1)",
        )
    }
}

/// A broker's commission on one order: `fixed + |units| × price × relative`, charged on the entry
/// and again on the exit of every trade (backtesting.py 0.6.6's `commission=(fixed, relative)`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Commission {
    /// A fixed amount per order, ≥ 0.
    pub fixed: f64,
    /// A fraction of the order's value, in `[-0.1, 0.1)` (negative: a market maker's rebate).
    pub relative: f64,
}

impl Commission {
    /// A commission of `relative` × the order value.
    pub fn relative(relative: f64) -> Self {
        Commission {
            fixed: 0.0,
            relative,
        }
    }

    /// The commission on an order of `units` (signed) at `price`.
    #[inline]
    pub fn on(&self, units: f64, price: f64) -> f64 {
        self.fixed + units.abs() * price * self.relative
    }
}

/// The price a market order fills at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fill {
    /// The next bar's open (backtesting.py's default).
    #[default]
    NextOpen,
    /// The signal bar's close (backtesting.py `trade_on_close=True`).
    Close,
}

/// How many units an entry trades.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sizing {
    /// This fraction of the available equity, in `(0, 1]`, including the entry's spread and
    /// commission; whole units (rounded down) unless fractional. `1.0` is backtesting.py's
    /// default order size (`1 - ε` of the equity).
    Equity(f64),
    /// This many units, if the equity covers them (otherwise the order is dropped).
    Units(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_are_named() {
        Config::default().validate().unwrap();
        let bad = Config {
            commission: Commission::relative(0.2),
            ..Config::default()
        };
        let err = bad.validate().unwrap_err();
        assert!(
            err.to_string()
                .starts_with("backtest option `commission.relative` is 0.2")
        );
        let bad = Config {
            sizing: Sizing::Units(2.5),
            ..Config::default()
        };
        assert!(matches!(
            bad.validate(),
            Err(BacktestError::Config {
                field: "sizing",
                ..
            })
        ));
        let ok = Config {
            sizing: Sizing::Units(2.5),
            fractional: true,
            ..Config::default()
        };
        ok.validate().unwrap();
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = Config {
            commission: Commission {
                fixed: 1.0,
                relative: 0.001,
            },
            fill: Fill::Close,
            sizing: Sizing::Units(10.0),
            stop_loss_pct: Some(5.0),
            ..Config::default()
        };
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Config>(&json).unwrap(), c);
        let partial: Config = serde_json::from_str(r#"{"fill":"close"}"#).unwrap();
        assert_eq!(partial.fill, Fill::Close);
        assert_eq!(partial.cash, 10_000.0);
    }
}

//! [`SimOptions`]: a simulated broker's account and fill options.

use crate::config::Commission;
use serde::{Deserialize, Serialize};

/// The account and fill options of a simulated broker (backtesting.py's `Backtest` arguments).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimOptions {
    /// Starting cash, > 0.
    pub cash: f64,
    /// Commission on every fill.
    pub commission: Commission,
    /// Spread as a fraction of the price, paid on entries.
    pub spread: f64,
    /// Margin requirement in `(0, 1]` (1 / leverage).
    pub margin: f64,
    /// Market orders fill at the close of the bar they were placed on.
    pub trade_on_close: bool,
    /// Opposite trades of one ticker may be open together.
    pub hedging: bool,
    /// Each new order first cancels the ticker's other orders and closes its trades.
    pub exclusive_orders: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            cash: 10_000.0,
            commission: Commission::default(),
            spread: 0.0,
            margin: 1.0,
            trade_on_close: false,
            hedging: false,
            exclusive_orders: false,
        }
    }
}

impl SimOptions {
    /// These options from a signal backtest's [`crate::Config`] (its fill, costs and margin).
    pub fn from_config(config: &crate::Config) -> Self {
        SimOptions {
            cash: config.cash,
            commission: config.commission,
            spread: config.spread,
            margin: config.margin,
            trade_on_close: config.fill == crate::Fill::Close,
            hedging: false,
            exclusive_orders: config.exclusive_orders,
        }
    }
}

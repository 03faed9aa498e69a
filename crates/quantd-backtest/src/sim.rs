//! The simulation: signals → orders → fills → trades and an equity curve, bar by bar, the way
//! backtesting.py 0.6.6's broker does it (see `docs/backtesting.md`).
//!
//! A [`Simulator`] owns its output buffers and reuses them run after run, so a warm simulator
//! allocates nothing per bar nor per run (the trade list only grows when a run has more trades
//! than any run before it).
//!
//! What a bar `i` does, in order:
//! 1. the orders placed on bar `i - 1`'s signals fill: first the exit, then the entry — at
//!    `open[i]` ([`Fill::NextOpen`]) or at `close[i - 1]` ([`Fill::Close`]);
//! 2. without an exit order, the open trade's stop-loss then take-profit are checked against
//!    bar `i`'s low/high (stop-loss first: pessimistic); a trade entered in step 1 is checked
//!    on bar `i` too, as backtesting.py's bracket orders are;
//! 3. the equity is marked at `close[i]`; at or below zero everything is closed and the run stops;
//! 4. bar `i`'s signals place the orders for bar `i + 1`.
//!
//! Nothing on bar `i` reads a price after bar `i`, and an order never fills at a price from
//! before the bar its signal was decided on: no look-ahead.

use serde::{Deserialize, Serialize};

use crate::bars::{Bars, Signals};
use crate::calendar::serde_time;
use crate::config::{Commission, Config, Fill, Sizing};
use crate::error::Result;

/// One trade: a position from its entry fill to its exit fill (backtesting.py's `_trades` row).
/// Serialized with backtesting.py's column names.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trade {
    /// Units, positive for a long trade, negative for a short one.
    #[serde(rename = "Size")]
    pub size: f64,
    /// Bar of the entry fill (the signal bar with [`Fill::Close`], the one after with
    /// [`Fill::NextOpen`]).
    #[serde(rename = "EntryBar")]
    pub entry_bar: usize,
    /// Bar of the exit fill.
    #[serde(rename = "ExitBar")]
    pub exit_bar: usize,
    /// Entry price, including the spread.
    #[serde(rename = "EntryPrice")]
    pub entry_price: f64,
    /// Exit price (not adjusted by the spread, as in backtesting.py).
    #[serde(rename = "ExitPrice")]
    pub exit_price: f64,
    /// Stop-loss level, if any.
    #[serde(rename = "SL")]
    pub sl: Option<f64>,
    /// Take-profit level, if any.
    #[serde(rename = "TP")]
    pub tp: Option<f64>,
    /// Profit or loss in cash, after the entry and exit commissions.
    #[serde(rename = "PnL")]
    pub pnl: f64,
    /// Entry plus exit commission.
    #[serde(rename = "Commission")]
    pub commission: f64,
    /// Return as a fraction of the entry value, after commissions (backtesting.py's
    /// `ReturnPct`, which despite its name is a fraction: 0.05 = 5 %).
    #[serde(rename = "ReturnPct")]
    pub return_pct: f64,
    /// Instant of the entry bar (serialized as `YYYY-MM-DD` for a daily bar, else RFC 3339).
    #[serde(rename = "EntryTime", with = "serde_time")]
    pub entry_time: i64,
    /// Instant of the exit bar.
    #[serde(rename = "ExitTime", with = "serde_time")]
    pub exit_time: i64,
    /// `ExitTime - EntryTime` in days (fractional for intraday bars).
    #[serde(rename = "Duration")]
    pub duration_days: f64,
}

/// The open position (there is at most one: quantd never pyramids).
#[derive(Clone, Copy, Debug)]
struct Open {
    size: f64,
    entry_price: f64,
    entry_bar: usize,
    sl: Option<f64>,
    tp: Option<f64>,
}

impl Open {
    fn is_long(&self) -> bool {
        self.size > 0.0
    }

    /// The stop-loss or take-profit fill on bar `i`, if one is hit: stop-loss first; a gap
    /// through the level fills at the open.
    #[inline]
    fn bracket_exit(&self, open: f64, high: f64, low: f64) -> Option<f64> {
        if self.is_long() {
            match (self.sl, self.tp) {
                (Some(sl), _) if low <= sl => Some(if sl < open { sl } else { open }),
                (_, Some(tp)) if high >= tp => Some(if tp > open { tp } else { open }),
                _ => None,
            }
        } else {
            match (self.sl, self.tp) {
                (Some(sl), _) if high >= sl => Some(if sl > open { sl } else { open }),
                (_, Some(tp)) if low <= tp => Some(if tp < open { tp } else { open }),
                _ => None,
            }
        }
    }
}

/// The backtesting.py order size that means "all available equity": `1 - ε`.
const FULL_EQUITY: f64 = 1.0 - f64::EPSILON;

/// Python's `float // float` (CPython's `_float_div_mod`), so that whole-unit sizes are the
/// ones backtesting.py computes, to the unit.
pub(crate) fn py_floor_div(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut floor = div.floor();
        if div - floor > 0.5 {
            floor += 1.0;
        }
        floor
    } else {
        0.0f64.copysign(a / b)
    }
}

/// The options a run needs, resolved once.
struct Plan {
    fill: Fill,
    commission: Commission,
    spread: f64,
    leverage: f64,
    sizing: Sizing,
    fractional: bool,
    exclusive: bool,
    sl: Option<f64>,
    tp: Option<f64>,
}

/// Runs backtests and keeps the last run's trades and equity curve; reuse one per thread.
#[derive(Debug, Default, Clone)]
pub struct Simulator {
    trades: Vec<Trade>,
    open_trade: Option<Trade>,
    equity: Vec<f64>,
    cash: Vec<f64>,
    position: Vec<f64>,
    /// Commissions of the entry that the open trade paid (reported in `open_trade`).
    open_commission: f64,
}

impl Simulator {
    /// A simulator with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates `signals` on `bars` with `config`, replacing the previous run's results.
    ///
    /// Fails only on bad input: options out of range, or signal columns that do not have one
    /// row per bar.
    pub fn run(&mut self, bars: &Bars<'_>, signals: &Signals<'_>, config: &Config) -> Result<()> {
        config.validate()?;
        signals.check(bars.len())?;
        let plan = Plan {
            fill: config.fill,
            commission: config.commission,
            spread: config.spread,
            leverage: 1.0 / config.margin,
            sizing: config.sizing,
            fractional: config.fractional,
            exclusive: config.exclusive_orders,
            sl: config.stop_loss_pct.map(|p| p / 100.0),
            tp: config.take_profit_pct.map(|p| p / 100.0),
        };
        self.simulate(bars, signals, &plan, config.cash, config.finalize_trades);
        Ok(())
    }

    /// Closed trades of the last run, in exit order (the trade still open at the end, if not
    /// finalized, is [`Simulator::open_trade`]).
    pub fn trades(&self) -> &[Trade] {
        &self.trades
    }

    /// The trade still open after the last bar (only without `finalize_trades`), marked at the
    /// last close: its exit fields are that mark, its commission the entry's only.
    pub fn open_trade(&self) -> Option<&Trade> {
        self.open_trade.as_ref()
    }

    /// Equity at each bar's close: cash plus the open position marked at the close.
    pub fn equity(&self) -> &[f64] {
        &self.equity
    }

    /// Cash at each bar's close, after paying for (or receiving the proceeds of a short sale
    /// of) the open position: `cash[i] + position[i] × close[i] == equity[i]`.
    pub fn cash(&self) -> &[f64] {
        &self.cash
    }

    /// Units held at each bar's close (negative: short).
    pub fn position(&self) -> &[f64] {
        &self.position
    }

    fn simulate(
        &mut self,
        bars: &Bars<'_>,
        sig: &Signals<'_>,
        plan: &Plan,
        cash0: f64,
        finalize: bool,
    ) {
        let n = bars.len();
        let (open, high, low, close, time) = (
            bars.open(),
            bars.high(),
            bars.low(),
            bars.close(),
            bars.time(),
        );
        self.trades.clear();
        self.open_trade = None;
        self.open_commission = 0.0;
        for buf in [&mut self.equity, &mut self.cash, &mut self.position] {
            buf.clear();
        }
        self.equity.resize(n, cash0);
        self.cash.resize(n, cash0);
        self.position.resize(n, 0.0);

        let has_brackets = plan.sl.is_some() || plan.tp.is_some();

        // backtesting.py's broker cash: the open trade's cost is not taken out of it.
        let mut cash = cash0;
        let mut pos: Option<Open> = None;
        let mut pending_exit = false;
        let mut pending_entry: Option<f64> = None; // +1 long, -1 short
        let start = sig.warmup.saturating_add(1);

        for i in start..n {
            // 1. Fill the orders of bar i - 1's signals: exit first, then entry.
            if pending_exit || pending_entry.is_some() {
                let (price, bar) = match plan.fill {
                    Fill::NextOpen => (open[i], i),
                    Fill::Close => (close[i - 1], i - 1),
                };
                if pending_exit && let Some(t) = pos.take() {
                    cash = self.close(t, price, bar, cash, plan, time);
                }
                if let Some(side) = pending_entry {
                    pos = self.enter(side, price, bar, &mut cash, plan);
                    // 2'. A new trade's bracket is checked on this bar already.
                    if has_brackets
                        && let Some(t) = pos
                        && let Some(px) = t.bracket_exit(open[i], high[i], low[i])
                    {
                        pos = None;
                        cash = self.close(t, px, i, cash, plan, time);
                    }
                }
            } else if has_brackets && let Some(t) = pos {
                // 2. Stop-loss, then take-profit.
                if let Some(px) = t.bracket_exit(open[i], high[i], low[i]) {
                    pos = None;
                    cash = self.close(t, px, i, cash, plan, time);
                }
            }

            // 3. Mark to market.
            let c = close[i];
            let equity = match pos {
                Some(t) => cash + (c * t.size - t.size * t.entry_price),
                None => cash,
            };
            self.equity[i] = equity;
            match pos {
                Some(t) => {
                    self.cash[i] = cash - t.size * t.entry_price;
                    self.position[i] = t.size;
                }
                None => self.cash[i] = cash,
            }
            if equity <= 0.0 {
                if let Some(t) = pos.take() {
                    self.close(t, c, i, cash, plan, time);
                }
                for buf in [&mut self.equity, &mut self.cash, &mut self.position] {
                    buf[i..].fill(0.0);
                }
                return;
            }

            // 4. This bar's signals.
            let held = pos.map(|t| if t.is_long() { 1.0 } else { -1.0 });
            (pending_exit, pending_entry) = orders(sig, i, held, plan.exclusive);
        }

        if let Some(t) = pos {
            self.finish(t, bars, cash, plan, finalize);
        }
    }

    /// After the last bar: closes the open trade `t` at the last close (`finalize`), or reports
    /// it as still open, marked at the last close.
    fn finish(&mut self, t: Open, bars: &Bars<'_>, cash: f64, plan: &Plan, finalize: bool) {
        let (time, last) = (bars.time(), bars.len() - 1);
        let price = bars.close()[last];
        if finalize {
            let cash = self.close(t, price, last, cash, plan, time);
            self.equity[last] = cash;
            self.cash[last] = cash;
            self.position[last] = 0.0;
        } else {
            let commission = self.open_commission;
            self.open_trade = Some(Trade {
                size: t.size,
                entry_bar: t.entry_bar,
                exit_bar: last,
                entry_price: t.entry_price,
                exit_price: price,
                sl: t.sl,
                tp: t.tp,
                pnl: t.size * (price - t.entry_price) - commission,
                commission,
                return_pct: trade_return(t.size, t.entry_price, price, commission),
                entry_time: time[t.entry_bar],
                exit_time: time[last],
                duration_days: crate::calendar::days(i128::from(time[last] - time[t.entry_bar])),
            });
        }
    }

    /// Opens a trade in direction `side` from a market order filled at `price` on `bar`, or
    /// drops the order when the equity does not cover one unit (or the fixed size).
    #[inline]
    fn enter(
        &mut self,
        side: f64,
        price: f64,
        bar: usize,
        cash: &mut f64,
        plan: &Plan,
    ) -> Option<Open> {
        let adjusted = price * (1.0 + plan.spread.copysign(side));
        let order = match plan.sizing {
            Sizing::Equity(f) => {
                if f >= 1.0 {
                    FULL_EQUITY
                } else {
                    f
                }
            }
            Sizing::Units(u) => u,
        };
        let per_unit = adjusted + plan.commission.on(order, price) / order;
        // Flat, so the available margin is the equity, which is the cash.
        let available = if *cash > 0.0 { *cash } else { 0.0 };
        let units = match plan.sizing {
            Sizing::Equity(_) => {
                let budget = available * plan.leverage * order;
                if plan.fractional {
                    budget / per_unit
                } else {
                    py_floor_div(budget, per_unit)
                }
            }
            Sizing::Units(u) => u,
        };
        if units == 0.0 || units * per_unit > available * plan.leverage {
            return None;
        }
        let size = units.copysign(side);
        let entry_commission = plan.commission.on(size, adjusted);
        *cash -= entry_commission;
        self.open_commission = entry_commission;
        let (sl, tp) = if side > 0.0 {
            (
                plan.sl.map(|p| adjusted * (1.0 - p)),
                plan.tp.map(|p| adjusted * (1.0 + p)),
            )
        } else {
            (
                plan.sl.map(|p| adjusted * (1.0 + p)),
                plan.tp.map(|p| adjusted * (1.0 - p)),
            )
        };
        Some(Open {
            size,
            entry_price: adjusted,
            entry_bar: bar,
            sl,
            tp,
        })
    }

    /// Closes `t` at `price` on `bar`, records the trade and returns the new broker cash.
    #[inline]
    fn close(
        &mut self,
        t: Open,
        price: f64,
        bar: usize,
        cash: f64,
        plan: &Plan,
        time: &[i64],
    ) -> f64 {
        let exit_commission = plan.commission.on(t.size, price);
        let gross = t.size * (price - t.entry_price);
        let commission = exit_commission + plan.commission.on(t.size, t.entry_price);
        self.trades.push(Trade {
            size: t.size,
            entry_bar: t.entry_bar,
            exit_bar: bar,
            entry_price: t.entry_price,
            exit_price: price,
            sl: t.sl,
            tp: t.tp,
            pnl: gross - commission,
            commission,
            return_pct: trade_return(t.size, t.entry_price, price, commission),
            entry_time: time[t.entry_bar],
            exit_time: time[bar],
            duration_days: crate::calendar::days(i128::from(time[bar] - time[t.entry_bar])),
        });
        cash + (gross - exit_commission)
    }
}

/// The orders bar `i`'s signals place, given the side held (`+1` long, `-1` short): whether to
/// exit, and the side to enter. An entry and its own exit on one bar cancel out, as do a long
/// and a short entry; an entry in the held direction does nothing; an entry against the held
/// side reverses it only with exclusive orders or that side's exit signal.
#[inline]
fn orders(sig: &Signals<'_>, i: usize, held: Option<f64>, exclusive: bool) -> (bool, Option<f64>) {
    let short_entry = sig.short_entry.get(i).copied().unwrap_or(false);
    let short_exit = sig.short_exit.get(i).copied().unwrap_or(false);
    let want = match (
        sig.long_entry[i] && !sig.long_exit[i],
        short_entry && !short_exit,
    ) {
        (true, false) => Some(1.0),
        (false, true) => Some(-1.0),
        _ => None,
    };
    let exit_now = match held {
        Some(h) if h > 0.0 => sig.long_exit[i],
        Some(_) => short_exit,
        None => false,
    };
    match (held, want) {
        (_, None) => (exit_now, None),
        (None, Some(side)) => (false, Some(side)),
        (Some(h), Some(side)) if h == side => (false, None),
        (Some(_), Some(side)) if exclusive || exit_now => (true, Some(side)),
        (Some(_), Some(_)) => (false, None),
    }
}

/// backtesting.py's `Trade.pl_pct`: the gross return in the trade's direction minus the
/// commissions as a fraction of the entry value.
#[inline]
pub(crate) fn trade_return(size: f64, entry: f64, exit: f64, commission: f64) -> f64 {
    1f64.copysign(size) * (exit / entry - 1.0) - commission / (size.abs() * entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_div_is_pythons() {
        assert_eq!(py_floor_div(7.0, 2.0), 3.0);
        assert_eq!(py_floor_div(-7.0, 2.0), -4.0);
        assert_eq!(py_floor_div(0.0, 2.0), 0.0);
        assert_eq!(py_floor_div(1.0, 0.1), 9.0); // Python: 1.0 // 0.1 == 9.0
        assert_eq!(py_floor_div(9_999.999_999_999_998, 169.02), 59.0);
    }
}

//! [`Session`]: one class-strategy run on a [`SimBroker`] over a [`Feed`], in the order
//! backtesting.py's `Backtest.run` keeps: at each bar the broker looks at its orders, then the
//! strategy's `next` sees the result and places new ones.
//!
//! The strategy does not have to report every bar: a bar with no order waiting and no new action
//! can change nothing but the marks, so [`Session::step`] first marks the bars it skipped, then
//! applies the actions the strategy took on the bar before `bar`, then runs `bar`. The equity
//! curve is the broker's equity after each bar (backtesting.py's `_equity`), the starting cash
//! before the first bar the strategy runs on.

use crate::broker::{
    Account, Action, Broker, BrokerError, ClosedTrade, OpenTrade, Order, OrderEvent, apply,
};
use crate::broker::{Feed, SimBroker};
use serde::{Deserialize, Serialize};

/// What the strategy learns after a step: the account, what is open, what closed and what
/// happened since the previous step.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepReply {
    /// The bar the broker ran last.
    pub bar: usize,
    /// The account ran out of money: the run is over.
    pub stopped: bool,
    /// Cash, equity and margin after the bar.
    pub account: Account,
    /// Orders waiting, in processing order.
    pub orders: Vec<Order>,
    /// Open trades.
    pub trades: Vec<OpenTrade>,
    /// Trades closed since the previous reply.
    pub closed: Vec<ClosedTrade>,
    /// Order events since the previous reply.
    pub events: Vec<OrderEvent>,
    /// Actions the broker refused, with the reason.
    pub refused: Vec<String>,
    /// The last close of each ticker with a waiting order (ticker, price): what a live mirror
    /// sizes the orders by before they fill. Kept on the host: not sent to the strategy.
    #[serde(skip)]
    pub prices: Vec<(usize, f64)>,
}

/// What a finished session leaves.
#[derive(Clone, Debug, PartialEq)]
pub struct SessionEnd {
    /// Equity after every bar.
    pub equity: Vec<f64>,
    /// Units held after every bar, over all tickers.
    pub position: Vec<f64>,
    /// Every closed trade, in closing order.
    pub closed: Vec<ClosedTrade>,
    /// Trades still open after the last bar.
    pub open: Vec<OpenTrade>,
    /// Orders still waiting after the last bar.
    pub orders: Vec<Order>,
    /// Cash after the last bar.
    pub cash: f64,
    /// The first bar the strategy ran on.
    pub start: usize,
    /// The bar the account ran out of money on, if it did.
    pub broke_at: Option<usize>,
    /// Order events since the last step: the bars run after it, the last bar's actions and,
    /// with `finalize`, the closing of the trades still open.
    pub events: Vec<OrderEvent>,
}

/// One strategy run. See the module docs.
pub struct Session<F: Feed> {
    broker: SimBroker,
    feed: F,
    equity: Vec<f64>,
    /// Units held after each bar, over all tickers (a one-ticker run's position).
    position: Vec<f64>,
    start: usize,
    /// The next bar the broker has not run yet.
    next: usize,
    reported: usize,
    broke_at: Option<usize>,
}

impl<F: Feed> Session<F> {
    /// A session whose strategy runs from bar `start` (the bars before it are its warm-up; its
    /// equity there is the starting cash).
    pub fn new(broker: SimBroker, feed: F, start: usize) -> Self {
        let n = feed.len();
        let cash = broker.options().cash;
        Session {
            broker,
            equity: vec![cash; n],
            position: vec![0.0; n],
            start: start.min(n),
            next: start.min(n),
            feed,
            reported: 0,
            broke_at: None,
        }
    }

    /// The feed.
    pub fn feed(&self) -> &F {
        &self.feed
    }

    /// The broker.
    pub fn broker(&self) -> &SimBroker {
        &self.broker
    }

    /// The next bar the broker has not run.
    pub fn next_bar(&self) -> usize {
        self.next
    }

    fn run_bar(&mut self, bar: usize) {
        if self.broke_at.is_some() {
            return;
        }
        match self.broker.next_bar(bar, &self.feed) {
            Ok(()) => {
                self.equity[bar] = self.broker.equity();
                self.position[bar] = self.broker.units_held();
            }
            Err(e) => {
                self.equity[bar..].fill(0.0);
                self.broke_at = Some(e.bar);
            }
        }
    }

    /// Runs the bars skipped since the last step, applies `actions` (taken by the strategy on
    /// bar `bar - 1`), runs `bar` and says what the strategy sees.
    ///
    /// Fails when `bar` is out of order (before a bar already run) or past the last bar.
    pub fn step(&mut self, bar: usize, actions: Vec<Action>) -> Result<StepReply, BrokerError> {
        if bar < self.next || bar >= self.feed.len() {
            return Err(BrokerError::Invalid(format!(
                "step to bar {bar}: the next bar is {} and the feed has {} bars",
                self.next,
                self.feed.len()
            )));
        }
        for b in self.next..bar {
            self.run_bar(b);
        }
        let refused = if self.broke_at.is_none() {
            apply(&mut self.broker, actions)
        } else {
            Vec::new()
        };
        self.run_bar(bar);
        self.next = bar + 1;
        Ok(self.reply(bar, refused))
    }

    fn reply(&mut self, bar: usize, refused: Vec<BrokerError>) -> StepReply {
        let closed = self.broker.closed_trades()[self.reported..].to_vec();
        self.reported += closed.len();
        let orders = self.broker.open_orders();
        let mut prices: Vec<(usize, f64)> = orders
            .iter()
            .map(|o| (o.ticker, self.broker.last_price(o.ticker)))
            .collect();
        prices.dedup_by_key(|p| p.0);
        StepReply {
            bar,
            stopped: self.broke_at.is_some(),
            account: self.broker.account(),
            orders,
            prices,
            trades: self.broker.open_trades(),
            closed,
            events: self.broker.drain_events(),
            refused: refused.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    /// The strategy's decisions on the last bar it ran: runs the bars left, applies `actions`
    /// (taken on the bar before the next) without running another bar, and says what is open
    /// now — the orders `actions` placed wait in it. A [`Session::finish`] (with no actions)
    /// ends the run after it as `finish(actions)` would have.
    pub fn take(&mut self, actions: Vec<Action>) -> StepReply {
        let n = self.feed.len();
        if self.broke_at.is_none() {
            for b in self.next..n {
                self.run_bar(b);
            }
        }
        self.next = self.next.max(n);
        let refused = if self.broke_at.is_none() {
            apply(&mut self.broker, actions)
        } else {
            Vec::new()
        };
        self.reply(n.saturating_sub(1), refused)
    }

    /// Ends the run: applies the last bar's `actions`, runs the bars left, and with `finalize`
    /// closes every open trade at the last bar (backtesting.py's `finalize_trades=True`: the
    /// broker looks at the last bar's orders once more).
    pub fn finish(mut self, actions: Vec<Action>, finalize: bool) -> SessionEnd {
        let n = self.feed.len();
        if self.broke_at.is_none() {
            for b in self.next..n {
                self.run_bar(b);
            }
            apply(&mut self.broker, actions);
        }
        if finalize && self.broke_at.is_none() && self.start < n {
            let open: Vec<_> = self.broker.open_trades().iter().map(|t| t.id).collect();
            for t in open.into_iter().rev() {
                // An open trade can always be closed.
                let _ = self.broker.close_trade(t, 1.0);
            }
            self.run_bar(n - 1);
        }
        let end = SessionEnd {
            equity: self.equity,
            position: self.position,
            closed: self.broker.closed_trades().to_vec(),
            open: self.broker.open_trades(),
            orders: self.broker.open_orders(),
            cash: self.broker.account().cash,
            start: self.start,
            broke_at: self.broke_at,
            events: self.broker.drain_events(),
        };
        drop(self.feed);
        end
    }
}

impl SessionEnd {
    /// The backtest result of a one-ticker run on `bars` (the feed it ran on): backtesting.py's
    /// statistics of the equity curve and the closed trades; the first trade still open, marked
    /// at the last close, as `open_trade`.
    pub fn result(
        &self,
        bars: &crate::Bars<'_>,
        options: &crate::broker::SimOptions,
        risk_free_rate: f64,
    ) -> crate::BacktestResult {
        let trades: Vec<crate::Trade> = self.closed.iter().map(|c| c.trade).collect();
        let ctx = crate::StatsContext::new(bars);
        let warmup = self.start.saturating_sub(1);
        let stats =
            crate::metrics::compute(bars, &ctx, &self.equity, &trades, warmup, risk_free_rate);
        let last = bars.len() - 1;
        let open_trade = self.open.first().map(|t| {
            let (price, time) = (bars.close()[last], bars.time());
            let commission = options.commission.on(t.size, t.entry_price);
            crate::Trade {
                size: t.size,
                entry_bar: t.entry_bar,
                exit_bar: last,
                entry_price: t.entry_price,
                exit_price: price,
                sl: t.sl,
                tp: t.tp,
                pnl: t.size * (price - t.entry_price) - commission,
                commission,
                return_pct: crate::sim::trade_return(t.size, t.entry_price, price, commission),
                entry_time: time[t.entry_bar],
                exit_time: time[last],
                duration_days: crate::calendar::days(i128::from(time[last] - time[t.entry_bar])),
            }
        });
        crate::BacktestResult {
            stats,
            trades,
            open_trade,
            equity: crate::EquityCurve::from_equity(
                bars,
                self.equity.clone(),
                self.position.clone(),
            ),
        }
    }
}

//! [`SimBroker`]: the simulated broker of backtests and paper trading. Its fill rules are
//! backtesting.py 0.6.6's `_Broker` (docs/strategies.md states them), over one or many tickers
//! that share the account's cash:
//!
//! - orders wait in one queue and are looked at once per bar ([`SimBroker::next_bar`]), in queue
//!   order (a trade's stop-loss orders and close orders go first);
//! - a stop order becomes a market (or limit) order once the bar touches its stop; a limit order
//!   fills at its limit or better; when a stop and a limit are both touched within one bar the
//!   limit is assumed to have been touched first (pessimistic);
//! - a market order fills at the bar's open, or with `trade_on_close` at the previous close;
//!   entries pay the spread (longs a fraction higher, shorts lower) and the commission;
//! - a fractional size is that fraction of the available margin, in whole units, at the fill;
//! - without hedging an order first closes the ticker's opposite trades, oldest first;
//! - an order the margin does not cover is dropped ([`OrderEvent::Rejected`]);
//! - a new trade's stop-loss and take-profit become orders at once, and a market entry's are
//!   looked at on its own bar;
//! - equity at or below zero closes everything and ends the run ([`OutOfMoney`]).

use crate::broker::{
    Account, Bracket, Broker, BrokerError, ClosedTrade, OpenTrade, Order, OrderEvent, OrderId,
    OrderRequest, Position, TradeId,
};
use crate::broker::{Feed, SimOptions};
use crate::sim::{Trade, py_floor_div, trade_return};

/// Most orders a simulated broker keeps waiting at once; more are rejected.
pub const MAX_OPEN_ORDERS: usize = 10_000;

/// The account's equity fell to zero or below on this bar: every trade was closed and the run
/// is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMoney {
    /// The bar.
    pub bar: usize,
}

/// A simulated broker. See the module docs.
#[derive(Clone, Debug)]
pub struct SimBroker {
    opts: SimOptions,
    leverage: f64,
    cash: f64,
    orders: Vec<Order>,
    trades: Vec<OpenTrade>,
    closed: Vec<ClosedTrade>,
    events: Vec<OrderEvent>,
    /// Last close of each ticker (NaN before its first bar).
    last: Vec<f64>,
    /// The close before `last` (for `trade_on_close`).
    prev: Vec<f64>,
    /// The bar [`SimBroker::next_bar`] last looked at.
    bar: Option<usize>,
    next_id: u64,
    broke: bool,
}

impl SimBroker {
    /// A broker with `opts` over `tickers` tickers, before its first bar.
    pub fn new(opts: SimOptions, tickers: usize) -> Result<Self, BrokerError> {
        let config = crate::Config {
            cash: opts.cash,
            commission: opts.commission,
            spread: opts.spread,
            margin: opts.margin,
            ..crate::Config::default()
        };
        config
            .validate()
            .map_err(|e| BrokerError::Invalid(e.to_string()))?;
        Ok(SimBroker {
            opts,
            leverage: 1.0 / opts.margin,
            cash: opts.cash,
            orders: Vec::new(),
            trades: Vec::new(),
            closed: Vec::new(),
            events: Vec::new(),
            last: vec![f64::NAN; tickers],
            prev: vec![f64::NAN; tickers],
            bar: None,
            next_id: 1,
            broke: false,
        })
    }

    /// The options.
    pub fn options(&self) -> &SimOptions {
        &self.opts
    }

    /// Every closed trade so far, in closing order.
    pub fn closed_trades(&self) -> &[ClosedTrade] {
        &self.closed
    }

    /// The last close of `ticker` (NaN before its first bar).
    pub fn last_price(&self, ticker: usize) -> f64 {
        self.last.get(ticker).copied().unwrap_or(f64::NAN)
    }

    /// Whether the account ran out of money.
    pub fn is_broke(&self) -> bool {
        self.broke
    }

    /// backtesting.py's `_Broker.next()` for bar `i`: the bar's prices become the last prices,
    /// the waiting orders are looked at, and equity at or below zero closes everything. Calling
    /// it again for the same bar looks at the orders again with the same prices.
    pub fn next_bar<F: Feed + ?Sized>(&mut self, i: usize, feed: &F) -> Result<(), OutOfMoney> {
        if self.broke {
            return Err(OutOfMoney { bar: i });
        }
        if self.bar != Some(i) {
            for t in 0..self.last.len() {
                if let Some(b) = feed.bar(t, i) {
                    self.prev[t] = self.last[t];
                    self.last[t] = b[3];
                }
            }
            self.bar = Some(i);
        }
        self.process_orders(i, feed);
        if self.equity() <= 0.0 {
            while let Some(t) = self.trades.first() {
                let price = self.last[t.ticker];
                self.close(0, price, i, feed, None);
            }
            self.cash = 0.0;
            self.broke = true;
            return Err(OutOfMoney { bar: i });
        }
        Ok(())
    }

    /// Units held over every ticker's open trades.
    pub fn units_held(&self) -> f64 {
        self.trades.iter().map(|t| t.size).sum()
    }

    /// Cash plus the open trades' profit at the last prices.
    pub fn equity(&self) -> f64 {
        self.cash
            + self
                .trades
                .iter()
                .map(|t| t.size * (self.last[t.ticker] - t.entry_price))
                .sum::<f64>()
    }

    fn margin_available(&self) -> f64 {
        let used: f64 = self
            .trades
            .iter()
            .map(|t| t.size.abs() * self.last[t.ticker] / self.leverage)
            .sum();
        (self.equity() - used).max(0.0)
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn order_index(&self, id: OrderId) -> Option<usize> {
        self.orders.iter().position(|o| o.id == id)
    }

    fn trade_index(&self, id: TradeId) -> Option<usize> {
        self.trades.iter().position(|t| t.id == id)
    }

    /// Removes an order the broker dropped, with an event saying why.
    fn drop_order(&mut self, index: usize, reason: &str, rejected: bool) {
        let o = self.orders.remove(index);
        let (order, client_id, reason) = (o.id, o.client_id, reason.to_string());
        self.events.push(if rejected {
            OrderEvent::Rejected {
                order,
                client_id,
                reason,
            }
        } else {
            OrderEvent::Cancelled {
                order,
                client_id,
                reason,
            }
        });
    }

    fn process_orders<F: Feed + ?Sized>(&mut self, i: usize, feed: &F) {
        let mut reprocess = false;
        let queue: Vec<OrderId> = self.orders.iter().map(|o| o.id).collect();
        for id in queue {
            let Some(idx) = self.order_index(id) else {
                continue; // closed with its trade earlier on this bar
            };
            let order = self.orders[idx].clone();
            let Some([open, high, low, _]) = feed.bar(order.ticker, i) else {
                continue;
            };
            let long = order.is_long();
            let stop_price = order.stop;
            if let Some(stop) = stop_price {
                let hit = if long { high >= stop } else { low <= stop };
                if !hit {
                    continue;
                }
                self.orders[idx].stop = None; // now a market or limit order
            }
            let price = if let Some(limit) = order.limit {
                let hit = if long { low <= limit } else { high >= limit };
                let before_stop = hit
                    && if long {
                        limit <= stop_price.unwrap_or(f64::NEG_INFINITY)
                    } else {
                        limit >= stop_price.unwrap_or(f64::INFINITY)
                    };
                if !hit || before_stop {
                    continue;
                }
                let from = stop_price.unwrap_or(open);
                if long {
                    from.min(limit)
                } else {
                    from.max(limit)
                }
            } else {
                let prev = self.prev[order.ticker];
                let mut p =
                    if self.opts.trade_on_close && !order.is_contingent() && prev.is_finite() {
                        prev
                    } else {
                        open
                    };
                if let Some(stop) = stop_price {
                    p = if long { p.max(stop) } else { p.min(stop) };
                }
                p
            };
            let market = order.limit.is_none() && stop_price.is_none();
            let bar = if market && self.opts.trade_on_close && !order.is_contingent() {
                i.saturating_sub(1)
            } else {
                i
            };

            if let Some(parent) = order.parent_trade {
                if let Some(tix) = self.trade_index(parent) {
                    let held = self.trades[tix].size;
                    let size = order.size.abs().min(held.abs()).copysign(order.size);
                    self.fill_event(&order, parent, size, price, bar);
                    self.reduce(tix, price, size, bar, feed, Some(order.id));
                }
                if let Some(idx) = self.order_index(order.id) {
                    self.orders.remove(idx);
                }
                continue;
            }

            if let Some(opened_with_brackets) = self.fill_entry(&order, price, bar, feed) {
                if opened_with_brackets {
                    if market {
                        reprocess = true;
                    } else if let (Some(_), None, Some(tp)) = (stop_price, order.limit, order.tp) {
                        let sl = order.sl;
                        if (long && tp <= high && sl.unwrap_or(f64::NEG_INFINITY) < low)
                            || (!long && tp >= low && sl.unwrap_or(f64::INFINITY) > high)
                        {
                            reprocess = true;
                        }
                    }
                }
                if let Some(idx) = self.order_index(order.id) {
                    self.orders.remove(idx);
                }
            }
        }
        if reprocess {
            self.process_orders(i, feed);
        }
    }

    /// Fills a stand-alone order at `price`: sizes it, closes opposite trades, checks the
    /// margin and opens the trade. `None` when the broker dropped the order (already removed);
    /// else whether the new trade has brackets.
    fn fill_entry<F: Feed + ?Sized>(
        &mut self,
        order: &Order,
        price: f64,
        bar: usize,
        feed: &F,
    ) -> Option<bool> {
        let spread = self.opts.spread.copysign(order.size);
        let adjusted = price * (1.0 + spread);
        let per_unit = adjusted + self.opts.commission.on(order.size, price) / order.size.abs();
        let mut size = order.size;
        if size.abs() < 1.0 {
            let budget = self.margin_available() * self.leverage * size.abs();
            size = py_floor_div(budget, per_unit).trunc().copysign(size);
            if size == 0.0 || !size.is_finite() {
                let idx = self.order_index(order.id)?;
                self.drop_order(idx, "insufficient margin for one unit", true);
                return None;
            }
        }
        let mut need = size;
        if !self.opts.hedging {
            let opposite: Vec<TradeId> = self
                .trades
                .iter()
                .filter(|t| t.ticker == order.ticker && (t.size > 0.0) != order.is_long())
                .map(|t| t.id)
                .collect();
            for tid in opposite {
                let Some(tix) = self.trade_index(tid) else {
                    continue;
                };
                let held = self.trades[tix].size;
                if need.abs() >= held.abs() {
                    self.fill_event(order, tid, -held, price, bar);
                    self.close(tix, price, bar, feed, None);
                    need += held;
                } else {
                    self.fill_event(order, tid, need, price, bar);
                    self.reduce(tix, price, need, bar, feed, None);
                    need = 0.0;
                }
                if need == 0.0 {
                    break;
                }
            }
        }
        if need.abs() * per_unit > self.margin_available() * self.leverage {
            let idx = self.order_index(order.id)?;
            self.drop_order(idx, "insufficient margin", true);
            return None;
        }
        if need == 0.0 {
            return Some(false);
        }
        let trade = self.id();
        self.cash -= self.opts.commission.on(need, adjusted);
        self.trades.push(OpenTrade {
            id: trade,
            ticker: order.ticker,
            size: need,
            entry_price: adjusted,
            entry_bar: bar,
            sl: None,
            tp: None,
            tag: order.tag.clone(),
            sl_order: None,
            tp_order: None,
        });
        self.fill_event(order, trade, need, adjusted, bar);
        if let Some(tp) = order.tp {
            self.place_bracket(trade, Bracket::Tp, tp);
        }
        if let Some(sl) = order.sl {
            self.place_bracket(trade, Bracket::Sl, sl);
        }
        Some(order.sl.is_some() || order.tp.is_some())
    }

    fn fill_event(&mut self, order: &Order, trade: TradeId, size: f64, price: f64, bar: usize) {
        self.events.push(OrderEvent::Filled {
            order: order.id,
            client_id: order.client_id,
            ticker: order.ticker,
            trade,
            size,
            price,
            bar,
            partial: false,
        });
    }

    /// backtesting.py's `_reduce_trade`: closes `size` (signed against the trade) of trade
    /// `tix`; what is left keeps its brackets, resized.
    fn reduce<F: Feed + ?Sized>(
        &mut self,
        tix: usize,
        price: f64,
        size: f64,
        bar: usize,
        feed: &F,
        filling: Option<OrderId>,
    ) {
        let left = self.trades[tix].size + size;
        if left == 0.0 {
            self.close(tix, price, bar, feed, filling);
            return;
        }
        let t = &mut self.trades[tix];
        t.size = left;
        let brackets = [t.sl_order, t.tp_order];
        let mut part = t.clone();
        part.size = -size;
        part.sl = None;
        part.tp = None;
        part.sl_order = None;
        part.tp_order = None;
        for id in brackets.into_iter().flatten() {
            if let Some(idx) = self.order_index(id) {
                self.orders[idx].size = -left;
            }
        }
        self.trades.push(part);
        let last = self.trades.len() - 1;
        self.close(last, price, bar, feed, filling);
    }

    /// backtesting.py's `_close_trade`: closes trade `tix` at `price` on `bar`, removes its
    /// brackets (the one `filling` it is not cancelled, it filled) and books the cash.
    fn close<F: Feed + ?Sized>(
        &mut self,
        tix: usize,
        price: f64,
        bar: usize,
        feed: &F,
        filling: Option<OrderId>,
    ) {
        let t = self.trades.remove(tix);
        for id in [t.sl_order, t.tp_order].into_iter().flatten() {
            if let Some(idx) = self.order_index(id) {
                if Some(id) == filling {
                    self.orders.remove(idx);
                } else {
                    self.drop_order(idx, "its trade closed", false);
                }
            }
        }
        let commission = &self.opts.commission;
        let exit_commission = commission.on(t.size, price);
        let gross = t.size * (price - t.entry_price);
        self.cash += gross - exit_commission;
        let total = exit_commission + commission.on(t.size, t.entry_price);
        let (entry_time, exit_time) = (feed.time(t.entry_bar), feed.time(bar));
        self.closed.push(ClosedTrade {
            id: t.id,
            ticker: t.ticker,
            tag: t.tag.clone(),
            trade: Trade {
                size: t.size,
                entry_bar: t.entry_bar,
                exit_bar: bar,
                entry_price: t.entry_price,
                exit_price: price,
                sl: t.sl,
                tp: t.tp,
                pnl: gross - total,
                commission: total,
                return_pct: trade_return(t.size, t.entry_price, price, total),
                entry_time,
                exit_time,
                duration_days: crate::calendar::days(i128::from(exit_time - entry_time)),
            },
        });
    }

    /// backtesting.py's `Trade.sl/tp` setter with a price: replaces the bracket order.
    fn place_bracket(&mut self, trade: TradeId, bracket: Bracket, price: f64) {
        self.remove_bracket(trade, bracket, "replaced");
        let Some(tix) = self.trade_index(trade) else {
            return;
        };
        let id = self.id();
        let t = &mut self.trades[tix];
        let (stop, limit) = match bracket {
            Bracket::Sl => {
                t.sl = Some(price);
                t.sl_order = Some(id);
                (Some(price), None)
            }
            Bracket::Tp => {
                t.tp = Some(price);
                t.tp_order = Some(id);
                (None, Some(price))
            }
        };
        let order = Order {
            id,
            client_id: None,
            ticker: t.ticker,
            size: -t.size,
            limit,
            stop,
            sl: None,
            tp: None,
            parent_trade: Some(trade),
            bracket: Some(bracket),
            tag: t.tag.clone(),
        };
        // A trade's stop orders go first.
        let at = if stop.is_some() { 0 } else { self.orders.len() };
        self.orders.insert(at, order);
    }

    fn remove_bracket(&mut self, trade: TradeId, bracket: Bracket, reason: &str) {
        let Some(tix) = self.trade_index(trade) else {
            return;
        };
        let t = &mut self.trades[tix];
        let old = match bracket {
            Bracket::Sl => {
                t.sl = None;
                t.sl_order.take()
            }
            Bracket::Tp => {
                t.tp = None;
                t.tp_order.take()
            }
        };
        if let Some(idx) = old.and_then(|id| self.order_index(id)) {
            self.drop_order(idx, reason, false);
        }
    }

    /// Checks a new order's numbers (backtesting.py's `Strategy.buy/sell` and `new_order`).
    fn check(&self, o: &OrderRequest) -> Result<(), BrokerError> {
        let bad = |m: String| Err(BrokerError::Invalid(m));
        if o.ticker >= self.last.len() {
            return bad(format!(
                "ticker index {} is out of range (the feed has {})",
                o.ticker,
                self.last.len()
            ));
        }
        o.check_numbers()?;
        let market = self.last[o.ticker] * (1.0 + self.opts.spread.copysign(o.size));
        let at = o.limit.or(o.stop).unwrap_or(market);
        if !at.is_finite() {
            return bad(format!(
                "ticker {} has no price yet: place a limit or stop order, or wait for its first bar",
                o.ticker
            ));
        }
        let (lo, hi) = if o.size > 0.0 {
            (o.sl, o.tp)
        } else {
            (o.tp, o.sl)
        };
        let lo_ok = lo.is_none_or(|lo| lo < at);
        let hi_ok = hi.is_none_or(|hi| at < hi);
        if !(lo_ok && hi_ok) {
            let (a, b) = if o.size > 0.0 {
                ("SL", "TP")
            } else {
                ("TP", "SL")
            };
            let side = if o.size > 0.0 { "Long" } else { "Short" };
            return bad(format!(
                "{side} orders require {a} ({}) < price ({at}) < {b} ({})",
                show(lo),
                show(hi)
            ));
        }
        Ok(())
    }
}

fn show(v: Option<f64>) -> String {
    v.map_or_else(|| "none".into(), |v| v.to_string())
}

impl Broker for SimBroker {
    fn submit(&mut self, o: OrderRequest) -> Result<OrderId, BrokerError> {
        let check = if self.orders.len() >= MAX_OPEN_ORDERS {
            Err(BrokerError::Invalid(format!(
                "{MAX_OPEN_ORDERS} orders are already waiting; cancel some first"
            )))
        } else {
            self.check(&o)
        };
        if let Err(e) = check {
            self.events.push(OrderEvent::Rejected {
                order: 0,
                client_id: o.client_id,
                reason: e.to_string(),
            });
            return Err(e);
        }
        if self.opts.exclusive_orders {
            let mut k = 0;
            while k < self.orders.len() {
                if !self.orders[k].is_contingent() && self.orders[k].ticker == o.ticker {
                    self.drop_order(k, "an exclusive order replaced it", false);
                } else {
                    k += 1;
                }
            }
            let trades: Vec<TradeId> = self
                .trades
                .iter()
                .filter(|t| t.ticker == o.ticker)
                .map(|t| t.id)
                .collect();
            for t in trades {
                self.close_trade(t, 1.0)?;
            }
        }
        let id = self.id();
        self.events.push(OrderEvent::Accepted {
            order: id,
            client_id: o.client_id,
        });
        self.orders.push(Order {
            id,
            client_id: o.client_id,
            ticker: o.ticker,
            size: o.size,
            limit: o.limit,
            stop: o.stop,
            sl: o.sl,
            tp: o.tp,
            parent_trade: None,
            bracket: None,
            tag: o.tag,
        });
        Ok(id)
    }

    fn cancel(&mut self, order: OrderId) -> Result<(), BrokerError> {
        let idx = self.order_index(order).ok_or(BrokerError::NotFound {
            what: "order",
            id: order,
        })?;
        if let Some(trade) = self.orders[idx].parent_trade
            && let Some(tix) = self.trade_index(trade)
        {
            let t = &mut self.trades[tix];
            if t.sl_order == Some(order) {
                t.sl_order = None;
                t.sl = None;
            } else if t.tp_order == Some(order) {
                t.tp_order = None;
                t.tp = None;
            }
        }
        self.drop_order(idx, "cancelled by the strategy", false);
        Ok(())
    }

    fn close_trade(&mut self, trade: TradeId, portion: f64) -> Result<OrderId, BrokerError> {
        if !(portion > 0.0 && portion <= 1.0) {
            return Err(BrokerError::Invalid(format!(
                "portion {portion} must be a fraction in (0, 1]"
            )));
        }
        let tix = self.trade_index(trade).ok_or(BrokerError::NotFound {
            what: "trade",
            id: trade,
        })?;
        let t = &self.trades[tix];
        let units = (t.size.abs() * portion).round_ties_even().max(1.0);
        let order = Order {
            id: 0,
            client_id: None,
            ticker: t.ticker,
            size: units.copysign(-t.size),
            limit: None,
            stop: None,
            sl: None,
            tp: None,
            parent_trade: Some(trade),
            bracket: None,
            tag: t.tag.clone(),
        };
        let id = self.id();
        self.orders.insert(0, Order { id, ..order });
        self.events.push(OrderEvent::Accepted {
            order: id,
            client_id: None,
        });
        Ok(id)
    }

    fn set_bracket(
        &mut self,
        trade: TradeId,
        bracket: Bracket,
        price: Option<f64>,
    ) -> Result<(), BrokerError> {
        if self.trade_index(trade).is_none() {
            return Err(BrokerError::NotFound {
                what: "trade",
                id: trade,
            });
        }
        match price {
            Some(p) if !(p.is_finite() && p > 0.0) => Err(BrokerError::Invalid(format!(
                "{bracket:?} {p} must be a finite price above 0"
            ))),
            Some(p) => {
                self.place_bracket(trade, bracket, p);
                Ok(())
            }
            None => {
                self.remove_bracket(trade, bracket, "cancelled by the strategy");
                Ok(())
            }
        }
    }

    fn open_orders(&self) -> Vec<Order> {
        self.orders.clone()
    }

    fn open_trades(&self) -> Vec<OpenTrade> {
        self.trades.clone()
    }

    fn positions(&self) -> Vec<Position> {
        let mut out: Vec<Position> = Vec::new();
        for t in &self.trades {
            let pl = t.size * (self.last[t.ticker] - t.entry_price);
            match out.iter_mut().find(|p| p.ticker == t.ticker) {
                Some(p) => {
                    p.size += t.size;
                    p.pl += pl;
                }
                None => out.push(Position {
                    ticker: t.ticker,
                    size: t.size,
                    pl,
                }),
            }
        }
        out
    }

    fn account(&self) -> Account {
        Account {
            cash: self.cash,
            equity: self.equity(),
            margin_available: self.margin_available(),
        }
    }

    fn drain_events(&mut self) -> Vec<OrderEvent> {
        std::mem::take(&mut self.events)
    }
}

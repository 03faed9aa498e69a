//! Where a class strategy's orders go: one [`Broker`] interface — submit, cancel, close a trade,
//! set a trade's stop-loss or take-profit, read the open orders, trades, positions and the
//! account, and drain the [`OrderEvent`]s (accepted, rejected with a reason, filled, cancelled,
//! expired) — implemented by [`SimBroker`] (backtests: backtesting.py 0.6.6's fill rules) and, in
//! the engine, by the paper and Alpaca brokers.
//!
//! A strategy talks to its broker in [`Action`]s, applied in the order the strategy made them
//! ([`apply`]); [`Session`] drives a broker bar by bar over a [`Feed`] for one strategy run
//! and keeps its equity curve.

mod feed;
mod options;
mod portfolio;
mod session;
mod sim;

pub use feed::Feed;
pub use options::SimOptions;
pub use portfolio::{Panel, portfolio_results};
pub use session::{Session, SessionEnd, StepReply};
pub use sim::{MAX_OPEN_ORDERS, OutOfMoney, SimBroker};

use serde::{Deserialize, Serialize};

/// A broker's name for an order, unique within one broker.
pub type OrderId = u64;
/// A broker's name for a trade (one filled entry, closed as a whole or in parts).
pub type TradeId = u64;

/// An order a strategy places (backtesting.py's `Strategy.buy/sell` arguments).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRequest {
    /// Index of the ticker in the broker's feed.
    #[serde(default)]
    pub ticker: usize,
    /// Signed size: positive buys, negative sells. `0 < |size| < 1` is that fraction of the
    /// available margin (whole units, rounded down, at the fill); `|size| ≥ 1` whole units.
    pub size: f64,
    /// Limit price: fill at this price or better.
    #[serde(default)]
    pub limit: Option<f64>,
    /// Stop price: the order becomes a market (or limit) order once the price touches it.
    #[serde(default)]
    pub stop: Option<f64>,
    /// Stop-loss of the trade this order opens.
    #[serde(default)]
    pub sl: Option<f64>,
    /// Take-profit of the trade this order opens.
    #[serde(default)]
    pub tp: Option<f64>,
    /// The strategy's label, copied to the trade.
    #[serde(default)]
    pub tag: Option<String>,
    /// The strategy's own id of the order, echoed in events (at most one live order per id).
    #[serde(default)]
    pub client_id: Option<u64>,
}

impl OrderRequest {
    /// Checks the numbers every broker needs: a size that is a fraction of equity in (0, 1) or
    /// whole units, and finite positive prices. The message names the field.
    pub fn check_numbers(&self) -> Result<(), BrokerError> {
        let size = self.size.abs();
        if !(self.size.is_finite()
            && (size > 0.0 && size < 1.0 || size >= 1.0 && size.fract() == 0.0))
        {
            return Err(BrokerError::Invalid(format!(
                "size {} must be a fraction of equity in (0, 1) or a whole number of units ≥ 1",
                self.size
            )));
        }
        for (name, v) in [
            ("limit", self.limit),
            ("stop", self.stop),
            ("sl", self.sl),
            ("tp", self.tp),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return Err(BrokerError::Invalid(format!(
                    "{name} {v} must be a finite price above 0"
                )));
            }
        }
        Ok(())
    }
}

/// Which bracket order of a trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bracket {
    /// The stop-loss: a stop-market order closing the trade.
    Sl,
    /// The take-profit: a limit order closing the trade.
    Tp,
}

/// One thing a strategy did during a bar, in the order it did them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// Place an order.
    Submit {
        /// The order.
        order: OrderRequest,
    },
    /// Cancel an open order, by the broker's id or the strategy's.
    Cancel {
        /// The broker's id.
        #[serde(default)]
        id: Option<OrderId>,
        /// The strategy's id.
        #[serde(default)]
        client_id: Option<u64>,
    },
    /// Close `portion` (in `(0, 1]`) of a trade at the next market price.
    CloseTrade {
        /// The trade.
        trade: TradeId,
        /// Fraction of the trade to close.
        #[serde(default = "whole")]
        portion: f64,
    },
    /// Set (or with `None` remove) a trade's stop-loss or take-profit.
    SetBracket {
        /// The trade.
        trade: TradeId,
        /// Which order.
        bracket: Bracket,
        /// The new level.
        price: Option<f64>,
    },
}

fn whole() -> f64 {
    1.0
}

/// An order waiting at the broker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Order {
    /// The broker's id.
    pub id: OrderId,
    /// The strategy's id, when it gave one.
    pub client_id: Option<u64>,
    /// Ticker index.
    pub ticker: usize,
    /// Signed size (a fraction or units, as placed).
    pub size: f64,
    /// Limit price.
    pub limit: Option<f64>,
    /// Stop price, until it is touched.
    pub stop: Option<f64>,
    /// Stop-loss for the trade it opens.
    pub sl: Option<f64>,
    /// Take-profit for the trade it opens.
    pub tp: Option<f64>,
    /// The trade this order closes (a bracket or a close order).
    pub parent_trade: Option<TradeId>,
    /// Which bracket of its trade it is, if it is one.
    #[serde(default)]
    pub bracket: Option<Bracket>,
    /// The strategy's label.
    pub tag: Option<String>,
}

impl Order {
    /// Whether it buys.
    pub fn is_long(&self) -> bool {
        self.size > 0.0
    }

    /// Whether it is a trade's stop-loss or take-profit (backtesting.py's `is_contingent`; a
    /// close order is not: it fills like any market order).
    pub fn is_contingent(&self) -> bool {
        self.bracket.is_some()
    }
}

/// An open trade.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OpenTrade {
    /// The broker's id.
    pub id: TradeId,
    /// Ticker index.
    pub ticker: usize,
    /// Signed units.
    pub size: f64,
    /// Fill price, spread included.
    pub entry_price: f64,
    /// Bar of the entry fill.
    pub entry_bar: usize,
    /// Its stop-loss order's level.
    pub sl: Option<f64>,
    /// Its take-profit order's level.
    pub tp: Option<f64>,
    /// Label of the order that opened it.
    pub tag: Option<String>,
    /// Id of its stop-loss order.
    #[serde(skip)]
    pub(crate) sl_order: Option<OrderId>,
    /// Id of its take-profit order.
    #[serde(skip)]
    pub(crate) tp_order: Option<OrderId>,
}

/// A closed trade (backtesting.py's `_trades` row), with its ticker and tag.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClosedTrade {
    /// The broker's id of the trade it was closed from (a partial close shares its parent's).
    pub id: TradeId,
    /// Ticker index.
    pub ticker: usize,
    /// Label of the order that opened it.
    pub tag: Option<String>,
    /// Sizes, prices, bars, P&L and commissions.
    #[serde(flatten)]
    pub trade: crate::sim::Trade,
}

/// Units held in one ticker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Ticker index.
    pub ticker: usize,
    /// Signed units over all open trades.
    pub size: f64,
    /// Unrealised profit at the last price.
    pub pl: f64,
}

/// The account's figures at the last price.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Account {
    /// Cash (backtesting.py's broker cash: the open trades' cost is not taken out).
    pub cash: f64,
    /// Cash plus the open trades' unrealised profit.
    pub equity: f64,
    /// Equity not tied up as margin by open trades.
    pub margin_available: f64,
}

/// What happened to an order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderEvent {
    /// The broker took the order.
    Accepted {
        /// The order.
        order: OrderId,
        /// The strategy's id.
        client_id: Option<u64>,
    },
    /// The broker refused the order, or dropped it at the fill.
    Rejected {
        /// The order (0 when it never got an id).
        order: OrderId,
        /// The strategy's id.
        client_id: Option<u64>,
        /// Why, in words.
        reason: String,
    },
    /// Some or all of the order filled.
    Filled {
        /// The order.
        order: OrderId,
        /// The strategy's id.
        client_id: Option<u64>,
        /// Ticker index.
        ticker: usize,
        /// The trade it opened or reduced.
        trade: TradeId,
        /// Signed units filled.
        size: f64,
        /// Fill price.
        price: f64,
        /// Bar of the fill.
        bar: usize,
        /// Whether part of the order is still open.
        partial: bool,
    },
    /// The order was cancelled: by the strategy, by an exclusive order, or because the trade
    /// it belonged to closed.
    Cancelled {
        /// The order.
        order: OrderId,
        /// The strategy's id.
        client_id: Option<u64>,
        /// Why.
        reason: String,
    },
    /// The order's time in force ran out.
    Expired {
        /// The order.
        order: OrderId,
        /// The strategy's id.
        client_id: Option<u64>,
    },
}

/// Why a broker refused a request.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BrokerError {
    /// The order's prices or size are not possible (message says which and why).
    #[error("order refused: {0}")]
    Invalid(String),
    /// No open order or trade with this id.
    #[error("{what} {id} is not open")]
    NotFound {
        /// `"order"` or `"trade"`.
        what: &'static str,
        /// The id asked for.
        id: u64,
    },
    /// The broker could not be reached or answered with an error.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
}

/// One broker interface for backtests, paper and live trading. Requests take effect at the
/// broker's next opportunity (a simulated broker: its next bar); what came of them is read
/// from [`Broker::drain_events`] and the state getters.
pub trait Broker {
    /// Places an order; returns its id.
    fn submit(&mut self, order: OrderRequest) -> Result<OrderId, BrokerError>;
    /// Cancels an open order.
    fn cancel(&mut self, order: OrderId) -> Result<(), BrokerError>;
    /// Closes `portion` of an open trade at the next market price; returns the close order.
    fn close_trade(&mut self, trade: TradeId, portion: f64) -> Result<OrderId, BrokerError>;
    /// Sets or removes an open trade's stop-loss or take-profit.
    fn set_bracket(
        &mut self,
        trade: TradeId,
        bracket: Bracket,
        price: Option<f64>,
    ) -> Result<(), BrokerError>;
    /// The orders waiting, in the order the broker processes them.
    fn open_orders(&self) -> Vec<Order>;
    /// The open trades.
    fn open_trades(&self) -> Vec<OpenTrade>;
    /// Units held per ticker (tickers with open trades only).
    fn positions(&self) -> Vec<Position>;
    /// Cash, equity and available margin.
    fn account(&self) -> Account;
    /// Events since the last call, oldest first.
    fn drain_events(&mut self) -> Vec<OrderEvent>;
}

/// Applies a strategy's actions to `broker` in order. A refused action becomes a `Rejected`
/// event (for a submit) or is returned in the list of refusals; it never stops the others.
pub fn apply<B: Broker + ?Sized>(broker: &mut B, actions: Vec<Action>) -> Vec<BrokerError> {
    let mut refused = Vec::new();
    for action in actions {
        let r = match action {
            Action::Submit { order } => broker.submit(order).map(drop),
            Action::Cancel { id, client_id } => match resolve(broker, id, client_id) {
                Some(id) => broker.cancel(id),
                None => Err(BrokerError::NotFound {
                    what: "order",
                    id: id.or(client_id).unwrap_or(0),
                }),
            },
            Action::CloseTrade { trade, portion } => broker.close_trade(trade, portion).map(drop),
            Action::SetBracket {
                trade,
                bracket,
                price,
            } => broker.set_bracket(trade, bracket, price),
        };
        if let Err(e) = r {
            refused.push(e);
        }
    }
    refused
}

/// The broker id of an open order named by either id.
fn resolve<B: Broker + ?Sized>(
    broker: &B,
    id: Option<OrderId>,
    client_id: Option<u64>,
) -> Option<OrderId> {
    if id.is_some() {
        return id;
    }
    let client_id = client_id?;
    broker
        .open_orders()
        .iter()
        .find(|o| o.client_id == Some(client_id))
        .map(|o| o.id)
}

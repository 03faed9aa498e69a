//! The broker's memory, shared by the caller's thread and the stream thread: quantd's ids for
//! Alpaca's orders and positions, how much of each order was already reported, and the queue of
//! [`OrderEvent`]s.
//!
//! Every Alpaca order object that arrives — a `POST` answer, a trade update, a reconciliation
//! read — goes through [`Book::observe`], which reports only what changed since the last time
//! that order was seen: acceptance once, the fills as increases of the cumulative `filled_qty`
//! (so a fill seen twice, by the stream and by a read, is reported once), the end once. That
//! function is the exactly-once guarantee of the crate.

use std::collections::{HashMap, VecDeque};
use std::time::{SystemTime, UNIX_EPOCH};

use quantd_backtest::broker::{Bracket, Order, OrderEvent, OrderId, TradeId};

use crate::wire::ApiOrder;

/// Quantities below this are zero (Alpaca sends up to 9 decimals).
const EPS: f64 = 1e-9;

/// What the stream thread is doing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStatus {
    /// Subscribed to `trade_updates` and reconciled, right now.
    pub connected: bool,
    /// How many times the stream was subscribed and reconciled (1 after the first connection).
    pub sessions: u64,
    /// How many connection attempts or sessions failed.
    pub failures: u64,
}

/// One order this broker knows.
#[derive(Clone, Debug, Default)]
pub(crate) struct Tracked {
    /// Alpaca's id of the current version of the order (`None` while its `POST` is unanswered).
    pub alpaca_id: Option<String>,
    /// Our `client_order_id`, for orders we placed.
    pub coid: Option<String>,
    pub client_id: Option<u64>,
    pub ticker: usize,
    /// Signed size as placed (a fraction or units); `None` when not placed by us.
    pub size: Option<f64>,
    pub sl: Option<f64>,
    pub tp: Option<f64>,
    pub tag: Option<String>,
    /// The trade an exit order closes (set for legs when their entry fills).
    pub parent_trade: Option<TradeId>,
    /// Which exit of a trade it is.
    pub bracket: Option<Bracket>,
    /// Its legs (bracket, OTO and OCO orders).
    pub legs: Vec<OrderId>,
    /// A leg of another order: no `Accepted` of its own, no `Cancelled` before its entry fills.
    pub is_leg: bool,
    pub accepted: bool,
    /// Cumulative quantity reported as filled, and its average price.
    pub filled: f64,
    pub avg: f64,
    /// Nothing more will be reported.
    pub done: bool,
    /// We asked Alpaca to cancel it.
    pub cancel_requested: bool,
}

/// A position, seen as quantd's one open trade per ticker.
#[derive(Clone, Debug)]
pub(crate) struct Episode {
    pub id: TradeId,
    /// Signed units, as last known.
    pub size: f64,
    pub tag: Option<String>,
}

/// The fill hint of a trade update: this execution's price and the position after it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FillHint {
    pub price: Option<f64>,
    pub qty: Option<f64>,
    pub position_qty: Option<f64>,
}

/// See the module docs.
pub(crate) struct Book {
    symbols: Vec<String>,
    index: HashMap<String, usize>,
    /// Prefix of our `client_order_id`s: unique per broker instance.
    session: String,
    next_seq: u64,
    next_order: OrderId,
    next_trade: TradeId,
    orders: HashMap<OrderId, Tracked>,
    by_alpaca: HashMap<String, OrderId>,
    by_coid: HashMap<String, OrderId>,
    episodes: HashMap<usize, Episode>,
    events: VecDeque<OrderEvent>,
    pub stream: StreamStatus,
}

impl Book {
    pub fn new(symbols: Vec<String>) -> Self {
        let index = symbols
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i))
            .collect();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            symbols,
            index,
            session: format!("{:x}{:x}", nanos & 0xffff_ffff_ffff, std::process::id()),
            next_seq: 0,
            next_order: 1,
            next_trade: 1,
            orders: HashMap::new(),
            by_alpaca: HashMap::new(),
            by_coid: HashMap::new(),
            episodes: HashMap::new(),
            events: VecDeque::new(),
            stream: StreamStatus::default(),
        }
    }

    pub fn symbol(&self, ticker: usize) -> Option<&str> {
        self.symbols.get(ticker).map(String::as_str)
    }

    pub fn symbol_count(&self) -> usize {
        self.symbols.len()
    }

    pub fn ticker(&self, symbol: &str) -> Option<usize> {
        self.index.get(symbol).copied()
    }

    /// A fresh `client_order_id`: `qd-<instance>-<n>`, then `-c<client_id>` when the strategy
    /// gave one (so it survives a restart: [`client_id_of`] reads it back).
    pub fn new_coid(&mut self, client_id: Option<u64>) -> String {
        self.next_seq += 1;
        let mut s = format!("qd-{}-{}", self.session, self.next_seq);
        if let Some(c) = client_id {
            s.push_str(&format!("-c{c}"));
        }
        s
    }

    /// Starts tracking an order; returns its new id.
    pub fn register(&mut self, t: Tracked) -> OrderId {
        let id = self.next_order;
        self.next_order += 1;
        if let Some(c) = &t.coid {
            self.by_coid.insert(c.clone(), id);
        }
        if let Some(a) = &t.alpaca_id {
            self.by_alpaca.insert(a.clone(), id);
        }
        self.orders.insert(id, t);
        id
    }

    /// Forgets an order Alpaca never took.
    pub fn unregister(&mut self, id: OrderId) {
        if let Some(t) = self.orders.remove(&id)
            && let Some(c) = t.coid
        {
            self.by_coid.remove(&c);
        }
    }

    pub fn get(&self, id: OrderId) -> Option<&Tracked> {
        self.orders.get(&id)
    }

    pub fn get_mut(&mut self, id: OrderId) -> Option<&mut Tracked> {
        self.orders.get_mut(&id)
    }

    /// Our id of an Alpaca order, by its id or our `client_order_id`.
    pub fn lookup(&self, o: &ApiOrder) -> Option<OrderId> {
        self.by_alpaca
            .get(&o.id)
            .or_else(|| self.by_coid.get(&o.client_order_id))
            .copied()
    }

    /// Our id of an Alpaca order on one of our symbols, tracking it from now on if it is new.
    /// `announce`: report it (`Accepted` and fills from zero) as news; otherwise take its
    /// current state as already known.
    pub fn adopt(&mut self, o: &ApiOrder, announce: bool) -> Option<OrderId> {
        if let Some(id) = self.lookup(o) {
            return Some(id);
        }
        let ticker = self.ticker(&o.symbol)?;
        let filled = if announce {
            0.0
        } else {
            o.filled_qty.unwrap_or(0.0)
        };
        let id = self.register(Tracked {
            alpaca_id: Some(o.id.clone()),
            client_id: client_id_of(&o.client_order_id),
            ticker,
            accepted: !announce,
            filled,
            avg: if announce {
                0.0
            } else {
                o.filled_avg_price.unwrap_or(0.0)
            },
            done: !announce && o.is_terminal(),
            ..Tracked::default()
        });
        self.adopt_legs(id, o);
        Some(id)
    }

    /// Tracks the legs of order `id` (from an answer that nests them) as its silent legs.
    pub fn adopt_legs(&mut self, id: OrderId, o: &ApiOrder) {
        for leg in o.legs.iter().flatten() {
            let Some(ticker) = self.ticker(&leg.symbol) else {
                continue;
            };
            let leg_id = match self.lookup(leg) {
                Some(l) => l,
                None => self.register(Tracked {
                    alpaca_id: Some(leg.id.clone()),
                    ticker,
                    bracket: bracket_of(leg),
                    is_leg: true,
                    accepted: true,
                    ..Tracked::default()
                }),
            };
            if let Some(t) = self.orders.get_mut(&leg_id) {
                t.is_leg = true;
                t.accepted = true;
                t.bracket = t.bracket.or(bracket_of(leg));
            }
            if let Some(t) = self.orders.get_mut(&id)
                && !t.legs.contains(&leg_id)
            {
                t.legs.push(leg_id);
            }
        }
    }

    /// Points order `id` at a new Alpaca order (a `PATCH` replacement): same quantd order.
    pub fn rebind(&mut self, id: OrderId, o: &ApiOrder) {
        self.by_alpaca.insert(o.id.clone(), id);
        if let Some(t) = self.orders.get_mut(&id) {
            t.alpaca_id = Some(o.id.clone());
            t.done = false;
            t.filled = o.filled_qty.unwrap_or(0.0);
            t.avg = o.filled_avg_price.unwrap_or(0.0);
        }
    }

    /// Reports what changed in order `id` since it was last seen (module docs).
    pub fn observe(&mut self, id: OrderId, o: &ApiOrder, hint: FillHint) {
        let Some(t) = self.orders.get_mut(&id) else {
            return;
        };
        match &t.alpaca_id {
            // An older version of a replaced order: its news is the replacement's.
            Some(current) if *current != o.id => return,
            Some(_) => {}
            None => {
                t.alpaca_id = Some(o.id.clone());
                self.by_alpaca.insert(o.id.clone(), id);
            }
        }
        let t = self.orders.get_mut(&id).expect("tracked above");
        if t.done {
            return;
        }
        let client_id = t.client_id;
        if !t.accepted && o.status != "rejected" {
            t.accepted = true;
            self.events.push_back(OrderEvent::Accepted {
                order: id,
                client_id,
            });
        }
        let filled = o.filled_qty.unwrap_or(0.0);
        if filled > t.filled + EPS {
            let delta = filled - t.filled;
            let price = fill_price(o, hint, t.filled, t.avg, delta);
            t.avg = o.filled_avg_price.unwrap_or(price);
            t.filled = filled;
            let (ticker, tag, legs) = (t.ticker, t.tag.clone(), t.legs.clone());
            let size = delta * o.sign();
            let trade = self.trade_for_fill(ticker, size, hint.position_qty, tag);
            for leg in legs {
                if let Some(l) = self.orders.get_mut(&leg) {
                    l.parent_trade = Some(trade);
                }
            }
            self.events.push_back(OrderEvent::Filled {
                order: id,
                client_id,
                ticker,
                trade,
                size,
                price,
                bar: 0,
                partial: !o.is_terminal(),
            });
        }
        let t = self.orders.get_mut(&id).expect("tracked above");
        // A leg whose entry never filled ends with its entry, unreported.
        let silent = t.is_leg && t.parent_trade.is_none();
        let event = match o.status.as_str() {
            "filled" | "replaced" => None,
            "canceled" => Some(OrderEvent::Cancelled {
                order: id,
                client_id,
                reason: if t.cancel_requested {
                    "cancelled by the strategy".into()
                } else {
                    "cancelled at Alpaca".into()
                },
            }),
            "expired" => Some(OrderEvent::Expired {
                order: id,
                client_id,
            }),
            "rejected" => Some(OrderEvent::Rejected {
                order: id,
                client_id,
                reason: "rejected by Alpaca".into(),
            }),
            _ => return,
        };
        t.done = true;
        if let Some(e) = event.filter(|_| !silent) {
            self.events.push_back(e);
        }
    }

    /// The trade a fill of `size` units in `ticker` opened or reduced, updating the position.
    fn trade_for_fill(
        &mut self,
        ticker: usize,
        size: f64,
        position_qty: Option<f64>,
        tag: Option<String>,
    ) -> TradeId {
        let before = self.episodes.get(&ticker).map_or(0.0, |e| e.size);
        let after = position_qty.unwrap_or(before + size);
        let same = self
            .episodes
            .get(&ticker)
            .filter(|e| after.abs() < EPS || after.signum() == e.size.signum())
            .map(|e| e.id);
        let id = same.unwrap_or_else(|| self.new_trade());
        if after.abs() < EPS {
            self.episodes.remove(&ticker);
        } else if same.is_some() {
            if let Some(e) = self.episodes.get_mut(&ticker) {
                e.size = after;
            }
        } else {
            self.episodes.insert(
                ticker,
                Episode {
                    id,
                    size: after,
                    tag,
                },
            );
        }
        id
    }

    fn new_trade(&mut self) -> TradeId {
        let id = self.next_trade;
        self.next_trade += 1;
        id
    }

    /// Brings the trades in line with a positions read: `(ticker, signed units)` of every open
    /// position on our symbols.
    pub fn refresh_episodes(&mut self, positions: &[(usize, f64)]) {
        self.episodes
            .retain(|ticker, _| positions.iter().any(|(t, _)| t == ticker));
        for &(ticker, size) in positions {
            let keep = self
                .episodes
                .get(&ticker)
                .is_some_and(|e| e.size.signum() == size.signum());
            if keep {
                if let Some(e) = self.episodes.get_mut(&ticker) {
                    e.size = size;
                }
            } else {
                let id = self.new_trade();
                self.episodes.insert(
                    ticker,
                    Episode {
                        id,
                        size,
                        tag: None,
                    },
                );
            }
        }
    }

    pub fn episode(&self, ticker: usize) -> Option<&Episode> {
        self.episodes.get(&ticker)
    }

    /// The ticker of open trade `trade`.
    pub fn trade_ticker(&self, trade: TradeId) -> Option<usize> {
        self.episodes
            .iter()
            .find(|(_, e)| e.id == trade)
            .map(|(t, _)| *t)
    }

    /// Alpaca ids of the orders not yet finished (for reconciliation).
    pub fn live_alpaca_ids(&self) -> Vec<String> {
        self.orders
            .values()
            .filter(|t| !t.done)
            .filter_map(|t| t.alpaca_id.clone())
            .collect()
    }

    pub fn push(&mut self, e: OrderEvent) {
        self.events.push_back(e);
    }

    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    pub fn drain(&mut self) -> Vec<OrderEvent> {
        self.events.drain(..).collect()
    }

    /// quantd's view of one open Alpaca order (`entry`: the order a leg belongs to).
    pub fn view(&mut self, o: &ApiOrder, entry: Option<&ApiOrder>) -> Option<Order> {
        let id = self.adopt(o, false)?;
        let leg_trade = entry
            .filter(|e| e.status == "filled" || o.status != "held")
            .and_then(|_| self.episode(self.ticker(&o.symbol)?).map(|e| e.id));
        let t = self.orders.get(&id)?;
        let (mut sl, mut tp) = (t.sl, t.tp);
        for leg in o.legs.iter().flatten() {
            match bracket_of(leg) {
                Some(Bracket::Sl) => sl = leg.stop_price,
                Some(Bracket::Tp) => tp = leg.limit_price,
                None => {}
            }
        }
        let units = o.qty.map(|q| q * o.sign());
        Some(Order {
            id,
            client_id: t.client_id,
            ticker: t.ticker,
            size: t.size.or(units).unwrap_or(0.0),
            limit: o.limit_price,
            stop: o.stop_price,
            sl,
            tp,
            parent_trade: t.parent_trade.or(leg_trade),
            bracket: t.bracket.or(entry.and_then(|_| bracket_of(o))),
            tag: t.tag.clone(),
        })
    }
}

/// The price of a fill of `delta` units: this execution's price when the update is exactly
/// that fill, otherwise derived from the cumulative average (exact for several fills merged).
fn fill_price(o: &ApiOrder, hint: FillHint, before: f64, before_avg: f64, delta: f64) -> f64 {
    if let (Some(p), Some(q)) = (hint.price, hint.qty)
        && (q - delta).abs() < EPS
    {
        return p;
    }
    match (o.filled_avg_price, hint.price) {
        (Some(avg), _) => (avg * (before + delta) - before_avg * before) / delta,
        (None, Some(p)) => p,
        (None, None) => f64::NAN,
    }
}

/// Which exit an order is by its type: a stop is a stop-loss, a limit a take-profit.
pub(crate) fn bracket_of(o: &ApiOrder) -> Option<Bracket> {
    match o.kind.as_str() {
        "stop" | "stop_limit" | "trailing_stop" => Some(Bracket::Sl),
        "limit" => Some(Bracket::Tp),
        _ => None,
    }
}

/// The strategy's id carried by one of our `client_order_id`s (`...-c<client_id>`).
pub(crate) fn client_id_of(coid: &str) -> Option<u64> {
    let rest = coid.strip_prefix("qd-")?;
    rest.rsplit_once("-c")?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(status: &str, filled: f64, avg: Option<f64>) -> ApiOrder {
        serde_json::from_value(serde_json::json!({
            "id": "A1", "client_order_id": "qd-x-1-c7", "symbol": "AAPL", "qty": "10",
            "filled_qty": filled.to_string(), "filled_avg_price": avg.map(|a| a.to_string()),
            "side": "buy", "type": "market", "status": status,
        }))
        .unwrap()
    }

    #[test]
    fn fills_are_reported_once_as_increases() {
        let mut b = Book::new(vec!["AAPL".into()]);
        let id = b.adopt(&order("new", 0.0, None), true).unwrap();
        b.observe(id, &order("new", 0.0, None), FillHint::default());
        b.observe(
            id,
            &order("partially_filled", 4.0, Some(100.0)),
            FillHint::default(),
        );
        // Seen again (the stream and a reconciliation read): nothing new.
        b.observe(
            id,
            &order("partially_filled", 4.0, Some(100.0)),
            FillHint::default(),
        );
        // Two fills merged (missed while disconnected): one event at their average price.
        b.observe(id, &order("filled", 10.0, Some(101.2)), FillHint::default());
        b.observe(id, &order("filled", 10.0, Some(101.2)), FillHint::default());
        let events = b.drain();
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(
            events[0],
            OrderEvent::Accepted {
                order: id,
                client_id: Some(7)
            }
        );
        let OrderEvent::Filled {
            size,
            price,
            partial,
            ..
        } = events[1]
        else {
            panic!("{events:?}")
        };
        assert_eq!((size, price, partial), (4.0, 100.0, true));
        let OrderEvent::Filled {
            size,
            price,
            partial,
            ..
        } = events[2]
        else {
            panic!("{events:?}")
        };
        assert_eq!(size, 6.0);
        assert!((price - 102.0).abs() < 1e-9, "{price}");
        assert!(!partial);
    }

    #[test]
    fn client_id_survives_in_the_client_order_id() {
        let mut b = Book::new(vec![]);
        let c = b.new_coid(Some(42));
        assert_eq!(client_id_of(&c), Some(42));
        assert_eq!(client_id_of(&b.new_coid(None)), None);
        assert_eq!(client_id_of("someone-else-c3"), None);
    }
}

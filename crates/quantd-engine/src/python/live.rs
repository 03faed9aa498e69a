//! Live sessions: a paper session ([`super::paper`]) that follows a pack's new bars and whose
//! book is mirrored to a broker account (Alpaca, [`quantd_alpaca::AlpacaBroker`]).
//!
//! The strategy trades the simulated broker exactly as on paper: the same fills, the same
//! record, replayed the same way after a stop, so a restart never loses or repeats its
//! decisions. What the account should hold follows from that book. Each time the strategy has
//! decided on the newest bar of its pack (its actions on the last bar applied, the orders they
//! placed waiting), the [`Mirror`] compares, ticker by ticker, the **target** — what the account
//! held when the session started, plus what the strategy's book gained since — with what the
//! account **holds**: its positions plus the units its open market orders have still to fill.
//! It places a market order for the difference (whole units), and records it (`live-order`,
//! `submitted`); what the broker says about its orders (accepted, filled at its price,
//! rejected, cancelled) is recorded too, as it is heard.
//!
//! - **History and the start.** The bars of the pack version the session's first job trades to
//!   its end are history: the strategy warms up on them and nothing is sent. Then the session
//!   records [`Event::LiveStart`]: what the account held, and the strategy's book. Every later
//!   version's bars are live.
//! - **The strategy's book** is its open trades plus its waiting market orders (an order for a
//!   fraction of equity sized at the last close): an order placed on the newest bar reaches the
//!   account before the next open, where the simulation fills it too. Limit, stop, stop-loss
//!   and take-profit orders reach the account when the simulation fills them, a bar later.
//!   Several bars arriving at once are traded as one step, at the last.
//! - **Idempotent by construction.** Orders are sized from what the account holds when they are
//!   placed, never from what was sent before, so a job that stopped between placing an order
//!   and recording it, or a restart that replays the session, sends nothing twice; each job
//!   (one a minute while the session waits for bars) checks the account again.
//! - The account's symbols should be traded only by this session: another order in them would
//!   be traded against (limit and stop orders of others are not counted as held).

use quantd_alpaca::{AlpacaBroker, AlpacaConfig};
use quantd_backtest::broker::{OrderEvent, OrderRequest, StepReply};
use quantd_core::{ErrorClass, Event};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::exec::jobs::ShardFailure;

/// Mirrors one live session's book to its broker account (see the module docs).
pub(crate) struct Mirror {
    broker: AlpacaBroker,
    tickers: Vec<String>,
    /// What the account held and the strategy's book was when the session started (units by
    /// ticker index), once recorded.
    start: Option<(Vec<f64>, Vec<f64>)>,
    /// Leverage (1 / margin): an order for a fraction of equity is sized with it.
    leverage: f64,
}

/// Why a mirror step failed: the broker cannot be reached (the session is retried later), or
/// something else (the session fails).
pub(crate) type MirrorResult<T> = Result<T, ShardFailure>;

impl Mirror {
    /// Connects to the account of `config` for `tickers` (the session's, in the order its
    /// broker numbers them), knowing the session's `start` when it was recorded.
    pub fn connect(
        config: &AlpacaConfig,
        tickers: &[String],
        start: Option<&Event>,
        margin: f64,
    ) -> MirrorResult<Mirror> {
        let broker = AlpacaBroker::new(config.clone(), tickers.to_vec()).map_err(|e| {
            ShardFailure::Error(e.class(), format!("connecting to the broker account: {e}"))
        })?;
        // Fills are heard from the stream once it is subscribed: wait for it (a fill of an
        // earlier job's order before that shows in the account's holdings, not as an event).
        let stream = broker.wait_for_stream(1, config.request_timeout);
        if !stream.connected {
            tracing::warn!(
                ?stream,
                "the broker's trade-updates stream is not up yet; fills are heard once it is"
            );
        }
        let units = |by_name: &BTreeMap<String, f64>| -> Vec<f64> {
            tickers
                .iter()
                .map(|t| by_name.get(t).copied().unwrap_or(0.0))
                .collect()
        };
        let start = match start {
            Some(Event::LiveStart { held, book, .. }) => Some((units(held), units(book))),
            _ => None,
        };
        Ok(Mirror {
            broker,
            tickers: tickers.to_vec(),
            start,
            leverage: if margin > 0.0 { 1.0 / margin } else { 1.0 },
        })
    }

    /// After the strategy decided on the newest bar `bar` (at `time`; `reply` holds its
    /// trades and the orders it placed): the first time, records the start (the account's
    /// holdings and the strategy's book then); afterwards brings the account to the target.
    /// Returns the events to record.
    pub fn decided(&mut self, bar: u64, time: &str, reply: &StepReply) -> MirrorResult<Vec<Event>> {
        let book = book_of(reply, self.tickers.len(), self.leverage);
        let mut events = Vec::new();
        match &self.start {
            None => {
                let held = self.holds()?;
                events.push(Event::LiveStart {
                    bar: bar + 1,
                    held: self.by_name(&held),
                    book: self.by_name(&book),
                });
                self.start = Some((held, book));
            }
            Some((held, base)) => {
                let target: Vec<f64> = (0..book.len())
                    .map(|t| held[t] + book[t] - base[t])
                    .collect();
                events.extend(self.trade(bar, time, &target)?);
            }
        }
        events.extend(self.heard(bar, time));
        Ok(events)
    }

    /// What the broker said since the last look, as events of bar `bar`.
    pub fn heard(&mut self, bar: u64, time: &str) -> Vec<Event> {
        self.broker
            .wait_events(Duration::ZERO)
            .iter()
            .filter_map(|e| self.broker_event(bar, time, e))
            .collect()
    }

    /// Places the market orders that bring the account to `target`.
    fn trade(&mut self, bar: u64, time: &str, target: &[f64]) -> MirrorResult<Vec<Event>> {
        let holds = self.holds()?;
        let mut events = Vec::new();
        for (ticker, (want, have)) in target.iter().zip(&holds).enumerate() {
            let units = (want - have).trunc();
            if units.abs() < 1.0 || !units.is_finite() {
                continue;
            }
            let order = OrderRequest {
                ticker,
                size: units,
                limit: None,
                stop: None,
                sl: None,
                tp: None,
                tag: None,
                client_id: Some(bar),
            };
            let (status, reason) = match self.broker.try_submit(&order) {
                Ok(_) => {
                    // Placed and not yet recorded: where a crash must not lead to a second order.
                    if quantd_data::failpoint::armed() {
                        quantd_data::failpoint::hit(&format!("live-submit-{bar}"));
                    }
                    ("submitted", None)
                }
                Err(e) if e.is_retryable() => {
                    return Err(ShardFailure::Error(
                        ErrorClass::Network,
                        format!("placing an order at the broker: {e}"),
                    ));
                }
                Err(e) => ("rejected", Some(e.to_string())),
            };
            events.push(self.live_order(bar, time, status, ticker, units, reason));
        }
        Ok(events)
    }

    /// Units the account holds or has on order (market orders still to fill), by ticker.
    fn holds(&self) -> MirrorResult<Vec<f64>> {
        let unreachable = |e: quantd_alpaca::Error| {
            ShardFailure::Error(e.class(), format!("reading the broker account: {e}"))
        };
        let mut held = vec![0.0; self.tickers.len()];
        for p in self.broker.try_positions().map_err(unreachable)? {
            if let Some(h) = held.get_mut(p.ticker) {
                *h += p.size;
            }
        }
        for (ticker, units) in self.broker.try_unfilled_market().map_err(unreachable)? {
            if let Some(h) = held.get_mut(ticker) {
                *h += units;
            }
        }
        Ok(held)
    }

    fn by_name(&self, units: &[f64]) -> BTreeMap<String, f64> {
        self.tickers
            .iter()
            .zip(units)
            .filter(|(_, u)| **u != 0.0)
            .map(|(t, u)| (t.clone(), *u))
            .collect()
    }

    fn live_order(
        &self,
        bar: u64,
        time: &str,
        status: &str,
        ticker: usize,
        size: f64,
        reason: Option<String>,
    ) -> Event {
        Event::LiveOrder {
            bar,
            time: time.to_string(),
            status: status.into(),
            ticker: self.tickers.get(ticker).cloned(),
            size: Some(size),
            price: None,
            placed: Some(bar),
            reason,
        }
    }

    /// A broker event as the session's event (`None` for events of orders on no ticker of ours).
    fn broker_event(&self, bar: u64, time: &str, e: &OrderEvent) -> Option<Event> {
        let event = |status: &str, placed: Option<u64>, reason: Option<&String>| Event::LiveOrder {
            bar,
            time: time.to_string(),
            status: status.into(),
            ticker: None,
            size: None,
            price: None,
            placed,
            reason: reason.cloned(),
        };
        Some(match e {
            OrderEvent::Accepted { client_id, .. } => event("accepted", *client_id, None),
            OrderEvent::Expired { client_id, .. } => event("expired", *client_id, None),
            OrderEvent::Rejected {
                client_id, reason, ..
            } => event("rejected", *client_id, Some(reason)),
            OrderEvent::Cancelled {
                client_id, reason, ..
            } => event("cancelled", *client_id, Some(reason)),
            OrderEvent::Filled {
                client_id,
                ticker,
                size,
                price,
                ..
            } => Event::LiveOrder {
                bar,
                time: time.to_string(),
                status: "filled".into(),
                ticker: Some(self.tickers.get(*ticker)?.clone()),
                size: Some(*size),
                price: Some(*price),
                placed: *client_id,
                reason: None,
            },
        })
    }
}

/// The strategy's book after a step, units by ticker index: its open trades, plus its waiting
/// market orders (they fill at the next open), an order for a fraction of equity sized with
/// the available margin at the ticker's last close.
fn book_of(reply: &StepReply, tickers: usize, leverage: f64) -> Vec<f64> {
    let mut book = vec![0.0; tickers];
    for t in &reply.trades {
        if let Some(units) = book.get_mut(t.ticker) {
            *units += t.size;
        }
    }
    for o in &reply.orders {
        if o.limit.is_some() || o.stop.is_some() || o.is_contingent() {
            continue;
        }
        let units = if o.size.abs() >= 1.0 {
            o.size
        } else {
            let price = reply
                .prices
                .iter()
                .find(|(t, _)| *t == o.ticker)
                .map_or(f64::NAN, |(_, p)| *p);
            let units = (reply.account.margin_available * leverage * o.size.abs() / price).floor();
            if units.is_finite() {
                units.copysign(o.size)
            } else {
                0.0
            }
        };
        if let Some(b) = book.get_mut(o.ticker) {
            *b += units;
        }
    }
    book
}

#[cfg(test)]
mod tests {
    use super::*;
    use quantd_backtest::broker::{Account, OpenTrade, Order};

    fn reply(trades: Vec<(usize, f64)>, orders: Vec<(usize, f64, Option<f64>)>) -> StepReply {
        StepReply {
            bar: 0,
            stopped: false,
            account: Account {
                cash: 10_000.0,
                equity: 10_000.0,
                margin_available: 10_000.0,
            },
            orders: orders
                .into_iter()
                .enumerate()
                .map(|(i, (ticker, size, limit))| Order {
                    id: i as u64 + 1,
                    client_id: None,
                    ticker,
                    size,
                    limit,
                    stop: None,
                    sl: None,
                    tp: None,
                    parent_trade: None,
                    bracket: None,
                    tag: None,
                })
                .collect(),
            trades: trades
                .into_iter()
                .enumerate()
                .map(|(i, (ticker, size))| {
                    serde_json::from_value::<OpenTrade>(serde_json::json!({
                        "id": i + 1, "ticker": ticker, "size": size, "entry_price": 100.0,
                        "entry_bar": 0, "sl": null, "tp": null, "tag": null
                    }))
                    .unwrap()
                })
                .collect(),
            closed: vec![],
            events: vec![],
            refused: vec![],
            prices: vec![(0, 99.0), (1, 50.0)],
        }
    }

    #[test]
    fn the_book_is_open_trades_and_waiting_market_orders() {
        // 10 held of ticker 0, a close order for them, a 0.5-of-equity buy of ticker 1 at its
        // last close of 50 (10,000 × 0.5 / 50 = 100 units), and a limit order not counted.
        let r = reply(
            vec![(0, 10.0)],
            vec![(0, -10.0, None), (1, 0.5, None), (1, 7.0, Some(40.0))],
        );
        assert_eq!(book_of(&r, 2, 1.0), vec![0.0, 100.0]);
        // With 2× leverage the fraction buys twice as many.
        assert_eq!(book_of(&r, 2, 2.0), vec![0.0, 200.0]);
        // A fraction order of a ticker without a price is not guessed.
        let mut r = reply(vec![], vec![(1, -0.25, None)]);
        r.prices.clear();
        assert_eq!(book_of(&r, 2, 1.0), vec![0.0, 0.0]);
    }
}

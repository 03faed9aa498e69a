//! [`AlpacaBroker`]: quantd's [`Broker`] over one Alpaca account.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use quantd_backtest::broker::{
    Account, Bracket, Broker, BrokerError, OpenTrade, Order, OrderEvent, OrderId, OrderRequest,
    Position, TradeId,
};

use crate::book::{Book, FillHint, StreamStatus, Tracked, bracket_of};
use crate::config::{AlpacaConfig, TimeInForce};
use crate::error::{Error, Result};
use crate::rest::Rest;
use crate::stream::{self, Settings, Shared};
use crate::wire::{self, ApiOrder, ApiPosition, OrderBody, StopLoss, TakeProfit};

/// quantd's [`Broker`] over one Alpaca account (see the crate docs for how Alpaca's orders and
/// positions map onto quantd's orders and trades).
///
/// Blocking: every call may make HTTP requests. From async code, call it on a blocking thread
/// (`tokio::task::spawn_blocking`), never on a runtime thread.
pub struct AlpacaBroker {
    rest: Rest,
    shared: Arc<Shared>,
    stream: Option<JoinHandle<()>>,
    base_url: String,
    time_in_force: TimeInForce,
    /// The last successful reads: what the infallible getters return when a read fails.
    cache: Mutex<Cache>,
}

#[derive(Default)]
struct Cache {
    orders: Vec<Order>,
    trades: Vec<OpenTrade>,
    positions: Vec<Position>,
    account: Option<Account>,
}

impl std::fmt::Debug for AlpacaBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlpacaBroker")
            .field("base_url", &self.base_url)
            .field("stream", &self.stream_status())
            .finish_non_exhaustive()
    }
}

impl AlpacaBroker {
    /// Connects to the account of `config` for trading `symbols` (an [`OrderRequest::ticker`]
    /// indexes this list). Checks the configuration (a live URL needs
    /// [`AlpacaConfig::allow_live`]) and the keys (`GET /v2/account`), then starts the
    /// trade-updates stream in a background thread. Orders and positions in other symbols are
    /// not reported.
    pub fn new(config: AlpacaConfig, symbols: Vec<String>) -> Result<Self> {
        config.validate()?;
        for (i, s) in symbols.iter().enumerate() {
            if s.is_empty() || symbols[..i].contains(s) {
                return Err(Error::Config(format!(
                    "symbol {s:?} at index {i} is empty or listed twice"
                )));
            }
        }
        let rest = Rest::new(&config)?;
        let account = rest.account().map_err(|e| match e {
            Error::Refused {
                status: 401 | 403,
                message,
                ..
            }
            | Error::Unauthorized {
                status: 401 | 403,
                message,
            } => Error::Unauthorized {
                status: 403,
                message,
            },
            e => e,
        })?;
        let shared = Arc::new(Shared::new(Book::new(symbols)));
        let settings = Settings {
            url: config.stream_url.clone(),
            key_id: config.key_id.clone(),
            secret: config.secret.clone(),
            timeout: config.request_timeout,
            reconnect_initial: config.reconnect_initial,
            reconnect_max: config.reconnect_max,
            ping_interval: config.ping_interval,
        };
        let handle = stream::spawn(shared.clone(), rest.clone(), settings)
            .map_err(|e| Error::Config(format!("cannot start the stream thread: {e}")))?;
        Ok(Self {
            rest,
            shared,
            stream: Some(handle),
            base_url: config.base_url,
            time_in_force: config.time_in_force,
            cache: Mutex::new(Cache {
                account: Some(account_of(&account)),
                ..Cache::default()
            }),
        })
    }

    /// What the stream thread is doing.
    pub fn stream_status(&self) -> StreamStatus {
        self.shared.lock().stream
    }

    /// Waits (at most `timeout`) until the stream is subscribed and reconciled for at least the
    /// `sessions`-th time; returns its status either way.
    pub fn wait_for_stream(&self, sessions: u64, timeout: Duration) -> StreamStatus {
        self.wait_stream(timeout, |s| s.connected && s.sessions >= sessions)
    }

    /// Waits (at most `timeout`) until the stream's status satisfies `until`; returns it
    /// either way.
    pub fn wait_stream(
        &self,
        timeout: Duration,
        until: impl Fn(&StreamStatus) -> bool,
    ) -> StreamStatus {
        let book = self.shared.lock();
        let (book, _) = self
            .shared
            .changed
            .wait_timeout_while(book, timeout, |b| !until(&b.stream))
            .unwrap_or_else(|p| p.into_inner());
        book.stream
    }

    /// Waits (at most `timeout`) until there is an event, then drains them all (oldest first).
    pub fn wait_events(&mut self, timeout: Duration) -> Vec<OrderEvent> {
        let book = self.shared.lock();
        let (mut book, _) = self
            .shared
            .changed
            .wait_timeout_while(book, timeout, |b| !b.has_events())
            .unwrap_or_else(|p| p.into_inner());
        book.drain()
    }

    /// Reads the orders back from Alpaca now and reports what the stream missed (the stream
    /// does this itself after every reconnection).
    pub fn reconcile(&self) -> Result<()> {
        stream::reconcile(&self.shared, &self.rest)
    }

    /// [`Broker::submit`], with this crate's error (no `Rejected` event).
    #[tracing::instrument(name = "alpaca.submit", skip_all, fields(ticker = o.ticker, size = o.size, client_id = o.client_id))]
    pub fn try_submit(&self, o: &OrderRequest) -> Result<OrderId> {
        let symbol = self.check(o)?;
        let units = o.size.abs();
        let (qty, notional, tif) = if units < 1.0 {
            let equity = self.rest.account()?.equity.unwrap_or(0.0);
            let amount = units * equity;
            if amount.is_nan() || amount < 1.0 {
                return Err(Error::Invalid(format!(
                    "size {} of equity {equity} is ${amount:.2}: Alpaca's smallest notional order is $1",
                    o.size
                )));
            }
            (None, Some(wire::dollars(amount)), TimeInForce::Day)
        } else {
            (Some(wire::quantity(units)), None, self.time_in_force)
        };
        let kind = match (o.limit, o.stop) {
            (None, None) => "market",
            (Some(_), None) => "limit",
            (None, Some(_)) => "stop",
            (Some(_), Some(_)) => "stop_limit",
        };
        let order_class = match (o.sl, o.tp) {
            (None, None) => None,
            (Some(_), Some(_)) => Some("bracket"),
            _ => Some("oto"),
        };
        let (id, coid) = {
            let mut book = self.shared.lock();
            let coid = book.new_coid(o.client_id);
            let id = book.register(Tracked {
                coid: Some(coid.clone()),
                client_id: o.client_id,
                ticker: o.ticker,
                size: Some(o.size),
                sl: o.sl,
                tp: o.tp,
                tag: o.tag.clone(),
                ..Tracked::default()
            });
            (id, coid)
        };
        let body = OrderBody {
            symbol,
            qty,
            notional,
            side: side(o.size),
            kind,
            time_in_force: tif.as_str(),
            limit_price: o.limit.map(wire::price),
            stop_price: o.stop.map(wire::price),
            client_order_id: coid,
            order_class,
            take_profit: o.tp.map(|p| TakeProfit {
                limit_price: wire::price(p),
            }),
            stop_loss: o.sl.map(|p| StopLoss {
                stop_price: wire::price(p),
            }),
        };
        match self.rest.submit(&body) {
            Ok(api) => {
                self.observe_new(id, &api);
                Ok(id)
            }
            Err(e) => {
                // Without an answer the order may still have reached Alpaca: it stays tracked
                // by its client_order_id and is reported if the stream or a read shows it.
                if e.had_answer() {
                    self.shared.lock().unregister(id);
                }
                Err(e)
            }
        }
    }

    fn observe_new(&self, id: OrderId, api: &ApiOrder) {
        let mut book = self.shared.lock();
        book.adopt_legs(id, api);
        book.observe(id, api, FillHint::default());
        drop(book);
        self.shared.notify();
    }

    /// The order's symbol, after the checks SimBroker makes too.
    fn check(&self, o: &OrderRequest) -> Result<String> {
        let book = self.shared.lock();
        let symbol = book.symbol(o.ticker).ok_or_else(|| {
            Error::Invalid(format!(
                "ticker index {} is out of range (the broker has {} symbols)",
                o.ticker,
                book.symbol_count()
            ))
        })?;
        o.check_numbers().map_err(|e| match e {
            BrokerError::Invalid(m) => Error::Invalid(m),
            other => Error::Invalid(other.to_string()),
        })?;
        Ok(symbol.to_owned())
    }

    /// [`Broker::cancel`], with this crate's error.
    #[tracing::instrument(name = "alpaca.cancel", skip(self))]
    pub fn try_cancel(&self, order: OrderId) -> Result<()> {
        let not_found = Error::NotFound {
            what: "order",
            id: order,
        };
        let alpaca = {
            let mut book = self.shared.lock();
            let t = book
                .get_mut(order)
                .filter(|t| !t.done)
                .ok_or(not_found.clone())?;
            let Some(a) = t.alpaca_id.clone() else {
                return Err(Error::Unavailable {
                    method: "DELETE".into(),
                    path: "/v2/orders/{id}".into(),
                    reason: format!("order {order} is not acknowledged by Alpaca yet"),
                    status: None,
                });
            };
            t.cancel_requested = true;
            a
        };
        self.rest.cancel(&alpaca).map_err(|e| {
            if let Some(t) = self.shared.lock().get_mut(order) {
                t.cancel_requested = false;
            }
            match e {
                Error::Refused { status: 404, .. } => not_found,
                e => e,
            }
        })
    }

    /// [`Broker::close_trade`], with this crate's error.
    #[tracing::instrument(name = "alpaca.close_trade", skip(self))]
    pub fn try_close_trade(&self, trade: TradeId, portion: f64) -> Result<OrderId> {
        if !(portion > 0.0 && portion <= 1.0) {
            return Err(Error::Invalid(format!(
                "portion {portion} must be a fraction in (0, 1]"
            )));
        }
        let ticker = self.trade_ticker(trade)?;
        let symbol = self.symbol(ticker);
        let pct = (portion < 1.0).then_some(portion * 100.0);
        let api = self.rest.close_position(&symbol, pct)?;
        let mut book = self.shared.lock();
        let tag = book.episode(ticker).and_then(|e| e.tag.clone());
        let id = match book.lookup(&api) {
            Some(id) => id,
            None => book.register(Tracked {
                alpaca_id: Some(api.id.clone()),
                ticker,
                size: api.qty.map(|q| q * api.sign()),
                tag,
                ..Tracked::default()
            }),
        };
        if let Some(t) = book.get_mut(id) {
            t.parent_trade = Some(trade);
        }
        book.observe(id, &api, FillHint::default());
        drop(book);
        self.shared.notify();
        Ok(id)
    }

    /// [`Broker::set_bracket`], with this crate's error (the crate docs say what it does).
    #[tracing::instrument(name = "alpaca.set_bracket", skip(self))]
    pub fn try_set_bracket(
        &self,
        trade: TradeId,
        bracket: Bracket,
        price: Option<f64>,
    ) -> Result<()> {
        if let Some(p) = price
            && !(p.is_finite() && p > 0.0)
        {
            return Err(Error::Invalid(format!(
                "{bracket:?} {p} must be a finite price above 0"
            )));
        }
        let ticker = self.trade_ticker(trade)?;
        let symbol = self.symbol(ticker);
        let size = self.shared.lock().episode(ticker).map_or(0.0, |e| e.size);
        let open = self.rest.orders("open")?;
        let current = {
            let book = self.shared.lock();
            exits(&open, &book, &symbol, size)
                .into_iter()
                .find(|(_, b)| *b == bracket)
                .map(|(o, _)| o)
        };
        match (price, current) {
            (Some(p), Some(leg)) => {
                let field = match bracket {
                    Bracket::Sl => "stop_price",
                    Bracket::Tp => "limit_price",
                };
                let body = serde_json::json!({ field: wire::price(p) });
                let new = self.rest.replace(&leg.id, &body)?;
                let mut book = self.shared.lock();
                if let Some(id) = book.adopt(&leg, false) {
                    book.rebind(id, &new);
                    if let Some(t) = book.get_mut(id) {
                        t.bracket = Some(bracket);
                        t.parent_trade = Some(trade);
                    }
                }
                Ok(())
            }
            (Some(p), None) => {
                let (id, coid) = {
                    let mut book = self.shared.lock();
                    let coid = book.new_coid(None);
                    let tag = book.episode(ticker).and_then(|e| e.tag.clone());
                    let id = book.register(Tracked {
                        coid: Some(coid.clone()),
                        ticker,
                        size: Some(-size),
                        tag,
                        parent_trade: Some(trade),
                        bracket: Some(bracket),
                        accepted: true,
                        ..Tracked::default()
                    });
                    (id, coid)
                };
                let body = OrderBody {
                    symbol,
                    qty: Some(wire::quantity(size.abs())),
                    notional: None,
                    side: side(-size),
                    kind: match bracket {
                        Bracket::Sl => "stop",
                        Bracket::Tp => "limit",
                    },
                    time_in_force: TimeInForce::Gtc.as_str(),
                    limit_price: (bracket == Bracket::Tp).then(|| wire::price(p)),
                    stop_price: (bracket == Bracket::Sl).then(|| wire::price(p)),
                    client_order_id: coid,
                    order_class: None,
                    take_profit: None,
                    stop_loss: None,
                };
                match self.rest.submit(&body) {
                    Ok(api) => {
                        self.observe_new(id, &api);
                        Ok(())
                    }
                    Err(e) => {
                        if e.had_answer() {
                            self.shared.lock().unregister(id);
                        }
                        Err(e)
                    }
                }
            }
            (None, Some(leg)) => {
                let id = self.shared.lock().adopt(&leg, false);
                match id {
                    Some(id) => self.try_cancel(id),
                    None => Ok(()),
                }
            }
            (None, None) => Ok(()),
        }
    }

    /// [`Broker::open_orders`], or why Alpaca could not be read.
    pub fn try_open_orders(&self) -> Result<Vec<Order>> {
        let open = self.rest.orders("open")?;
        let mut book = self.shared.lock();
        let mut out = Vec::new();
        for top in &open {
            if !top.is_terminal()
                && let Some(o) = book.view(top, None)
            {
                out.push(o);
            }
            for leg in top.legs.iter().flatten() {
                // A leg waiting for its entry is shown as the entry's sl/tp.
                if leg.is_terminal() || leg.status == "held" {
                    continue;
                }
                if let Some(o) = book.view(leg, Some(top)) {
                    out.push(o);
                }
            }
        }
        out.sort_by_key(|o| o.id);
        Ok(out)
    }

    /// Units still to fill of the account's open **market** orders on our symbols, by ticker
    /// index (signed: sells negative; tickers with none left out): what the account is about to
    /// hold. Limit and stop orders and bracket legs are not counted (they may never fill), nor
    /// `notional` orders (their units are not known before they fill).
    pub fn try_unfilled_market(&self) -> Result<Vec<(usize, f64)>> {
        let open = self.rest.orders("open")?;
        let book = self.shared.lock();
        let mut out: Vec<(usize, f64)> = Vec::new();
        for o in &open {
            let (Some(ticker), Some(qty)) = (book.ticker(&o.symbol), o.qty) else {
                continue;
            };
            if o.is_terminal() || o.kind != "market" {
                continue;
            }
            let left = (qty - o.filled_qty.unwrap_or(0.0)).max(0.0) * o.sign();
            match out.iter_mut().find(|(t, _)| *t == ticker) {
                Some((_, units)) => *units += left,
                None => out.push((ticker, left)),
            }
        }
        out.retain(|(_, units)| *units != 0.0);
        out.sort_by_key(|(t, _)| *t);
        Ok(out)
    }

    /// [`Broker::positions`], or why Alpaca could not be read.
    pub fn try_positions(&self) -> Result<Vec<Position>> {
        Ok(self
            .read_positions()?
            .into_iter()
            .map(|(ticker, p)| Position {
                ticker,
                size: p.size(),
                pl: p.unrealized_pl.unwrap_or(0.0),
            })
            .collect())
    }

    /// [`Broker::open_trades`], or why Alpaca could not be read: one trade per position.
    pub fn try_open_trades(&self) -> Result<Vec<OpenTrade>> {
        let positions = self.read_positions()?;
        let open = self.rest.orders("open")?;
        let book = self.shared.lock();
        let mut out = Vec::new();
        for (ticker, p) in positions {
            let Some(e) = book.episode(ticker) else {
                continue;
            };
            let symbol = book.symbol(ticker).unwrap_or_default().to_owned();
            let (mut sl, mut tp) = (None, None);
            for (o, b) in exits(&open, &book, &symbol, p.size()) {
                match b {
                    Bracket::Sl => sl = sl.or(o.stop_price),
                    Bracket::Tp => tp = tp.or(o.limit_price),
                }
            }
            out.push(open_trade(
                e.id,
                ticker,
                p.size(),
                p.avg_entry_price.unwrap_or(0.0),
                sl,
                tp,
                e.tag.clone(),
            ));
        }
        Ok(out)
    }

    /// [`Broker::account`], or why Alpaca could not be read.
    pub fn try_account(&self) -> Result<Account> {
        Ok(account_of(&self.rest.account()?))
    }

    /// Positions on our symbols, sorted by ticker; brings the trades in line.
    fn read_positions(&self) -> Result<Vec<(usize, ApiPosition)>> {
        let all = self.rest.positions()?;
        let mut book = self.shared.lock();
        let mut mine: Vec<(usize, ApiPosition)> = all
            .into_iter()
            .filter_map(|p| Some((book.ticker(&p.symbol)?, p)))
            .filter(|(_, p)| p.size() != 0.0)
            .collect();
        mine.sort_by_key(|(t, _)| *t);
        let sizes: Vec<(usize, f64)> = mine.iter().map(|(t, p)| (*t, p.size())).collect();
        book.refresh_episodes(&sizes);
        Ok(mine)
    }

    /// The ticker of open trade `trade`, reading the positions once if it is not known.
    fn trade_ticker(&self, trade: TradeId) -> Result<usize> {
        if let Some(t) = self.shared.lock().trade_ticker(trade) {
            return Ok(t);
        }
        self.read_positions()?;
        self.shared
            .lock()
            .trade_ticker(trade)
            .ok_or(Error::NotFound {
                what: "trade",
                id: trade,
            })
    }

    fn symbol(&self, ticker: usize) -> String {
        self.shared
            .lock()
            .symbol(ticker)
            .unwrap_or_default()
            .to_owned()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Broker for AlpacaBroker {
    fn submit(&mut self, order: OrderRequest) -> Result<OrderId, BrokerError> {
        self.try_submit(&order).map_err(|e| {
            self.shared.lock().push(OrderEvent::Rejected {
                order: 0,
                client_id: order.client_id,
                reason: e.to_string(),
            });
            self.shared.notify();
            e.into()
        })
    }

    fn cancel(&mut self, order: OrderId) -> Result<(), BrokerError> {
        Ok(self.try_cancel(order)?)
    }

    fn close_trade(&mut self, trade: TradeId, portion: f64) -> Result<OrderId, BrokerError> {
        Ok(self.try_close_trade(trade, portion)?)
    }

    fn set_bracket(
        &mut self,
        trade: TradeId,
        bracket: Bracket,
        price: Option<f64>,
    ) -> Result<(), BrokerError> {
        Ok(self.try_set_bracket(trade, bracket, price)?)
    }

    /// The open orders at Alpaca (legs waiting for their entry show as its `sl`/`tp`), in
    /// quantd's id order; the last answer when Alpaca cannot be read.
    fn open_orders(&self) -> Vec<Order> {
        match self.try_open_orders() {
            Ok(v) => {
                self.cache().orders = v.clone();
                v
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the open orders failed; returning the last answer");
                self.cache().orders.clone()
            }
        }
    }

    /// One trade per Alpaca position; the last answer when Alpaca cannot be read.
    fn open_trades(&self) -> Vec<OpenTrade> {
        match self.try_open_trades() {
            Ok(v) => {
                self.cache().trades = v.clone();
                v
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the positions failed; returning the last answer");
                self.cache().trades.clone()
            }
        }
    }

    /// The positions; the last answer when Alpaca cannot be read.
    fn positions(&self) -> Vec<Position> {
        match self.try_positions() {
            Ok(v) => {
                self.cache().positions = v.clone();
                v
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the positions failed; returning the last answer");
                self.cache().positions.clone()
            }
        }
    }

    /// The account; the last answer when Alpaca cannot be read.
    fn account(&self) -> Account {
        match self.try_account() {
            Ok(a) => {
                self.cache().account = Some(a);
                a
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the account failed; returning the last answer");
                self.cache().account.unwrap_or(Account {
                    cash: f64::NAN,
                    equity: f64::NAN,
                    margin_available: f64::NAN,
                })
            }
        }
    }

    fn drain_events(&mut self) -> Vec<OrderEvent> {
        self.shared.lock().drain()
    }
}

impl Drop for AlpacaBroker {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.notify();
        if let Some(h) = self.stream.take() {
            let _ = h.join();
        }
    }
}

fn side(size: f64) -> &'static str {
    if size > 0.0 { "buy" } else { "sell" }
}

/// Alpaca's account in quantd's terms: `margin_available` is the buying power over the
/// account's multiplier (a cash account's buying power itself).
fn account_of(a: &wire::ApiAccount) -> Account {
    let multiplier = a.multiplier.filter(|m| *m > 0.0).unwrap_or(1.0);
    Account {
        cash: a.cash.unwrap_or(0.0),
        equity: a.equity.unwrap_or(0.0),
        margin_available: a.buying_power.unwrap_or(0.0) / multiplier,
    }
}

/// The open exit orders of a position of `size` units in `symbol`: orders on the other side
/// that are legs of an order whose entry filled (bracket, OTO, OCO) or that this broker placed
/// as a trade's stop-loss or take-profit. A stop is the stop-loss, a limit the take-profit.
fn exits(open: &[ApiOrder], book: &Book, symbol: &str, size: f64) -> Vec<(ApiOrder, Bracket)> {
    let mut out = Vec::new();
    for top in open.iter().filter(|o| o.symbol == symbol) {
        let mut flat = Vec::new();
        top.clone().flatten(&mut flat);
        for (i, o) in flat.into_iter().enumerate() {
            if o.is_terminal() || o.status == "held" || o.sign() == size.signum() {
                continue;
            }
            let ours = book
                .lookup(&o)
                .and_then(|id| book.get(id))
                .is_some_and(|t| t.bracket.is_some() || t.is_leg);
            if !(i > 0 || ours || top.order_class == "oco") {
                continue;
            }
            if let Some(b) = bracket_of(&o) {
                out.push((o, b));
            }
        }
    }
    out
}

/// An [`OpenTrade`] from outside quantd-backtest: its bracket-order ids are crate-private and
/// not serialized, so it is built through its serde form (they stay `None`).
fn open_trade(
    id: TradeId,
    ticker: usize,
    size: f64,
    entry_price: f64,
    sl: Option<f64>,
    tp: Option<f64>,
    tag: Option<String>,
) -> OpenTrade {
    serde_json::from_value(serde_json::json!({
        "id": id, "ticker": ticker, "size": size, "entry_price": entry_price, "entry_bar": 0,
        "sl": sl, "tp": tp, "tag": tag,
    }))
    .expect("OpenTrade's public fields are these")
}

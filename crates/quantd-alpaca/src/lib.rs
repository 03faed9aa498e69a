//! quantd's Alpaca broker: [`AlpacaBroker`] implements quantd's
//! [`Broker`](quantd_backtest::broker::Broker) over Alpaca's Trading API v2 (REST, blocking)
//! and its trade-updates WebSocket stream (a background thread). Our own small client: only the
//! documented endpoints below, no market data.
//!
//! It must never reach the live (real money) endpoint unless [`AlpacaConfig::allow_live`] was
//! set in code, and never let the secret key out: [`Secret`] prints `***`, requests mark its
//! header sensitive, spans record method, path and status only, and errors and events are built
//! from Alpaca's `{"code","message"}` bodies, never from a request.
//!
//! # Endpoints
//!
//! `POST /v2/orders` (market, limit, stop, stop_limit; `bracket` when the order has both `sl`
//! and `tp`, `oto` when it has one), `DELETE /v2/orders/{id}`, `PATCH /v2/orders/{id}`,
//! `GET /v2/orders` (`status=open` / `all`, `nested=true`), `GET /v2/orders/{id}`,
//! `GET /v2/positions`, `DELETE /v2/positions/{symbol}` (`percentage`), `GET /v2/account`; the
//! stream at `/stream` (`auth`, then `listen` to `trade_updates`).
//!
//! # How Alpaca maps onto quantd
//!
//! - **Tickers**: the broker is built with a list of symbols; [`OrderRequest::ticker`] indexes it.
//!   Orders and positions in other symbols are ignored.
//! - **Order ids**: quantd's [`OrderId`]s are numbers given by this broker; each maps to
//!   Alpaca's UUID. Our `client_order_id` is `qd-<instance>-<n>[-c<client_id>]`, so an order's
//!   strategy id is recovered even by a later process. Orders found at Alpaca that this broker
//!   did not place get an id when first seen.
//! - **Sizes**: `|size| ≥ 1` is whole units (`qty`); `0 < |size| < 1` is a fraction of the
//!   account's **equity**, sent as Alpaca's `notional` dollar amount (rounded down to the cent,
//!   `time_in_force=day`, which Alpaca requires for notional orders), because sizing in units
//!   would need a last price this crate does not have. Whole-unit orders use
//!   [`AlpacaConfig::time_in_force`] (`gtc` by default). Prices are rounded to Alpaca's
//!   increments (cents at or above $1, 1/100 of a cent below).
//! - **Trades**: Alpaca has positions, not trades. Each open position is one [`OpenTrade`]
//!   whose id stays the same while the position stays open on the same side; a position that
//!   goes flat or flips side ends its trade, and the next one gets a new id. Its `entry_price`
//!   is Alpaca's average entry price, `entry_bar` is 0 (there are no bars), `sl`/`tp` are the
//!   levels of its open exit orders. Fills report the trade of their ticker at that moment.
//!   [`Broker::close_trade`](quantd_backtest::broker::Broker::close_trade) closes that share of
//!   the whole position (`DELETE /v2/positions/{symbol}`).
//! - **Brackets**: an order's `sl`/`tp` become a `bracket` (both) or `oto` (one) order; Alpaca
//!   holds the legs until the entry fills. [`Broker::set_bracket`](quantd_backtest::broker::Broker::set_bracket)
//!   **replaces** the trade's open stop-loss (stop) or take-profit (limit) exit with
//!   `PATCH /v2/orders/{id}` (same quantd order id afterwards), **places** a new `gtc` stop or
//!   limit order for the whole position when there is none, and **cancels** it for `None`. Alpaca
//!   holds a position's shares for its open exit orders, so a second stand-alone exit (a take-
//!   profit next to a stand-alone stop-loss) is refused by Alpaca (`BrokerError::Invalid`, with
//!   its message): give both levels at entry for a linked pair.
//! - **Account**: `cash` and `equity` are Alpaca's (Alpaca's cash is net of what open
//!   positions cost, unlike backtesting.py's); `margin_available` is the buying power over the
//!   account's multiplier.
//! - **Getters**: [`Broker::open_orders`](quantd_backtest::broker::Broker::open_orders),
//!   `open_trades`, `positions` and `account` read Alpaca at each call; when Alpaca cannot be
//!   read they log a warning and return their last answer (the `try_*` methods return the
//!   error instead).
//! - **Errors**: a 4xx (403, 422, …) is [`BrokerError::Invalid`](quantd_backtest::broker::BrokerError::Invalid)
//!   with Alpaca's message; network errors, timeouts, 429 and 5xx are
//!   [`BrokerError::Unavailable`](quantd_backtest::broker::BrokerError::Unavailable). A refused
//!   submit also queues `Rejected { order: 0, reason }`. A submit that got no answer at all may
//!   still have reached Alpaca: it stays tracked by its `client_order_id` and is reported
//!   (`Accepted` under the id it would have had) if the stream or a read shows it.
//!
//! # What the stream guarantees
//!
//! After every (re)subscription to `trade_updates`, and before reading any update, the stream
//! thread reads the 500 most recent orders and then, one by one, any unfinished order of this
//! broker they miss. For every order this broker placed (or has seen), while the broker lives:
//! - every filled unit is reported exactly once, in `Filled` events whose sizes add up to
//!   Alpaca's `filled_qty`; fills that happened while disconnected may arrive merged into one
//!   event at their volume-weighted price (exact, from Alpaca's cumulative average);
//! - `Accepted` at most once (before any fill), and one final `Cancelled`, `Expired` or
//!   `Rejected` at most once, after the fills;
//! - nothing is reported twice when the stream and a read both show a change.
//!
//! Not guaranteed: events are delivered only after a reconnection succeeds (the thread retries
//! with backoff forever: [`StreamStatus`] and [`AlpacaBroker::wait_for_stream`] tell); orders
//! placed by others that finished while disconnected are not reported; a partial fill of an
//! order that then changes many times may be reported later than Alpaca's own timestamp, and
//! the `bar` of a fill is always 0. Events are kept in memory: a new process starts empty.
//!
//! # Threads and logs
//!
//! Every method blocks on HTTP (timeouts on every request, [`AlpacaConfig::request_timeout`]):
//! from async code call it on a blocking thread. Dropping the broker stops the stream thread
//! and waits for it (at most about one request timeout). At `trace` level the `tungstenite` crate logs
//! raw WebSocket frames, the authentication frame included: never enable `trace` for
//! `tungstenite` where the logs are kept.

mod book;
mod broker;
pub mod config;
pub mod error;
mod rest;
mod stream;
mod wire;

pub use book::StreamStatus;
pub use broker::AlpacaBroker;
pub use config::{AlpacaConfig, Secret, TimeInForce};
pub use error::{Error, Result};

#[cfg(doc)]
use quantd_backtest::broker::{OpenTrade, OrderId, OrderRequest};

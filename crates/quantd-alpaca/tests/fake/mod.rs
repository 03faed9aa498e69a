//! An in-process fake of the parts of Alpaca's Trading API v2 that quantd-alpaca uses: REST
//! (orders, positions, account) and the trade-updates WebSocket at `/stream`, on
//! `127.0.0.1:0`, in its own thread and tokio runtime (the broker under test is blocking).
//!
//! The test drives the market: [`Fake::fill`] fills an order (partially or fully) and sends its
//! trade update; [`Fake::reject_next`] makes the next `POST /v2/orders` fail; requests without
//! [`KEY`]/[`SECRET`] answer 403; [`Fake::set_ws_accept`] and [`Fake::drop_streams`] take the
//! stream down to test reconnection. Orders fill only when the test says so.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Json, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use quantd_alpaca::{AlpacaConfig, Secret};
use serde_json::{Value, json};
use tokio::sync::{broadcast, oneshot};

/// The key id the fake accepts.
pub const KEY: &str = "PKFAKE0000KEYID";
/// The secret the fake accepts: tests grep everything they see for it.
pub const SECRET: &str = "fake-secret-3f9a7c1e-never-print";

/// What the WebSocket tasks are told.
#[derive(Clone, Debug)]
enum Ws {
    /// Send this trade update.
    Send(String),
    /// Drop the connection without a close frame.
    Drop,
}

#[derive(Clone, Debug)]
struct FakeOrder {
    id: String,
    coid: String,
    symbol: String,
    qty: Option<f64>,
    notional: Option<f64>,
    side: String,
    kind: String,
    tif: String,
    limit: Option<f64>,
    stop: Option<f64>,
    class: String,
    status: String,
    filled: f64,
    avg: Option<f64>,
    legs: Vec<String>,
    parent: Option<String>,
    seq: u64,
}

impl FakeOrder {
    fn terminal(&self) -> bool {
        matches!(
            self.status.as_str(),
            "filled" | "canceled" | "expired" | "rejected" | "replaced"
        )
    }

    fn sign(&self) -> f64 {
        if self.side == "sell" { -1.0 } else { 1.0 }
    }
}

#[derive(Default)]
struct Market {
    orders: Vec<FakeOrder>,
    /// symbol → (signed qty, average entry price)
    positions: BTreeMap<String, (f64, f64)>,
    last_price: HashMap<String, f64>,
    cash: f64,
    posted: Vec<Value>,
    patched: Vec<(String, Value)>,
    requests: Vec<String>,
    reject_next: Option<(u16, Value)>,
    ws_accept: bool,
    ws_connections: u64,
    last_update: Option<String>,
    next_id: u64,
}

impl Market {
    fn order(&self, id: &str) -> Option<&FakeOrder> {
        self.orders.iter().find(|o| o.id == id)
    }

    fn order_mut(&mut self, id: &str) -> Option<&mut FakeOrder> {
        self.orders.iter_mut().find(|o| o.id == id)
    }

    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{:08x}-0000-4000-8000-{:012x}", self.next_id, self.next_id)
    }

    fn json(&self, o: &FakeOrder) -> Value {
        let s = |v: Option<f64>| v.map(|v| v.to_string());
        let legs: Vec<Value> = o
            .legs
            .iter()
            .filter_map(|l| self.order(l))
            .map(|l| self.json(l))
            .collect();
        json!({
            "id": o.id,
            "client_order_id": o.coid,
            "created_at": "2025-01-02T15:04:05Z",
            "symbol": o.symbol,
            "asset_class": "us_equity",
            "qty": s(o.qty),
            "notional": s(o.notional),
            "filled_qty": o.filled.to_string(),
            "filled_avg_price": s(o.avg),
            "order_class": o.class,
            "order_type": o.kind,
            "type": o.kind,
            "side": o.side,
            "time_in_force": o.tif,
            "limit_price": s(o.limit),
            "stop_price": s(o.stop),
            "status": o.status,
            "extended_hours": false,
            "legs": if legs.is_empty() { Value::Null } else { Value::Array(legs) },
        })
    }

    fn equity(&self) -> f64 {
        self.cash
            + self
                .positions
                .iter()
                .map(|(s, (q, avg))| q * self.last_price.get(s).copied().unwrap_or(*avg))
                .sum::<f64>()
    }

    /// A trade update for order `id`, remembered for [`Fake::resend_last`].
    fn update(&mut self, event: &str, id: &str, extra: Value) -> String {
        let order = self.order(id).map(|o| self.json(o)).unwrap_or(Value::Null);
        let mut data = json!({"event": event, "timestamp": "2025-01-02T15:04:06Z", "order": order});
        if let (Value::Object(d), Value::Object(e)) = (&mut data, extra) {
            d.extend(e);
        }
        let text = json!({"stream": "trade_updates", "data": data}).to_string();
        self.last_update = Some(text.clone());
        text
    }
}

#[derive(Clone)]
struct App {
    market: Arc<Mutex<Market>>,
    tx: broadcast::Sender<Ws>,
}

impl App {
    fn lock(&self) -> MutexGuard<'_, Market> {
        self.market.lock().unwrap()
    }

    fn send(&self, text: String) {
        let _ = self.tx.send(Ws::Send(text));
    }
}

/// The running fake; dropping it stops it.
pub struct Fake {
    app: App,
    port: u16,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Fake {
    /// Starts the fake with $100,000 of cash.
    pub fn start() -> Self {
        let (tx, _) = broadcast::channel(256);
        let app = App {
            market: Arc::new(Mutex::new(Market {
                cash: 100_000.0,
                ws_accept: true,
                ..Market::default()
            })),
            tx,
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let router = router(app.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    r = axum::serve(listener, router) => r.unwrap(),
                    _ = stop_rx => {}
                }
            });
        });
        Self {
            app,
            port,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// A configuration pointing at the fake, with the right keys and quick reconnection.
    pub fn config(&self) -> AlpacaConfig {
        self.config_with(KEY, SECRET)
    }

    /// The same with other keys.
    pub fn config_with(&self, key: &str, secret: &str) -> AlpacaConfig {
        let mut c = AlpacaConfig::paper(key, Secret::new(secret));
        c.base_url = format!("http://127.0.0.1:{}", self.port);
        c.stream_url = format!("ws://127.0.0.1:{}/stream", self.port);
        c.request_timeout = Duration::from_secs(5);
        c.reconnect_initial = Duration::from_millis(20);
        c.reconnect_max = Duration::from_millis(200);
        c
    }

    /// The bodies of every `POST /v2/orders`, in order.
    pub fn posted(&self) -> Vec<Value> {
        self.app.lock().posted.clone()
    }

    /// The `PATCH /v2/orders/{id}` requests: (old id, body).
    pub fn patched(&self) -> Vec<(String, Value)> {
        self.app.lock().patched.clone()
    }

    /// Every request as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.app.lock().requests.clone()
    }

    /// The id of the most recently created order.
    pub fn last_order_id(&self) -> String {
        let m = self.app.lock();
        m.orders.iter().max_by_key(|o| o.seq).unwrap().id.clone()
    }

    /// The orders not done yet whose client order id starts with `prefix`: (id, units left).
    pub fn open_orders(&self, prefix: &str) -> Vec<(String, f64)> {
        let m = self.app.lock();
        m.orders
            .iter()
            .filter(|o| !o.terminal() && o.coid.starts_with(prefix))
            .filter_map(|o| Some((o.id.clone(), o.qty? - o.filled)))
            .collect()
    }

    /// The account's signed position in `symbol` (0 when flat).
    pub fn position(&self, symbol: &str) -> f64 {
        self.app.lock().positions.get(symbol).map_or(0.0, |p| p.0)
    }

    /// An order as the REST API shows it.
    pub fn order(&self, id: &str) -> Value {
        let m = self.app.lock();
        m.json(m.order(id).unwrap())
    }

    /// The legs of an order.
    pub fn legs(&self, id: &str) -> Vec<String> {
        self.app.lock().order(id).unwrap().legs.clone()
    }

    /// The next `POST /v2/orders` answers `status` with Alpaca's error body.
    pub fn reject_next(&self, status: u16, code: u64, message: &str) {
        self.app.lock().reject_next = Some((status, json!({"code": code, "message": message})));
    }

    /// Whether new WebSocket connections are accepted (refused with 503 when not).
    pub fn set_ws_accept(&self, accept: bool) {
        self.app.lock().ws_accept = accept;
    }

    /// Drops every open WebSocket connection, without a close frame.
    pub fn drop_streams(&self) {
        let _ = self.app.tx.send(Ws::Drop);
    }

    /// Connections accepted so far.
    pub fn ws_connections(&self) -> u64 {
        self.app.lock().ws_connections
    }

    /// WebSocket connections listening right now.
    pub fn listeners(&self) -> usize {
        self.app.tx.receiver_count()
    }

    /// Sends the last trade update again (as a server might after a reconnection).
    pub fn resend_last(&self) {
        let last = self.app.lock().last_update.clone();
        if let Some(text) = last {
            self.app.send(text);
        }
    }

    /// Fills `qty` of order `id` at `price`: updates the order, the position and the cash,
    /// activates the order's legs once it is filled, cancels the other leg when a leg fills,
    /// and sends the `partial_fill` or `fill` update (to whoever listens).
    pub fn fill(&self, id: &str, qty: f64, price: f64) {
        let mut texts = Vec::new();
        {
            let mut m = self.app.lock();
            let o = m.order_mut(id).unwrap();
            assert!(!o.terminal(), "order {id} is {}", o.status);
            let total = o
                .qty
                .unwrap_or_else(|| (o.notional.unwrap() / price).floor());
            o.qty = Some(total);
            let before = o.filled;
            o.filled += qty;
            assert!(o.filled <= total + 1e-9, "overfill of {id}");
            o.avg = Some((o.avg.unwrap_or(0.0) * before + price * qty) / o.filled);
            let done = (o.filled - total).abs() < 1e-9;
            o.status = if done { "filled" } else { "partially_filled" }.into();
            let (symbol, signed, legs, parent) = (
                o.symbol.clone(),
                qty * o.sign(),
                o.legs.clone(),
                o.parent.clone(),
            );
            let (pos, avg) = m.positions.get(&symbol).copied().unwrap_or((0.0, 0.0));
            let after = pos + signed;
            let new_avg = if pos == 0.0 || pos.signum() != after.signum() {
                price
            } else if signed.signum() == pos.signum() {
                (avg * pos + price * signed) / after
            } else {
                avg
            };
            if after.abs() < 1e-9 {
                m.positions.remove(&symbol);
            } else {
                m.positions.insert(symbol.clone(), (after, new_avg));
            }
            m.cash -= signed * price;
            m.last_price.insert(symbol, price);
            let event = if done { "fill" } else { "partial_fill" };
            texts.push(m.update(
                event,
                id,
                json!({"price": price.to_string(), "qty": qty.to_string(), "position_qty": after.to_string()}),
            ));
            if done {
                for leg in legs {
                    if let Some(l) = m.order_mut(&leg) {
                        l.status = "new".into();
                    }
                }
                if let Some(p) = parent {
                    let siblings = m.order(&p).map(|p| p.legs.clone()).unwrap_or_default();
                    for s in siblings.iter().filter(|s| *s != id) {
                        if let Some(l) = m.order_mut(s).filter(|l| !l.terminal()) {
                            l.status = "canceled".into();
                            let s = s.clone();
                            texts.push(m.update("canceled", &s, json!({})));
                        }
                    }
                }
            }
        }
        for t in texts {
            self.app.send(t);
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.app.tx.send(Ws::Drop);
        if let Some(s) = self.shutdown.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn router(app: App) -> Router {
    let rest = Router::new()
        .route("/v2/account", get(account))
        .route("/v2/orders", get(list_orders).post(post_order))
        .route(
            "/v2/orders/{id}",
            get(get_order).delete(cancel_order).patch(replace_order),
        )
        .route("/v2/positions", get(positions))
        .route("/v2/positions/{symbol}", delete(close_position))
        .layer(middleware::from_fn_with_state(app.clone(), auth));
    Router::new()
        .merge(rest)
        .route("/stream", get(stream))
        .with_state(app)
}

fn error(status: u16, code: u64, message: &str) -> Response {
    (
        StatusCode::from_u16(status).unwrap(),
        Json(json!({"code": code, "message": message})),
    )
        .into_response()
}

async fn auth(State(app): State<App>, headers: HeaderMap, req: Request, next: Next) -> Response {
    let line = format!("{} {}", req.method(), req.uri());
    app.lock().requests.push(line);
    let ok = headers.get("APCA-API-KEY-ID").is_some_and(|v| v == KEY)
        && headers
            .get("APCA-API-SECRET-KEY")
            .is_some_and(|v| v == SECRET);
    if !ok {
        return error(403, 40310000, "request is not authorized");
    }
    next.run(req).await
}

async fn account(State(app): State<App>) -> Response {
    let m = app.lock();
    let equity = m.equity();
    Json(json!({
        "id": "acct-1", "status": "ACTIVE", "currency": "USD",
        "cash": m.cash.to_string(), "equity": equity.to_string(),
        "buying_power": equity.to_string(), "multiplier": "1",
    }))
    .into_response()
}

async fn list_orders(State(app): State<App>, Query(q): Query<HashMap<String, String>>) -> Response {
    let m = app.lock();
    let status = q.get("status").map_or("open", String::as_str);
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(50);
    let mut top: Vec<&FakeOrder> = m
        .orders
        .iter()
        .filter(|o| o.parent.is_none())
        .filter(|o| {
            let open = !o.terminal()
                || o.legs
                    .iter()
                    .any(|l| m.order(l).is_some_and(|l| !l.terminal()));
            match status {
                "open" => open,
                "closed" => !open,
                _ => true,
            }
        })
        .collect();
    top.sort_by_key(|o| std::cmp::Reverse(o.seq));
    let list: Vec<Value> = top.into_iter().take(limit).map(|o| m.json(o)).collect();
    Json(list).into_response()
}

async fn get_order(State(app): State<App>, Path(id): Path<String>) -> Response {
    let m = app.lock();
    match m.order(&id) {
        Some(o) => Json(m.json(o)).into_response(),
        None => error(404, 40410000, "order not found"),
    }
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

async fn post_order(State(app): State<App>, Json(body): Json<Value>) -> Response {
    let mut m = app.lock();
    m.posted.push(body.clone());
    if let Some((status, body)) = m.reject_next.take() {
        return (StatusCode::from_u16(status).unwrap(), Json(body)).into_response();
    }
    let qty = num(&body["qty"]);
    let notional = num(&body["notional"]);
    if qty.is_none() == notional.is_none() {
        return error(422, 40010001, "qty or notional is required");
    }
    let text = |k: &str| body[k].as_str().unwrap_or_default().to_owned();
    let class = body["order_class"].as_str().unwrap_or("simple").to_owned();
    let id = m.new_id();
    let side = text("side");
    let other = if side == "buy" { "sell" } else { "buy" };
    let mut legs = Vec::new();
    for (kind, price) in [
        ("limit", num(&body["take_profit"]["limit_price"])),
        ("stop", num(&body["stop_loss"]["stop_price"])),
    ] {
        let Some(price) = price else { continue };
        let leg = m.new_id();
        legs.push(leg.clone());
        let seq = m.next_id;
        m.orders.push(FakeOrder {
            id: leg.clone(),
            coid: leg,
            symbol: text("symbol"),
            qty,
            notional: None,
            side: other.into(),
            kind: kind.into(),
            tif: text("time_in_force"),
            limit: (kind == "limit").then_some(price),
            stop: (kind == "stop").then_some(price),
            class: class.clone(),
            status: "held".into(),
            filled: 0.0,
            avg: None,
            legs: vec![],
            parent: Some(id.clone()),
            seq,
        });
    }
    // Created after its legs: the most recent order.
    m.next_id += 1;
    let seq = m.next_id;
    m.orders.push(FakeOrder {
        id: id.clone(),
        coid: text("client_order_id"),
        symbol: text("symbol"),
        qty,
        notional,
        side,
        kind: text("type"),
        tif: text("time_in_force"),
        limit: num(&body["limit_price"]),
        stop: num(&body["stop_price"]),
        class,
        status: "new".into(),
        filled: 0.0,
        avg: None,
        legs,
        parent: None,
        seq,
    });
    let answer = m.json(m.order(&id).unwrap());
    let update = m.update("new", &id, json!({}));
    drop(m);
    app.send(update);
    Json(answer).into_response()
}

async fn cancel_order(State(app): State<App>, Path(id): Path<String>) -> Response {
    let mut m = app.lock();
    let Some(o) = m.order(&id).cloned() else {
        return error(404, 40410000, "order not found");
    };
    if o.terminal() {
        return error(422, 42210000, "order is not cancelable");
    }
    let mut updates = Vec::new();
    for x in std::iter::once(&id).chain(o.legs.iter()) {
        if let Some(x_order) = m.order_mut(x).filter(|x| !x.terminal()) {
            x_order.status = "canceled".into();
            updates.push(m.update("canceled", x, json!({})));
        }
    }
    drop(m);
    for u in updates {
        app.send(u);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn replace_order(
    State(app): State<App>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut m = app.lock();
    m.patched.push((id.clone(), body.clone()));
    let Some(old) = m.order(&id).cloned().filter(|o| !o.terminal()) else {
        return error(422, 42210000, "order is not replaceable");
    };
    let new_id = m.new_id();
    let seq = m.next_id;
    let new = FakeOrder {
        id: new_id.clone(),
        coid: new_id.clone(),
        limit: num(&body["limit_price"]).or(old.limit),
        stop: num(&body["stop_price"]).or(old.stop),
        qty: num(&body["qty"]).or(old.qty),
        seq,
        ..old.clone()
    };
    m.orders.push(new);
    m.order_mut(&id).unwrap().status = "replaced".into();
    if let Some(p) = &old.parent
        && let Some(p) = m.order_mut(p)
    {
        for l in &mut p.legs {
            if *l == id {
                l.clone_from(&new_id);
            }
        }
    }
    let answer = m.json(m.order(&new_id).unwrap());
    let update = m.update("replaced", &id, json!({}));
    drop(m);
    app.send(update);
    Json(answer).into_response()
}

async fn positions(State(app): State<App>) -> Response {
    let m = app.lock();
    let list: Vec<Value> = m
        .positions
        .iter()
        .map(|(s, (q, avg))| {
            let price = m.last_price.get(s).copied().unwrap_or(*avg);
            json!({
                "asset_id": format!("asset-{s}"), "symbol": s, "exchange": "NASDAQ",
                "asset_class": "us_equity", "qty": q.to_string(), "qty_available": q.to_string(),
                "side": if *q > 0.0 { "long" } else { "short" },
                "avg_entry_price": avg.to_string(), "current_price": price.to_string(),
                "market_value": (q * price).to_string(),
                "unrealized_pl": (q * (price - avg)).to_string(),
            })
        })
        .collect();
    Json(list).into_response()
}

async fn close_position(
    State(app): State<App>,
    Path(symbol): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut m = app.lock();
    let Some((pos, _)) = m.positions.get(&symbol).copied() else {
        return error(404, 40410000, "position does not exist");
    };
    let pct: f64 = q
        .get("percentage")
        .and_then(|p| p.parse().ok())
        .unwrap_or(100.0);
    let qty = (pos.abs() * pct / 100.0).floor();
    let id = m.new_id();
    let seq = m.next_id;
    m.orders.push(FakeOrder {
        id: id.clone(),
        coid: id.clone(),
        symbol,
        qty: Some(qty),
        notional: None,
        side: if pos > 0.0 { "sell" } else { "buy" }.into(),
        kind: "market".into(),
        tif: "day".into(),
        limit: None,
        stop: None,
        class: "simple".into(),
        status: "new".into(),
        filled: 0.0,
        avg: None,
        legs: vec![],
        parent: None,
        seq,
    });
    let answer = m.json(m.order(&id).unwrap());
    let update = m.update("new", &id, json!({}));
    drop(m);
    app.send(update);
    Json(answer).into_response()
}

async fn stream(State(app): State<App>, ws: WebSocketUpgrade) -> Response {
    {
        let mut m = app.lock();
        if !m.ws_accept {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
        m.ws_connections += 1;
    }
    ws.on_upgrade(move |socket| session(app, socket))
}

async fn recv_json(socket: &mut WebSocket) -> Option<Value> {
    loop {
        match socket.recv().await? {
            Ok(Message::Text(t)) => return serde_json::from_str(t.as_str()).ok(),
            Ok(Message::Binary(b)) => return serde_json::from_slice(&b).ok(),
            Ok(_) => continue,
            Err(_) => return None,
        }
    }
}

async fn session(app: App, mut socket: WebSocket) {
    let Some(auth) = recv_json(&mut socket).await else {
        return;
    };
    let ok = auth["action"] == "auth" && auth["key"] == KEY && auth["secret"] == SECRET;
    let status = if ok { "authorized" } else { "unauthorized" };
    let reply =
        json!({"stream": "authorization", "data": {"status": status, "action": "authenticate"}});
    if socket
        .send(Message::Text(reply.to_string().into()))
        .await
        .is_err()
        || !ok
    {
        return;
    }
    let Some(listen) = recv_json(&mut socket).await else {
        return;
    };
    let streams = listen["data"]["streams"].clone();
    // Subscribed before confirming: nothing sent after "listening" is missed.
    let mut rx = app.tx.subscribe();
    let reply = json!({"stream": "listening", "data": {"streams": streams}});
    if socket
        .send(Message::Text(reply.to_string().into()))
        .await
        .is_err()
    {
        return;
    }
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                // Alpaca sends its trade updates in binary frames.
                Ok(Ws::Send(text)) => {
                    if socket.send(Message::Binary(text.into_bytes().into())).await.is_err() {
                        return;
                    }
                }
                Ok(Ws::Drop) | Err(_) => return,
            },
            msg = socket.recv() => match msg {
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

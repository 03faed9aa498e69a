//! The trade-updates stream: a background thread that keeps one WebSocket to Alpaca's
//! `/stream`, authenticates (`{"action":"auth",...}`), listens to `trade_updates`, and feeds
//! every update to the [`Book`]. When the connection drops (or stays silent through three ping
//! intervals) it reconnects with exponential backoff; after every subscription, before reading
//! any update, it reconciles by reading the orders back over REST ([`reconcile`]). Subscribing
//! first and reading second leaves no gap: anything that happened before the read is in the
//! read, anything after it is on the stream, and the [`Book`] reports overlaps once.

use std::collections::HashSet;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use reqwest::Url;
use tungstenite::{Message, WebSocket, stream::MaybeTlsStream};

use crate::book::{Book, FillHint};
use crate::config::Secret;
use crate::error::Result;
use crate::rest::Rest;
use crate::wire::{StreamMessage, TradeUpdate};

/// How often the reading loop wakes up to check for shutdown and silence.
const POLL: Duration = Duration::from_millis(100);

/// What the caller's thread and the stream thread share.
pub(crate) struct Shared {
    pub book: Mutex<Book>,
    /// Notified when events are queued, the stream's status changes, or on shutdown.
    pub changed: Condvar,
    pub stop: AtomicBool,
}

impl Shared {
    pub fn new(book: Book) -> Self {
        Self {
            book: Mutex::new(book),
            changed: Condvar::new(),
            stop: AtomicBool::new(false),
        }
    }

    /// The book (a panic elsewhere while holding it leaves consistent enough data to go on).
    pub fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn notify(&self) {
        self.changed.notify_all();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The stream's settings, copied from the config.
pub(crate) struct Settings {
    pub url: String,
    pub key_id: String,
    pub secret: Secret,
    pub timeout: Duration,
    pub reconnect_initial: Duration,
    pub reconnect_max: Duration,
    pub ping_interval: Duration,
}

/// Starts the stream thread.
pub(crate) fn spawn(shared: Arc<Shared>, rest: Rest, s: Settings) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("alpaca-stream".into())
        .spawn(move || run(&shared, &rest, &s))
}

fn run(shared: &Shared, rest: &Rest, s: &Settings) {
    let span = tracing::info_span!("alpaca.stream", url = %s.url);
    let _enter = span.enter();
    let mut backoff = s.reconnect_initial;
    while !shared.stopped() {
        let mut subscribed = false;
        let result = session(shared, rest, s, &mut subscribed);
        {
            let mut book = shared.lock();
            book.stream.connected = false;
            if result.is_err() {
                book.stream.failures += 1;
            }
        }
        shared.notify();
        if subscribed {
            backoff = s.reconnect_initial;
        }
        match result {
            Ok(()) => break,
            Err(reason) => {
                tracing::warn!(%reason, retry_in = ?backoff, "trade-updates stream lost; reconnecting")
            }
        }
        let book = shared.lock();
        drop(
            shared
                .changed
                .wait_timeout_while(book, backoff, |_| !shared.stopped()),
        );
        backoff = (backoff * 2).min(s.reconnect_max);
    }
}

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// One connection: connect, authenticate, listen, reconcile, then read until it ends.
/// `Ok` only on shutdown.
fn session(
    shared: &Shared,
    rest: &Rest,
    s: &Settings,
    subscribed: &mut bool,
) -> Result<(), String> {
    let url = Url::parse(&s.url).map_err(|e| format!("bad stream URL: {e}"))?;
    let host = url.host_str().ok_or("the stream URL has no host")?;
    let port = url
        .port_or_known_default()
        .ok_or("the stream URL has no port")?;
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} has no address"))?;
    let tcp = TcpStream::connect_timeout(&addr, s.timeout)
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let control = tcp.try_clone().map_err(|e| e.to_string())?;
    control.set_read_timeout(Some(s.timeout)).ok();
    control.set_write_timeout(Some(s.timeout)).ok();
    control.set_nodelay(true).ok();
    let (mut ws, _) = tungstenite::client_tls_with_config(s.url.as_str(), tcp, None, None)
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => format!("WebSocket handshake failed: {e}"),
            tungstenite::HandshakeError::Interrupted(_) => "WebSocket handshake timed out".into(),
        })?;

    // The only message that carries the secret; it is never logged by this crate.
    let auth = serde_json::json!({"action": "auth", "key": s.key_id, "secret": s.secret.expose()});
    ws.send(Message::text(auth.to_string()))
        .map_err(|e| format!("sending auth: {e}"))?;
    let data = expect(&mut ws, "authorization")?;
    if data["status"] != "authorized" {
        return Err(format!(
            "the stream refused the API keys (status {})",
            data["status"]
        ));
    }
    let listen = serde_json::json!({"action": "listen", "data": {"streams": ["trade_updates"]}});
    ws.send(Message::text(listen.to_string()))
        .map_err(|e| format!("sending listen: {e}"))?;
    let data = expect(&mut ws, "listening")?;
    let streams = data["streams"].as_array().cloned().unwrap_or_default();
    if !streams.iter().any(|s| s == "trade_updates") {
        return Err(format!(
            "the stream did not subscribe to trade_updates: {data}"
        ));
    }

    reconcile(shared, rest).map_err(|e| format!("reconciliation failed: {e}"))?;
    {
        let mut book = shared.lock();
        book.stream.connected = true;
        book.stream.sessions += 1;
    }
    shared.notify();
    *subscribed = true;
    tracing::info!("trade-updates stream subscribed and reconciled");

    control.set_read_timeout(Some(POLL)).ok();
    let mut last_rx = Instant::now();
    let mut last_ping = Instant::now();
    loop {
        if shared.stopped() {
            let _ = ws.close(None);
            let _ = ws.flush();
            return Ok(());
        }
        match ws.read() {
            Ok(msg) => {
                last_rx = Instant::now();
                if let Some(text) = text_of(&msg) {
                    handle(shared, text);
                }
            }
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                let idle = last_rx.elapsed();
                if idle > s.ping_interval * 3 {
                    return Err(format!("no frame for {idle:?}"));
                }
                if idle > s.ping_interval && last_ping.elapsed() > s.ping_interval {
                    last_ping = Instant::now();
                    ws.send(Message::Ping(Default::default()))
                        .map_err(|e| format!("sending ping: {e}"))?;
                }
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Err("closed by the server".into());
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Reads until a message of `stream`; returns its `data`.
fn expect(ws: &mut Socket, stream: &str) -> Result<serde_json::Value, String> {
    loop {
        let msg = ws
            .read()
            .map_err(|e| format!("waiting for {stream}: {e}"))?;
        let Some(text) = text_of(&msg) else {
            continue;
        };
        if let Ok(m) = serde_json::from_str::<StreamMessage>(text)
            && m.stream == stream
        {
            return Ok(m.data);
        }
    }
}

/// Alpaca sends its JSON in text or binary frames.
fn text_of(msg: &Message) -> Option<&str> {
    match msg {
        Message::Text(t) => Some(t.as_str()),
        Message::Binary(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// One stream message into the book.
fn handle(shared: &Shared, text: &str) {
    let Ok(m) = serde_json::from_str::<StreamMessage>(text) else {
        tracing::debug!("ignoring a stream message that is not JSON");
        return;
    };
    if m.stream != "trade_updates" {
        return;
    }
    let update: TradeUpdate = match serde_json::from_value(m.data) {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "ignoring an unreadable trade update");
            return;
        }
    };
    let hint = if matches!(update.event.as_str(), "fill" | "partial_fill") {
        FillHint {
            price: update.price,
            qty: update.qty,
            position_qty: update.position_qty,
        }
    } else {
        FillHint::default()
    };
    tracing::debug!(event = %update.event, order = %update.order.id, status = %update.order.status, "trade update");
    let mut book = shared.lock();
    if let Some(id) = book.adopt(&update.order, true) {
        book.adopt_legs(id, &update.order);
        book.observe(id, &update.order, hint);
    }
    drop(book);
    shared.notify();
}

/// Reads back every order that may have changed while the stream was not listening: the 500
/// most recent orders (legs nested), then one by one any unfinished order of ours they do not
/// include. Only orders this broker already tracks are reported.
pub(crate) fn reconcile(shared: &Shared, rest: &Rest) -> Result<()> {
    let mut flat = Vec::new();
    for o in rest.orders("all")? {
        o.flatten(&mut flat);
    }
    let mut seen = HashSet::new();
    {
        let mut book = shared.lock();
        for o in &flat {
            if let Some(id) = book.lookup(o) {
                book.observe(id, o, FillHint::default());
                seen.insert(o.id.clone());
            }
        }
    }
    let missing: Vec<String> = shared
        .lock()
        .live_alpaca_ids()
        .into_iter()
        .filter(|a| !seen.contains(a))
        .collect();
    for a in missing {
        let o = rest.order(&a)?;
        let mut book = shared.lock();
        if let Some(id) = book.lookup(&o) {
            book.observe(id, &o, FillHint::default());
        }
    }
    shared.notify();
    Ok(())
}

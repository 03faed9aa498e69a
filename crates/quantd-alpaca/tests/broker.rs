//! AlpacaBroker against the in-process fake (tests/fake): orders, fills, cancels, rejections,
//! credentials, the stream's reconnection, brackets, and that the secret never shows. No test
//! reaches the network: every URL is the fake's on 127.0.0.1.

mod fake;

use std::time::{Duration, Instant};

use fake::{Fake, KEY, SECRET};
use quantd_alpaca::{AlpacaBroker, Error};
use quantd_backtest::broker::{Bracket, Broker, BrokerError, OrderEvent, OrderRequest};
use serde_json::json;

/// Longest wait for anything the fake does (a failure, not a pace).
const T: Duration = Duration::from_secs(10);

fn symbols() -> Vec<String> {
    vec!["AAPL".into(), "MSFT".into()]
}

/// A broker on the fake, its stream subscribed.
fn connect(fake: &Fake) -> AlpacaBroker {
    let b = AlpacaBroker::new(fake.config(), symbols()).unwrap();
    let s = b.wait_for_stream(1, T);
    assert!(s.connected, "{s:?}");
    b
}

fn req(size: f64) -> OrderRequest {
    OrderRequest {
        ticker: 0,
        size,
        limit: None,
        stop: None,
        sl: None,
        tp: None,
        tag: None,
        client_id: None,
    }
}

/// Waits for `n` events (fails after [`T`]).
fn events(b: &mut AlpacaBroker, n: usize) -> Vec<OrderEvent> {
    let deadline = Instant::now() + T;
    let mut out = Vec::new();
    while out.len() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "waited for {n} events, got {out:?}");
        out.extend(b.wait_events(left));
    }
    assert_eq!(out.len(), n, "{out:?}");
    no_secret(&format!("{out:?}"));
    out
}

fn no_secret(s: &str) {
    assert!(!s.contains(SECRET), "the secret leaked into: {s}");
}

#[test]
fn order_placed_is_accepted_and_listed() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    let id = b
        .submit(OrderRequest {
            limit: Some(100.0),
            client_id: Some(7),
            tag: Some("entry".into()),
            ..req(10.0)
        })
        .unwrap();
    assert_eq!(
        events(&mut b, 1),
        [OrderEvent::Accepted {
            order: id,
            client_id: Some(7)
        }]
    );
    let open = b.open_orders();
    assert_eq!(open.len(), 1, "{open:?}");
    let o = &open[0];
    assert_eq!((o.id, o.client_id, o.ticker), (id, Some(7), 0));
    assert_eq!((o.size, o.limit, o.stop), (10.0, Some(100.0), None));
    assert_eq!(o.tag.as_deref(), Some("entry"));
    let body = &fake.posted()[0];
    assert_eq!(body["type"], "limit");
    assert_eq!(body["qty"], "10");
    assert_eq!(body["time_in_force"], "gtc");
    let coid = body["client_order_id"].as_str().unwrap();
    assert!(coid.starts_with("qd-") && coid.ends_with("-c7"), "{coid}");
    // The stream's "new" update for the same order adds nothing.
    assert!(b.wait_events(Duration::from_millis(200)).is_empty());
}

#[test]
fn partial_fill_then_fill_updates_positions() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    let id = b.submit(req(10.0)).unwrap();
    events(&mut b, 1);
    let alpaca = fake.last_order_id();

    fake.fill(&alpaca, 4.0, 100.0);
    let e = events(&mut b, 1);
    let OrderEvent::Filled {
        order,
        ticker,
        trade,
        size,
        price,
        partial,
        ..
    } = e[0].clone()
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (order, ticker, size, price, partial),
        (id, 0, 4.0, 100.0, true)
    );
    let p = b.positions();
    assert_eq!(p.len(), 1);
    assert_eq!((p[0].ticker, p[0].size), (0, 4.0));

    fake.fill(&alpaca, 6.0, 102.0);
    let e = events(&mut b, 1);
    assert_eq!(
        e[0],
        OrderEvent::Filled {
            order: id,
            client_id: None,
            ticker: 0,
            trade,
            size: 6.0,
            price: 102.0,
            bar: 0,
            partial: false
        }
    );
    let p = b.positions();
    assert_eq!((p[0].ticker, p[0].size), (0, 10.0));
    let trades = b.open_trades();
    assert_eq!(trades.len(), 1);
    assert_eq!(trades[0].id, trade);
    assert_eq!(trades[0].size, 10.0);
    assert!((trades[0].entry_price - 101.2).abs() < 1e-9);
    assert!(b.open_orders().is_empty());
    let a = b.account();
    assert!((a.cash - (100_000.0 - 1012.0)).abs() < 1e-6, "{a:?}");
}

#[test]
fn cancel_reports_cancelled() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    let id = b
        .submit(OrderRequest {
            limit: Some(90.0),
            client_id: Some(3),
            ..req(5.0)
        })
        .unwrap();
    events(&mut b, 1);
    b.cancel(id).unwrap();
    assert_eq!(
        events(&mut b, 1),
        [OrderEvent::Cancelled {
            order: id,
            client_id: Some(3),
            reason: "cancelled by the strategy".into()
        }]
    );
    assert!(b.open_orders().is_empty());
    assert_eq!(
        b.cancel(id),
        Err(BrokerError::NotFound { what: "order", id })
    );
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.starts_with("DELETE /v2/orders/"))
    );
}

#[test]
fn rejected_order_carries_alpacas_message() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    fake.reject_next(403, 40310000, "insufficient buying power");
    let err = b
        .submit(OrderRequest {
            client_id: Some(9),
            ..req(1000.0)
        })
        .unwrap_err();
    let BrokerError::Invalid(message) = &err else {
        panic!("{err:?}")
    };
    assert!(message.contains("insufficient buying power"), "{message}");
    let e = events(&mut b, 1);
    let OrderEvent::Rejected {
        order,
        client_id,
        reason,
    } = &e[0]
    else {
        panic!("{e:?}")
    };
    assert_eq!((*order, *client_id), (0, Some(9)));
    assert!(reason.contains("insufficient buying power"), "{reason}");

    fake.reject_next(422, 42210000, "limit_price must be > 0.01");
    let err = b
        .submit(OrderRequest {
            limit: Some(0.001),
            ..req(1.0)
        })
        .unwrap_err();
    assert!(
        matches!(&err, BrokerError::Invalid(m) if m.contains("HTTP 422") && m.contains("limit_price must be > 0.01")),
        "{err:?}"
    );
    events(&mut b, 1);

    // Refused before reaching Alpaca, like SimBroker.
    let err = b
        .submit(OrderRequest {
            ticker: 5,
            ..req(1.0)
        })
        .unwrap_err();
    assert!(
        matches!(&err, BrokerError::Invalid(m) if m.contains("ticker index 5")),
        "{err:?}"
    );
    events(&mut b, 1);
    assert_eq!(fake.posted().len(), 2);
    assert!(b.open_orders().is_empty());
}

#[test]
fn bad_credentials_are_a_clear_error_without_the_secret() {
    let fake = Fake::start();
    let wrong = "wrong-secret-5d2e8b";
    let err = AlpacaBroker::new(fake.config_with(KEY, wrong), symbols()).unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { status: 403, .. }),
        "{err:?}"
    );
    let text = format!("{err} {err:?}");
    assert!(text.contains("request is not authorized"), "{text}");
    assert!(text.contains("APCA_API_SECRET_KEY"), "{text}");
    assert!(!text.contains(wrong), "{text}");
    no_secret(&text);
    let broker_err = BrokerError::from(err);
    assert!(matches!(&broker_err, BrokerError::Invalid(_)));
    assert!(!format!("{broker_err} {broker_err:?}").contains(wrong));
}

#[test]
fn stream_reconnects_and_reports_a_fill_missed_while_down_once() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    let id = b.submit(req(10.0)).unwrap();
    events(&mut b, 1);
    let alpaca = fake.last_order_id();
    fake.fill(&alpaca, 4.0, 100.0);
    events(&mut b, 1);

    // The stream goes down and stays down while the rest of the order fills.
    fake.set_ws_accept(false);
    fake.drop_streams();
    let s = b.wait_stream(T, |s| !s.connected);
    assert!(!s.connected);
    assert_eq!(fake.listeners(), 0);
    fake.fill(&alpaca, 6.0, 103.0);
    assert!(b.wait_events(Duration::from_millis(200)).is_empty());

    // Back up: the reconciliation reports the missed fill.
    fake.set_ws_accept(true);
    let s = b.wait_for_stream(2, T);
    assert!(s.connected && s.sessions >= 2 && s.failures >= 1, "{s:?}");
    let e = events(&mut b, 1);
    let OrderEvent::Filled {
        order,
        size,
        price,
        partial,
        ..
    } = e[0]
    else {
        panic!("{e:?}")
    };
    assert_eq!((order, size, price, partial), (id, 6.0, 103.0, false));

    // The same fill arriving again on the stream is not reported again: another order's fill,
    // sent after it, comes alone.
    fake.resend_last();
    let other = b
        .submit(OrderRequest {
            ticker: 1,
            ..req(1.0)
        })
        .unwrap();
    let other_alpaca = fake.last_order_id();
    fake.fill(&other_alpaca, 1.0, 50.0);
    let e = events(&mut b, 2);
    assert_eq!(
        e[0],
        OrderEvent::Accepted {
            order: other,
            client_id: None
        }
    );
    assert!(
        matches!(e[1], OrderEvent::Filled { order, size, .. } if order == other && size == 1.0),
        "{e:?}"
    );
    assert!(b.wait_events(Duration::from_millis(200)).is_empty());
    assert!(fake.ws_connections() >= 2);
    assert_eq!(b.positions()[0].size, 10.0);
}

#[test]
fn secrets_never_appear_in_debug_display_errors_events_or_logs() {
    let logs = capture_logs();
    let fake = Fake::start();
    let config = fake.config();
    let mut seen = vec![
        format!("{config:?}"),
        format!("{}", config.secret),
        format!("{:?}", config.secret),
    ];
    let mut b = connect(&fake);
    seen.push(format!("{b:?}"));
    let id = b
        .submit(OrderRequest {
            limit: Some(100.0),
            sl: Some(95.0),
            tp: Some(110.0),
            ..req(10.0)
        })
        .unwrap();
    fake.fill(&fake.last_order_id(), 10.0, 100.0);
    seen.push(format!("{:?}", events(&mut b, 2)));
    fake.reject_next(
        422,
        42210000,
        "sub-penny increment does not fulfill minimum pricing criteria",
    );
    seen.push(format!("{:?}", b.submit(req(1.0))));
    seen.push(format!("{:?}", b.cancel(id)));
    seen.push(format!("{:?}", b.close_trade(999, 1.0)));
    seen.push(format!("{:?}", b.set_bracket(999, Bracket::Sl, Some(1.0))));
    fake.drop_streams();
    b.wait_for_stream(2, T);
    seen.push(format!(
        "{:?} {:?} {:?} {:?} {:?}",
        b.open_orders(),
        b.open_trades(),
        b.positions(),
        b.account(),
        b.drain_events()
    ));
    let bad = AlpacaBroker::new(fake.config_with(KEY, "nope"), symbols()).unwrap_err();
    seen.push(format!("{bad} {bad:?}"));
    drop(b);
    seen.push(logs.text());
    assert!(
        logs.text().contains("alpaca.request"),
        "the log capture saw no request span"
    );
    for s in &seen {
        no_secret(s);
    }
    // The fake did get it, in the header and the stream's auth message.
    assert!(fake.ws_connections() >= 2);
}

#[test]
fn bracket_order_body_matches_alpacas_fields() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    let id = b
        .submit(OrderRequest {
            limit: Some(100.0),
            sl: Some(95.0),
            tp: Some(110.123),
            client_id: Some(1),
            ..req(10.0)
        })
        .unwrap();
    let body = fake.posted()[0].clone();
    let coid = body["client_order_id"].as_str().unwrap().to_owned();
    assert_eq!(
        body,
        json!({
            "symbol": "AAPL",
            "qty": "10",
            "side": "buy",
            "type": "limit",
            "time_in_force": "gtc",
            "limit_price": "100",
            "client_order_id": coid,
            "order_class": "bracket",
            "take_profit": {"limit_price": "110.12"},
            "stop_loss": {"stop_price": "95"},
        })
    );
    events(&mut b, 1);
    // Legs held until the entry fills show as its sl/tp.
    let open = b.open_orders();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (open[0].id, open[0].sl, open[0].tp),
        (id, Some(95.0), Some(110.12))
    );

    // One level: an OTO order; a short with a stop entry.
    b.submit(OrderRequest {
        ticker: 1,
        stop: Some(50.0),
        sl: Some(55.0),
        ..req(-3.0)
    })
    .unwrap();
    let body = fake.posted()[1].clone();
    assert_eq!(body["order_class"], "oto");
    assert_eq!(body["side"], "sell");
    assert_eq!(body["type"], "stop");
    assert_eq!(body["stop_price"], "50");
    assert_eq!(body["stop_loss"], json!({"stop_price": "55"}));
    assert!(body.get("take_profit").is_none(), "{body}");

    // A fraction of equity: a notional day order.
    b.submit(req(0.25)).unwrap();
    let body = fake.posted()[2].clone();
    assert_eq!(body["notional"], "25000");
    assert_eq!(body["time_in_force"], "day");
    assert!(body.get("qty").is_none(), "{body}");
    assert!(body.get("order_class").is_none(), "{body}");
}

#[test]
fn brackets_are_replaced_placed_and_removed() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    let entry = b
        .submit(OrderRequest {
            sl: Some(95.0),
            tp: Some(110.0),
            tag: Some("t".into()),
            ..req(10.0)
        })
        .unwrap();
    events(&mut b, 1);
    let alpaca = fake.last_order_id();
    let legs = fake.legs(&alpaca);
    fake.fill(&alpaca, 10.0, 100.0);
    let e = events(&mut b, 1);
    let OrderEvent::Filled { order, trade, .. } = e[0] else {
        panic!("{e:?}")
    };
    assert_eq!(order, entry);
    let trades = b.open_trades();
    assert_eq!(trades.len(), 1);
    assert_eq!(
        (
            trades[0].id,
            trades[0].sl,
            trades[0].tp,
            trades[0].tag.as_deref()
        ),
        (trade, Some(95.0), Some(110.0), Some("t"))
    );
    let open = b.open_orders();
    assert_eq!(open.len(), 2, "{open:?}");
    let sl_order = open
        .iter()
        .find(|o| o.bracket == Some(Bracket::Sl))
        .unwrap()
        .clone();
    assert_eq!(
        (sl_order.parent_trade, sl_order.stop, sl_order.size),
        (Some(trade), Some(95.0), -10.0)
    );

    // Replace the stop-loss leg: PATCH, same quantd order id.
    b.set_bracket(trade, Bracket::Sl, Some(97.5)).unwrap();
    let (patched, body) = fake.patched()[0].clone();
    assert!(legs.contains(&patched));
    assert_eq!(body, json!({"stop_price": "97.5"}));
    assert_eq!(b.open_trades()[0].sl, Some(97.5));
    let open = b.open_orders();
    let sl_now = open
        .iter()
        .find(|o| o.bracket == Some(Bracket::Sl))
        .unwrap();
    assert_eq!((sl_now.id, sl_now.stop), (sl_order.id, Some(97.5)));

    // Remove the take-profit: its leg is cancelled.
    b.set_bracket(trade, Bracket::Tp, None).unwrap();
    let e = events(&mut b, 1);
    assert!(matches!(e[0], OrderEvent::Cancelled { .. }), "{e:?}");
    assert_eq!(b.open_trades()[0].tp, None);
    assert_eq!(b.open_orders().len(), 1);

    // A position without exits gets a new stop order for all of it.
    b.submit(OrderRequest {
        ticker: 1,
        ..req(-4.0)
    })
    .unwrap();
    events(&mut b, 1);
    fake.fill(&fake.last_order_id(), 4.0, 50.0);
    let e = events(&mut b, 1);
    let OrderEvent::Filled { trade: short, .. } = e[0] else {
        panic!("{e:?}")
    };
    b.set_bracket(short, Bracket::Sl, Some(55.0)).unwrap();
    let body = fake.posted().last().unwrap().clone();
    assert_eq!(
        (
            &body["symbol"],
            &body["side"],
            &body["type"],
            &body["qty"],
            &body["stop_price"]
        ),
        (
            &json!("MSFT"),
            &json!("buy"),
            &json!("stop"),
            &json!("4"),
            &json!("55")
        )
    );
    let t = b.open_trades().into_iter().find(|t| t.id == short).unwrap();
    assert_eq!((t.size, t.sl, t.tp), (-4.0, Some(55.0), None));
    assert_eq!(
        b.set_bracket(12345, Bracket::Sl, Some(1.0)),
        Err(BrokerError::NotFound {
            what: "trade",
            id: 12345
        })
    );
}

#[test]
fn close_trade_closes_a_share_of_the_position() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    b.submit(req(10.0)).unwrap();
    events(&mut b, 1);
    fake.fill(&fake.last_order_id(), 10.0, 100.0);
    let e = events(&mut b, 1);
    let OrderEvent::Filled { trade, .. } = e[0] else {
        panic!("{e:?}")
    };
    let close = b.close_trade(trade, 0.5).unwrap();
    assert!(
        fake.requests()
            .iter()
            .any(|r| r == "DELETE /v2/positions/AAPL?percentage=50"),
        "{:?}",
        fake.requests()
    );
    assert_eq!(
        events(&mut b, 1),
        [OrderEvent::Accepted {
            order: close,
            client_id: None
        }]
    );
    let open = b.open_orders();
    assert_eq!(
        (open[0].id, open[0].size, open[0].parent_trade),
        (close, -5.0, Some(trade))
    );
    fake.fill(&fake.last_order_id(), 5.0, 101.0);
    let e = events(&mut b, 1);
    assert!(
        matches!(e[0], OrderEvent::Filled { order, trade: t, size, .. } if order == close && t == trade && size == -5.0),
        "{e:?}"
    );
    assert_eq!(b.open_trades()[0].size, 5.0);
    assert_eq!(b.open_trades()[0].id, trade);
    assert_eq!(
        b.close_trade(trade, 1.5),
        Err(BrokerError::Invalid(
            "portion 1.5 must be a fraction in (0, 1]".into()
        ))
    );
}

/// Every log line of the process (all levels, spans with their fields), for grepping.
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Logs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn capture_logs() -> Logs {
    use tracing_subscriber::fmt::format::FmtSpan;
    let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || Writer(writer.clone()))
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("one log capture per process");
    Logs(buf)
}

struct Writer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Writer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn throttling_and_server_errors_are_unavailable() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    for (status, message) in [(429, "rate limit exceeded"), (503, "service unavailable")] {
        fake.reject_next(status, 50000000, message);
        let err = b.submit(req(1.0)).unwrap_err();
        assert!(
            matches!(&err, BrokerError::Unavailable(m) if m.contains(message) && m.contains(&status.to_string())),
            "{err:?}"
        );
        let e = events(&mut b, 1);
        assert!(
            matches!(&e[0], OrderEvent::Rejected { order: 0, reason, .. } if reason.contains(message)),
            "{e:?}"
        );
    }
    assert!(b.open_orders().is_empty());
}

#[test]
fn unfilled_market_orders_count_what_is_left_and_only_market_orders() {
    let fake = Fake::start();
    let mut b = connect(&fake);
    b.submit(req(10.0)).unwrap();
    let bought = fake.last_order_id();
    fake.fill(&bought, 4.0, 100.0);
    b.submit(OrderRequest {
        ticker: 1,
        ..req(-3.0)
    })
    .unwrap();
    // A limit order may never fill: not counted.
    b.submit(OrderRequest {
        limit: Some(90.0),
        ..req(7.0)
    })
    .unwrap();
    assert_eq!(b.try_unfilled_market().unwrap(), vec![(0, 6.0), (1, -3.0)]);
    fake.fill(&bought, 6.0, 100.0);
    assert_eq!(b.try_unfilled_market().unwrap(), vec![(1, -3.0)]);
}

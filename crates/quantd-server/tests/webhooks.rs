//! `/v1/webhooks` end to end: a webhook registered over the API hears a scan's completion, signed
//! with the secret answered once; the delivery log shows the attempt; another workspace sees
//! none of it; bad input names its field and stores nothing.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use common::{Server, Setup};
use quantd_engine::webhooks::verify_signature;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::sync::mpsc;

async fn receiver() -> (String, mpsc::UnboundedReceiver<(HeaderMap, Bytes)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    async fn handle(
        State(tx): State<mpsc::UnboundedSender<(HeaderMap, Bytes)>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> StatusCode {
        let _ = tx.send((headers, body));
        StatusCode::OK
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/in", axum::routing::post(handle))
        .with_state(tx);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/in"), rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_webhook_hears_a_completion_signed() {
    let server = Server::start(Setup::default()).await;
    let token = server.token("alpha").await;
    let other = server.token("beta").await;
    let (url, mut seen) = receiver().await;

    let r = server
        .req(Method::POST, "/v1/webhooks", &token)
        .json(&json!({"url": url, "events": ["completed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let wh: Value = r.json().await.unwrap();
    let id = wh["id"].as_str().unwrap().to_string();
    let secret = wh["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = server.get_json("/v1/webhooks", &token).await;
    assert_eq!(listed[0]["id"], id.as_str());
    assert!(listed[0].get("secret").is_none(), "never listed: {listed}");
    assert_eq!(server.get_json("/v1/webhooks", &other).await, json!([]));

    let exec = server.submit_scan(&token).await;
    server.wait_done(&token, &exec).await;
    let (headers, body) = tokio::time::timeout(Duration::from_secs(60), seen.recv())
        .await
        .expect("a delivery within a minute")
        .unwrap();
    let h = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
    assert!(verify_signature(
        secret.as_bytes(),
        &h("x-quantd-timestamp"),
        &body,
        &h("x-quantd-signature")
    ));
    assert_eq!(h("x-quantd-event"), "completed");
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["execution"]["id"], exec.as_str());
    assert_eq!(payload["id"], h("x-quantd-delivery").as_str());

    let path = format!("/v1/webhooks/{id}/deliveries");
    let mut log = Value::Null;
    for _ in 0..600 {
        log = server.get_json(&path, &token).await;
        if log[0]["state"] == "delivered" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(log[0]["state"], "delivered", "{log}");
    assert_eq!(log[0]["log"][0]["status"], 200);
    assert_eq!(log[0]["execution_id"], exec.as_str());

    // Another workspace can neither read nor remove it.
    let r = server.req(Method::GET, &path, &other).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let gone = format!("/v1/webhooks/{id}");
    let r = server
        .req(Method::DELETE, &gone, &other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = server
        .req(Method::DELETE, &gone, &token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(server.get_json("/v1/webhooks", &token).await, json!([]));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_webhooks_name_the_field_and_store_nothing() {
    let server = Server::start(Setup::default()).await;
    let token = server.token("alpha").await;
    for (body, status, needle) in [
        (
            json!({"url": "ftp://x/"}),
            422,
            "`url` must be http:// or https://",
        ),
        (
            json!({"url": "http://x/", "events": ["done"]}),
            422,
            "`events[0]` is `done`",
        ),
        (
            json!({"url": "http://x/", "secret": "short"}),
            422,
            "`secret` is 5 bytes",
        ),
        (
            json!({"url": "http://x/", "colour": "red"}),
            400,
            "unknown field `colour`",
        ),
    ] {
        let r = server
            .req(Method::POST, "/v1/webhooks", &token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{body}");
        let problem: Value = r.json().await.unwrap();
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{detail}");
    }
    assert_eq!(server.get_json("/v1/webhooks", &token).await, json!([]));
    let r = server
        .req(
            Method::GET,
            "/v1/webhooks/wh_nope/deliveries?limit=0",
            &token,
        )
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
    server.stop().await;
}

//! Live progress: an SSE or WebSocket client that disconnects mid-execution and reconnects
//! (Last-Event-ID / `?after=` / `resume_after`) receives every event exactly once, in order.

mod common;

use common::{Server, Setup, read_sse};
use futures::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn slow() -> Setup {
    Setup {
        shard_delay: Duration::from_millis(40),
        shard_bars: 600,
        ..Setup::default()
    }
}

/// Reads SSE events until `stop_after` events were seen (or `done`); returns seqs and whether
/// `done` came.
async fn sse_events(
    server: &Server,
    token: &str,
    id: &str,
    last_event_id: Option<u64>,
    stop_after: usize,
) -> (Vec<u64>, bool) {
    let mut req = server.req(Method::GET, &format!("/v1/executions/{id}/events"), token);
    if let Some(n) = last_event_id {
        req = req.header("Last-Event-ID", n.to_string());
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let mut seqs = Vec::new();
    let mut done = false;
    read_sse(resp, |m| {
        if m.event.as_deref() == Some("done") {
            done = true;
            return false;
        }
        let v: Value = serde_json::from_str(&m.data).unwrap();
        let seq = v["seq"].as_u64().unwrap();
        assert_eq!(
            m.id.as_deref(),
            Some(seq.to_string().as_str()),
            "id: is the sequence number"
        );
        seqs.push(seq);
        seqs.len() < stop_after
    })
    .await;
    (seqs, done)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sse_reconnect_with_last_event_id_gets_every_event_once_in_order() {
    let server = Server::start(slow()).await;
    let token = server.token("team").await;
    let id = server.submit_scan(&token).await;
    let (first, done) = sse_events(&server, &token, &id, None, 6).await;
    assert!(
        !done,
        "the execution should still be running after 6 events"
    );
    let last = *first.last().unwrap();
    // Some events happen while disconnected; the reconnect replays them from the store.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let (rest, done) = sse_events(&server, &token, &id, Some(last), usize::MAX).await;
    assert!(done, "the stream ends with `event: done`");
    let all: Vec<u64> = first.iter().chain(&rest).copied().collect();
    let stored = server.stored_events(&id).await;
    let expected: Vec<u64> = (1..=all.len() as u64).collect();
    assert_eq!(all, expected, "contiguous, no gap, no duplicate");
    assert_eq!(&stored[..all.len()], &all[..], "the same events as stored");
    // `?after=` is the same as Last-Event-ID for clients that cannot set headers.
    let resp = server
        .req(
            Method::GET,
            &format!("/v1/executions/{id}/events?after={}", all.len() - 2),
            &token,
        )
        .send()
        .await
        .unwrap();
    let mut tail = Vec::new();
    read_sse(resp, |m| {
        if m.event.as_deref() != Some("done") {
            tail.push(m.id.unwrap().parse::<u64>().unwrap());
            true
        } else {
            false
        }
    })
    .await;
    assert_eq!(tail, vec![all.len() as u64 - 1, all.len() as u64]);
    server.stop().await;
}

async fn ws_connect(
    server: &Server,
    token: &str,
    id: &str,
    after: Option<u64>,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let q = after.map(|n| format!("?after={n}")).unwrap_or_default();
    let url = format!(
        "{}/v1/executions/{id}/ws{q}",
        server.base.replace("http://", "ws://")
    );
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn websocket_resume_after_gets_every_event_once_in_order() {
    let server = Server::start(slow()).await;
    let token = server.token("team").await;
    let id = server.submit_scan(&token).await;
    let mut ws = ws_connect(&server, &token, &id, None).await;
    let mut seqs = Vec::new();
    while seqs.len() < 5 {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            panic!("stream ended early")
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        assert_ne!(v["type"], "done", "still running after 5 events");
        seqs.push(v["seq"].as_u64().unwrap());
    }
    ws.close(None).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    // A new connection that asks to resume after the last event it saw.
    let mut ws = ws_connect(&server, &token, &id, Some(1_000_000)).await;
    ws.send(Message::Text(
        format!("{{\"resume_after\": {}}}", seqs.last().unwrap()).into(),
    ))
    .await
    .unwrap();
    loop {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            panic!("stream ended before done")
        };
        let v: Value = serde_json::from_str(&t).unwrap();
        if v["type"] == "done" {
            assert_eq!(v["state"], "completed");
            break;
        }
        seqs.push(v["seq"].as_u64().unwrap());
    }
    let expected: Vec<u64> = (1..=seqs.len() as u64).collect();
    assert_eq!(seqs, expected, "contiguous, no gap, no duplicate");
    assert_eq!(&server.stored_events(&id).await[..seqs.len()], &seqs[..]);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn websocket_commands_pause_resume_and_cancel() {
    let server = Server::start(Setup {
        shard_delay: Duration::from_millis(60),
        shard_bars: 600,
        ..Setup::default()
    })
    .await;
    let token = server.token("team").await;
    let id = server.submit_scan(&token).await;
    let mut ws = ws_connect(&server, &token, &id, None).await;
    let mut acks = Vec::new();
    for c in ["pause", "resume", "cancel", "jump"] {
        ws.send(Message::Text(format!("{{\"command\": \"{c}\"}}").into()))
            .await
            .unwrap();
        loop {
            let Some(Ok(Message::Text(t))) = ws.next().await else {
                panic!("closed")
            };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "ack" || v["status"].is_number() {
                acks.push(v);
                break;
            }
        }
    }
    assert_eq!(acks[0]["state"], "paused");
    assert_eq!(acks[1]["state"], "running");
    assert_eq!(acks[2]["state"], "cancelled");
    assert_eq!(acks[3]["type"], "urn:quantd:problem:bad-request");
    let v = server.wait_done(&token, &id).await;
    assert_eq!(v["state"], "cancelled");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workspace_event_stream_shows_only_its_own_executions() {
    let server = Server::start(slow()).await;
    let a = server.token("team-a").await;
    let b = server.token("team-b").await;
    let resp = server
        .req(Method::GET, "/v1/events", &a)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mine = server.submit_scan(&a).await;
    let theirs = server.submit_scan(&b).await;
    let mut seen = Vec::new();
    let reader = read_sse(resp, |m| {
        if m.event.is_some() {
            return true;
        }
        let v: Value = serde_json::from_str(&m.data).unwrap();
        seen.push(v["execution"].as_str().unwrap().to_string());
        seen.len() < 8
    });
    tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .unwrap();
    assert!(
        seen.iter().all(|e| e == &mine),
        "only team-a's events: {seen:?}"
    );
    assert!(!seen.contains(&theirs));
    server.stop().await;
}

//! Live progress: an SSE or WebSocket client that disconnects mid-execution and reconnects
//! (Last-Event-ID / `?after=` / `resume_after`) receives every event exactly once, in order;
//! sequence numbers out of range are refused; streams of a revoked token close.

mod common;

use common::{Server, Setup, read_sse};
use futures::{SinkExt, StreamExt};
use quantd_store::prelude::*;
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
    // An event happens while disconnected; the reconnect replays it from the store.
    server.await_event_after(&id, last).await;
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
    // An event happens while disconnected.
    server.await_event_after(&id, *seqs.last().unwrap()).await;
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

/// An execution that runs for several seconds: 15 shards of 500 ms on 2 workers.
fn long() -> Setup {
    Setup {
        shard_delay: Duration::from_millis(500),
        shard_bars: 600,
        ..Setup::default()
    }
}

/// Reads an SSE response until it ends; the messages, and when the stream ended.
async fn read_to_end(resp: reqwest::Response) -> (Vec<common::SseMsg>, std::time::Instant) {
    let mut msgs = Vec::new();
    read_sse(resp, |m| {
        msgs.push(m);
        true
    })
    .await;
    (msgs, std::time::Instant::now())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_sse_streams_of_a_token_revoked_by_another_process_close_within_a_second() {
    let server = Server::start(long()).await;
    let token = server.token("team").await;
    let other = server.token("team").await;
    let id = server.submit_scan(&other).await;
    let open = |path: String| server.req(Method::GET, &path, &token).send();
    let one = open(format!("/v1/executions/{id}/events")).await.unwrap();
    let all = open("/v1/events".into()).await.unwrap();
    let unrelated = server
        .req(Method::GET, &format!("/v1/executions/{id}/events"), &other)
        .send()
        .await
        .unwrap();
    assert_eq!((one.status().as_u16(), all.status().as_u16()), (200, 200));
    let one = tokio::spawn(read_to_end(one));
    let all = tokio::spawn(read_to_end(all));
    // The streams are open and delivering before the revocation.
    let mut first = Vec::new();
    read_sse(unrelated, |m| {
        first.push(m);
        first.len() < 2
    })
    .await;
    let store = server.other_process_store().await;
    assert!(store.revoke_token(common::token_id(&token)).await.unwrap());
    let revoked_at = std::time::Instant::now();
    for stream in [one, all] {
        let (msgs, ended) = tokio::time::timeout(Duration::from_secs(5), stream)
            .await
            .expect("the stream of a revoked token ends")
            .unwrap();
        let last = msgs.last().expect("some messages");
        assert_eq!(last.event.as_deref(), Some("revoked"), "{msgs:?}");
        assert!(last.data.contains("revoked"), "{}", last.data);
        let took = ended - revoked_at;
        assert!(
            took < Duration::from_secs(1),
            "closed {took:?} after the revocation"
        );
    }
    let v = server
        .get_json(&format!("/v1/executions/{id}"), &other)
        .await;
    assert_eq!(v["state"], "running", "the execution itself goes on");
    server.stop().await;
}

/// Reads WebSocket text messages until `stop` says so; `None` when the socket closed first,
/// with the close frame's code.
async fn ws_until(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    mut stop: impl FnMut(&Value) -> bool,
) -> Result<Value, Option<u16>> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if stop(&v) {
                    return Ok(v);
                }
            }
            Some(Ok(Message::Close(frame))) => return Err(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            None | Some(Err(_)) => return Err(None),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_websocket_command_after_revocation_is_refused_and_does_nothing() {
    // No poll during the test: only the re-check of the command can refuse it.
    let server = Server::start(Setup {
        tune: |o| o.revocation_poll = Duration::from_secs(3600),
        ..long()
    })
    .await;
    let token = server.token("team").await;
    let owner = server.token("team").await;
    let id = server.submit_scan(&owner).await;
    let mut ws = ws_connect(&server, &token, &id, None).await;
    ws_until(&mut ws, |v| v["seq"].is_number()).await.unwrap();
    let store = server.other_process_store().await;
    assert!(store.revoke_token(common::token_id(&token)).await.unwrap());
    for command in ["cancel", "pause"] {
        let _ = ws
            .send(Message::Text(
                format!("{{\"command\": \"{command}\"}}").into(),
            ))
            .await;
    }
    let reply = ws_until(&mut ws, |v| v["seq"].is_null()).await;
    let problem = reply.expect("a problem before the close");
    assert_eq!(
        problem["type"], "urn:quantd:problem:unauthorized",
        "{problem}"
    );
    assert_eq!(problem["status"], 401);
    let closed = ws_until(&mut ws, |v| v["type"] == "ack").await;
    assert_eq!(
        closed,
        Err(Some(1008)),
        "closed as a policy violation, no ack"
    );
    let v = server
        .get_json(&format!("/v1/executions/{id}"), &owner)
        .await;
    assert_eq!(v["state"], "running", "not cancelled, not paused: {v}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_websocket_of_a_revoked_token_closes_within_a_second_unprompted() {
    let server = Server::start(long()).await;
    let token = server.token("team").await;
    let owner = server.token("team").await;
    let id = server.submit_scan(&owner).await;
    let mut ws = ws_connect(&server, &token, &id, None).await;
    ws_until(&mut ws, |v| v["seq"].is_number()).await.unwrap();
    let store = server.other_process_store().await;
    assert!(store.revoke_token(common::token_id(&token)).await.unwrap());
    let revoked_at = std::time::Instant::now();
    let problem = tokio::time::timeout(
        Duration::from_secs(5),
        ws_until(&mut ws, |v| v["seq"].is_null()),
    )
    .await
    .expect("closes")
    .expect("a problem first");
    assert_eq!(problem["type"], "urn:quantd:problem:unauthorized");
    let closed = ws_until(&mut ws, |_| false).await;
    assert_eq!(closed, Err(Some(1008)));
    let took = revoked_at.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "closed {took:?} after the revocation"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sequence_numbers_beyond_i64_are_refused_never_wrapped() {
    let server = Server::start(Setup::default()).await;
    let token = server.token("team").await;
    let id = server.submit_scan(&token).await;
    server.wait_done(&token, &id).await;
    let events = format!("/v1/executions/{id}/events");
    let too_big = [
        u64::MAX.to_string(),
        (1u64 << 63).to_string(),
        "99999999999999999999999".to_string(),
    ];
    for n in &too_big {
        let by_header = server
            .req(Method::GET, &events, &token)
            .header("Last-Event-ID", n.as_str())
            .send()
            .await
            .unwrap();
        let by_query = server
            .req(Method::GET, &format!("{events}?after={n}"), &token)
            .send()
            .await
            .unwrap();
        for r in [by_header, by_query] {
            assert_eq!(r.status(), 400, "{n}");
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["type"], "urn:quantd:problem:bad-request");
        }
        let url = format!(
            "{}/v1/executions/{id}/ws?after={n}",
            server.base.replace("http://", "ws://")
        );
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let refused = tokio_tungstenite::connect_async(req).await.unwrap_err();
        assert!(refused.to_string().contains("400"), "{refused}");
    }
    // i64::MAX itself is in range: nothing after it.
    let r = server
        .req(Method::GET, &events, &token)
        .header("Last-Event-ID", i64::MAX.to_string())
        .send()
        .await
        .unwrap();
    let (msgs, _) = read_to_end(r).await;
    assert!(
        msgs.iter().all(|m| m.id.is_none()),
        "no event replayed: {msgs:?}"
    );
    // Optional whitespace around a header value is not part of it (RFC 9110).
    let (seqs, done) = {
        let r = server
            .req(Method::GET, &events, &token)
            .header("Last-Event-ID", " 3\t")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let (msgs, _) = read_to_end(r).await;
        let seqs: Vec<u64> = msgs
            .iter()
            .filter_map(|m| m.id.as_ref()?.parse().ok())
            .collect();
        (
            seqs,
            msgs.iter().any(|m| m.event.as_deref() == Some("done")),
        )
    };
    assert!(done && seqs.first() == Some(&4), "{seqs:?}");
    // Over the WebSocket: an error message, and the stream does not start again from 1.
    let mut ws = ws_connect(&server, &token, &id, Some(i64::MAX as u64)).await;
    ws_until(&mut ws, |v| v["type"] == "done").await.unwrap();
    ws.send(Message::Text(
        format!("{{\"resume_after\": {}}}", u64::MAX).into(),
    ))
    .await
    .unwrap();
    let reply = ws_until(&mut ws, |_| true).await.unwrap();
    assert_eq!(reply["type"], "urn:quantd:problem:bad-request", "{reply}");
    assert!(reply["detail"].as_str().unwrap().contains("out of range"));
    ws.send(Message::Text("{\"resume_after\": 0}".into()))
        .await
        .unwrap();
    let first = ws_until(&mut ws, |_| true).await.unwrap();
    assert_eq!(first["seq"], 1, "a valid resume still works");
    server.stop().await;
}

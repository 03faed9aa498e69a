//! Live progress: SSE (`/v1/executions/{id}/events`, `/v1/events`) and WebSocket
//! (`/v1/executions/{id}/ws`).
//!
//! An execution's stream subscribes to the engine's broadcast *before* reading the backlog
//! from the store, so nothing committed between the two is missed; events are then delivered
//! strictly by sequence number: anything at or below the last delivered number is a duplicate
//! and dropped, a jump ahead (events of concurrent shards broadcast out of order, a lagging
//! receiver, or a change made by another process, noticed by a periodic poll) is filled from
//! the store. The stream ends after the execution's final event with `done`, or with
//! `shutdown` when the server stops.

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, Problem};
use crate::extract::ApiQuery;
use crate::metrics::{Metrics, StreamKind};
use crate::routes::{executions::change_owned, owned};
use async_stream::stream;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use quantd_core::{EventRecord, ExecutionId, ExecutionState};
use quantd_store::prelude::*;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

/// Events read from the store per query.
const BATCH: u32 = 1000;
/// How often a quiet stream checks the store (changes made by other processes).
const POLL: Duration = Duration::from_secs(1);

/// What an execution stream yields.
#[derive(Debug, Clone)]
pub enum Item {
    /// An event, in sequence order.
    Event(EventRecord),
    /// The execution finished; no more events.
    Done(ExecutionState),
    /// The server is shutting down; reconnect later with the last id.
    Shutdown,
}

/// Reads every stored event after `*last`, advancing it.
async fn backlog(state: &AppState, id: &ExecutionId, last: &mut u64) -> Vec<EventRecord> {
    let mut out = Vec::new();
    loop {
        match state.engine().store().events_after(id, *last, BATCH).await {
            Ok(batch) => {
                let n = batch.len();
                for e in batch {
                    *last = e.seq;
                    out.push(e);
                }
                if n < BATCH as usize {
                    return out;
                }
            }
            Err(e) => {
                tracing::warn!(execution = %id, error = %e, "reading events failed");
                return out;
            }
        }
    }
}

/// The terminal state of the execution, if it has ended.
async fn ended(state: &AppState, id: &ExecutionId) -> Option<ExecutionState> {
    match state.engine().store().execution(id).await {
        Ok(Some(r)) if quantd_core::state::StateMachine::is_terminal(r.state) => Some(r.state),
        _ => None,
    }
}

/// Early events held back while waiting for the ones before them; more means some were missed.
const REORDER_LIMIT: usize = 64;

/// The events of execution `id` after sequence number `after`: the backlog, then live, each
/// exactly once and in order, then `Done`.
pub fn execution_events(
    state: AppState,
    id: ExecutionId,
    after: u64,
) -> impl Stream<Item = Item> + Send + 'static {
    stream! {
        // Subscribe first: whatever commits while the backlog is read arrives here too.
        let mut rx = state.engine().subscribe();
        let mut shutdown = state.shutdown_signal();
        let mut last = after;
        let mut early: BTreeMap<u64, EventRecord> = BTreeMap::new();
        for e in backlog(&state, &id, &mut last).await {
            yield Item::Event(e);
        }
        if let Some(s) = ended(&state, &id).await {
            // The final event commits with the terminal state: read once more, then stop.
            for e in backlog(&state, &id, &mut last).await {
                yield Item::Event(e);
            }
            yield Item::Done(s);
            return;
        }
        loop {
            if *shutdown.borrow() {
                yield Item::Shutdown;
                return;
            }
            let mut fresh = Vec::new();
            let mut check_end = false;
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(e) if e.execution == id => {
                        // Concurrent shards broadcast out of order: hold an early event until
                        // the ones before it arrive, so thousands of subscribers do not all
                        // read the store for a gap that closes a moment later.
                        if e.seq > last {
                            early.insert(e.seq, e);
                        }
                        while let Some(e) = early.remove(&(last + 1)) {
                            last = e.seq;
                            check_end |= e.event.is_final();
                            fresh.push(e);
                        }
                        if early.len() > REORDER_LIMIT {
                            // Really missed (not broadcast here): the store has them all.
                            fresh.extend(backlog(&state, &id, &mut last).await);
                            early.retain(|&seq, _| seq > last);
                            check_end = true;
                        }
                    }
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => {
                        fresh = backlog(&state, &id, &mut last).await;
                        early.retain(|&seq, _| seq > last);
                        check_end = true;
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = tokio::time::sleep(POLL) => {
                    fresh = backlog(&state, &id, &mut last).await;
                    early.retain(|&seq, _| seq > last);
                    check_end = true;
                }
                _ = shutdown.changed() => {}
            }
            let final_seen = fresh.iter().any(|e| e.event.is_final());
            for e in fresh {
                yield Item::Event(e);
            }
            if (check_end || final_seen)
                && let Some(s) = ended(&state, &id).await
            {
                for e in backlog(&state, &id, &mut last).await {
                    yield Item::Event(e);
                }
                yield Item::Done(s);
                return;
            }
        }
    }
}

/// Where a stream starts.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// Replay events with a sequence number above this (`Last-Event-ID` wins when both are given).
    pub after: Option<u64>,
}

fn start_after(headers: &HeaderMap, q: &AfterQuery) -> Result<u64, AppError> {
    match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                AppError::BadRequest("Last-Event-ID must be an event sequence number".into())
            }),
        None => Ok(q.after.unwrap_or(0)),
    }
}

fn sse_of(item: Item) -> SseEvent {
    match item {
        Item::Event(e) => SseEvent::default()
            .id(e.seq.to_string())
            .json_data(&e)
            .expect("events serialize"),
        Item::Done(s) => SseEvent::default()
            .event("done")
            .data(serde_json::json!({ "state": s }).to_string()),
        Item::Shutdown => SseEvent::default()
            .event("shutdown")
            .data(r#"{"reason":"the server is shutting down; reconnect with Last-Event-ID"}"#),
    }
}

/// Live events of one execution over SSE.
#[utoipa::path(get, path = "/v1/executions/{id}/events", tag = "events",
    params(("id" = String, Path, description = "Execution id"), AfterQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this sequence number")),
    responses(
        (status = 200, description = "`text/event-stream`: each event's `id:` is its sequence number; `event: done` ends the stream", body = String, content_type = "text/event-stream"),
        (status = 400, description = "Bad Last-Event-ID or after", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn execution_sse(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let rec = owned(&state, &caller, &id).await?;
    let after = start_after(&headers, &q)?;
    let guard = Metrics::subscriber(&state, StreamKind::Sse);
    let events = execution_events(state.clone(), rec.id, after).map(move |item| {
        let _alive = &guard;
        Ok::<_, Infallible>(sse_of(item))
    });
    Ok(Sse::new(events)
        .keep_alive(KeepAlive::new().interval(state.options().keep_alive))
        .into_response())
}

/// Live events of every execution of the caller's workspace over SSE (no replay: use the
/// per-execution stream to catch up).
#[utoipa::path(get, path = "/v1/events", tag = "events",
    responses(
        (status = 200, description = "`text/event-stream` of the workspace's events (`id:` is `execution/seq`)", body = String, content_type = "text/event-stream"),
    ))]
pub async fn workspace_sse(State(state): State<AppState>, caller: Caller) -> Response {
    let guard = Metrics::subscriber(&state, StreamKind::Sse);
    let st = state.clone();
    let events = stream! {
        let _alive = guard;
        let mut rx = st.engine().subscribe();
        let mut shutdown = st.shutdown_signal();
        loop {
            if *shutdown.borrow() {
                yield Ok::<_, Infallible>(sse_of(Item::Shutdown));
                return;
            }
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(e) => {
                        if owner(&st, &e.execution).await.as_deref() == Some(caller.workspace.as_str()) {
                            yield Ok(SseEvent::default()
                                .id(format!("{}/{}", e.execution, e.seq))
                                .json_data(&e)
                                .expect("events serialize"));
                        }
                    }
                    Err(RecvError::Lagged(n)) => {
                        yield Ok(SseEvent::default().event("lagged").data(format!("{{\"missed\":{n}}}")));
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = shutdown.changed() => {}
            }
        }
    };
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(state.options().keep_alive))
        .into_response()
}

/// The workspace of an execution (cached: it never changes).
async fn owner(state: &AppState, id: &ExecutionId) -> Option<String> {
    if let Some(w) = state.inner.owners.lock().expect("owners lock").get(id) {
        return Some(w.clone());
    }
    let rec = state.engine().store().execution(id).await.ok()??;
    let mut owners = state.inner.owners.lock().expect("owners lock");
    if owners.len() > 100_000 {
        owners.clear();
    }
    owners.insert(id.clone(), rec.workspace.clone());
    Some(rec.workspace)
}

/// What a WebSocket client may send.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage {
    /// Restart the stream after this sequence number.
    #[serde(default)]
    resume_after: Option<u64>,
    /// `pause`, `resume` or `cancel`.
    #[serde(default)]
    command: Option<String>,
}

/// Live events of one execution over WebSocket; the client may send `{"resume_after": N}` and
/// `{"command": "pause"|"resume"|"cancel"}`.
#[utoipa::path(get, path = "/v1/executions/{id}/ws", tag = "events",
    params(("id" = String, Path, description = "Execution id"), AfterQuery),
    responses(
        (status = 101, description = "WebSocket: JSON messages — events (`seq`, `type`, …), `{\"type\":\"done\"}`, command acknowledgements and problems"),
        (status = 400, description = "Not a WebSocket upgrade", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn execution_ws(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let rec = owned(&state, &caller, &id).await?;
    let ws = ws.map_err(|e| AppError::BadRequest(format!("expected a WebSocket upgrade: {e}")))?;
    let after = q.after.unwrap_or(0);
    Ok(ws.on_upgrade(move |socket| websocket(socket, state, caller, rec.id, after)))
}

fn ws_json(v: &impl serde::Serialize) -> Message {
    Message::Text(serde_json::to_string(v).expect("messages serialize").into())
}

async fn websocket(
    mut socket: WebSocket,
    state: AppState,
    caller: Caller,
    id: ExecutionId,
    after: u64,
) {
    let _alive = Metrics::subscriber(&state, StreamKind::Ws);
    let mut events = Box::pin(execution_events(state.clone(), id.clone(), after));
    let mut finished = false;
    loop {
        tokio::select! {
            item = events.next(), if !finished => {
                let msg = match item {
                    Some(Item::Event(e)) => ws_json(&e),
                    Some(Item::Done(s)) => {
                        finished = true;
                        ws_json(&serde_json::json!({"type": "done", "state": s}))
                    }
                    Some(Item::Shutdown) | None => {
                        let _ = socket.send(ws_json(&serde_json::json!({"type": "shutdown"}))).await;
                        let _ = socket.send(Message::Close(None)).await;
                        return;
                    }
                };
                if socket.send(msg).await.is_err() {
                    return;
                }
            }
            msg = socket.recv() => {
                let text = match msg {
                    Some(Ok(Message::Text(t))) => t.to_string(),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                let reply = match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(ClientMessage { resume_after: Some(n), command: None }) => {
                        events = Box::pin(execution_events(state.clone(), id.clone(), n));
                        finished = false;
                        None
                    }
                    Ok(ClientMessage { resume_after: None, command: Some(c) }) => {
                        Some(command(&state, &caller, &id, &c).await)
                    }
                    Ok(_) => Some(ws_json(&AppError::BadRequest(
                        "send `{\"resume_after\": N}` or `{\"command\": \"pause\"|\"resume\"|\"cancel\"}`".into(),
                    ).problem())),
                    Err(e) => Some(ws_json(&AppError::BadRequest(format!("invalid message: {e}")).problem())),
                };
                if let Some(r) = reply
                    && socket.send(r).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

async fn command(state: &AppState, caller: &Caller, id: &ExecutionId, c: &str) -> Message {
    let to = match c {
        "pause" => ExecutionState::Paused,
        "resume" => ExecutionState::Running,
        "cancel" => ExecutionState::Cancelled,
        other => {
            return ws_json(
                &AppError::BadRequest(format!("command `{other}`: use pause, resume or cancel"))
                    .problem(),
            );
        }
    };
    let result = async {
        let rec = owned(state, caller, id.as_str()).await?;
        change_owned(state, rec, to).await
    }
    .await;
    match result {
        Ok(v) => ws_json(&serde_json::json!({"type": "ack", "command": c, "state": v.state})),
        Err(e) => ws_json(&e.problem()),
    }
}

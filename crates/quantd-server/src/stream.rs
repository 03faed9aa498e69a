//! Live progress: SSE (`/v1/executions/{id}/events`, `/v1/events`) and WebSocket
//! (`/v1/executions/{id}/ws`).
//!
//! An execution's stream subscribes to the engine's broadcast *before* reading the backlog
//! from the store, so nothing committed between the two is missed; events are then delivered
//! strictly by sequence number: anything at or below the last delivered number is a duplicate
//! and dropped, a jump ahead (events of concurrent shards broadcast out of order, a lagging
//! receiver, or a change made by another process, noticed by a periodic poll) is filled from
//! the store. The stream ends after the execution's final event with `done`, with `shutdown`
//! when the server stops, or with `revoked` when the token it was opened with is revoked
//! ([`crate::authority`]; WebSocket commands re-check the token before acting).
//!
//! Sequence numbers a client sends (`Last-Event-ID`, `?after=`, `resume_after`) must lie in
//! `0..=i64::MAX` ([`MAX_SEQ`], what the store can hold); anything else is refused, never wrapped.

use crate::AppState;
use crate::auth::Caller;
use crate::authority::{self, TokenWatch};
use crate::error::{AppError, Problem};
use crate::extract::ApiQuery;
use crate::metrics::{StreamKind, Subscriber};
use crate::routes::owned;
use async_stream::stream;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::future::Either;
use futures::{Stream, StreamExt};
use quantd_core::{EventRecord, ExecutionId, ExecutionState};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

/// The largest event sequence number a client may send: the store keeps them as `i64`.
pub const MAX_SEQ: u64 = i64::MAX as u64;

/// Events read from the store per query.
const BATCH: u32 = 1000;
/// How often a quiet stream checks the store (changes made by other processes).
const POLL: Duration = Duration::from_secs(1);

/// What an execution stream yields.
#[derive(Debug, Clone)]
pub enum Item {
    /// An event, in sequence order.
    Event(Box<EventRecord>),
    /// The execution finished; no more events.
    Done(ExecutionState),
    /// The server is shutting down; reconnect later with the last id.
    Shutdown,
    /// The token the stream was opened with was revoked; no more events.
    Revoked,
}

/// Reads every stored event after `*last`, advancing it.
async fn backlog(state: &AppState, id: &ExecutionId, last: &mut u64) -> Vec<EventRecord> {
    let mut out = Vec::new();
    loop {
        match state
            .engine()
            .records()
            .events_after(id, *last, BATCH)
            .await
        {
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

/// Whether streams leave out the session events of execution `id` (a paper session's fills
/// and days, when its pack's rights deny derived data: [`quantd_engine::exec::Engine::live_derived_withheld`]).
/// Decided when a stream opens.
async fn withholds_session(state: &AppState, id: &ExecutionId) -> bool {
    match state.engine().records().get(id).await {
        Ok(Some(rec)) => state.engine().live_derived_withheld(&rec).await,
        _ => false,
    }
}

/// Whether a stream that withholds session events (or not) shows `e`.
fn shown(withhold: bool, e: &EventRecord) -> bool {
    !(withhold && e.event.is_session_record())
}

/// The terminal state of the execution, if it has ended.
pub(crate) async fn ended(state: &AppState, id: &ExecutionId) -> Option<ExecutionState> {
    match state.engine().records().get(id).await {
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
        let withhold = withholds_session(&state, &id).await;
        let mut shutdown = state.shutdown_signal();
        let mut last = after.min(MAX_SEQ);
        let mut early: BTreeMap<u64, EventRecord> = BTreeMap::new();
        for e in backlog(&state, &id, &mut last).await {
            if shown(withhold, &e) {
                yield Item::Event(Box::new(e));
            }
        }
        if let Some(s) = ended(&state, &id).await {
            // The final event commits with the terminal state: read once more, then stop.
            for e in backlog(&state, &id, &mut last).await {
                if shown(withhold, &e) {
                yield Item::Event(Box::new(e));
            }
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
                if shown(withhold, &e) {
                yield Item::Event(Box::new(e));
            }
            }
            if (check_end || final_seen)
                && let Some(s) = ended(&state, &id).await
            {
                for e in backlog(&state, &id, &mut last).await {
                    if shown(withhold, &e) {
                yield Item::Event(Box::new(e));
            }
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
    /// Replay events with a sequence number above this, 0 to 9223372036854775807
    /// (`Last-Event-ID` wins when both are given).
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub after: Option<u64>,
}

/// A sequence number a client sent, refused (400) outside `0..=MAX_SEQ` instead of wrapping.
pub fn check_seq(n: u64, what: &str) -> Result<u64, AppError> {
    if n <= MAX_SEQ {
        Ok(n)
    } else {
        Err(AppError::BadRequest(format!(
            "{what} {n} is out of range: event sequence numbers go from 0 to {MAX_SEQ}; send the `id` of the last event you received"
        )))
    }
}

/// The `Last-Event-ID` header: decimal digits, within range. Spaces or tabs around the value are
/// HTTP's optional whitespace, not part of it, and are ignored.
fn parse_last_event_id(v: &axum::http::HeaderValue) -> Result<u64, AppError> {
    let text = v.to_str().unwrap_or("").trim_matches([' ', '\t']);
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AppError::BadRequest(format!(
            "Last-Event-ID `{}` must be an event sequence number (decimal digits, 0 to {MAX_SEQ})",
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(64)
                .collect::<String>()
        )));
    }
    let n = text.parse::<u64>().unwrap_or(u64::MAX);
    check_seq(n, "Last-Event-ID")
}

fn start_after(headers: &HeaderMap, q: &AfterQuery) -> Result<u64, AppError> {
    match headers.get("last-event-id") {
        Some(v) => parse_last_event_id(v),
        None => check_seq(q.after.unwrap_or(0), "after"),
    }
}

/// `inner` until the token of `watch` is revoked, then `last`; `inner` itself without a watch
/// (`--no-auth`: nothing added per item).
pub(crate) fn until_revoked<T: Send + 'static>(
    inner: impl Stream<Item = T> + Send + 'static,
    watch: Option<TokenWatch>,
    last: T,
) -> impl Stream<Item = T> + Send + 'static {
    let Some(mut watch) = watch else {
        return Either::Left(inner);
    };
    Either::Right(stream! {
        let mut inner = std::pin::pin!(inner);
        let mut last = Some(last);
        loop {
            tokio::select! {
                biased;
                () = watch.revoked() => {
                    if let Some(last) = last.take() {
                        yield last;
                    }
                    return;
                }
                item = inner.next() => match item {
                    Some(item) => yield item,
                    None => return,
                },
            }
        }
    })
}

fn sse_of(item: Item) -> SseEvent {
    match item {
        Item::Event(e) => event_data(SseEvent::default().id(e.seq.to_string()), &e),
        Item::Done(s) => SseEvent::default()
            .event("done")
            .data(serde_json::json!({ "state": s }).to_string()),
        Item::Shutdown => SseEvent::default()
            .event("shutdown")
            .data(r#"{"reason":"the server is shutting down; reconnect with Last-Event-ID"}"#),
        Item::Revoked => SseEvent::default()
            .event("revoked")
            .data(serde_json::json!({ "reason": authority::revoked().to_string() }).to_string()),
    }
}

/// An SSE message whose data is `e` as JSON.
fn event_data(msg: SseEvent, e: &EventRecord) -> SseEvent {
    match serde_json::to_string(e) {
        Ok(json) => msg.data(json),
        Err(err) => {
            // Events are plain data; this cannot happen, and must not end the stream if it does.
            tracing::error!(execution = %e.execution, seq = e.seq, error = %err, "an event did not serialize");
            msg.event("error").data("{}")
        }
    }
}

/// Live events of one execution over SSE.
#[utoipa::path(get, path = "/v1/executions/{id}/events", tag = "events",
    params(("id" = String, Path, description = "Execution id"), AfterQuery,
        ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this sequence number")),
    responses(
        (status = 200, description = "`text/event-stream`: each event's `data:` is an `EventRecord` (components/schemas) and its `id:` its sequence number; `event: done` ends the stream", body = String, content_type = "text/event-stream"),
        (status = 400, description = "Bad Last-Event-ID or after (not digits, or above 9223372036854775807)", body = Problem, content_type = "application/problem+json"),
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
    let guard = Subscriber::open(StreamKind::Sse);
    let watch = authority::watch(&state, &caller);
    let events = execution_events(state.clone(), rec.id, after);
    let events = until_revoked(events, watch, Item::Revoked).map(move |item| {
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
        (status = 200, description = "`text/event-stream` of the workspace's events: each `data:` an `EventRecord` (components/schemas), `id:` is `execution/seq`", body = String, content_type = "text/event-stream"),
    ))]
pub async fn workspace_sse(State(state): State<AppState>, caller: Caller) -> Response {
    let guard = Subscriber::open(StreamKind::Sse);
    let watch = authority::watch(&state, &caller);
    let st = state.clone();
    let events = stream! {
        let _alive = guard;
        let mut rx = st.engine().subscribe();
        let mut shutdown = st.shutdown_signal();
        // Whether each paper session's events are withheld, decided at its first.
        let mut withheld_by: std::collections::HashMap<ExecutionId, bool> = Default::default();
        loop {
            if *shutdown.borrow() {
                yield Ok::<_, Infallible>(sse_of(Item::Shutdown));
                return;
            }
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(e) => {
                        let withheld = e.event.is_session_record() && match withheld_by.get(&e.execution) {
                            Some(w) => *w,
                            None => {
                                if withheld_by.len() > 10_000 {
                                    withheld_by.clear();
                                }
                                let w = withholds_session(&st, &e.execution).await;
                                withheld_by.insert(e.execution.clone(), w);
                                w
                            }
                        };
                        if !withheld && owner(&st, &e.execution).await.as_deref() == Some(caller.workspace.as_str()) {
                            yield Ok(event_data(
                                SseEvent::default().id(format!("{}/{}", e.execution, e.seq)),
                                &e,
                            ));
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
    let events = until_revoked(events, watch, Ok(sse_of(Item::Revoked)));
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(state.options().keep_alive))
        .into_response()
}

/// The workspace of an execution (cached: it never changes).
pub(crate) async fn owner(state: &AppState, id: &ExecutionId) -> Option<String> {
    if let Some(w) = state.inner.owners.lock().expect("owners lock").get(id) {
        return Some(w.clone());
    }
    let rec = state.engine().records().get(id).await.ok()??;
    let mut owners = state.inner.owners.lock().expect("owners lock");
    if owners.len() > 100_000 {
        owners.clear();
    }
    owners.insert(id.clone(), rec.workspace.clone());
    Some(rec.workspace)
}

//! The executions page's live stream (`GET /live/executions?filters`, SSE of HTML for htmx).
//!
//! On every (re)connect it first sends the current rows of the list's first page (`row`
//! events, swapped in place by id), so a page that lost its connection is right again at once;
//! then, for each event of the workspace's top-level executions, the execution's row: `row`
//! when the page shows it, `new` (prepended) when it now matches the filters and is not shown.
//! Events that do not change a row (shard and step events) are skipped, a burst of events is
//! shown once per execution, updates of shown rows go out together (one message) at most every 100 ms, and the row of an execution is read and rendered once for all open
//! pages ([`Rows`]). The stream ends with the server (`shutdown`) or when the session's token is
//! revoked.

use super::executions::{Filters, PAGE, list_view, row};
use super::page::Viewer;
use crate::AppState;
use crate::stream::{owner, until_revoked};
use async_stream::stream;
use axum::extract::{Query, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use quantd_core::{Event, ExecutionId};
use quantd_engine::records::{ExecutionFilter, ExecutionRecord};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::{Duration, Instant};

/// How often a list's shown rows are updated at most (a new execution is sent at once): a
/// running execution's events come in bursts, and each row sent costs every open page a swap.
const ROW_EVERY: Duration = Duration::from_millis(100);

/// A row to swap in place of the one with its id.
fn oob(row: &str) -> String {
    row.replacen("<tr ", "<tr hx-swap-oob=\"true\" ", 1)
}

fn matches(f: &ExecutionFilter, r: &ExecutionRecord) -> bool {
    r.parent_id.is_none()
        && f.kind.is_none_or(|k| k == r.kind)
        && f.state.is_none_or(|s| s == r.state)
        && f.name
            .as_deref()
            .is_none_or(|n| r.name.as_deref() == Some(n))
        && f.since.is_none_or(|t| r.created_at >= t)
}

/// Whether an event changes what a row shows (state, progress, health); shard and step events
/// are followed by a `progress` event that does.
fn shows(e: &Event) -> bool {
    matches!(
        e,
        Event::ExecutionCreated { .. }
            | Event::ExecutionStarted
            | Event::ExecutionPaused
            | Event::ExecutionResumed
            | Event::ExecutionCompleted { .. }
            | Event::ExecutionFailed { .. }
            | Event::ExecutionCancelled
            | Event::Progress { .. }
            | Event::Health { .. }
    )
}

/// Rows rendered for the open list pages of this process, by execution: the first stream to
/// see an event reads the record and renders its row; the others reuse it. Bounded: cleared at
/// [`MAX_ROWS`] entries.
#[derive(Debug, Default)]
pub struct Rows {
    map: Mutex<HashMap<ExecutionId, (u64, Arc<Row>)>>,
}

/// An execution's record and its row's HTML.
type Row = (ExecutionRecord, String);

/// Rows kept by [`Rows`] at most.
const MAX_ROWS: usize = 10_000;

impl Rows {
    /// The record and row of `id` as of event `seq` or later.
    async fn get(&self, state: &AppState, id: &ExecutionId, seq: u64) -> Option<Arc<Row>> {
        if let Some((at, row)) = self.map.lock().expect("rows lock").get(id)
            && *at >= seq
        {
            return Some(row.clone());
        }
        let rec = state.engine().records().get(id).await.ok()??;
        let html = row(&list_view(rec.clone())).into_string();
        let fresh = Arc::new((rec, html));
        let mut map = self.map.lock().expect("rows lock");
        if map.len() >= MAX_ROWS {
            map.clear();
        }
        match map.get(id) {
            Some((at, newer)) if *at > seq => Some(newer.clone()),
            _ => {
                map.insert(id.clone(), (seq, fresh.clone()));
                Some(fresh)
            }
        }
    }
}

/// `GET /live/executions`.
pub async fn executions(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> Response {
    let Ok(filter) = filters.to_filter(viewer.workspace(), PAGE) else {
        // The page already shows what is wrong with the filters; nothing to follow.
        return axum::http::StatusCode::NO_CONTENT.into_response();
    };
    let watch = crate::authority::watch(&state, &viewer.session.caller);
    let st = state.clone();
    let workspace = viewer.workspace().to_string();
    let events = stream! {
        let mut rx = st.engine().subscribe();
        let mut shutdown = st.shutdown_signal();
        let mut shown = HashSet::new();
        let mut due: HashMap<ExecutionId, u64> = HashMap::new();
        let mut flush_at: Option<Instant> = None;
        if let Ok(page) = st.engine().records().list(&filter).await {
            let mut rows = String::new();
            for rec in page.items {
                shown.insert(rec.id.clone());
                rows.push_str(&oob(&row(&list_view(rec)).into_string()));
            }
            if !rows.is_empty() {
                yield Ok::<_, Infallible>(SseEvent::default().event("row").data(rows));
            }
        }
        loop {
            if *shutdown.borrow() {
                yield Ok(SseEvent::default().event("shutdown").data("the server is shutting down"));
                return;
            }
            tokio::select! {
                r = rx.recv() => match r {
                    Ok(first) => {
                        // Take whatever else is queued too, and show each execution once.
                        let mut latest: Vec<(ExecutionId, u64)> = Vec::new();
                        let mut next = Some(first);
                        while let Some(e) = next.take() {
                            if shows(&e.event) {
                                match latest.iter_mut().find(|(id, _)| *id == e.execution) {
                                    Some(l) => l.1 = l.1.max(e.seq),
                                    None => latest.push((e.execution.clone(), e.seq)),
                                }
                            }
                            next = rx.try_recv().ok();
                        }
                        for (id, seq) in latest {
                            if owner(&st, &id).await.as_deref() != Some(workspace.as_str()) {
                                continue;
                            }
                            if shown.contains(&id) {
                                // Updates of shown rows go out together, at most every ROW_EVERY.
                                let s = due.entry(id).or_insert(seq);
                                *s = (*s).max(seq);
                                flush_at.get_or_insert_with(|| Instant::now() + ROW_EVERY);
                                continue;
                            }
                            let Some(row) = st.live_rows().get(&st, &id, seq).await else { continue };
                            let (rec, html) = &*row;
                            if filter.after.is_none() && matches(&filter, rec) {
                                shown.insert(rec.id.clone());
                                yield Ok(SseEvent::default().event("new").data(html.clone()));
                            }
                        }
                    }
                    Err(RecvError::Lagged(_)) => {
                        // Missed some: send every shown row again.
                        if let Ok(page) = st.engine().records().list(&filter).await {
                            let rows: String = page.items.into_iter()
                                .filter(|r| shown.contains(&r.id))
                                .map(|rec| oob(&row(&list_view(rec)).into_string()))
                                .collect();
                            yield Ok(SseEvent::default().event("row").data(rows));
                        }
                    }
                    Err(RecvError::Closed) => return,
                },
                _ = async { tokio::time::sleep_until(flush_at.unwrap_or_else(Instant::now)).await }, if flush_at.is_some() => {
                    flush_at = None;
                    // One message for all of them: each message costs every open page a swap.
                    let mut rows = String::new();
                    for (id, seq) in std::mem::take(&mut due) {
                        if let Some(row) = st.live_rows().get(&st, &id, seq).await {
                            rows.push_str(&oob(&row.1));
                        }
                    }
                    if !rows.is_empty() {
                        yield Ok(SseEvent::default().event("row").data(rows));
                    }
                }
                _ = shutdown.changed() => {}
            }
        }
    };
    let revoked = Ok(SseEvent::default()
        .event("revoked")
        .data("the token of this session was revoked"));
    Sse::new(until_revoked(events, watch, revoked))
        .keep_alive(KeepAlive::new().interval(state.options().keep_alive))
        .into_response()
}

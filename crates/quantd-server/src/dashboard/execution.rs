//! One execution's page: its head (state, progress with ETA, health and its trend, timings,
//! error), the pause/resume/cancel/retry buttons, shards, the event log (the stored events, then
//! live ones appended by `app.js` from the API's own event stream, which resumes with
//! `Last-Event-ID` after a lost connection) and its results by kind ([`super::results`]).

use super::executions::control_one;
use super::page::{self, Section, Viewer, csrf_field, html_response, layout};
use super::results;
use crate::AppState;
use crate::model::ExecutionView;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use quantd_core::state::StateMachine;
use quantd_core::{Event, EventRecord, ExecutionKind};
use quantd_engine::exec::Control;
use quantd_engine::records::{ExecutionRecord, ShardRecord};
use serde::Deserialize;

/// Stored events shown when the page opens (the newest ones).
pub const EVENTS_SHOWN: usize = 300;
/// The newest events read for the health trend (its snapshots are among them).
const TAIL: u32 = 1_000;
/// A pattern's events read for its steps' states.
const STEP_EVENTS: u32 = 20_000;
/// Shards listed.
const SHARDS_SHOWN: usize = 200;

/// Query of the execution page: which ticker's rows, trades and candles to show, and the
/// results page.
#[derive(Debug, Default, Deserialize)]
pub struct Shown {
    /// The ticker.
    pub ticker: Option<String>,
    /// The results page's cursor.
    pub cursor: Option<String>,
    /// What the last button did.
    pub notice: Option<String>,
}

async fn load(state: &AppState, viewer: &Viewer, id: &str) -> Result<ExecutionRecord, Response> {
    state
        .engine()
        .records()
        .owned(viewer.workspace(), id)
        .await
        .map_err(|e| {
            page::error_page(
                StatusCode::NOT_FOUND,
                viewer,
                &e.to_string(),
                "It may belong to another workspace, or the id is mistyped.",
            )
        })
}

/// The newest [`TAIL`] events of `rec`, oldest first.
async fn tail(state: &AppState, rec: &ExecutionRecord) -> Vec<EventRecord> {
    state
        .engine()
        .records()
        .tail_events(&rec.id, TAIL)
        .await
        .unwrap_or_default()
}

/// `GET /executions/{id}`.
pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(shown): Query<Shown>,
) -> Response {
    let rec = match load(&state, &viewer, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    // A page opened right after the end shows the summary too (check reports, A+ scores).
    let rec = match state.engine().with_summary(rec.clone()).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(execution = %rec.id, error = %e, "storing the summary failed");
            rec
        }
    };
    let shards = state
        .engine()
        .records()
        .shards(&rec.id)
        .await
        .unwrap_or_default();
    let events = tail(&state, &rec).await;
    let step_events = if rec.kind == ExecutionKind::Pattern {
        state
            .engine()
            .records()
            .events_after(&rec.id, 0, STEP_EVENTS)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let view = match state.engine().records().view(rec.clone()).await {
        Ok(v) => v,
        Err(e) => {
            return page::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                &viewer,
                &e.to_string(),
                "",
            );
        }
    };
    let results = results::section(&state, &rec, &view, &shown, &viewer.reader()).await;
    let last_seq = events.last().map_or(0, |e| e.seq);
    let title = page::label(&view);
    let main = html! {
        div #head { (head(&view, &events)) }
        @if let Some(n) = shown.notice.as_deref() { p.notice role="status" { (n) } }
        (controls(&viewer, &view))
        @if rec.kind == ExecutionKind::Pattern { (steps(&step_events)) }
        (results)
        details.shards open[shards.len() <= 20] {
            summary { "Shards (" (page::int(shards.len() as u64)) ")" }
            (shard_table(&shards))
        }
        section.events {
            h2 { "Events" }
            ol #events data-execution=(view.id) data-after=(last_seq)
                data-live=[(!rec.state.is_terminal()).then_some("on")] {
                @for e in events.iter().rev().take(EVENTS_SHOWN).collect::<Vec<_>>().into_iter().rev() {
                    (event_line(e))
                }
            }
        }
    };
    html_response(
        StatusCode::OK,
        layout(&title, Section::Executions, Some(&viewer), main),
    )
}

/// `GET /executions/{id}/head`: the head alone, for `app.js` to refresh while events arrive.
pub async fn head_fragment(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let rec = match load(&state, &viewer, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let events = tail(&state, &rec).await;
    match state.engine().records().view(rec).await {
        Ok(v) => page::fragment(head(&v, &events)),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Estimated time left: the elapsed time per done shard times the shards left.
fn eta_ms(v: &ExecutionView) -> Option<i64> {
    let started = v.started_at?;
    if v.state != "running" || v.progress.done == 0 || v.progress.done >= v.progress.total {
        return None;
    }
    let elapsed = (chrono::Utc::now() - started).num_milliseconds() as f64;
    let left = (v.progress.total - v.progress.done) as f64;
    Some((elapsed / v.progress.done as f64 * left) as i64)
}

fn head(v: &ExecutionView, events: &[EventRecord]) -> Markup {
    let trend: Vec<u8> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::Health { score, .. } => Some(*score),
            _ => None,
        })
        .collect();
    html! {
        div.titlebar {
            h1 { (page::label(v)) }
            span.kind { (v.kind) }
            span #state { (page::state_badge(&v.state)) }
        }
        dl.facts {
            div { dt { "Progress" } dd #progress { (page::progress(v.progress.done, v.progress.total, &v.state))
                " " (page::int(v.progress.done as u64)) " / " (page::int(v.progress.total as u64)) " shards" } }
            @if let Some(ms) = eta_ms(v) { div { dt { "ETA" } dd #eta { (page::duration(ms)) } } }
            @if let Some(h) = &v.health {
                div { dt { "Health" } dd #health { (page::health_badge(&h.band, h.score)) " " (sparkline(&trend)) } }
            }
            div { dt { "Created" } dd { (page::time(v.created_at)) } }
            @if let Some(t) = v.started_at { div { dt { "Started" } dd { (page::time(t)) } } }
            @if let Some(ms) = v.duration_ms { div { dt { "Duration" } dd { (page::duration(ms)) } } }
            div { dt { "Bars" } dd { (page::int(v.bars)) } }
            div { dt { "Rows" } dd { (page::int(v.rows)) } }
            div { dt { "Attempts" } dd { (page::int(v.attempts as u64)) @if v.failed_attempts > 0 { " (" (v.failed_attempts) " failed)" } } }
            @if let Some(p) = &v.parent_id {
                div { dt { "Step of" } dd { a href=(format!("/executions/{p}")) { (p) } " " (v.parent_step.clone().unwrap_or_default()) } }
            }
            div { dt { "Id" } dd { code { (v.id) } } }
        }
        @if let Some(msg) = &v.error_message {
            p.problem role="alert" { strong { (v.error_class.clone().unwrap_or_default()) ": " } (msg) }
        }
    }
}

/// The health scores of the snapshots as a small line (no script: an inline SVG).
fn sparkline(scores: &[u8]) -> Markup {
    if scores.len() < 2 {
        return html! {};
    }
    let (w, h) = (120.0, 24.0);
    let step = w / (scores.len() - 1) as f64;
    let points: Vec<String> = scores
        .iter()
        .enumerate()
        .map(|(i, s)| format!("{:.1},{:.1}", i as f64 * step, h - h * *s as f64 / 100.0))
        .collect();
    html! {
        svg.trend width="120" height="24" viewBox="0 0 120 24" role="img"
            aria-label=(format!("health trend over {} snapshots", scores.len())) {
            polyline points=(points.join(" ")) fill="none" stroke="currentColor" stroke-width="1.5" {}
        }
    }
}

fn controls(viewer: &Viewer, v: &ExecutionView) -> Markup {
    let s = v.state.as_str();
    let button = |action: &str, label: &str, enabled: bool| {
        html! {
            form method="post" action=(format!("/executions/{}/{action}", v.id)) {
                (csrf_field(viewer))
                button #(action) type="submit" disabled[!enabled] { (label) }
            }
        }
    };
    let ended = matches!(s, "completed" | "failed" | "cancelled");
    html! {
        div.controls {
            (button("pause", "Pause", matches!(s, "pending" | "running")))
            (button("resume", "Resume", s == "paused"))
            (button("cancel", "Cancel", !ended))
            @if v.kind == "pattern" { (button("retry", "Retry", matches!(s, "failed" | "cancelled"))) }
            a.button href=(format!("/v1/executions/{}", v.id)) { "JSON" }
        }
    }
}

/// `POST /executions/{id}/{action}`: pause, resume, cancel, or retry (a pattern, from the steps
/// that did not complete).
pub async fn act(
    State(state): State<AppState>,
    viewer: Viewer,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let control = match action.as_str() {
        "pause" => Control::Pause,
        "resume" => Control::Resume,
        "cancel" => Control::Cancel,
        "retry" => return retry(&state, &viewer, &id).await,
        _ => return page::error_page(StatusCode::NOT_FOUND, &viewer, "no such action", ""),
    };
    let notice = match control_one(&state, &viewer, &id, control).await {
        Ok(()) => format!("{action}: done"),
        Err(e) => format!("{action}: {e}"),
    };
    Redirect::to(&format!(
        "/executions/{}?notice={}",
        page::encode(&id),
        page::encode(&notice)
    ))
    .into_response()
}

async fn retry(state: &AppState, viewer: &Viewer, id: &str) -> Response {
    let rec = match load(state, viewer, id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    match state.engine().retry_pattern(&rec.id, &[]).await {
        Ok(sub) => {
            state.workers().wake();
            Redirect::to(&format!("/executions/{}", sub.execution.id)).into_response()
        }
        Err(e) => Redirect::to(&format!(
            "/executions/{}?notice={}",
            rec.id,
            page::encode(&format!("retry: {e}"))
        ))
        .into_response(),
    }
}

fn shard_table(shards: &[ShardRecord]) -> Markup {
    html! {
        table.shards {
            thead { tr { th { "Shard" } th { "State" } th { "Attempt" } th { "Rows" } th { "Time" } th { "Error" } } }
            tbody {
                @for s in shards.iter().take(SHARDS_SHOWN) {
                    tr {
                        td.num { (s.idx) }
                        td { (page::state_badge(&format!("{:?}", s.state).to_lowercase())) }
                        td.num { (s.attempt) }
                        td.num { (page::int(s.rows)) }
                        td.num { @if let (Some(a), Some(b)) = (s.started_at, s.finished_at) { (page::duration(b - a)) } }
                        td { (s.error_message.clone().unwrap_or_default()) }
                    }
                }
            }
        }
        @if shards.len() > SHARDS_SHOWN { p.hint { "First " (SHARDS_SHOWN) " shards shown." } }
    }
}

/// A pattern's steps, each with its latest state and its child execution, from the events.
fn steps(events: &[EventRecord]) -> Markup {
    let mut order: Vec<String> = Vec::new();
    let mut latest: std::collections::HashMap<String, (&str, Option<String>, String)> =
        Default::default();
    for e in events {
        let (step, state, child, note) = match &e.event {
            Event::StepStarted { step, child, .. } => {
                (step, "running", child.clone(), String::new())
            }
            Event::StepCompleted {
                step,
                child,
                cached,
                duration_ms,
                ..
            } => (
                step,
                "completed",
                child.clone(),
                format!(
                    "{}{}",
                    page::duration(*duration_ms as i64),
                    if *cached { " (cached)" } else { "" }
                ),
            ),
            Event::StepSkipped { step, reason } => (step, "skipped", None, reason.clone()),
            Event::StepFailed {
                step,
                child,
                message,
                ..
            } => (step, "failed", child.clone(), message.clone()),
            _ => continue,
        };
        if !latest.contains_key(step) {
            order.push(step.clone());
        }
        let child = child
            .map(|c| c.to_string())
            .or_else(|| latest.get(step).and_then(|l| l.1.clone()));
        latest.insert(step.clone(), (state, child, note));
    }
    html! {
        section.steps {
            h2 { "Steps" }
            @if order.is_empty() { p.empty { "No step has started yet." } }
            ol.step-graph {
                @for step in &order {
                    @let (state, child, note) = &latest[step];
                    li.step data-state=(state) data-step=(step) {
                        span.step-id { (step) }
                        (page::state_badge(state))
                        @if let Some(c) = child { a href=(format!("/executions/{c}")) { "execution" } }
                        @if !note.is_empty() { span.note { (note) } }
                    }
                }
            }
        }
    }
}

/// One event as a log line; `app.js` formats live ones the same way (`type key=value …`).
pub fn event_line(e: &EventRecord) -> Markup {
    let mut v = serde_json::to_value(&e.event).unwrap_or_default();
    let kind = v
        .get("type")
        .and_then(|t| t.as_str())
        .unwrap_or("event")
        .to_string();
    let mut fields = Vec::new();
    if let Some(m) = v.as_object_mut() {
        m.remove("type");
        let mut keys: Vec<_> = m.keys().cloned().collect();
        keys.sort();
        for k in keys {
            let val = &m[&k];
            if val.is_null() {
                continue;
            }
            let text = val.as_str().map_or_else(|| val.to_string(), str::to_string);
            fields.push(format!("{k}={text}"));
        }
    }
    html! {
        li data-seq=(e.seq) data-type=(kind) {
            (page::time(e.at)) " " span.type { (kind) } " " span.fields { (fields.join(" ")) }
        }
    }
}

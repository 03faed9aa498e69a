//! The executions page: the workspace's top-level executions, newest first, filtered by kind,
//! state, name and date (all kept in the URL, so a reload or a shared link shows the same
//! list), a failed-only view, cursor pages, a live stream of row updates ([`super::live`]), and
//! bulk pause/resume/cancel of the selected rows. Also the form that starts an execution.

use super::page::{self, Section, Viewer, csrf_field, html_response, layout};
use crate::AppState;
use crate::model::ExecutionView;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use quantd_core::{ExecutionKind, ExecutionState};
use quantd_engine::exec::Control;
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::records::ExecutionFilter;
use serde::Deserialize;

/// Rows per page.
pub const PAGE: u32 = 50;
/// Executions one bulk action may name.
pub const MAX_BULK: usize = 500;

const KINDS: [&str; 7] = [
    "scan", "test", "backtest", "sweep", "run", "import", "pattern",
];
const STATES: [&str; 6] = [
    "pending",
    "running",
    "paused",
    "completed",
    "failed",
    "cancelled",
];

/// The list's filters, as in the URL. Values that do not parse are shown as a problem, not
/// refused.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filters {
    /// Kind.
    pub kind: Option<String>,
    /// State (`failed` is the failed-only view).
    pub state: Option<String>,
    /// Code name.
    pub name: Option<String>,
    /// Created on or after this date (`YYYY-MM-DD`).
    pub since: Option<String>,
    /// The next page's cursor.
    pub after: Option<String>,
    /// What the last bulk action did (shown once).
    pub notice: Option<String>,
}

fn some(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Filters {
    /// The store filter, or what is wrong with the URL's values.
    pub fn to_filter(&self, workspace: &str, limit: u32) -> Result<ExecutionFilter, String> {
        let kind = some(&self.kind)
            .map(|k| k.parse::<ExecutionKind>().map_err(|e| e.to_string()))
            .transpose()?;
        let state = some(&self.state)
            .map(|s| {
                s.parse::<ExecutionState>()
                    .map_err(|_| format!("state `{s}`: use one of {}", STATES.join(", ")))
            })
            .transpose()?;
        let since = some(&self.since)
            .map(|d| {
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map(|d| {
                        d.and_hms_opt(0, 0, 0)
                            .expect("midnight exists")
                            .and_utc()
                            .timestamp_millis()
                    })
                    .map_err(|_| format!("date `{d}`: use YYYY-MM-DD"))
            })
            .transpose()?;
        Ok(ExecutionFilter {
            workspace: Some(workspace.to_string()),
            name: some(&self.name).map(str::to_string),
            kind,
            state,
            since,
            after: some(&self.after).map(str::to_string),
            limit,
            top_level: true,
            parent: None,
        })
    }

    /// The query string of these filters (without the cursor and notice).
    pub fn query(&self) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("kind", &self.kind),
            ("state", &self.state),
            ("name", &self.name),
            ("since", &self.since),
        ] {
            if let Some(v) = some(v) {
                q.append_pair(k, v);
            }
        }
        q.finish()
    }

    fn with(&self, key: &str, value: Option<&str>) -> String {
        let mut f = Filters {
            after: None,
            notice: None,
            ..self.clone()
        };
        let v = value.map(str::to_string);
        match key {
            "state" => f.state = v,
            "after" => f.after = v,
            _ => {}
        }
        let mut q = f.query();
        if let Some(a) = some(&f.after) {
            if !q.is_empty() {
                q.push('&');
            }
            q.push_str(&format!("after={}", page::encode(a)));
        }
        if q.is_empty() {
            "/executions".into()
        } else {
            format!("/executions?{q}")
        }
    }
}

/// The view of a listed record: health from its counters (the list reads no shards).
pub fn list_view(rec: quantd_engine::records::ExecutionRecord) -> ExecutionView {
    let health = quantd_engine::exec::health::Health::of(&rec, &[], 0);
    ExecutionView::new(rec, Some(health))
}

/// One execution's row; the live stream sends the same markup.
pub fn row(v: &ExecutionView) -> Markup {
    let name = page::label(v);
    let started = v.started_at.unwrap_or(v.created_at);
    let duration = v.duration_ms.or_else(|| {
        v.started_at
            .map(|s| (chrono::Utc::now() - s).num_milliseconds())
    });
    html! {
        tr id=(format!("row-{}", v.id)) data-id=(v.id) data-state=(v.state) {
            td { input type="checkbox" name="ids" value=(v.id) form="bulk" aria-label=(format!("Select {name}")); }
            td.kind { (v.kind) }
            td.name { a href=(format!("/executions/{}", v.id)) title=(v.id) { (name) } }
            td { (page::state_badge(&v.state)) }
            td { (page::progress(v.progress.done, v.progress.total, &v.state)) }
            td { @if let Some(h) = &v.health { (page::health_badge(&h.band, h.score)) } }
            td { (page::time(started)) }
            td.num { @if let Some(ms) = duration { (page::duration(ms)) } }
        }
    }
}

fn select(name: &str, label: &str, options: &[&str], current: Option<&str>) -> Markup {
    html! {
        label { (label) " "
            select name=(name) {
                option value="" selected[current.is_none()] { "any" }
                @for o in options { option value=(o) selected[current == Some(*o)] { (o) } }
            }
        }
    }
}

fn filter_form(f: &Filters) -> Markup {
    html! {
        form #filters method="get" action="/executions" role="search" {
            (select("kind", "Kind", &KINDS, some(&f.kind)))
            (select("state", "State", &STATES, some(&f.state)))
            label { "Name " input type="search" name="name" value=[some(&f.name)] placeholder="code name"; }
            label { "Since " input type="date" name="since" value=[some(&f.since)]; }
            button type="submit" { "Filter" }
            a href="/executions" { "Clear" }
            a #failed-only href=(f.with("state", Some("failed")))
                aria-current=[(some(&f.state) == Some("failed")).then_some("page")] { "Failed only" }
        }
    }
}

/// `GET /executions`.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(f): Query<Filters>,
) -> Response {
    let started = std::time::Instant::now();
    let (views, next, problem) = match f.to_filter(viewer.workspace(), PAGE) {
        Ok(filter) => match state.engine().records().list(&filter).await {
            Ok(page) => {
                let next = page.next.clone();
                let mut views = Vec::with_capacity(page.items.len());
                for rec in page.items {
                    views.push(list_view(rec));
                }
                (views, next, None)
            }
            Err(e) => (vec![], None, Some(e.to_string())),
        },
        Err(e) => (vec![], None, Some(e)),
    };
    let live_url = format!("/live/executions?{}", f.query());
    let main = html! {
        div.titlebar {
            h1 { "Executions" }
            a.button href="/executions/new" { "Start an execution" }
        }
        (filter_form(&f))
        @if let Some(n) = some(&f.notice) { p.notice role="status" { (n) } }
        @if let Some(p) = &problem { p.problem role="alert" { (p) } }
        form #bulk method="post" action="/executions/bulk" {
            (csrf_field(&viewer))
            input type="hidden" name="return" value=(f.with("after", some(&f.after)));
            span { "Selected: " }
            button type="submit" name="action" value="pause" { "Pause" }
            button type="submit" name="action" value="resume" { "Resume" }
            button type="submit" name="action" value="cancel" { "Cancel" }
        }
        div hx-ext="sse" sse-connect=(live_url) data-live="list" {
            div sse-swap="row" hx-swap="none" hidden {}
            table #executions {
                thead { tr {
                    th { span.visually-hidden { "Select" } }
                    th { "Kind" } th { "Name" } th { "State" } th { "Progress" }
                    th { "Health" } th { "Started" } th { "Duration" }
                } }
                tbody #rows sse-swap="new" hx-swap="afterbegin" {
                    @for v in &views { (row(v)) }
                }
            }
        }
        @if views.is_empty() && problem.is_none() {
            p.empty {
                @if f.query().is_empty() && some(&f.after).is_none() {
                    "No executions yet: run " code { "quantd demo" } " or "
                    a href="/executions/new" { "start a scan" } "."
                } @else {
                    "No execution matches these filters. " a href="/executions" { "Clear them" } "."
                }
            }
        }
        nav.pager aria-label="Pages" {
            @if some(&f.after).is_some() { a href=(f.with("after", None)) { "← Newest" } }
            @if let Some(n) = &next { a #next-page href=(f.with("after", Some(n))) { "Older →" } }
        }
    };
    tracing::debug!(
        elapsed_us = started.elapsed().as_micros() as u64,
        rows = views.len(),
        "executions page"
    );
    html_response(
        StatusCode::OK,
        layout("Executions", Section::Executions, Some(&viewer), main),
    )
}

/// `POST /executions/bulk`: pause, resume or cancel the selected executions, then back to the
/// same filtered list with what happened.
pub async fn bulk(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> Response {
    let mut action = None;
    let mut back = "/executions".to_string();
    let mut ids = Vec::new();
    for (k, v) in form_urlencoded::parse(&body) {
        match k.as_ref() {
            "action" => action = Some(v.into_owned()),
            "return" if v.starts_with("/executions") => back = v.into_owned(),
            "ids" if ids.len() < MAX_BULK => ids.push(v.into_owned()),
            _ => {}
        }
    }
    let control = match action.as_deref() {
        Some("pause") => Control::Pause,
        Some("resume") => Control::Resume,
        Some("cancel") => Control::Cancel,
        _ => return back_with(&back, "Choose pause, resume or cancel."),
    };
    if ids.is_empty() {
        return back_with(&back, "Select at least one execution first.");
    }
    let (mut done, mut refused) = (0, Vec::new());
    for id in &ids {
        match control_one(&state, &viewer, id, control).await {
            Ok(()) => done += 1,
            Err(why) => refused.push(why),
        }
    }
    let verb = action.unwrap_or_default();
    let mut notice = format!("{verb}: {done} of {} done", ids.len());
    if !refused.is_empty() {
        notice.push_str(&format!(
            "; not done: {}",
            refused
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    back_with(&back, &notice)
}

/// Applies `control` to execution `id` of the viewer's workspace; why not, when refused.
pub async fn control_one(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
    control: Control,
) -> Result<(), String> {
    let rec = state
        .engine()
        .records()
        .owned(viewer.workspace(), id)
        .await
        .map_err(|e| e.to_string())?;
    state
        .engine()
        .control(&rec, control)
        .await
        .map_err(|e| format!("{}: {e}", quantd_engine::data::cut(id, 40)))?;
    state.workers().wake();
    Ok(())
}

fn back_with(back: &str, notice: &str) -> Response {
    let sep = if back.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{back}{sep}notice={}", page::encode(notice))).into_response()
}

/// The start form's fields.
#[derive(Debug, Deserialize)]
pub struct StartForm {
    kind: String,
    pack: String,
    /// A stored code name, or empty.
    #[serde(default)]
    code: String,
    /// An inline expression, or empty.
    #[serde(default)]
    expr: String,
}

/// `GET /executions/new`: start a scan (or a test, backtest…) of stored code or an expression.
pub async fn new_form(State(state): State<AppState>, viewer: Viewer) -> Response {
    start_page(&state, &viewer, None, "scan", "", "").await
}

async fn start_page(
    state: &AppState,
    viewer: &Viewer,
    problem: Option<String>,
    kind: &str,
    code: &str,
    expr: &str,
) -> Response {
    let packs = state
        .engine()
        .packs()
        .list(&quantd_engine::records::Page {
            after: None,
            limit: 200,
        })
        .await
        .map(|p| p.items)
        .unwrap_or_default();
    let main = html! {
        h1 { "Start an execution" }
        @if let Some(p) = &problem { p.problem role="alert" { (p) } }
        form #start method="post" action="/executions/new" {
            (csrf_field(viewer))
            label { "Kind " select name="kind" {
                @for k in ["scan", "backtest", "sweep", "test", "run"] { option value=(k) selected[k == kind] { (k) } }
            } }
            label { "Pack " select name="pack" {
                @for p in &packs { option value=(p.name) { (p.name) } }
            } }
            label { "Stored code " input type="text" name="code" value=(code) placeholder="name[@version]"; }
            label.wide { "or an expression " input type="text" name="expr" value=(expr) placeholder="close > sma(close, 20)"; }
            button type="submit" { "Start" }
        }
        @if packs.is_empty() { p.empty { "No packs yet: run " code { "quantd data synth --name demo" } " first." } }
    };
    html_response(
        if problem.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        },
        layout("Start", Section::Executions, Some(viewer), main),
    )
}

/// `POST /executions/new`: submits through the engine like `POST /v1/executions`, then shows
/// the new execution.
pub async fn start(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> Response {
    let form: StartForm = match serde_urlencoded_form(&body) {
        Ok(f) => f,
        Err(e) => return start_page(&state, &viewer, Some(e), "scan", "", "").await,
    };
    let mut req = serde_json::json!({ "kind": form.kind, "pack": form.pack });
    match (form.code.trim(), form.expr.trim()) {
        ("", "") => {
            return start_page(
                &state,
                &viewer,
                Some("Name stored code or write an expression.".into()),
                &form.kind,
                "",
                "",
            )
            .await;
        }
        (code, "") => req["code"] = code.into(),
        (_, expr) => req["expr"] = expr.into(),
    }
    let submitted = match serde_json::from_value::<SubmitRequest>(req) {
        Ok(r) => state
            .engine()
            .submit_request(viewer.workspace(), r)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match submitted {
        Ok(sub) => {
            state.workers().wake();
            Redirect::to(&format!("/executions/{}", sub.execution.id)).into_response()
        }
        Err(e) => start_page(&state, &viewer, Some(e), &form.kind, &form.code, &form.expr).await,
    }
}

fn serde_urlencoded_form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let pairs: serde_json::Map<String, serde_json::Value> = form_urlencoded::parse(body)
        .filter(|(k, _)| k != super::session::CSRF_FIELD)
        .map(|(k, v)| (k.into_owned(), serde_json::Value::String(v.into_owned())))
        .collect();
    serde_json::from_value(serde_json::Value::Object(pairs))
        .map_err(|e| format!("the form is incomplete: {e}"))
}

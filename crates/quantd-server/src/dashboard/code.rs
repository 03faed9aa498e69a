//! The code pages: stored names, one name's versions with the diff between any two, a
//! validate box that shows each problem under its source line with a caret at its column,
//! deploy (a new version) and rollback. Every check and write is the engine's, as for
//! `POST /v1/validate` and `POST /v1/code/{name}`.

use super::page::{self, Section, Viewer, csrf_field, html_response, layout};
use crate::AppState;
use crate::model::CodeDiagnostic;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use quantd_engine::EngineError;
use quantd_engine::code::CodeSource;
use quantd_engine::records::Page;
use serde::Deserialize;

/// Versions listed on a name's page.
const VERSIONS: u32 = 200;
/// Largest source the validate box and deploy accept (the form limit is the bigger bound).
const MAX_SOURCE: usize = 60_000;

const LANGUAGES: [(&str, &str); 3] = [
    ("expr", "Expression"),
    ("python", "Python"),
    ("pattern", "Pattern (JSON or YAML)"),
];

fn source_of(language: &str, text: String) -> Result<CodeSource, String> {
    if text.len() > MAX_SOURCE {
        return Err(format!(
            "the source is {} bytes; at most {MAX_SOURCE} here (use the CLI or the API for larger code)",
            text.len()
        ));
    }
    match language {
        "expr" => Ok(CodeSource::Expr(text)),
        "python" => Ok(CodeSource::Python(text)),
        "pattern" => Ok(CodeSource::Pattern(text)),
        other => Err(format!("language `{other}`: use expr, python or pattern")),
    }
}

fn editor(viewer: &Viewer, name: Option<&str>, language: &str, source: &str) -> Markup {
    html! {
        form #validate method="post" action="/code/deploy" {
            (csrf_field(viewer))
            div.row {
                label { "Language " select name="language" {
                    @for (v, l) in LANGUAGES { option value=(v) selected[v == language] { (l) } }
                } }
                label { "Name " input type="text" name="name" value=[name] placeholder="my-scanner" pattern="[A-Za-z0-9_.-]+"; }
            }
            label.wide for="source" { "Source" }
            textarea #source name="source" rows="8" spellcheck="false"
                hx-post="/code/validate" hx-trigger="keyup changed delay:400ms" hx-target="#diagnostics" hx-include="closest form" { (source) }
            div.row {
                button #check type="button" hx-post="/code/validate" hx-target="#diagnostics" hx-include="closest form" { "Validate" }
                button #deploy type="submit" { "Deploy as a new version" }
            }
            div #diagnostics aria-live="polite" {}
        }
    }
}

/// `GET /code`.
pub async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<Compare>,
) -> Response {
    let names = state
        .engine()
        .code(viewer.workspace())
        .names(&Page {
            after: None,
            limit: 500,
        })
        .await;
    let main = html! {
        h1 { "Code" }
        @if let Some(n) = q.notice.as_deref() { p.notice role="status" { (n) } }
        @match names {
            Err(e) => p.problem { (e.to_string()) },
            Ok(p) if p.items.is_empty() => p.empty { "No stored code yet: write an expression below and deploy it, or run " code { "quantd code add NAME --expr '…'" } "." },
            Ok(p) => table #code {
                thead { tr { th { "Name" } th { "Language" } th { "Current" } th { "Versions" } th { "Updated" } } }
                tbody { @for n in p.items { tr {
                    td { a href=(format!("/code/{}", page::encode(&n.name))) { (n.name) } }
                    td { (n.language) } td.num { "v" (n.current) } td.num { (n.versions) }
                    td { (page::time(n.updated_at)) }
                } } }
            },
        }
        h2 { "Validate or deploy" }
        (editor(&viewer, None, "expr", ""))
    };
    html_response(
        StatusCode::OK,
        layout("Code", Section::Code, Some(&viewer), main),
    )
}

/// Which versions a name's page compares.
#[derive(Debug, Default, Deserialize)]
pub struct Compare {
    a: Option<u32>,
    b: Option<u32>,
    notice: Option<String>,
}

/// `GET /code/{name}`.
pub async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    Query(q): Query<Compare>,
) -> Response {
    let code = state.engine().code(viewer.workspace());
    let versions = match code
        .versions(
            &name,
            &Page {
                after: None,
                limit: VERSIONS,
            },
        )
        .await
    {
        Ok(p) if !p.items.is_empty() => p.items,
        Ok(_) => {
            return page::error_page(
                StatusCode::NOT_FOUND,
                &viewer,
                &format!("no code named `{}`", quantd_engine::data::cut(&name, 60)),
                "See the code page for the stored names.",
            );
        }
        Err(e) => return page::error_page(StatusCode::NOT_FOUND, &viewer, &e.to_string(), ""),
    };
    let current = code.resolve(&name).await.ok();
    let mut evaluations = std::collections::HashMap::new();
    for v in &versions {
        if let Ok(Some(found)) = state
            .engine()
            .evaluation_of(viewer.workspace(), &name, &v.id.to_string())
            .await
        {
            evaluations.insert(v.version, found);
        }
    }
    let cur = current.as_ref().map_or(0, |c| c.version);
    let last = versions.last().map_or(1, |v| v.version);
    let b = q.b.unwrap_or(cur.max(1));
    let a = q.a.unwrap_or(b.saturating_sub(1).max(1));
    let find = |n: u32| versions.iter().find(|v| v.version == n);
    let shown = current.as_ref().or(versions.last());
    let main = html! {
        div.titlebar { h1 { (name) } span.kind { "v" (cur) " current of " (last) } }
        @if let Some(n) = q.notice.as_deref() { p.notice role="status" { (n) } }
        table #versions {
            thead { tr { th { "Version" } th { "Language" } th { "Parameters" } th { "Created" } th { "Id" } th { "Evaluation" } th {} } }
            tbody { @for v in versions.iter().rev() { tr data-version=(v.version) {
                td.num { "v" (v.version) @if v.version == cur { " (current)" } }
                td { (v.language) } td { (v.params.join(", ")) } td { (page::time(v.created_at)) }
                td { code { (v.id.to_string().chars().take(12).collect::<String>()) } }
                td { @match evaluations.get(&v.version) {
                    Some((id, e)) => a.state data-state=(match e.status.as_str() { "passed" => "completed", "warnings" => "paused", _ => "failed" })
                        href=(format!("/executions/{id}")) title=(e.reasons.first().map_or("", String::as_str)) {
                        (e.status.as_str()) " " (e.score) "/100"
                    },
                    None => span.kind { "not evaluated" },
                } }
                td.actions {
                    @if v.version != cur {
                        form method="post" action=(format!("/code/{}/rollback", page::encode(&name))) {
                            (csrf_field(&viewer))
                            input type="hidden" name="to" value=(v.version);
                            button type="submit" { "Make current" }
                        }
                    }
                    @if v.language != "pattern" {
                        form method="post" action=(format!("/code/{}/check", page::encode(&name))) {
                            (csrf_field(&viewer))
                            input type="hidden" name="to" value=(v.version);
                            button type="submit" aria-label=(format!("Check v{} for look-ahead", v.version)) { "Check look-ahead" }
                        }
                        form method="post" action=(format!("/code/{}/evaluate", page::encode(&name))) {
                            (csrf_field(&viewer))
                            input type="hidden" name="to" value=(v.version);
                            button type="submit" aria-label=(format!("Evaluate v{}", v.version)) { "Evaluate" }
                        }
                    }
                }
            } } }
        }
        h2 { "Diff" }
        form.row method="get" action=(format!("/code/{}", page::encode(&name))) {
            label { "From " input type="number" name="a" value=(a) min="1" max=(last); }
            label { "to " input type="number" name="b" value=(b) min="1" max=(last); }
            button type="submit" { "Compare" }
        }
        @match (find(a), find(b)) {
            (Some(x), Some(y)) => (diff(&x.source, &y.source)),
            _ => p.problem { "Choose two versions between 1 and " (last) "." },
        }
        h2 { "New version" }
        @if let Some(v) = shown {
            (editor(&viewer, Some(&name), language_key(&v.language), &v.source))
        }
    };
    html_response(
        StatusCode::OK,
        layout(&name, Section::Code, Some(&viewer), main),
    )
}

fn language_key(stored: &str) -> &'static str {
    match stored {
        s if s.starts_with("python") => "python",
        s if s.starts_with("pattern") => "pattern",
        _ => "expr",
    }
}

/// A line diff of two sources.
fn diff(old: &str, new: &str) -> Markup {
    let d = similar::TextDiff::from_lines(old, new);
    html! {
        pre #diff.diff {
            @for change in d.iter_all_changes() {
                @let (class, sign) = match change.tag() {
                    similar::ChangeTag::Delete => ("del", "-"),
                    similar::ChangeTag::Insert => ("ins", "+"),
                    similar::ChangeTag::Equal => ("eq", " "),
                };
                span class=(class) { (sign) " " (change.value().trim_end_matches('\n')) "\n" }
            }
        }
    }
}

struct Posted {
    language: String,
    name: String,
    source: String,
    to: Option<u32>,
}

fn posted(body: &[u8]) -> Posted {
    let mut p = Posted {
        language: "expr".into(),
        name: String::new(),
        source: String::new(),
        to: None,
    };
    for (k, v) in form_urlencoded::parse(body) {
        match k.as_ref() {
            "language" => p.language = v.into_owned(),
            "name" => p.name = v.trim().to_string(),
            "source" => p.source = v.into_owned(),
            "to" => p.to = v.parse().ok(),
            _ => {}
        }
    }
    p
}

/// `POST /code/validate` (htmx): the problems of the source, each under its line with a caret
/// at its column, or what the code takes.
pub async fn validate(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> Response {
    let p = posted(&body);
    let source = match source_of(&p.language, p.source.clone()) {
        Ok(s) => s,
        Err(e) => return page::fragment(html! { p.problem { (e) } }),
    };
    if p.source.trim().is_empty() {
        return page::fragment(html! { p.hint { "Write some code to check it." } });
    }
    let columns = state
        .engine()
        .code(viewer.workspace())
        .known_columns()
        .await
        .unwrap_or_default();
    page::fragment(match source.validate(&columns) {
        Ok(params) => html! {
            p.valid data-valid="true" { "Valid." @if !params.is_empty() { " Parameters: " (params.join(", ")) "." } }
        },
        Err(e) => problems(&p.source, &e),
    })
}

/// Each diagnostic of `e` under its source line, caret at its column.
fn problems(source: &str, e: &EngineError) -> Markup {
    let diagnostics: Vec<CodeDiagnostic> = match e {
        EngineError::Expression { diagnostics, .. } => {
            diagnostics.iter().map(CodeDiagnostic::from).collect()
        }
        EngineError::Pattern { problems, .. } => {
            problems.iter().map(CodeDiagnostic::from).collect()
        }
        other => vec![CodeDiagnostic {
            message: other.to_string(),
            line: None,
            column: None,
            help: None,
            expression: None,
            path: None,
        }],
    };
    let lines: Vec<&str> = source.lines().collect();
    html! {
        ul.diagnostics data-valid="false" {
            @for d in &diagnostics {
                li.diagnostic data-line=[d.line] data-column=[d.column] {
                    strong {
                        @if let (Some(l), Some(c)) = (d.line, d.column) { "line " (l) ", column " (c) ": " }
                        @if let Some(p) = &d.path { (p) ": " }
                        (d.message)
                    }
                    @if let (Some(l), Some(c)) = (d.line, d.column) {
                        @if let Some(text) = lines.get(l.saturating_sub(1)) {
                            pre.caret-view {
                                span.src { (text) } "\n"
                                span.caret { (" ".repeat(c.saturating_sub(1))) "^" }
                            }
                        }
                    }
                    @if let Some(h) = &d.help { p.hint { (h) } }
                }
            }
        }
    }
}

/// `POST /code/deploy`: stores the source as the name's next version.
pub async fn deploy(State(state): State<AppState>, viewer: Viewer, body: Bytes) -> Response {
    let p = posted(&body);
    let back =
        |msg: &str| Redirect::to(&format!("/code?notice={}", page::encode(msg))).into_response();
    if p.name.is_empty() {
        return back("Name the code to deploy it.");
    }
    let source = match source_of(&p.language, p.source) {
        Ok(s) => s,
        Err(e) => return back(&e),
    };
    match state
        .engine()
        .code(viewer.workspace())
        .add(&p.name, &source)
        .await
    {
        Ok(added) => {
            let v = added.version.version;
            let msg = if added.unchanged {
                format!("unchanged: v{v} is already this source")
            } else {
                format!("deployed v{v}")
            };
            Redirect::to(&format!(
                "/code/{}?notice={}",
                page::encode(&p.name),
                page::encode(&msg)
            ))
            .into_response()
        }
        Err(e) => back(&format!("not deployed: {e}")),
    }
}

/// `POST /code/{name}/check`: starts a look-ahead check of version `to` (docs/lookahead.md) on the
/// newest fresh pack and shows its execution; a refused check comes back as a notice.
pub async fn check(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let code = version_ref(&name, &body);
    let request = quantd_engine::exec::request::LookaheadRequest {
        code: Some(code),
        ..Default::default()
    };
    start(&state, &viewer, &name, request.into_submit()).await
}

/// `POST /code/{name}/evaluate`: starts the evaluation of version `to` (docs/evaluation.md) on
/// the newest fresh pack and shows its execution; its status then shows beside the version.
pub async fn evaluate(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let code = version_ref(&name, &body);
    let request = quantd_engine::exec::request::EvaluateRequest {
        code: Some(code),
        ..Default::default()
    };
    start(&state, &viewer, &name, request.into_submit()).await
}

/// `NAME@to` of a posted form (`NAME` without `to`).
fn version_ref(name: &str, body: &[u8]) -> String {
    match posted(body).to {
        Some(v) => format!("{name}@{v}"),
        None => name.to_string(),
    }
}

/// Submits `request` for the code page of `name`: the execution's page, or a notice why not.
async fn start(
    state: &AppState,
    viewer: &Viewer,
    name: &str,
    request: quantd_engine::exec::request::SubmitRequest,
) -> Response {
    let what = request.kind;
    match state.engine().submit_as(&viewer.reader(), request).await {
        Ok(sub) => {
            state.workers().wake();
            Redirect::to(&format!("/executions/{}", sub.execution.id)).into_response()
        }
        Err(e) => Redirect::to(&format!(
            "/code/{}?notice={}",
            page::encode(name),
            page::encode(&format!("{what} not started: {e}"))
        ))
        .into_response(),
    }
}

/// `POST /code/{name}/rollback`: points the name at an earlier version.
pub async fn rollback(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let p = posted(&body);
    let msg = match state
        .engine()
        .code(viewer.workspace())
        .rollback(&name, p.to)
        .await
    {
        Ok(v) => format!("v{} is current", v.version),
        Err(e) => format!("not rolled back: {e}"),
    };
    Redirect::to(&format!(
        "/code/{}?notice={}",
        page::encode(&name),
        page::encode(&msg)
    ))
    .into_response()
}

//! What every page shares: the signed-in [`Viewer`], the layout (navigation, workspace,
//! sign-out, the live-connection badge), HTML responses with their security headers, and the
//! formatting of numbers, times, progress and health.

use super::assets;
use super::session::{self, Session};
use crate::AppState;
use crate::model::ExecutionView;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// The signed-in viewer of a page.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The session.
    pub session: Session,
}

impl Viewer {
    /// The workspace every engine call is scoped to.
    pub fn workspace(&self) -> &str {
        &self.session.caller.workspace
    }

    /// The viewer as the engine's data rights and audit trail know it (`dashboard token <id>`).
    pub fn reader(&self) -> quantd_engine::rights::Reader {
        let mut r = self.session.caller.reader();
        r.actor = format!("dashboard {}", r.actor);
        r
    }
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        match session::current(state, &parts.headers).await {
            Some((_, session)) => Ok(Viewer { session }),
            None => {
                let path = parts
                    .uri
                    .path_and_query()
                    .map_or("/", |p| p.as_str())
                    .to_string();
                Err(session::to_sign_in(&parts.headers, &path))
            }
        }
    }
}

/// The Content-Security-Policy of every page: scripts and styles from this server only (the
/// chart libraries draw with inline styles), no frames, forms to this server.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// An HTML response with the dashboard's security headers.
pub fn html_response(status: StatusCode, body: Markup) -> Response {
    let mut r = (status, body.into_string()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A fragment for htmx (no layout), with the same headers.
pub fn fragment(body: Markup) -> Response {
    html_response(StatusCode::OK, body)
}

/// The navigation's sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `/executions`.
    Executions,
    /// `/code`.
    Code,
    /// `/packs`.
    Packs,
    /// `/status` (the health page).
    Health,
    /// Signing in (no navigation).
    SignIn,
}

/// A whole page: head with the assets, navigation, `main`.
pub fn layout(title: &str, section: Section, viewer: Option<&Viewer>, main: Markup) -> Markup {
    let nav = [
        (Section::Executions, "/executions", "Executions"),
        (Section::Code, "/code", "Code"),
        (Section::Packs, "/packs", "Packs"),
        (Section::Health, "/status", "Health"),
    ];
    let csrf = viewer.map(|v| v.session.csrf.as_str()).unwrap_or("");
    let hx_headers = serde_json::json!({ "X-CSRF-Token": csrf }).to_string();
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=r#"{"includeIndicatorStyles":false,"allowEval":false}"#;
                title { (title) " · quantd" }
                link rel="stylesheet" href=(assets::url("app.css"));
                link rel="stylesheet" href=(assets::url("uPlot.min.css"));
                script src=(assets::url("htmx.min.js")) defer {}
                script src=(assets::url("sse.min.js")) defer {}
                script src=(assets::url("uPlot.iife.min.js")) defer {}
                script src=(assets::url("lightweight-charts.js")) defer {}
                script src=(assets::url("app.js")) defer {}
            }
            body hx-headers=(hx_headers) {
                header.top {
                    a.brand href="/executions" { "quantd" }
                    @if let Some(v) = viewer {
                        nav aria-label="Sections" {
                            @for (s, href, label) in nav {
                                a href=(href) aria-current=[(s == section).then_some("page")] { (label) }
                            }
                        }
                        span.spacer {}
                        span #live data-state="idle" title="Live updates" { span.dot {} span.label { "live" } }
                        span #workspace title="Workspace" { (v.workspace()) }
                        @if v.session.caller.token.is_some() {
                            form method="post" action="/signout" {
                                input type="hidden" name=(session::CSRF_FIELD) value=(csrf);
                                button #signout type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main { (main) }
            }
        }
    }
}

/// A page saying what went wrong (404 for another workspace's ids, as the API does).
pub fn error_page(status: StatusCode, viewer: &Viewer, what: &str, hint: &str) -> Response {
    let body = layout(
        status.canonical_reason().unwrap_or("Error"),
        Section::Executions,
        Some(viewer),
        html! {
            h1 { (status.as_u16()) " " (status.canonical_reason().unwrap_or("")) }
            p.problem { (what) }
            @if !hint.is_empty() { p.hint { (hint) } }
        },
    );
    html_response(status, body)
}

/// Percent-encodes a query value or path for a URL.
pub fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// An integer with thousands separators: `1,234,567`.
pub fn int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number for a table: thousands separators, at most `decimals` decimals.
pub fn num(v: f64, decimals: usize) -> String {
    if !v.is_finite() {
        return if v.is_nan() {
            "–".into()
        } else {
            v.to_string()
        };
    }
    let text = format!("{:.*}", decimals, v.abs());
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    let whole: u64 = whole.parse().unwrap_or(0);
    let sign = if v < 0.0 && text.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        "−"
    } else {
        ""
    };
    if frac.is_empty() {
        format!("{sign}{}", int(whole))
    } else {
        format!("{sign}{}.{frac}", int(whole))
    }
}

/// A signed percentage of a fraction or of a value already in percent: `+12.3%`, `−4.0%`.
pub fn pct(v: f64) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let sign = if v > 0.0 { "+" } else { "" };
    format!("{sign}{}%", num(v, 1))
}

/// A time the browser shows in the viewer's zone (`app.js`), UTC on hover and without script.
pub fn time(t: DateTime<Utc>) -> Markup {
    let iso = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let utc = t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    html! { time datetime=(iso) title=(utc) { (utc) } }
}

/// A duration: `850 ms`, `12.4 s`, `3 min 05 s`, `2 h 10 min`.
pub fn duration(ms: i64) -> String {
    let ms = ms.max(0);
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {:02} s", ms / 60_000, (ms / 1000) % 60),
        _ => format!("{} h {:02} min", ms / 3_600_000, (ms / 60_000) % 60),
    }
}

/// What to call an execution: its code name, else its inline expression (a strategy's entry),
/// else its id.
pub fn label(v: &ExecutionView) -> String {
    if let Some(n) = &v.name {
        return n.clone();
    }
    let spec = v.spec.get("backtest").unwrap_or(&v.spec);
    let source = spec
        .get("source")
        .and_then(|s| s.as_str())
        .or_else(|| spec.pointer("/strategy/entry").and_then(|s| s.as_str()));
    match source {
        Some(s) => {
            let one_line = s.split_whitespace().collect::<Vec<_>>().join(" ");
            quantd_engine::data::cut(&one_line, 60).to_string()
        }
        None => v.id.clone(),
    }
}

/// A progress bar with its label.
pub fn progress(done: u32, total: u32, state: &str) -> Markup {
    let pct = if total == 0 {
        0.0
    } else {
        100.0 * done as f64 / total as f64
    };
    html! {
        span.progress data-state=(state) {
            progress max="100" value=(format!("{pct:.0}")) aria-label=(format!("{done} of {total} shards")) {}
            span.pct { (format!("{pct:.0}%")) }
        }
    }
}

/// A health band badge with its score.
pub fn health_badge(band: &str, score: u8) -> Markup {
    html! { span.band data-band=(band) title=(format!("health score {score} of 100")) { (band) " " (score) } }
}

/// A state badge.
pub fn state_badge(state: &str) -> Markup {
    html! { span.state data-state=(state) { (state) } }
}

/// A hidden CSRF field for a plain form.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name=(session::CSRF_FIELD) value=(viewer.session.csrf); }
}

/// Raw, already-escaped HTML (only for text this module produced).
pub fn raw(s: String) -> PreEscaped<String> {
    PreEscaped(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_and_signed() {
        assert_eq!(int(0), "0");
        assert_eq!(int(999), "999");
        assert_eq!(int(1000), "1,000");
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(num(-1234.5678, 2), "−1,234.57");
        assert_eq!(num(-0.001, 2), "0.00");
        assert_eq!(pct(12.34), "+12.3%");
        assert_eq!(pct(-4.0), "−4.0%");
        assert_eq!(pct(0.0), "0.0%");
        assert_eq!(duration(850), "850 ms");
        assert_eq!(duration(12_400), "12.4 s");
        assert_eq!(duration(185_000), "3 min 05 s");
        assert_eq!(duration(7_800_000), "2 h 10 min");
    }
}

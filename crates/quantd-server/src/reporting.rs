//! Error capture: optional reports of internal errors and panics to a Sentry-compatible
//! service, on only when `QUANTD_SENTRY_DSN` (`https://<key>@host/<project>`) is set.
//!
//! A small client of our own rather than the `sentry` crate: we send one kind of item (an
//! event) in one envelope format, and need control of what leaves the process. What is
//! reported: `error`-level events of quantd's crates (a request that failed with a 5xx, a shard
//! that crashed or failed with an internal error) through a `tracing` layer, and panics through
//! a panic hook (also those the engine turns into a shard's crash). Each report carries the
//! execution id (from the event or its spans) and the trace id as tags.
//!
//! What is never reported: bar data or results (a report is the event's message and an
//! allow-list of its fields: ids, classes, statuses, routes, each cut to a length), and secrets:
//! tokens (`qdt_...`), `Authorization`/`Bearer` values, passwords and keys in URLs (DSNs,
//! database URLs) and the DSN's own key are replaced by `[scrubbed]` ([`scrub`]).
//!
//! Sending never blocks the caller: reports go through a bounded queue (full: dropped, with a
//! count) to a background thread that posts them on the telemetry runtime.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Reports waiting to be sent, at most.
const QUEUE: usize = 64;
/// The longest text of one field or message sent, in bytes.
const MAX_TEXT: usize = 1024;
/// The event fields a report may carry (everything else stays in the logs).
const ALLOWED_FIELDS: &[&str] = &[
    "error",
    "status",
    "route",
    "method",
    "execution",
    "shard",
    "attempt",
    "class",
    "crash",
    "kind",
    "worker",
    "workspace",
];

/// A parsed DSN: where envelopes go and the key that authenticates them.
#[derive(Clone, PartialEq, Eq)]
pub struct Dsn {
    /// The public key.
    key: String,
    /// `scheme://host[:port][/prefix]`.
    base: String,
    /// The project id.
    project: String,
}

impl std::fmt::Debug for Dsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dsn")
            .field("base", &self.base)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

/// A malformed DSN.
#[derive(Debug, thiserror::Error)]
#[error("QUANTD_SENTRY_DSN must look like https://<key>@host/<project> ({0})")]
pub struct DsnError(&'static str);

impl FromStr for Dsn {
    type Err = DsnError;

    fn from_str(s: &str) -> Result<Dsn, DsnError> {
        let (scheme, rest) = s.trim().split_once("://").ok_or(DsnError("no scheme"))?;
        if scheme != "http" && scheme != "https" {
            return Err(DsnError("the scheme is not http or https"));
        }
        let (userinfo, rest) = rest.split_once('@').ok_or(DsnError("no key"))?;
        let key = userinfo.split(':').next().unwrap_or_default();
        let (host, path) = rest.split_once('/').ok_or(DsnError("no project"))?;
        let path = path.trim_end_matches('/');
        let (prefix, project) = match path.rsplit_once('/') {
            Some((p, project)) => (format!("/{p}"), project),
            None => (String::new(), path),
        };
        if key.is_empty() || host.is_empty() || project.is_empty() {
            return Err(DsnError("an empty key, host or project"));
        }
        Ok(Dsn {
            key: key.to_string(),
            base: format!("{scheme}://{host}{prefix}"),
            project: project.to_string(),
        })
    }
}

impl Dsn {
    /// The URL envelopes are posted to.
    pub fn envelope_url(&self) -> String {
        format!("{}/api/{}/envelope/", self.base, self.project)
    }

    fn auth_header(&self) -> String {
        format!(
            "Sentry sentry_version=7, sentry_key={}, sentry_client=quantd/{}",
            self.key,
            env!("CARGO_PKG_VERSION")
        )
    }
}

/// One report, before it becomes an event.
#[derive(Debug, Clone, Default)]
struct Report {
    level: &'static str,
    logger: String,
    message: String,
    /// A panic's payload and location, as the exception.
    panic: Option<String>,
    execution: Option<String>,
    trace_id: Option<String>,
    fields: BTreeMap<String, String>,
}

/// Sends reports in the background.
#[derive(Clone)]
pub struct Reporter {
    inner: Arc<Inner>,
}

struct Inner {
    dsn: Dsn,
    queue: SyncSender<Report>,
    /// Reports queued or being sent.
    pending: AtomicUsize,
    /// Reports dropped because the queue was full.
    dropped: AtomicUsize,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("dsn", &self.inner.dsn)
            .finish_non_exhaustive()
    }
}

impl Reporter {
    /// Starts the background sender for `dsn`.
    pub fn start(dsn: Dsn) -> Reporter {
        let (queue, reports) = std::sync::mpsc::sync_channel::<Report>(QUEUE);
        let inner = Arc::new(Inner {
            dsn,
            queue,
            pending: AtomicUsize::new(0),
            dropped: AtomicUsize::new(0),
        });
        let weak = Arc::downgrade(&inner);
        let dsn = inner.dsn.clone();
        let _ = std::thread::Builder::new()
            .name("quantd-reports".into())
            .spawn(move || {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .unwrap_or_default();
                for report in reports {
                    let (id, body) = envelope(&report, &dsn.key);
                    let sent = crate::telemetry::runtime().block_on(async {
                        http.post(dsn.envelope_url())
                            .header("X-Sentry-Auth", dsn.auth_header())
                            .header("Content-Type", "application/x-sentry-envelope")
                            .body(body)
                            .send()
                            .await
                    });
                    match sent {
                        Ok(r) if r.status().is_success() => {}
                        Ok(r) => eprintln!("warning: error report {id} refused: {}", r.status()),
                        Err(e) => eprintln!("warning: error report {id} not sent: {e}"),
                    }
                    if let Some(inner) = weak.upgrade() {
                        inner.pending.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            });
        Reporter { inner }
    }

    fn send(&self, report: Report) {
        self.inner.pending.fetch_add(1, Ordering::SeqCst);
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.inner.queue.try_send(report)
        {
            self.inner.pending.fetch_sub(1, Ordering::SeqCst);
            self.inner.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Reports dropped because the queue was full.
    pub fn dropped(&self) -> usize {
        self.inner.dropped.load(Ordering::Relaxed)
    }

    /// Waits up to `timeout` for the queued reports to be sent.
    pub fn flush(&self, timeout: Duration) {
        let until = Instant::now() + timeout;
        while self.inner.pending.load(Ordering::SeqCst) > 0 && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The layer that reports `error` events of quantd's crates.
    pub fn layer(&self) -> ReportLayer {
        ReportLayer {
            reporter: self.clone(),
        }
    }

    /// Reports panics (then runs the hook installed before).
    pub fn install_panic_hook(&self) {
        static INSTALLED: OnceLock<()> = OnceLock::new();
        if INSTALLED.set(()).is_err() {
            return;
        }
        let reporter = self.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let mut report = Report {
                level: "fatal",
                logger: "panic".into(),
                message: format!("panic: {payload}{at}"),
                panic: Some(format!("{payload}{at}")),
                trace_id: crate::telemetry::current_trace_id(),
                ..Report::default()
            };
            report.execution = current_execution();
            reporter.send(report);
            previous(info);
        }));
    }
}

/// Reports `error` events of quantd's crates.
pub struct ReportLayer {
    reporter: Reporter,
}

/// The execution id a span was opened with, kept in its extensions.
struct SpanExecution(String);

/// Collects an event's or a span's fields.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    fields: BTreeMap<String, String>,
    execution: Option<String>,
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, &format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "message" => self.message = Some(value.to_string()),
            "execution" | "execution.id" => self.execution = Some(value.to_string()),
            name if ALLOWED_FIELDS.contains(&name) => {
                self.fields.insert(name.to_string(), value.to_string());
            }
            _ => {}
        }
    }
}

impl<S> Layer<S> for ReportLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(execution), Some(span)) = (fields.execution, ctx.span(id)) {
            span.extensions_mut().insert(SpanExecution(execution));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() != Level::ERROR || !meta.target().starts_with("quantd") {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        let execution = fields.execution.or_else(|| {
            ctx.event_scope(event)?.find_map(|span| {
                span.extensions()
                    .get::<SpanExecution>()
                    .map(|e| e.0.clone())
            })
        });
        self.reporter.send(Report {
            level: "error",
            logger: meta.target().to_string(),
            message: fields.message.unwrap_or_else(|| meta.name().to_string()),
            panic: None,
            execution,
            trace_id: crate::telemetry::current_trace_id(),
            fields: fields.fields,
        });
    }
}

/// The execution id of the current span or its parents (for a panic).
fn current_execution() -> Option<String> {
    tracing::dispatcher::get_default(|d| {
        let registry = d.downcast_ref::<tracing_subscriber::Registry>()?;
        let id = d.current_span().id()?.clone();
        let span = registry.span(&id)?;
        span.scope()
            .find_map(|s| s.extensions().get::<SpanExecution>().map(|e| e.0.clone()))
    })
}

/// Builds the envelope of `report` (its event id and body); every text is scrubbed of
/// secrets (and of `key`, the DSN's) and cut to [`MAX_TEXT`].
fn envelope(report: &Report, key: &str) -> (String, Vec<u8>) {
    let clean = |s: &str| cut(&scrub(s).replace(key, "[scrubbed]"));
    let event_id = new_id();
    let now = chrono::Utc::now();
    let mut tags = serde_json::Map::new();
    if let Some(e) = &report.execution {
        tags.insert("execution_id".into(), clean(e).into());
    }
    if let Some(t) = &report.trace_id {
        tags.insert("trace_id".into(), clean(t).into());
    }
    let extra: serde_json::Map<String, serde_json::Value> = report
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), clean(v).into()))
        .collect();
    let mut event = serde_json::json!({
        "event_id": event_id,
        "timestamp": now.timestamp_millis() as f64 / 1000.0,
        "platform": "rust",
        "level": report.level,
        "logger": report.logger,
        "release": concat!("quantd@", env!("CARGO_PKG_VERSION")),
        "message": {"formatted": clean(&report.message)},
        "tags": tags,
        "extra": extra,
    });
    if let Some(t) = &report.trace_id {
        event["contexts"] = serde_json::json!({"trace": {"trace_id": clean(t)}});
    }
    if let Some(p) = &report.panic {
        event["exception"] = serde_json::json!({"values": [{"type": "panic", "value": clean(p)}]});
    }
    let payload = event.to_string();
    let mut body = String::new();
    let _ = writeln!(
        body,
        "{}",
        serde_json::json!({"event_id": event_id, "sent_at": now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)})
    );
    let _ = writeln!(
        body,
        "{}",
        serde_json::json!({"type": "event", "length": payload.len()})
    );
    body.push_str(&payload);
    body.push('\n');
    (event_id, body.into_bytes())
}

fn new_id() -> String {
    use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};
    RandomIdGenerator::default().new_trace_id().to_string()
}

/// `s` cut to [`MAX_TEXT`] bytes (at a character boundary).
fn cut(s: &str) -> String {
    if s.len() <= MAX_TEXT {
        return s.to_string();
    }
    let mut end = MAX_TEXT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// `s` without secrets: API tokens (`qdt_...`), the value after `Bearer ` or `Authorization:`,
/// and the user and password of URLs (`scheme://user:pass@host` → `scheme://[scrubbed]@host`).
pub fn scrub(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while !rest.is_empty() {
        let lower = rest.to_ascii_lowercase();
        if rest.starts_with("qdt_") {
            out.push_str("qdt_[scrubbed]");
            rest = skip_token(&rest[4..]);
            continue;
        }
        if let Some(after) = [
            "bearer ",
            "authorization: ",
            "authorization:",
            "authorization=",
        ]
        .iter()
        .find(|p| lower.starts_with(**p))
        {
            out.push_str(&rest[..after.len()]);
            out.push_str("[scrubbed]");
            let mut value = rest[after.len()..].trim_start_matches(' ');
            // `Authorization: Bearer <token>`: the scheme, then the credentials.
            if let Some((scheme, tail)) = value.split_once(' ')
                && after.starts_with("authorization")
                && !scheme.is_empty()
                && scheme.chars().all(|c| c.is_ascii_alphabetic())
            {
                value = tail.trim_start_matches(' ');
            }
            rest = skip_token(value);
            continue;
        }
        if rest.starts_with("://") {
            let tail = &rest[3..];
            let end = tail
                .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
                .unwrap_or(tail.len());
            if let Some(at) = tail[..end].rfind('@') {
                out.push_str("://[scrubbed]@");
                rest = &tail[at + 1..];
                continue;
            }
        }
        let c = rest.chars().next().expect("not empty");
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// `s` after its first token (letters, digits and `_-.~+/=` , as in tokens and keys).
fn skip_token(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || "_-.~+/=".contains(c)))
        .unwrap_or(s.len());
    &s[end..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dsns_parse_into_the_envelope_url() {
        let d: Dsn = "https://abc123@errors.example.com/42".parse().unwrap();
        assert_eq!(
            d.envelope_url(),
            "https://errors.example.com/api/42/envelope/"
        );
        assert!(!format!("{d:?}").contains("abc123"));
        let d: Dsn = "http://k:s@127.0.0.1:9000/sub/path/7".parse().unwrap();
        assert_eq!(
            d.envelope_url(),
            "http://127.0.0.1:9000/sub/path/api/7/envelope/"
        );
        for bad in [
            "",
            "abc",
            "ftp://k@h/1",
            "https://h/1",
            "https://k@h",
            "https://k@h/",
        ] {
            assert!(bad.parse::<Dsn>().is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_are_scrubbed() {
        let s = scrub(
            "token qdt_ab12_secretpart failed; Authorization: Bearer xyz.abc; url postgres://u:pw@db:5432/q and https://key@sentry.io/1 ok",
        );
        assert!(!s.contains("secretpart"), "{s}");
        assert!(!s.contains("xyz.abc"), "{s}");
        assert!(!s.contains("pw@"), "{s}");
        assert!(!s.contains("key@"), "{s}");
        assert!(s.contains("qdt_[scrubbed]"), "{s}");
        assert!(s.contains("postgres://[scrubbed]@db:5432/q"), "{s}");
        assert!(s.ends_with(" ok"), "{s}");
        assert_eq!(scrub("plain text, no secrets"), "plain text, no secrets");
    }

    #[test]
    fn long_texts_are_cut() {
        let long = "x".repeat(5000);
        assert!(cut(&long).len() <= MAX_TEXT + 3);
    }
}

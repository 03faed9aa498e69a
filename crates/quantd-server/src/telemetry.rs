//! The process's logs, traces and error reports, set up in one place ([`init`]) for every
//! command of the binary and for tests.
//!
//! - Logs: a `fmt` layer to stderr under the `QUANTD_LOG` / `RUST_LOG` filter.
//! - Traces: only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, `tracing` spans of quantd's crates
//!   at `info` and above are exported with OpenTelemetry over OTLP/HTTP (protobuf) to
//!   `<endpoint>/v1/traces` (`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is used as it is). Spans exist
//!   only at boundaries: an API request, an execution, a shard attempt, its compute (with a
//!   Python sandbox's start) and its commit; never per bar. The batch exporter sends from its own
//!   thread through a reqwest client (rustls, no system TLS) on a small runtime of its own, so
//!   exporting never runs on the server's workers; [`Telemetry::shutdown`] flushes.
//! - W3C trace context: a request's `traceparent` header becomes the parent of its `request`
//!   span; every response carries the `traceparent` of its request span, and problem documents
//!   its `trace_id` ([`current_trace_id`]). Without an exporter the ids are still made (from the
//!   caller's `traceparent` when it sent one), so a report can be matched with a request.
//! - Error reports: [`crate::reporting`], when `QUANTD_SENTRY_DSN` is set.

use crate::reporting::{self, Reporter};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator, SdkTracerProvider};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Environment variables read by [`TelemetryOptions::from_env`].
pub mod env {
    /// The OTLP/HTTP collector's base URL; spans are exported only when it is set.
    pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
    /// The full URL of the collector's traces endpoint (overrides the base URL's `/v1/traces`).
    pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    /// The `service.name` of exported spans (default `quantd`).
    pub const OTEL_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";
    /// A Sentry-compatible DSN (`https://<key>@host/<project>`); error reports are off without it.
    pub const QUANTD_SENTRY_DSN: &str = "QUANTD_SENTRY_DSN";
}

/// The W3C header carrying a trace context.
pub const TRACEPARENT: &str = "traceparent";

/// What [`init`] sets up.
#[derive(Debug, Clone, Default)]
pub struct TelemetryOptions {
    /// The filter of the logs on stderr (`QUANTD_LOG` syntax, e.g. `warn` or `quantd=debug`).
    pub log_filter: String,
    /// Colour the logs (stderr is a terminal).
    pub ansi: bool,
    /// The OTLP/HTTP traces endpoint (full URL); `None`: no spans are exported.
    pub otlp_traces_endpoint: Option<String>,
    /// The `service.name` of exported spans.
    pub service_name: String,
    /// The Sentry-compatible DSN of error reports; `None`: none are sent.
    pub sentry_dsn: Option<String>,
}

impl TelemetryOptions {
    /// Options from the environment ([`env`]), with `log_filter` for stderr.
    pub fn from_env(log_filter: String) -> TelemetryOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let otlp_traces_endpoint = var(env::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).or_else(|| {
            var(env::OTEL_EXPORTER_OTLP_ENDPOINT)
                .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
        });
        TelemetryOptions {
            log_filter,
            ansi: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            otlp_traces_endpoint,
            service_name: var(env::OTEL_SERVICE_NAME).unwrap_or_else(|| "quantd".into()),
            sentry_dsn: var(env::QUANTD_SENTRY_DSN),
        }
    }
}

/// Errors of [`init`].
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built (a malformed endpoint).
    #[error("OTLP trace exporter: {0}")]
    Exporter(String),
    /// The DSN is malformed.
    #[error(transparent)]
    Dsn(#[from] reporting::DsnError),
    /// A global subscriber was already installed.
    #[error("installing the log subscriber: {0}")]
    Subscriber(String),
}

/// The running telemetry: flush it before the process ends ([`Telemetry::shutdown`]).
pub struct Telemetry {
    tracer: Option<SdkTracerProvider>,
    reporter: Option<Reporter>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("traces", &self.tracer.is_some())
            .field("reports", &self.reporter.is_some())
            .finish()
    }
}

impl Telemetry {
    /// Sends the spans and reports waiting to go out (blocking; up to a few seconds).
    pub fn flush(&self) {
        if let Some(t) = &self.tracer
            && let Err(e) = t.force_flush()
        {
            eprintln!("warning: flushing trace spans failed: {e}");
        }
        if let Some(r) = &self.reporter {
            r.flush(Duration::from_secs(5));
        }
    }

    /// Flushes and stops the exporters (blocking; call it off the async runtime's workers).
    pub fn shutdown(mut self) {
        self.flush();
        if let Some(t) = self.tracer.take() {
            let _ = t.shutdown();
        }
    }
}

/// Installs the process's subscriber: logs, and traces and error reports as `options` say.
pub fn init(options: &TelemetryOptions) -> Result<Telemetry, TelemetryError> {
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(options.ansi)
        .with_target(false)
        .with_filter(tracing_subscriber::EnvFilter::new(&options.log_filter));
    let tracer = options
        .otlp_traces_endpoint
        .as_deref()
        .map(|endpoint| tracer_provider(endpoint, &options.service_name))
        .transpose()?;
    let traces = tracer.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("quantd"))
            .with_filter(quantd_spans())
    });
    let reporter = options
        .sentry_dsn
        .as_deref()
        .map(|dsn| dsn.parse().map(Reporter::start))
        .transpose()?;
    // Error events and the spans that carry execution ids: quantd's own, at `info` and above
    // (without a filter this layer would switch on every span of every level).
    let reports = reporter
        .as_ref()
        .map(|r| r.layer().with_filter(quantd_spans()));
    tracing_subscriber::registry()
        .with(logs)
        .with(traces)
        .with(reports)
        .try_init()
        .map_err(|e| TelemetryError::Subscriber(e.to_string()))?;
    if let Some(r) = &reporter {
        r.install_panic_hook();
    }
    Ok(Telemetry { tracer, reporter })
}

/// The spans and events that traces carry: quantd's crates at `info` and above.
fn quantd_spans() -> Targets {
    Targets::new()
        .with_target("quantd", LevelFilter::INFO)
        .with_default(LevelFilter::OFF)
}

fn tracer_provider(endpoint: &str, service: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(ExportClient::default())
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(endpoint)
        .with_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_string())
        .with_attribute(opentelemetry::KeyValue::new(
            "service.version",
            env!("CARGO_PKG_VERSION"),
        ))
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// A small runtime of its own for telemetry's HTTP (the exporters send from their own threads,
/// which have no runtime, and must never take the server's workers).
pub(crate) fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("quantd-telemetry")
            .enable_all()
            .build()
            .expect("the telemetry runtime starts")
    })
}

/// The OTLP exporter's HTTP client: reqwest (rustls) on [`runtime`].
#[derive(Debug, Default)]
struct ExportClient {
    http: reqwest::Client,
}

type Sent = Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError>;

impl opentelemetry_http::HttpClient for ExportClient {
    fn send_bytes<'a, 'b>(
        &'a self,
        request: http::Request<bytes::Bytes>,
    ) -> Pin<Box<dyn Future<Output = Sent> + Send + 'b>>
    where
        'a: 'b,
        Self: 'b,
    {
        let client = self.http.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let task = runtime().spawn(async move {
                let resp = client
                    .request(parts.method, parts.uri.to_string())
                    .headers(parts.headers)
                    .body(body)
                    .send()
                    .await?;
                let (status, headers) = (resp.status(), resp.headers().clone());
                let body = resp.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            });
            let (status, headers, body) = task.await??;
            let mut out = http::Response::new(body);
            *out.status_mut() = status;
            *out.headers_mut() = headers;
            Ok(out)
        })
    }
}

/// The trace context of the request being served.
#[derive(Debug, Clone, Copy)]
pub struct RequestTrace {
    /// The trace.
    pub trace_id: TraceId,
    /// The request span's id.
    pub span_id: SpanId,
    /// Whether the trace is sampled.
    pub sampled: bool,
}

impl RequestTrace {
    /// The W3C `traceparent` of the request span.
    pub fn traceparent(&self) -> String {
        format!(
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }

    /// Links `span` (a request's) to the caller's `traceparent` in `headers`, and returns the
    /// request's trace context: the span's own under an exporter; else the caller's trace (or a
    /// new one) with a new span id.
    pub fn start(headers: &http::HeaderMap, span: &tracing::Span) -> RequestTrace {
        let cx =
            TraceContextPropagator::new().extract(&opentelemetry_http::HeaderExtractor(headers));
        let remote = cx.span().span_context().clone();
        if remote.is_valid() {
            let _ = span.set_parent(cx);
        }
        let own = span.context().span().span_context().clone();
        if own.is_valid() {
            return RequestTrace {
                trace_id: own.trace_id(),
                span_id: own.span_id(),
                sampled: own.is_sampled(),
            };
        }
        let ids = RandomIdGenerator::default();
        RequestTrace {
            trace_id: if remote.is_valid() {
                remote.trace_id()
            } else {
                ids.new_trace_id()
            },
            span_id: ids.new_span_id(),
            sampled: remote.is_valid() && remote.is_sampled(),
        }
    }
}

tokio::task_local! {
    static CURRENT: RequestTrace;
}

/// Runs `f` (a request's handling) with `trace` as the current request's trace context.
pub async fn scope<F: Future>(trace: RequestTrace, f: F) -> F::Output {
    CURRENT.scope(trace, f).await
}

/// The trace id of the request being served, or else of the current span (32 hex digits).
pub fn current_trace_id() -> Option<String> {
    if let Ok(id) = CURRENT.try_with(|t| t.trace_id) {
        return Some(id.to_string());
    }
    let cx = tracing::Span::current().context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_exporter_the_callers_trace_goes_on_with_a_new_span_id() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        let t = RequestTrace::start(&headers, &tracing::Span::none());
        assert_eq!(t.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(t.span_id.to_string(), "00f067aa0ba902b7");
        let p = t.traceparent();
        assert!(p.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{p}");
        assert!(p.ends_with("-01"), "{p}");
        // No (or a malformed) traceparent: a new trace, not sampled by anyone upstream.
        headers.insert(TRACEPARENT, "00-zz-yy-01".parse().unwrap());
        let t = RequestTrace::start(&headers, &tracing::Span::none());
        assert_ne!(t.trace_id, TraceId::INVALID);
        assert!(t.traceparent().ends_with("-00"));
    }
}

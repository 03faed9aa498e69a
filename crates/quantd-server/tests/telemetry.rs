//! Operations, offline: the spans of an API-started scan as an OTLP/HTTP receiver decodes them
//! (one trace from the caller's `traceparent` to the shard's commit), error reports as a
//! Sentry-compatible receiver decodes their envelopes (ids in, secrets out), and `/metrics` in
//! the exposition format.
//!
//! The subscriber is process-global: every test here shares one [`init`], pointed at receivers
//! that live on a runtime of their own for the whole process.

mod common;

use axum::body::Bytes;
use axum::http::HeaderMap;
use common::{Server, Setup};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use quantd_server::telemetry::{Telemetry, TelemetryOptions, init};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// What the receivers got.
#[derive(Default)]
struct Received {
    spans: Mutex<Vec<Span>>,
    envelopes: Mutex<Vec<(HeaderMap, String)>>,
}

struct Harness {
    received: Arc<Received>,
    telemetry: Telemetry,
}

/// Starts the receivers (once per process) and installs the telemetry pointed at them.
fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let received = Arc::new(Received::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let r = received.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let traces = r.clone();
                let app = axum::Router::new()
                    .route(
                        "/v1/traces",
                        axum::routing::post(move |body: Bytes| async move {
                            let req = ExportTraceServiceRequest::decode(body).unwrap();
                            let mut spans = traces.spans.lock().unwrap();
                            for rs in req.resource_spans {
                                for ss in rs.scope_spans {
                                    spans.extend(ss.spans);
                                }
                            }
                            // An empty ExportTraceServiceResponse.
                            (
                                [("content-type", "application/x-protobuf")],
                                Vec::<u8>::new(),
                            )
                        }),
                    )
                    .route(
                        "/api/7/envelope/",
                        axum::routing::post(move |headers: HeaderMap, body: Bytes| async move {
                            r.envelopes
                                .lock()
                                .unwrap()
                                .push((headers, String::from_utf8(body.to_vec()).unwrap()));
                            "{}"
                        }),
                    );
                let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(l.local_addr().unwrap()).unwrap();
                axum::serve(l, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        let telemetry = init(&TelemetryOptions {
            log_filter: "warn".into(),
            ansi: false,
            otlp_traces_endpoint: Some(format!("http://{addr}/v1/traces")),
            service_name: "quantd-test".into(),
            sentry_dsn: Some(format!("http://publickey@{addr}/7")),
        })
        .unwrap();
        Harness {
            received,
            telemetry,
        }
    })
}

async fn flush(h: &'static Harness) {
    tokio::task::spawn_blocking(|| h.telemetry.flush())
        .await
        .unwrap();
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
        .map(|v| match v {
            Any::StringValue(s) => s.clone(),
            Any::IntValue(i) => i.to_string(),
            Any::BoolValue(b) => b.to_string(),
            Any::DoubleValue(d) => d.to_string(),
            other => format!("{other:?}"),
        })
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_scan_started_through_the_api_is_one_trace_from_request_to_commit() {
    let h = harness();
    let server = Server::start(Setup::default()).await;
    let token = server.token("ops").await;
    let r = server
        .req(Method::POST, "/v1/code/up", &token)
        .json(&json!({"expr": "close > sma(close, 20)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (trace, caller_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let r = server
        .req(Method::POST, "/v1/executions", &token)
        .header("traceparent", format!("00-{trace}-{caller_span}-01"))
        .json(&json!({"kind": "scan", "code": "up", "pack": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let returned = r.headers()["traceparent"].to_str().unwrap().to_string();
    let parts: Vec<&str> = returned.split('-').collect();
    assert_eq!(parts.len(), 4, "{returned}");
    assert_eq!(parts[1], trace, "the response continues the caller's trace");
    assert_ne!(parts[2], caller_span, "with the request span's own id");
    let v: Value = r.json().await.unwrap();
    let id = v["execution"]["id"].as_str().unwrap().to_string();
    let done = server.wait_done(&token, &id).await;
    assert_eq!(done["state"], "completed");

    // The execution span closes just after the commit that ends it: wait for it.
    let mut spans = Vec::new();
    for _ in 0..100 {
        flush(h).await;
        spans = h.received.spans.lock().unwrap().clone();
        let ended = spans
            .iter()
            .any(|s| s.name == "execution scan" && attr(s, "execution.id").as_deref() == Some(&id));
        if ended {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ours: Vec<&Span> = spans.iter().filter(|s| hex(&s.trace_id) == trace).collect();
    let by_id: HashMap<String, &Span> = ours.iter().map(|s| (hex(&s.span_id), *s)).collect();
    let names: Vec<&str> = ours.iter().map(|s| s.name.as_str()).collect();
    let request = ours
        .iter()
        .find(|s| s.name == "POST /v1/executions")
        .unwrap_or_else(|| panic!("no request span among {names:?}"));
    assert_eq!(hex(&request.parent_span_id), caller_span);
    assert_eq!(hex(&request.span_id), parts[2]);
    assert_eq!(
        attr(request, "http.route").as_deref(),
        Some("/v1/executions")
    );
    assert_eq!(
        attr(request, "http.response.status_code").as_deref(),
        Some("202")
    );
    let execution = ours
        .iter()
        .find(|s| s.name == "execution scan")
        .unwrap_or_else(|| panic!("no execution span among {names:?}"));
    assert_eq!(hex(&execution.parent_span_id), hex(&request.span_id));
    assert_eq!(
        attr(execution, "execution.id").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(attr(execution, "execution.kind").as_deref(), Some("scan"));
    assert_eq!(
        attr(execution, "pack.id"),
        done["pack_id"].as_str().map(str::to_string)
    );
    let version = attr(execution, "code.version").unwrap();
    assert!(!version.is_empty(), "a stored scanner has a code version");
    assert_eq!(attr(execution, "workspace").as_deref(), Some("ops"));
    assert_eq!(
        attr(execution, "execution.state").as_deref(),
        Some("completed")
    );

    let shards: Vec<&&Span> = ours
        .iter()
        .filter(|s| s.name.starts_with("shard "))
        .collect();
    assert!(!shards.is_empty(), "no shard span among {names:?}");
    for shard in &shards {
        assert_eq!(hex(&shard.parent_span_id), hex(&execution.span_id));
        assert_eq!(attr(shard, "execution.id").as_deref(), Some(id.as_str()));
        assert_eq!(attr(shard, "execution.kind").as_deref(), Some("scan"));
        assert_eq!(attr(shard, "shard.outcome").as_deref(), Some("done"));
    }
    for job in ["compute", "commit"] {
        let under: Vec<&&Span> = ours.iter().filter(|s| s.name == job).collect();
        assert_eq!(
            under.len(),
            shards.len(),
            "one {job} span per shard: {names:?}"
        );
        for s in under {
            let parent = by_id
                .get(&hex(&s.parent_span_id))
                .unwrap_or_else(|| panic!("{job}'s parent is not in the trace"));
            assert!(
                parent.name.starts_with("shard "),
                "{job} under {}",
                parent.name
            );
        }
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn problems_carry_the_trace_id_of_the_request() {
    let _h = harness();
    let server = Server::start(Setup::default()).await;
    let token = server.token("ops").await;
    let trace = "0af7651916cd43dd8448eb211c80319c";
    let r = server
        .req(Method::GET, "/v1/executions/ex_nothing", &token)
        .header("traceparent", format!("00-{trace}-b7ad6b7169203331-01"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["trace_id"], trace);
    // Without a traceparent, a new trace.
    let r = server
        .req(Method::GET, "/v1/executions/ex_nothing", &token)
        .send()
        .await
        .unwrap();
    let header = r.headers()["traceparent"].to_str().unwrap().to_string();
    let p: Value = r.json().await.unwrap();
    let id = p["trace_id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert_ne!(id, trace);
    assert!(header.contains(id), "{header}");
    server.stop().await;
}

/// Envelopes received whose event mentions `needle`.
fn envelopes_with(h: &Harness, needle: &str) -> Vec<(HeaderMap, String)> {
    h.received
        .envelopes
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, body)| body.contains(needle))
        .cloned()
        .collect()
}

/// The event of an envelope: header line, item header line, payload.
fn event_of(envelope: &str) -> Value {
    let lines: Vec<&str> = envelope.lines().collect();
    assert_eq!(lines.len(), 3, "{envelope}");
    let header: Value = serde_json::from_str(lines[0]).unwrap();
    let item: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(item["type"], "event");
    assert_eq!(item["length"].as_u64().unwrap() as usize, lines[2].len());
    let event: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(header["event_id"], event["event_id"]);
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_errors_and_panics_are_reported_with_ids_and_without_secrets() {
    let h = harness();
    let secret = "qdt_abc123_verysecretpart";
    // An engine-style internal error inside an execution's span, quoting secrets.
    {
        let span = tracing::info_span!(target: "quantd_engine::exec", "shard", execution.id = "ex_reporttest000000000000000");
        let _in = span.enter();
        tracing::error!(target: "quantd_engine::exec", class = "internal", error = %format!("storing failed for {secret}: postgres://user:hunter2@db/q, Authorization: Bearer tok.en"), "shard failed");
    }
    // A panic in a thread (the engine's shards catch theirs; the hook sees them first).
    let panicked = std::thread::spawn(move || {
        let span = tracing::info_span!(target: "quantd_engine::exec", "compute", execution.id = "ex_panictest0000000000000000");
        let _in = span.enter();
        panic!("boom with {secret}");
    })
    .join();
    assert!(panicked.is_err());
    tokio::task::spawn_blocking(|| h.telemetry.flush())
        .await
        .unwrap();

    let reported = envelopes_with(h, "ex_reporttest");
    assert_eq!(reported.len(), 1, "one report of the error");
    let (headers, body) = &reported[0];
    let auth = headers["x-sentry-auth"].to_str().unwrap();
    assert!(auth.contains("sentry_key=publickey"), "{auth}");
    let event = event_of(body);
    assert_eq!(event["level"], "error");
    assert_eq!(
        event["tags"]["execution_id"],
        "ex_reporttest000000000000000"
    );
    assert_eq!(event["message"]["formatted"], "shard failed");
    assert_eq!(event["extra"]["class"], "internal");
    let error = event["extra"]["error"].as_str().unwrap();
    assert!(error.contains("qdt_[scrubbed]"), "{error}");
    for leaked in ["verysecretpart", "hunter2", "tok.en", "publickey"] {
        assert!(!body.contains(leaked), "{leaked} leaked: {body}");
    }

    let panics = envelopes_with(h, "ex_panictest");
    assert_eq!(panics.len(), 1, "one report of the panic");
    let event = event_of(&panics[0].1);
    assert_eq!(event["level"], "fatal");
    assert_eq!(
        event["tags"]["execution_id"],
        "ex_panictest0000000000000000"
    );
    assert_eq!(event["exception"]["values"][0]["type"], "panic");
    assert!(!panics[0].1.contains("verysecretpart"), "{}", panics[0].1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_internal_error_of_a_request_is_reported_with_its_trace_id() {
    use axum::response::IntoResponse;
    use quantd_server::telemetry::{RequestTrace, scope};
    let h = harness();
    let trace = "5bf92f3577b34da6a3ce929d0e0e4736";
    let mut headers = axum::http::HeaderMap::new();
    headers.insert(
        "traceparent",
        format!("00-{trace}-00f067aa0ba902b7-01").parse().unwrap(),
    );
    let span = tracing::info_span!(target: "quantd_server::routes", "request");
    let ctx = RequestTrace::start(&headers, &span);
    let resp = scope(ctx, async {
        quantd_server::AppError::Internal(
            "the store at postgres://quantd:s3cret@db/quantd refused qdt_x1_tokensecret".into(),
        )
        .into_response()
    })
    .await;
    assert_eq!(resp.status(), 500);
    let body = axum::body::to_bytes(resp.into_body(), 1 << 16)
        .await
        .unwrap();
    let p: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["trace_id"], trace);
    assert!(
        !p.to_string().contains("s3cret"),
        "5xx details are never sent: {p}"
    );
    tokio::task::spawn_blocking(|| h.telemetry.flush())
        .await
        .unwrap();
    let reported = envelopes_with(h, trace);
    assert_eq!(reported.len(), 1, "the 5xx is reported once");
    let event = event_of(&reported[0].1);
    assert_eq!(event["tags"]["trace_id"], trace);
    assert_eq!(event["extra"]["status"], "500");
    for leaked in ["s3cret", "tokensecret"] {
        assert!(
            !reported[0].1.contains(leaked),
            "{leaked} leaked: {}",
            reported[0].1
        );
    }
}

//! `POST /v1/packs`: an upload is imported by an execution of kind `import`, watched through its
//! `phase` events, refused with the row when the file is bad, and never half-written.

mod common;
use common::*;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

/// A long-format CSV of `tickers` × `days` rising bars.
fn csv(tickers: usize, days: usize) -> String {
    let mut s = String::from("ticker,date,open,high,low,close,volume\n");
    let start: chrono::NaiveDate = "2021-01-04".parse().unwrap();
    for t in 0..tickers {
        for d in 0..days {
            let date = start + chrono::Days::new(d as u64);
            let c = 10.0 + d as f64 * 0.1 + t as f64;
            s.push_str(&format!(
                "T{t:03},{date},{c:.2},{:.2},{:.2},{c:.2},1000\n",
                c + 0.5,
                c - 0.5
            ));
        }
    }
    s
}

async fn upload(s: &Server, token: &str, name: &str, body: String) -> reqwest::Response {
    s.req(Method::POST, &format!("/v1/packs?name={name}"), token)
        .header("content-type", "application/octet-stream")
        .body(body)
        .send()
        .await
        .unwrap()
}

/// The event types of an execution's SSE stream, read to its end.
async fn event_types(s: &Server, token: &str, id: &str) -> Vec<Value> {
    let r = s
        .req(Method::GET, &format!("/v1/executions/{id}/events"), token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut out = Vec::new();
    read_sse(r, |m| {
        if m.event.as_deref() == Some("done") {
            return false;
        }
        if !m.data.is_empty() {
            out.push(serde_json::from_str(&m.data).unwrap());
        }
        true
    })
    .await;
    out
}

fn uploads_left(s: &Server) -> usize {
    std::fs::read_dir(s.data_dir().join("uploads"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_upload_is_imported_by_an_execution_with_phase_events() {
    let s = Server::start(Setup::default()).await;
    let t = s.admin_token("ops").await;
    let r = upload(&s, &t, "fresh", csv(3, 40)).await;
    assert_eq!(r.status(), 201, "{:?}", r.headers());
    let link = r.headers()["link"].to_str().unwrap().to_owned();
    let pack: Value = r.json().await.unwrap();
    assert_eq!(pack["name"], "fresh");
    assert_eq!(pack["tickers"], 3);
    assert_eq!(pack["bars"], 120);
    assert_eq!(pack["origin"], "upload.csv");

    let id = link
        .strip_prefix("</v1/executions/")
        .and_then(|l| l.strip_suffix(">; rel=\"execution\""))
        .unwrap_or_else(|| panic!("{link}"));
    let rec = s.wait_done(&t, id).await;
    assert_eq!(rec["kind"], "import");
    assert_eq!(rec["state"], "completed");
    assert_eq!(rec["summary"]["bars"], 120);
    assert_eq!(rec["summary"]["pack_id"], pack["id"]);

    let events = event_types(&s, &t, id).await;
    let phases: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "phase")
        .map(|e| e["phase"].as_str().unwrap())
        .collect();
    for step in ["read", "validate", "hash", "write"] {
        assert!(phases.contains(&step), "{phases:?}");
    }
    let read_end = events
        .iter()
        .rfind(|e| e["type"] == "phase" && e["phase"] == "read")
        .unwrap();
    assert_eq!(
        read_end["done"], read_end["total"],
        "the read step ends full"
    );
    let completed = events
        .iter()
        .position(|e| e["type"] == "execution-completed")
        .expect("completed");
    let last_phase = events.iter().rposition(|e| e["type"] == "phase").unwrap();
    assert!(last_phase < completed, "phases come before the end");
    assert_eq!(uploads_left(&s), 0, "the upload is removed once imported");

    // The import is listed with the workspace's executions.
    let list = s.get_json("/v1/executions?kind=import", &t).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_file_is_refused_with_its_row_and_leaves_nothing() {
    let s = Server::start(Setup::default()).await;
    let t = s.admin_token("ops").await;
    let mut body = csv(2, 5);
    body.push_str("T009,2021-01-05,10,9,11,10,1000\n"); // high < low: data row 11, line 12
    let r = upload(&s, &t, "broken", body).await;
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("upload.csv"), "{detail}");
    assert!(
        detail.contains("line 12: low 11 is above min(open, close) = 10"),
        "names the line: {detail}"
    );
    assert!(!detail.contains("/uploads/"), "no server path: {detail}");
    let r = s
        .req(Method::GET, "/v1/packs/broken", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "no half-written pack");
    assert_eq!(uploads_left(&s), 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_upload_answers_202_and_is_followed_to_its_end() {
    let s = Server::start(Setup {
        upload_wait: Duration::ZERO,
        shard_delay: Duration::from_millis(300),
        ..Setup::default()
    })
    .await;
    let t = s.admin_token("ops").await;
    let r = upload(&s, &t, "later", csv(20, 250)).await;
    assert_eq!(r.status(), 202);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let v: Value = r.json().await.unwrap();
    let id = v["execution"].as_str().unwrap();
    assert_eq!(location, format!("/v1/executions/{id}"));
    assert_eq!(v["events_url"], format!("/v1/executions/{id}/events"));

    let events = event_types(&s, &t, id).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"execution-created"), "{types:?}");
    assert_eq!(types.last(), Some(&"execution-completed"), "{types:?}");
    assert!(
        types.iter().filter(|t| **t == "phase").count() >= 4,
        "{types:?}"
    );
    let pack = s.get_json("/v1/packs/later", &t).await;
    assert_eq!(pack["bars"], 5_000);
    assert_eq!(pack["state"], "fresh");
    s.stop().await;
}

/// Waits (bounded) until `uploads/` is empty: the server removes a file once it has seen its
/// import end, which no client-visible event announces.
async fn uploads_drained(s: &Server) -> usize {
    for _ in 0..100 {
        if uploads_left(s) == 0 {
            return 0;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    uploads_left(s)
}

fn fails_for_lack_of_resources() -> Option<std::sync::Arc<quantd_engine::exec::FaultHook>> {
    Some(std::sync::Arc::new(|_: &quantd_core::ExecutionId, _, _| {
        Some((
            quantd_core::ErrorClass::Resource,
            "out of disk (injected)".into(),
        ))
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_whose_import_fails_or_is_cancelled_leaves_no_file() {
    // Answered at once: the import failed for a reason other than the file's content.
    let s = Server::start(Setup {
        fault: fails_for_lack_of_resources(),
        ..Setup::default()
    })
    .await;
    let t = s.admin_token("ops").await;
    let r = upload(&s, &t, "doomed", csv(2, 5)).await;
    assert!(r.status().is_server_error(), "{}", r.status());
    assert_eq!(uploads_left(&s), 0, "removed before the answer");
    s.stop().await;

    // Answered 202: failed later, or cancelled.
    let s = Server::start(Setup {
        fault: fails_for_lack_of_resources(),
        upload_wait: Duration::ZERO,
        shard_delay: Duration::from_millis(300),
        ..Setup::default()
    })
    .await;
    let t = s.admin_token("ops").await;
    let r = upload(&s, &t, "doomed", csv(2, 5)).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    let rec = s.wait_done(&t, v["execution"].as_str().unwrap()).await;
    assert_eq!(rec["state"], "failed");
    assert_eq!(
        uploads_drained(&s).await,
        0,
        "removed once the import failed"
    );
    s.stop().await;

    let s = Server::start(Setup {
        upload_wait: Duration::ZERO,
        shard_delay: Duration::from_secs(2),
        ..Setup::default()
    })
    .await;
    let t = s.admin_token("ops").await;
    let r = upload(&s, &t, "dropped", csv(2, 5)).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    let id = v["execution"].as_str().unwrap();
    assert_eq!(uploads_left(&s), 1);
    let r = s
        .req(Method::POST, &format!("/v1/executions/{id}/cancel"), &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        uploads_drained(&s).await,
        0,
        "removed once the import was cancelled"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_in_flight_are_bounded_by_the_upload_budget() {
    let body = csv(20, 60);
    let s = Server::start(Setup {
        upload_wait: Duration::ZERO,
        shard_delay: Duration::from_secs(1),
        // Room for one such file at a time.
        tune: |o| o.upload_budget = 100_000,
        ..Setup::default()
    })
    .await;
    assert!((50_000..100_000).contains(&body.len()), "{}", body.len());
    let t = s.admin_token("ops").await;
    let r = upload(&s, &t, "first", body.clone()).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    let first = v["execution"].as_str().unwrap().to_owned();
    // While the first import runs, a second file does not fit: 503, nothing written.
    let r = upload(&s, &t, "second", body.clone()).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let p: Value = r.json().await.unwrap();
    assert!(
        p["detail"].as_str().unwrap().contains("upload-budget"),
        "{p}"
    );
    assert_eq!(uploads_left(&s), 1, "only the first file is on disk");
    // Without a Content-Length an upload holds the whole upload limit (1 MiB here) up front.
    let r = s
        .req(Method::POST, "/v1/packs?name=chunked", &t)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(futures::stream::iter([Ok::<
            _,
            std::io::Error,
        >(
            "ticker,date,open,high,low,close,volume\n",
        )])))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    // Once the first import has ended, its bytes are free again.
    s.wait_done(&t, &first).await;
    let mut status = 0;
    for _ in 0..100 {
        status = upload(&s, &t, "second", body.clone())
            .await
            .status()
            .as_u16();
        if status != 503 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 202);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_limit_is_refused_and_leaves_no_file() {
    let s = Server::start(Setup::default()).await;
    let t = s.admin_token("ops").await;
    let big = "x".repeat((1 << 20) + 1);
    let r = upload(&s, &t, "big", big.clone()).await;
    assert_eq!(r.status(), 413);
    // The same without a Content-Length: cut off while streaming.
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(64 << 10)
        .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
        .collect();
    let r = s
        .req(Method::POST, "/v1/packs?name=big", &t)
        .header("content-type", "text/csv")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    assert_eq!(uploads_left(&s), 0);
    s.stop().await;
}

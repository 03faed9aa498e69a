//! REST: workspace isolation on every id route, problem+json snapshots of the main errors,
//! idempotency keys, 503 + Retry-After on a warming pack, body limits, auth.

mod common;

use common::{Server, Setup};
use quantd_store::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn problem(r: reqwest::Response) -> Value {
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    r.json().await.unwrap()
}

fn snapshot(name: &str, v: &Value) {
    insta::with_settings!({filters => vec![
        (r"ex_[0-9a-z]{26}", "[execution]"),
        (r"\b[0-9a-f]{32}\b", "[trace]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[time]"),
    ]}, {
        insta::assert_json_snapshot!(name, v);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_workspace_gets_404_on_every_id_route_and_sees_nothing_in_lists() {
    let server = Server::start(Setup::default()).await;
    let a = server.token("team-a").await;
    let b = server.token("team-b").await;
    let id = server.submit_scan(&a).await;
    server.wait_done(&a, &id).await;
    let r = server
        .req(Method::POST, "/v1/code/dip", &a)
        .json(&json!({"expr": "rsi(close, 14) < 30"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = server
        .req(Method::POST, "/v1/code/dip", &a)
        .json(&json!({"expr": "rsi(close, 14) < 25"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let id_routes = [
        (Method::GET, format!("/v1/executions/{id}")),
        (Method::POST, format!("/v1/executions/{id}/pause")),
        (Method::POST, format!("/v1/executions/{id}/resume")),
        (Method::POST, format!("/v1/executions/{id}/cancel")),
        (Method::GET, format!("/v1/executions/{id}/results")),
        (
            Method::GET,
            format!("/v1/executions/{id}/results?format=csv"),
        ),
        (Method::GET, format!("/v1/executions/{id}/summary")),
        (Method::GET, format!("/v1/executions/{id}/report")),
        (Method::GET, format!("/v1/executions/{id}/trades")),
        (Method::GET, format!("/v1/executions/{id}/equity")),
        (Method::GET, format!("/v1/executions/{id}/orders")),
        (Method::GET, format!("/v1/executions/{id}/events")),
        (Method::GET, format!("/v1/executions/{id}/ws")),
        (Method::GET, "/v1/code/dip".to_string()),
        (Method::GET, "/v1/code/dip@1".to_string()),
        (Method::GET, "/v1/code/dip/versions/1".to_string()),
        (Method::POST, "/v1/code/dip/rollback".to_string()),
        (Method::DELETE, "/v1/code/dip".to_string()),
    ];
    for (m, path) in &id_routes {
        let r = server.req(m.clone(), path, &b).send().await.unwrap();
        assert_eq!(r.status(), 404, "{m} {path} from another workspace");
        let p = problem(r).await;
        assert_eq!(p["type"], "urn:quantd:problem:not-found", "{m} {path}");
    }
    // The owner still sees everything (the routes exist and answer).
    let r = server
        .req(Method::GET, &format!("/v1/executions/{id}"), &a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = server
        .req(Method::GET, "/v1/code/dip@1", &a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Lists: nothing of team-a leaks to team-b.
    for path in [
        "/v1/executions",
        "/v1/history",
        "/v1/code",
        "/v1/executions?kind=scan",
    ] {
        let v = server.get_json(path, &b).await;
        assert_eq!(v["items"], json!([]), "{path}");
    }
    let v = server.get_json("/v1/summary", &b).await;
    assert_eq!(v["runs"], 0);
    let v = server.get_json("/v1/executions", &a).await;
    assert_eq!(v["items"][0]["id"], id.as_str());
    // Code names are per workspace: team-b may use the same name for its own code.
    let r = server
        .req(Method::POST, "/v1/code/dip", &b)
        .json(&json!({"expr": "close > 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"]["version"], 1);
    // Packs are shared: both see the same catalog.
    for t in [&a, &b] {
        let v = server.get_json("/v1/packs", t).await;
        assert_eq!(v["items"][0]["name"], "demo");
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn errors_are_problem_documents() {
    let server = Server::start(Setup {
        body_limit: 2048,
        ..Setup::default()
    })
    .await;
    let t = server.token("team").await;
    // 401 without a token, and with a wrong one.
    let r = server
        .http
        .get(server.url("/v1/executions"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    snapshot("unauthorized", &problem(r).await);
    let r = server
        .req(Method::GET, "/v1/executions", "qdt_0000000000000000_ffff")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // 404 on an unknown execution.
    let r = server
        .req(
            Method::GET,
            "/v1/executions/ex_01m87cqhkmc5yb8xjj7b05hexr",
            &t,
        )
        .send()
        .await
        .unwrap();
    snapshot("execution_not_found", &problem(r).await);
    // 400 on an unknown field.
    let r = server
        .req(Method::POST, "/v1/executions", &t)
        .json(&json!({"kind": "scan", "expr": "close > 1", "pakc": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    snapshot("unknown_field", &problem(r).await);
    // 400 on broken JSON.
    let r = server
        .req(Method::POST, "/v1/validate", &t)
        .header("content-type", "application/json")
        .body("{\"expr\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    snapshot("bad_json", &problem(r).await);
    // 422 with line and column on invalid code.
    let r = server
        .req(Method::POST, "/v1/validate", &t)
        .json(&json!({"expr": "close > sma(close, 10)\n  and rsi(clse, 14) < 30"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    snapshot("invalid_code", &problem(r).await);
    // 422 on a scan whose inline expression is wrong.
    let r = server
        .req(Method::POST, "/v1/executions", &t)
        .json(&json!({"kind": "scan", "expr": "close >", "pack": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    snapshot("invalid_inline_expression", &problem(r).await);
    // 404 on an unknown pack.
    let r = server
        .req(Method::POST, "/v1/executions", &t)
        .json(&json!({"kind": "scan", "expr": "close > 1", "pack": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    snapshot("unknown_pack", &problem(r).await);
    // Sandbox limits over the server's maximum, or for an expression, name the field.
    let python = "import quantd as qd\n@qd.scanner()\ndef s(bars):\n    return bars.close > 0\n";
    let r = server
        .req(Method::POST, "/v1/executions", &t)
        .json(&json!({"kind": "scan", "python": python, "pack": "demo",
            "options": {"sandbox": {"memory_mib": 1_000_000}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let p = problem(r).await;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("options.sandbox.memory_mib")
            && detail.contains("QUANTD_MAX_SANDBOX_MEMORY_MIB"),
        "{p}"
    );
    let r = server
        .req(Method::POST, "/v1/executions", &t)
        .json(&json!({"kind": "scan", "expr": "close > 1", "pack": "demo",
            "options": {"sandbox": {"cpu_secs": 5}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let p = problem(r).await;
    assert!(
        p["detail"].as_str().unwrap().contains("Python code only"),
        "{p}"
    );
    let r = server
        .req(Method::POST, "/v1/executions", &t)
        .json(&json!({"kind": "scan", "expr": "close > 1", "options": {"sandbox": {"ram": 5}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let p = problem(r).await;
    assert!(
        p["detail"].as_str().unwrap().contains("options.sandbox"),
        "{p}"
    );
    // 413 above the body limit.
    let big = "x".repeat(4096);
    let r = server
        .req(Method::POST, "/v1/validate", &t)
        .json(&json!({"expr": big}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    snapshot("payload_too_large", &problem(r).await);
    // 405 and unknown routes.
    let r = server
        .req(Method::PUT, "/v1/executions", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    snapshot("method_not_allowed", &problem(r).await);
    let r = server
        .req(Method::GET, "/v1/nothing", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    snapshot("no_route", &problem(r).await);
    // 409: pausing a finished execution.
    let id = server.submit_scan(&t).await;
    server.wait_done(&t, &id).await;
    let r = server
        .req(Method::POST, &format!("/v1/executions/{id}/pause"), &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    snapshot("pause_finished", &problem(r).await);
    // 403: uploading a shared pack without an admin token.
    let r = server
        .req(Method::POST, "/v1/packs?name=mine", &t)
        .body("ticker,date,open,high,low,close,volume\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    snapshot("upload_not_admin", &problem(r).await);
    // An unknown kind filter lists the kinds there are.
    let r = server
        .req(Method::GET, "/v1/executions?kind=optimize", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let detail = problem(r).await["detail"].as_str().unwrap().to_string();
    assert!(
        detail.ends_with(
            "use one of scan, test, backtest, sweep, run, import, pattern, check, evaluate, paper, live"
        ),
        "{detail}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_keys() {
    let server = Server::start(Setup::default()).await;
    let t = server.token("team").await;
    let other = server.token("other").await;
    let body = json!({"kind": "scan", "expr": "close > sma(close, 5)", "pack": "demo"});
    let post = |key: &str, token: &str, body: &Value| {
        server
            .req(Method::POST, "/v1/executions", token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
    };
    let r1 = post("k1", &t, &body).await.unwrap();
    assert_eq!(r1.status(), 202);
    let loc = r1.headers()["location"].to_str().unwrap().to_string();
    let v1: Value = r1.json().await.unwrap();
    let id = v1["execution"]["id"].as_str().unwrap().to_string();
    assert_eq!(loc, format!("/v1/executions/{id}"));
    // Same key, same body (keys in another order): the same execution, marked as replayed.
    let same = json!({"pack": "demo", "expr": "close > sma(close, 5)", "kind": "scan"});
    let r2 = post("k1", &t, &same).await.unwrap();
    assert_eq!(r2.status(), 202);
    assert_eq!(r2.headers()["idempotent-replayed"], "true");
    assert_eq!(r2.headers()["location"].to_str().unwrap(), loc);
    let v2: Value = r2.json().await.unwrap();
    assert_eq!(v2["execution"]["id"], id.as_str());
    // Same key, another body: 422.
    let r3 = post(
        "k1",
        &t,
        &json!({"kind": "scan", "expr": "close > 1", "pack": "demo"}),
    )
    .await
    .unwrap();
    assert_eq!(r3.status(), 422);
    snapshot("idempotency_key_reused", &problem(r3).await);
    // Another key: a new execution. The same key in another workspace: its own execution.
    let r4 = post("k2", &t, &body).await.unwrap();
    let v4: Value = r4.json().await.unwrap();
    assert_ne!(v4["execution"]["id"], id.as_str());
    let r5 = post("k1", &other, &body).await.unwrap();
    assert_eq!(r5.status(), 202);
    assert!(r5.headers().get("idempotent-replayed").is_none());
    let v5: Value = r5.json().await.unwrap();
    assert_ne!(v5["execution"]["id"], id.as_str());
    // Only one execution per key was created.
    let v = server.get_json("/v1/executions", &t).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 2);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_warming_pack_answers_503_with_retry_after() {
    let server = Server::start(Setup::default()).await;
    let t = server.token("team").await;
    let store = server.state.engine().store();
    let demo = store.find_packs("demo").await.unwrap().remove(0);
    let ready = chrono::Utc::now() + chrono::Duration::seconds(30);
    store
        .begin_import(&quantd_store::NewPack {
            name: "incoming".into(),
            id: quantd_core::PackId::from_digest([9; 32]),
            import_token: "import-test".into(),
            estimated_ready: ready,
            tickers: 1,
            bars: 1,
            first_date: demo.first_date,
            last_date: demo.last_date,
            timing: Default::default(),
            columns: vec![],
            rows_dropped: 0,
            origin: "test".into(),
            rights: Default::default(),
        })
        .await
        .unwrap();
    let r = server
        .req(Method::GET, "/health/pack/incoming", &t)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["state"], "warming");
    assert!(v["estimated_ready"].is_string());
    let r = server
        .req(Method::POST, "/v1/executions", &t)
        .json(&json!({"kind": "scan", "expr": "close > 1", "pack": "incoming"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let secs: i64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((25..=30).contains(&secs), "Retry-After {secs}");
    let p = problem(r).await;
    assert_eq!(p["type"], "urn:quantd:problem:pack-warming");
    assert!(p["estimated_ready"].is_string());
    snapshot("pack_warming", &p);
    let v: Value = server
        .req(Method::GET, "/health/pack/demo", &t)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["state"], "fresh");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn code_lifecycle_and_results() {
    let server = Server::start(Setup {
        auth: false,
        ..Setup::default()
    })
    .await;
    let get = |path: &str| server.http.get(server.url(path)).send();
    let post = |path: &str, body: Value| server.http.post(server.url(path)).json(&body).send();
    assert_eq!(
        post("/v1/code/up", json!({"expr": "close > sma(close, 5)"}))
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(
        post("/v1/code/up", json!({"expr": "close > sma(close, 5)"}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post("/v1/code/up", json!({"expr": "close > sma(close, 20)"}))
            .await
            .unwrap()
            .status(),
        201
    );
    let v: Value = post("/v1/code/up/rollback", json!({}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["version"], 1);
    let r = server
        .http
        .post(server.url("/v1/executions"))
        .json(&json!({"kind": "scan", "code": "up", "pack": "demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    let id = v["execution"]["id"].as_str().unwrap().to_string();
    for _ in 0..200 {
        let v: Value = get(&format!("/v1/executions/{id}"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if v["state"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let v: Value = get(&format!("/v1/executions/{id}/summary"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signals = v["summary"]["signals"].as_u64().unwrap();
    assert!(signals > 0);
    let csv = get(&format!("/v1/executions/{id}/results?format=csv"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.lines().count() as u64,
        signals + 1,
        "header + one line per signal"
    );
    let nd = get(&format!("/v1/executions/{id}/results?format=ndjson"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(nd.lines().count() as u64, signals);
    let pq = get(&format!("/v1/executions/{id}/results?format=parquet"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&pq[..4], b"PAR1");
    let v: Value = get("/v1/history?name=up")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["items"][0]["id"], id.as_str());
    let v: Value = get("/v1/summary?name=up")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["runs"], 1);
    assert_eq!(
        server
            .http
            .delete(server.url("/v1/code/up"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(get("/v1/code/up").await.unwrap().status(), 404);
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("quantd_executions{kind=\"scan\",state=\"completed\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(
            "quantd_shard_duration_seconds_bucket{kind=\"scan\",outcome=\"done\",le=\"+Inf\"}"
        ),
        "{metrics}"
    );
    assert!(
        metrics
            .contains("quantd_execution_duration_seconds_bucket{kind=\"scan\",state=\"completed\"")
    );
    assert!(metrics.contains(
        "quantd_http_requests_total{route=\"/v1/executions/{id}\",method=\"GET\",status=\"200\"}"
    ));
    let ready = get("/health/ready").await.unwrap();
    assert_eq!(ready.status(), 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stops_working_at_once() {
    use quantd_store::prelude::*;
    let s = Server::start(Setup::default()).await;
    let t = s.token("ops").await;
    let get = || s.req(Method::GET, "/v1/executions", &t).send();
    assert_eq!(get().await.unwrap().status(), 200);
    let id = t.strip_prefix("qdt_").unwrap().split('_').next().unwrap();
    assert!(s.state.engine().store().revoke_token(id).await.unwrap());
    assert_eq!(get().await.unwrap().status(), 401);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_an_admin_token_or_the_metrics_listener() {
    let s = Server::start(Setup {
        metrics_listener: true,
        ..Setup::default()
    })
    .await;
    let t = s.token("team").await;
    let admin = s.admin_token("ops").await;
    let id = s.submit_scan(&t).await;
    s.wait_done(&t, &id).await;
    let r = s.http.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s.req(Method::GET, "/metrics", &t).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let p = problem(r).await;
    assert!(p["detail"].as_str().unwrap().contains("admin"), "{p}");
    let r = s.req(Method::GET, "/metrics", &admin).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("quantd_executions{kind=\"scan\",state=\"completed\"} 1"));
    // The metrics listener: /metrics without a token, and nothing else.
    let m = s.metrics_base.clone().unwrap();
    let r = s.http.get(format!("{m}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("quantd_queue_depth"));
    for path in [
        "/v1/executions",
        "/health/pack/demo",
        &format!("/v1/executions/{id}"),
    ] {
        let r = s
            .http
            .get(format!("{m}{path}"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path} on the metrics listener");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pack_health_needs_a_token_and_probes_say_nothing_of_workspaces() {
    let s = Server::start(Setup::default()).await;
    let t = s.token("team-secret-name").await;
    let id = s.submit_scan(&t).await;
    s.wait_done(&t, &id).await;
    let r = s.http.get(s.url("/health/pack/demo")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    let r = s
        .req(Method::GET, "/health/pack/demo", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .req(Method::GET, "/health/pack/nope", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let p = problem(r).await;
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("`nope`"), "{detail}");
    assert!(!detail.contains("demo"), "no other pack is named: {detail}");
    for probe in ["/health", "/health/ready"] {
        let r = s.http.get(s.url(probe)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{probe} needs no token");
        let body = r.text().await.unwrap();
        assert!(
            !body.contains("team-secret-name") && !body.contains("demo") && !body.contains("ex_"),
            "{probe}: {body}"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_twice_in_a_json_body_is_refused_by_name() {
    let s = Server::start(Setup::default()).await;
    let t = s.token("team").await;
    let cases = [
        (
            "/v1/executions",
            r#"{"kind":"scan","expr":"close>1","expr":"close<1","pack":"demo"}"#,
            "`expr`",
        ),
        (
            "/v1/executions",
            r#"{"kind":"scan","expr":"close>$k","params":{"k":1,"k":2},"pack":"demo"}"#,
            "`params.k`",
        ),
        (
            "/v1/executions",
            r#"{"kind":"backtest","strategy":{"entry":"close>1","exit":"close<1","exit":"close<2"},"pack":"demo"}"#,
            "`strategy.exit`",
        ),
        (
            "/v1/code/twice",
            r#"{"expr":"close>1","expr":"close<1"}"#,
            "`expr`",
        ),
        (
            "/v1/validate",
            r#"{"expr":"close>1","expr":"close<1"}"#,
            "`expr`",
        ),
    ];
    for (path, body, key) in cases {
        let r = s
            .req(Method::POST, path, &t)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{path} {body}");
        let p = problem(r).await;
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(key) && detail.contains("twice"), "{detail}");
        assert!(detail.contains("line 1 column"), "where: {detail}");
    }
    let v = s.get_json("/v1/executions", &t).await;
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        0,
        "nothing was started"
    );
    let r = s
        .req(Method::GET, "/v1/code/twice", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "nothing was stored");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_sent_twice_is_refused() {
    let s = Server::start(Setup::default()).await;
    let t = s.token("team").await;
    for (a, b) in [("k1", "k2"), ("k1", "k1")] {
        let r = s
            .req(Method::POST, "/v1/executions", &t)
            .header("Idempotency-Key", a)
            .header("Idempotency-Key", b)
            .json(&json!({"kind": "scan", "expr": "close > 1", "pack": "demo"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let p = problem(r).await;
        assert!(p["detail"].as_str().unwrap().contains("2 times"), "{p}");
    }
    let v = s.get_json("/v1/executions", &t).await;
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        0,
        "nothing was started"
    );
    s.stop().await;
}

#[tokio::test]
async fn a_lookahead_check_starts_from_its_own_route_and_reports_in_json_and_markdown() {
    let server = Server::start(Setup::default()).await;
    let t = server.token("ws").await;
    let r = server
        .req(Method::POST, "/v1/checks/lookahead", &t)
        .json(&json!({"expr": "close > sma(close, 20)", "pack": "demo", "cuts": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/v1/executions/ex_")
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["execution"]["kind"], "check");
    let id = v["execution"]["id"].as_str().unwrap().to_string();
    assert_eq!(server.wait_done(&t, &id).await["state"], "completed");
    let report = server
        .get_json(&format!("/v1/executions/{id}/report"), &t)
        .await;
    assert_eq!(report["report"]["verdict"], "clean");
    assert_eq!(report["report"]["tickers_checked"], 30);
    assert!(
        report["report"]["cuts"].as_u64().unwrap() >= 30 * 25,
        "{report}"
    );
    let md = server
        .req(
            Method::GET,
            &format!("/v1/executions/{id}/report?format=md"),
            &t,
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.starts_with("# Look-ahead check: CLEAN"), "{md}");
    // The same checks as any request: fields a check does not take, and limits, by name.
    let r = server
        .req(Method::POST, "/v1/checks/lookahead", &t)
        .json(&json!({"expr": "close > 1", "kind": "scan"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(
        problem(r).await["detail"]
            .as_str()
            .unwrap()
            .contains("unknown field `kind`")
    );
    let r = server
        .req(Method::POST, "/v1/checks/lookahead", &t)
        .json(&json!({"expr": "close > 1", "cuts": 5000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert!(
        problem(r).await["detail"]
            .as_str()
            .unwrap()
            .contains("`cuts` is 5000")
    );
    // Another workspace does not see the check or its report.
    let other = server.token("other").await;
    let r = server
        .req(Method::GET, &format!("/v1/executions/{id}/report"), &other)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    server.stop().await;
}

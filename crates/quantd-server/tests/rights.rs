//! Data rights over HTTP (docs/rights.md): the registry (admin only to change), every export
//! route of derived data refused under `deny` (a 403 `policy` problem naming the provider) and
//! marked under `watermark`, signals and statistics readable either way, and the audit trail.

mod common;
use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const WITH_LETS: &str = "let c = close; let v = volume; close > sma(close, 10)";

fn backtest() -> Value {
    json!({"kind": "backtest", "pack": "demo", "strategy": {
        "entry": "crosses_above(close, sma(close, 10))", "exit": "crosses_below(close, sma(close, 10))"}})
}

async fn get(server: &Server, token: &str, path: &str) -> reqwest::Response {
    server.req(Method::GET, path, token).send().await.unwrap()
}

async fn refused(server: &Server, token: &str, path: &str) {
    let r = get(server, token, path).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "urn:quantd:problem:policy", "{p}");
    assert_eq!(p["provider"], "acme", "{p}");
    assert!(
        p["detail"].as_str().unwrap().contains("provider acme deny"),
        "{p}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deny_provider_refuses_derived_data_on_every_route_and_logs_who_asked() {
    let server = Server::start(Setup::default()).await;
    let admin = server.admin_token("ops").await;
    let team = server.token("team").await;

    // Providers are shared: only an admin changes them.
    let r = server
        .req(Method::POST, "/v1/rights/acme", &team)
        .json(&json!({"export": "allow"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    server.demo_under(&admin, "acme", "deny").await;
    let providers = server.get_json("/v1/rights", &team).await;
    assert_eq!(providers[0]["name"], "acme");
    assert_eq!(providers[0]["export"], "deny");
    let pack = server.get_json("/v1/packs/demo", &team).await;
    assert_eq!(pack["rights"]["provider"], "acme");
    assert_eq!(pack["rights"]["export"], "deny");
    assert_eq!(pack["rights"]["export_allowed"], false);

    let scan = server
        .completed(
            &team,
            json!({"kind": "scan", "expr": WITH_LETS, "pack": "demo"}),
        )
        .await;
    for format in ["json", "ndjson", "csv", "parquet", "md"] {
        refused(
            &server,
            &team,
            &format!("/v1/executions/{scan}/results?format={format}"),
        )
        .await;
    }
    // The signals of the same scan, and a scan without `let` columns, stay readable.
    let r = get(
        &server,
        &team,
        &format!("/v1/executions/{scan}/results?format=csv&columns=signals"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.unwrap();
    assert!(
        text.starts_with("ticker,date\n") && text.lines().count() > 10,
        "{text}"
    );
    let plain = server
        .completed(
            &team,
            json!({"kind": "scan", "expr": "close > sma(close, 10)", "pack": "demo"}),
        )
        .await;
    let r = get(
        &server,
        &team,
        &format!("/v1/executions/{plain}/results?format=csv"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let r = get(
        &server,
        &team,
        &format!("/v1/executions/{scan}/results?columns=some"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // A backtest's trades and equity are derived; its statistics are not.
    let bt = server.completed(&team, backtest()).await;
    refused(&server, &team, &format!("/v1/executions/{bt}/trades")).await;
    refused(&server, &team, &format!("/v1/executions/{bt}/equity")).await;
    let stats = get(
        &server,
        &team,
        &format!("/v1/executions/{bt}/results?format=csv"),
    )
    .await;
    assert_eq!(stats.status(), StatusCode::OK);
    let types: Vec<_> = stats.headers().get_all("content-type").iter().collect();
    assert_eq!(types, ["text/csv; charset=utf-8"], "one content type");
    assert!(stats.text().await.unwrap().contains("Sharpe Ratio"));
    let summary = server
        .get_json(&format!("/v1/executions/{bt}/summary"), &team)
        .await;
    assert!(summary["summary"].is_object(), "{summary}");

    // The log: the workspace's own refusals, who asked, which provider.
    let log = server.get_json("/v1/rights/log", &team).await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 7, "{log:#}");
    let id = token_id(&team);
    for e in items {
        assert_eq!(e["action"], "export.refused");
        assert_eq!(e["provider"], "acme");
        assert_eq!(e["workspace"], "team");
        assert_eq!(e["actor"], format!("token {id}"));
    }
    assert_eq!(items[0]["detail"], "equity as json");
    assert_eq!(items[0]["execution"], bt.as_str());
    // Another workspace sees none of it; an operator sees everything.
    let other = server.token("other").await;
    let none = server.get_json("/v1/rights/log", &other).await;
    assert!(none["items"].as_array().unwrap().is_empty());
    let all = server.get_json("/v1/rights/log?limit=3", &admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert!(all["next"].is_string());
    // The audit trail also knows who created them.
    let actions = server
        .get_json(
            &format!("/v1/rights/log?exports=false&execution={bt}"),
            &team,
        )
        .await;
    let created: Vec<&Value> = actions["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "created")
        .collect();
    assert_eq!(created.len(), 1, "{actions:#}");
    assert_eq!(created[0]["actor"], format!("token {id}"));

    // A provider a pack names cannot go.
    let r = server
        .req(Method::DELETE, "/v1/rights/acme", &admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_watermark_provider_marks_each_export_with_provider_workspace_execution_and_time() {
    let server = Server::start(Setup::default()).await;
    let admin = server.admin_token("ops").await;
    let team = server.token("team").await;
    server.demo_under(&admin, "acme", "watermark").await;
    let scan = server
        .completed(
            &team,
            json!({"kind": "scan", "expr": WITH_LETS, "pack": "demo"}),
        )
        .await;

    let r = get(
        &server,
        &team,
        &format!("/v1/executions/{scan}/results?format=csv"),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["quantd-attribution"], "Data courtesy of ACME");
    let csv = r.text().await.unwrap();
    let mark = csv.lines().next().unwrap();
    assert!(
        mark.starts_with(&format!(
            "# quantd watermark: provider acme; workspace team; execution {scan}; exported 20"
        )),
        "{mark}"
    );
    assert!(mark.ends_with("; Data courtesy of ACME"), "{mark}");
    assert_eq!(csv.lines().nth(1), Some("ticker,date,c,v"));

    let v: Value = get(&server, &team, &format!("/v1/executions/{scan}/results"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["watermark"]["provider"], "acme");
    assert_eq!(v["watermark"]["workspace"], "team");
    assert_eq!(v["watermark"]["execution"], scan.as_str());
    assert!(
        v["watermark"]["exported_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    assert!(v["rows"].as_array().unwrap().len() > 10);

    let pq = get(
        &server,
        &team,
        &format!("/v1/executions/{scan}/results?format=parquet"),
    )
    .await
    .bytes()
    .await
    .unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(pq).unwrap();
    use parquet::file::reader::FileReader;
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let mark = kv
        .iter()
        .find(|k| k.key == "quantd.watermark")
        .expect("watermark");
    let mark: Value = serde_json::from_str(mark.value.as_deref().unwrap()).unwrap();
    assert_eq!(mark["execution"], scan.as_str());
    assert!(kv.iter().any(|k| k.key == "quantd.attribution"));

    let bt = server.completed(&team, backtest()).await;
    for route in ["trades", "equity"] {
        let v = server
            .get_json(&format!("/v1/executions/{bt}/{route}"), &team)
            .await;
        assert_eq!(v["watermark"]["execution"], bt.as_str(), "{route}");
        assert!(v["rows"].is_array(), "{route}");
    }
    // Signals and statistics carry no watermark and log nothing.
    let signals = get(
        &server,
        &team,
        &format!("/v1/executions/{scan}/results?format=csv&columns=signals"),
    )
    .await
    .text()
    .await
    .unwrap();
    assert!(signals.starts_with("ticker,date\n"), "{signals}");

    let log = server.get_json("/v1/rights/log", &team).await;
    let items = log["items"].as_array().unwrap();
    assert_eq!(items.len(), 5, "{log:#}");
    assert!(items.iter().all(|e| e["action"] == "export.watermarked"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_provider_requests_say_what_is_wrong_and_change_nothing() {
    let server = Server::start(Setup::default()).await;
    let admin = server.admin_token("ops").await;
    let r = server
        .req(Method::POST, "/v1/rights/acme", &admin)
        .json(&json!({"export": "sometimes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("unknown variant `sometimes`")
    );
    let r = server
        .req(Method::POST, "/v1/rights/acme", &admin)
        .json(&json!({"attribution": "a\nb"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let r = server
        .req(Method::PUT, "/v1/packs/demo/provider", &admin)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "an empty body changes nothing"
    );
    let r = server
        .req(Method::PUT, "/v1/packs/demo/provider", &admin)
        .json(&json!({"provider": "nobody"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        server
            .get_json("/v1/rights", &admin)
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let pack = server.get_json("/v1/packs/demo", &admin).await;
    assert!(pack["rights"]["provider"].is_null());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removals_are_in_the_audit_trail_with_who_removed_what() {
    let server = Server::start(Setup::default()).await;
    let admin = server.admin_token("ops").await;
    let team = server.token("team").await;
    let r = server
        .req(Method::POST, "/v1/code/dip", &team)
        .json(&json!({"expr": "close < open"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let r = server
        .req(Method::POST, "/v1/rights/acme", &admin)
        .json(&json!({"export": "allow"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    for (path, token) in [("/v1/code/dip", &team), ("/v1/rights/acme", &admin)] {
        let r = server
            .req(Method::DELETE, path, token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT, "{path}");
    }
    let deleted = |log: Value| -> Vec<(String, String)> {
        log["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "deleted")
            .map(|e| {
                (
                    e["actor"].as_str().unwrap().to_string(),
                    e["detail"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let ours = deleted(server.get_json("/v1/rights/log?exports=false", &team).await);
    assert_eq!(
        ours,
        [(format!("token {}", token_id(&team)), "code `dip`".into())]
    );
    let ops = deleted(
        server
            .get_json("/v1/rights/log?exports=false", &admin)
            .await,
    );
    assert!(
        ops.contains(&(
            format!("token {}", token_id(&admin)),
            "provider `acme`".into()
        )),
        "{ops:?}"
    );
    server.stop().await;
}

//! The OpenAPI document: version 3.1, every route of the router in it (and nothing else),
//! every operation with responses, every `$ref` resolving, and every documented route served.

mod common;

use common::{Server, Setup};
use quantd_server::ROUTES;
use serde_json::Value;
use std::collections::BTreeSet;

fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref"
                    && let Some(s) = x.as_str()
                {
                    out.push(s.to_string());
                }
                refs(x, out);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_and_covers_every_route() {
    let server = Server::start(Setup {
        auth: false,
        ..Setup::default()
    })
    .await;
    let r = server
        .http
        .get(server.url("/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let mut documented = BTreeSet::new();
    // OpenAPI requires unique operationIds: clients name methods after them and links resolve by them.
    let mut operation_ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if !["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let responses = op["responses"].as_object().expect("responses");
            assert!(!responses.is_empty(), "{method} {path} has no responses");
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path}"));
            assert!(
                operation_ids.insert(id.to_string()),
                "{method} {path}: operationId `{id}` is used twice"
            );
            // Every path parameter is declared.
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                let declared = op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == name && p["in"] == "path"));
                assert!(declared, "{method} {path}: path parameter {name}");
            }
            documented.insert((method.clone(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed, "documented operations = routes");
    // A run that did not complete answers `"result": null` (schemathesis found it declared an object).
    assert_eq!(
        doc["components"]["schemas"]["Executed"]["properties"]["result"]["type"],
        serde_json::json!(["object", "null"])
    );
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .expect("local schema refs");
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling {r}"
        );
    }
    // Every route is served (not the no-route fallback, not 405).
    for (m, p) in ROUTES {
        let path = p
            .replace("{id}", "ex_01m87cqhkmc5yb8xjj7b05hexr")
            .replace("{name}", "demo")
            .replace("{version}", "1");
        let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
        let r = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            server.http.request(method, server.url(&path)).send(),
        )
        .await
        .unwrap()
        .unwrap();
        assert_ne!(r.status(), 405, "{m} {p}");
        // (A 204 has no body and no content type.)
        if r.headers()
            .get("content-type")
            .is_some_and(|t| t == "application/problem+json")
        {
            let v: Value = r.json().await.unwrap();
            assert_ne!(v["type"], "urn:quantd:problem:no-route", "{m} {p}");
        }
    }
    server.stop().await;
}

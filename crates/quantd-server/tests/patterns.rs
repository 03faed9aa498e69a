//! Patterns as stored code over the API: `POST /v1/code/{name}` and `/v1/validate` with
//! `{"pattern": …}` store a checked document or answer 422 with every problem's JSON path.

mod common;

use common::{Server, Setup};
use reqwest::Method;
use serde_json::{Value, json};

fn routine() -> Value {
    json!({
        "inputs": {"pack": {"type": "string", "default": "demo"}},
        "steps": [
            {"id": "scan", "kind": "scan", "expr": "rsi(close, 14) < 30", "pack": "{{ inputs.pack }}"},
            {"id": "bt", "kind": "backtest", "strategy": {"entry": "close > sma(close, 10)", "exit": "close < sma(close, 10)"},
             "tickers": "{{ state.scan.outputs.tickers }}"}
        ]
    })
}

#[tokio::test]
async fn patterns_are_stored_as_checked_code() {
    let s = Server::start(Setup::default()).await;
    let t = s.token("a").await;
    let r = s
        .req(Method::POST, "/v1/code/routine", &t)
        .json(&json!({"pattern": routine()}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["version"]["language"], "pattern");
    assert_eq!(
        v["version"]["params"],
        json!(["pack"]),
        "a pattern's parameters are its inputs"
    );
    let again = s
        .req(Method::POST, "/v1/code/routine", &t)
        .json(&json!({"pattern": routine()}))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 200, "the same document is the same version");

    let mut broken = routine();
    broken["steps"][0]["needs"] = json!(["bt"]);
    broken["steps"][1]["tickers"] = json!("{{ state.scna.outputs.tickers }}");
    let r = s
        .req(Method::POST, "/v1/validate", &t)
        .json(&json!({"pattern": broken}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "urn:quantd:problem:invalid-code");
    assert_eq!(p["errors"][0]["path"], "steps[1].tickers");
    assert_eq!(p["errors"][0]["help"], "did you mean `scan`?");

    broken["steps"][1]["tickers"] = json!("{{ state.scan.outputs.tickers }}");
    let r = s
        .req(Method::POST, "/v1/code/loop", &t)
        .json(&json!({"pattern": broken}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let p: Value = r.json().await.unwrap();
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("cycle: scan → bt → scan"),
        "{p}"
    );
    let schema = s.get_json("/v1/schemas/pattern.json", &t).await;
    assert_eq!(
        schema["$defs"]["step"]["properties"]["kind"]["enum"],
        json!(["scan", "test", "backtest", "sweep", "run"])
    );
    let r = s
        .req(Method::POST, "/v1/code/two", &t)
        .json(&json!({"pattern": routine(), "expr": "close > 1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

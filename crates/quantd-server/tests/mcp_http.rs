//! `/mcp` at the HTTP level: what reaches it without a valid token, from another host, with a
//! body too large or not JSON-RPC at all — refused with the right status, and the server keeps
//! serving (the tools themselves are tested end to end in the quantd crate's `mcp` test).

mod common;

use common::{Server, Setup};
use reqwest::Method;
use serde_json::{Value, json};

const ACCEPT: &str = "application/json, text/event-stream";

fn initialize() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "t", "version": "1"}}})
}

fn post(s: &Server, token: &str, body: String) -> reqwest::RequestBuilder {
    s.req(Method::POST, "/mcp", token)
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .body(body)
}

#[tokio::test]
async fn mcp_over_http_refuses_what_it_must_and_keeps_serving() {
    let s = Server::start(Setup::default()).await;
    let token = s.token("a").await;

    // No token, a wrong one: 401 with a problem document and a Bearer challenge.
    let r = s
        .http
        .post(s.url("/mcp"))
        .header("accept", ACCEPT)
        .header("content-type", "application/json")
        .body(initialize().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer realm=\"quantd\"");
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["type"], "urn:quantd:problem:unauthorized");
    let r = post(&s, "qdt_0123456789abcdef_00", initialize().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A Host that is not this machine (DNS rebinding): 403, even with a token.
    let r = post(&s, &token, initialize().to_string())
        .header("host", "evil.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // Over the body limit: 413. Not JSON, not JSON-RPC: a 4xx, never a 5xx.
    let big = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"x\":\"{}\"}}}}",
        "x".repeat(100 << 10)
    );
    assert_eq!(post(&s, &token, big).send().await.unwrap().status(), 413);
    for junk in ["{", "[]", "null", "{\"jsonrpc\":\"2.0\"}", "\u{0}\u{1}"] {
        let status = post(&s, &token, junk.to_string())
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_client_error(), "{junk:?} answered {status}");
    }

    // A real session works: initialize answers with a session id and the server's name.
    let r = post(&s, &token, initialize().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("mcp-session-id"));
    let text = r.text().await.unwrap();
    assert!(text.contains("\"name\":\"quantd\""), "{text}");
    assert_eq!(
        s.get_json("/v1/packs", &token).await["items"][0]["name"],
        "demo"
    );
}

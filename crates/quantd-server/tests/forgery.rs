//! Requests another web site could forge are refused, and change nothing: bodies of the
//! CORS-safelisted types on every state-changing route (in every mode), JSON routes that accept
//! only `application/json`, and with `--no-auth` a foreign `Host` (DNS rebinding) or `Origin`.

mod common;

use common::{Server, Setup};
use reqwest::Method;
use serde_json::{Value, json};

const SAFELISTED: [&str; 4] = [
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
];

const CSV: &str = "ticker,date,open,high,low,close,volume\nAAA,2024-01-02,10,11,9,10.5,1000\n";

async fn problem_type(r: reqwest::Response) -> String {
    let v: Value = r.json().await.unwrap();
    v["type"].as_str().unwrap_or_default().to_string()
}

/// Every state-changing route, with a body that would work if it were JSON (or a file).
fn changes(id: &str) -> Vec<(Method, String, String)> {
    let scan = json!({"kind": "run", "script": "print(1)", "name": "csrf", "pack": "demo"});
    vec![
        (Method::POST, "/v1/executions".into(), scan.to_string()),
        (
            Method::POST,
            "/v1/code/csrf".into(),
            json!({"expr": "close > 1"}).to_string(),
        ),
        (
            Method::POST,
            "/v1/validate".into(),
            json!({"expr": "close > 1"}).to_string(),
        ),
        (Method::POST, "/v1/code/kept/rollback".into(), "{}".into()),
        (Method::DELETE, "/v1/code/kept".into(), String::new()),
        (
            Method::POST,
            format!("/v1/executions/{id}/cancel"),
            String::new(),
        ),
        (
            Method::POST,
            format!("/v1/executions/{id}/pause"),
            String::new(),
        ),
        (Method::POST, "/v1/packs?name=evilpack".into(), CSV.into()),
    ]
}

/// What a forged request could have changed.
async fn nothing_changed(s: &Server, token: Option<&str>, id: &str) {
    let get = |path: String| {
        let r = s.http.get(s.url(&path));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
        .send()
    };
    let list: Value = get("/v1/executions".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let ex: Value = get(format!("/v1/executions/{id}"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(ex["state"], "cancelled");
    assert_ne!(ex["state"], "paused");
    assert_eq!(get("/v1/code/csrf".into()).await.unwrap().status(), 404);
    let kept: Value = get("/v1/code/kept".into())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(kept["version"], 2, "{kept}");
    assert_eq!(
        get("/v1/packs/evilpack".into()).await.unwrap().status(),
        404
    );
}

/// A stored code name with two versions and a long execution to forge requests against.
async fn targets(s: &Server, token: Option<&str>) -> String {
    let post = |path: &str, body: Value| {
        let r = s.http.post(s.url(path)).json(&body);
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
        .send()
    };
    for expr in ["close > 1", "close > 2"] {
        let r = post("/v1/code/kept", json!({ "expr": expr }))
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let r = post(
        "/v1/executions",
        json!({"kind": "scan", "expr": "close > 1", "pack": "demo"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    v["execution"]["id"].as_str().unwrap().to_string()
}

fn slow() -> Setup {
    Setup {
        shard_delay: std::time::Duration::from_millis(300),
        shard_bars: 600,
        ..Setup::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_safelisted_bodies_are_refused_on_every_state_changing_route_in_every_mode() {
    for auth in [true, false] {
        let s = Server::start(Setup { auth, ..slow() }).await;
        let token = if auth {
            Some(s.admin_token("ops").await)
        } else {
            None
        };
        let id = targets(&s, token.as_deref()).await;
        for (method, path, body) in changes(&id) {
            for ct in SAFELISTED {
                let mut r = s
                    .http
                    .request(method.clone(), s.url(&path))
                    .header("content-type", ct)
                    .body(body.clone());
                if let Some(t) = &token {
                    r = r.bearer_auth(t);
                }
                let r = r.send().await.unwrap();
                assert_eq!(r.status(), 415, "{method} {path} as {ct} (auth: {auth})");
                assert_eq!(
                    problem_type(r).await,
                    "urn:quantd:problem:unsupported-media-type"
                );
            }
        }
        nothing_changed(&s, token.as_deref(), &id).await;
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_routes_accept_only_application_json_and_uploads_only_file_types() {
    let s = Server::start(Setup::default()).await;
    let t = s.admin_token("ops").await;
    let body = json!({"kind": "scan", "expr": "close > 1", "pack": "demo"}).to_string();
    let send = |ct: Option<&str>, path: &str, body: String| {
        let mut r = s.req(Method::POST, path, &t).body(body);
        if let Some(ct) = ct {
            r = r.header("content-type", ct);
        }
        r.send()
    };
    for ct in [
        None,
        Some("application/json; charset=latin1"),
        Some("application/xml"),
        Some("text/json"),
    ] {
        for path in ["/v1/executions", "/v1/validate", "/v1/code/x"] {
            let r = send(ct, path, body.clone()).await.unwrap();
            assert_eq!(r.status(), 415, "{path} as {ct:?}");
            let p: Value = r.json().await.unwrap();
            assert!(
                p["detail"].as_str().unwrap().contains("application/json"),
                "{p}"
            );
        }
        let r = send(ct, "/v1/packs?name=typed", CSV.into()).await.unwrap();
        assert_eq!(r.status(), 415, "upload as {ct:?}");
    }
    let list = s.get_json("/v1/executions", &t).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert!(!s.data_dir().join("uploads").exists() || uploads_empty(&s));
    for ct in ["application/json", "application/json; charset=utf-8"] {
        let r = send(Some(ct), "/v1/executions", body.clone())
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{ct}");
    }
    for (i, ct) in [
        "text/csv",
        "application/octet-stream",
        "application/vnd.apache.parquet",
    ]
    .into_iter()
    .enumerate()
    {
        let format = if ct.ends_with("parquet") {
            "parquet"
        } else {
            "csv"
        };
        let body = if format == "csv" {
            CSV.into()
        } else {
            "PAR1".into()
        };
        let r = send(
            Some(ct),
            &format!("/v1/packs?name=typed{i}&format={format}"),
            body,
        )
        .await
        .unwrap();
        assert_ne!(r.status(), 415, "upload as {ct}");
    }
    // Requests without a body need no type.
    let r = s
        .req(Method::POST, "/v1/code/x/rollback", &t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

fn uploads_empty(s: &Server) -> bool {
    std::fs::read_dir(s.data_dir().join("uploads"))
        .unwrap()
        .next()
        .is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_answers_only_its_own_loopback_origin() {
    let s = Server::start(Setup {
        auth: false,
        ..slow()
    })
    .await;
    let id = targets(&s, None).await;
    let port = s.base.rsplit(':').next().unwrap().to_string();
    // The review's reproduction: a cross-site "simple" POST starting a Python run.
    let r = s
        .http
        .post(s.url("/v1/executions"))
        .header("origin", "https://evil.example")
        .header("content-type", "text/plain;charset=UTF-8")
        .header("host", format!("evil.example:{port}"))
        .body(r#"{"kind":"run","script":"print(\"pwned-by-csrf\")","name":"csrf","pack":"demo"}"#)
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 403 | 415), "{}", r.status());
    let own = format!("http://127.0.0.1:{port}");
    let refused: Vec<(&str, String, String)> = vec![
        ("origin", "https://evil.example".into(), String::new()),
        ("origin", "null".into(), String::new()),
        (
            "origin",
            format!("http://127.0.0.1:{}", port.parse::<u16>().unwrap() + 1),
            String::new(),
        ),
        (
            "origin",
            format!("http://evil.example:{port}"),
            String::new(),
        ),
        ("host", format!("evil.example:{port}"), String::new()),
        ("host", format!("127.0.0.1.nip.io:{port}"), String::new()),
        ("host", "127.0.0.1:1".into(), String::new()),
    ];
    for (name, value, _) in &refused {
        let json = json!({"kind": "scan", "expr": "close > 1", "pack": "demo"});
        for (method, path) in [
            (Method::POST, "/v1/executions".to_string()),
            (Method::POST, format!("/v1/executions/{id}/cancel")),
            (Method::GET, "/v1/executions".to_string()),
            (Method::GET, format!("/v1/executions/{id}/events")),
        ] {
            let r = s
                .http
                .request(method.clone(), s.url(&path))
                .header(*name, value)
                .json(&json)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{method} {path} with {name}: {value}");
            let p: Value = r.json().await.unwrap();
            assert_eq!(p["type"], "urn:quantd:problem:forbidden");
            assert!(p["detail"].as_str().unwrap().contains("--no-auth"), "{p}");
        }
    }
    nothing_changed(&s, None, &id).await;
    // A WebSocket opened by another site is refused before the upgrade.
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://127.0.0.1:{port}/v1/executions/{id}/ws")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let e = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
    // The server's own pages and local tools still work.
    for (name, value) in [
        ("origin", own.clone()),
        ("host", format!("localhost:{port}")),
        ("host", format!("[::1]:{port}")),
    ] {
        let r = s
            .http
            .post(s.url("/v1/validate"))
            .header(name, &value)
            .json(&json!({"expr": "close > 1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}: {value}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_auth_refuses_to_serve_a_non_loopback_address() {
    use quantd_server::{ServerError, ServerOptions, check_bind};
    let no_auth = ServerOptions {
        auth: false,
        ..ServerOptions::default()
    };
    for addr in ["0.0.0.0:8000", "[::]:8000", "192.168.1.10:8000"] {
        let addr = addr.parse().unwrap();
        let e = check_bind(addr, &no_auth).unwrap_err();
        assert!(matches!(e, ServerError::NoAuthNotLoopback(_)));
        assert!(e.to_string().contains("127.0.0.1"), "{e}");
        assert!(check_bind(addr, &ServerOptions::default()).is_ok());
    }
    for addr in ["127.0.0.1:8000", "[::1]:8000"] {
        assert!(check_bind(addr.parse().unwrap(), &no_auth).is_ok());
    }
    // `run` itself refuses, whoever bound the listener.
    let dir = tempfile::tempdir().unwrap();
    let packs = quantd_engine::Packs::open(quantd_engine::DataDir::new(dir.path()))
        .await
        .unwrap();
    let engine = quantd_engine::exec::Engine::new(packs, Default::default())
        .await
        .unwrap();
    let state = quantd_server::AppState::new(std::sync::Arc::new(engine), no_auth);
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let served = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        quantd_server::run(listener, state, std::future::pending()),
    )
    .await
    .expect("refused at once");
    assert!(matches!(served, Err(ServerError::NoAuthNotLoopback(_))));
}

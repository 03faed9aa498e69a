//! Test harness: a real server on 127.0.0.1:0 over a temporary data directory with a synthetic
//! pack, a real HTTP client, and helpers to read SSE streams.
#![allow(dead_code)]

use futures::StreamExt;
use quantd_core::{ErrorClass, ExecutionId, NoProgress};
use quantd_data::SynthSpec;
use quantd_engine::exec::{Engine, EngineOptions, FaultHook};
use quantd_engine::{DataDir, Packs};
use quantd_server::{AppState, ServerOptions};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A running server.
pub struct Server {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The server's state (engine, store).
    pub state: AppState,
    /// The client.
    pub http: reqwest::Client,
    /// `http://127.0.0.1:PORT` of the metrics listener, when [`Setup::metrics_listener`].
    pub metrics_base: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// How a test server is set up.
pub struct Setup {
    /// Require tokens.
    pub auth: bool,
    /// Delay before each shard runs (slows executions down so streams can be cut mid-way).
    pub shard_delay: Duration,
    /// Bars per scan shard (small = many shards).
    pub shard_bars: u64,
    /// Body limit.
    pub body_limit: usize,
    /// How long an upload waits for its import before answering 202.
    pub upload_wait: Duration,
    /// A failure injected into every shard attempt (after `shard_delay`).
    pub fault: Option<Arc<FaultHook>>,
    /// Serve `/metrics` on a second listener too.
    pub metrics_listener: bool,
    /// Changes to the server's options after the ones above.
    pub tune: fn(&mut ServerOptions),
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            auth: true,
            shard_delay: Duration::ZERO,
            shard_bars: 2_000,
            body_limit: 64 << 10,
            upload_wait: Duration::from_secs(2),
            fault: None,
            metrics_listener: false,
            tune: |_| {},
        }
    }
}

impl Server {
    /// Starts a server with a 30-ticker synthetic pack named `demo`.
    pub async fn start(setup: Setup) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let packs = Packs::open(DataDir::new(dir.path())).await.unwrap();
        packs
            .synth(
                "demo",
                SynthSpec {
                    tickers: 30,
                    days: 300,
                    seed: 7,
                    start: "2020-01-02".parse().unwrap(),
                    interval: Default::default(),
                },
                Arc::new(NoProgress),
            )
            .await
            .unwrap();
        let options = EngineOptions {
            scan_shard_bars: setup.shard_bars,
            health_every_ms: 3_600_000,
            ..EngineOptions::default()
        };
        let mut engine = Engine::new(packs, options).await.unwrap();
        if !setup.shard_delay.is_zero() || setup.fault.is_some() {
            let delay = setup.shard_delay;
            let fault = setup.fault.clone();
            engine = engine.with_fault(Arc::new(
                move |id: &ExecutionId, shard: u32, attempt: u32| -> Option<(ErrorClass, String)> {
                    std::thread::sleep(delay);
                    fault.as_ref().and_then(|f| f(id, shard, attempt))
                },
            ));
        }
        let mut options = ServerOptions {
            auth: setup.auth,
            body_limit: setup.body_limit,
            upload_limit: 1 << 20,
            upload_budget: 2 << 20,
            keep_alive: Duration::from_secs(1),
            workers: 2,
            health_every: Duration::from_secs(3600),
            shutdown_grace: Duration::from_secs(5),
            upload_wait: setup.upload_wait,
            ..ServerOptions::default()
        };
        (setup.tune)(&mut options);
        let state = AppState::new(Arc::new(engine), options);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let metrics = if setup.metrics_listener {
            Some(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap())
        } else {
            None
        };
        let metrics_base = metrics
            .as_ref()
            .map(|l| format!("http://{}", l.local_addr().unwrap()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let task = tokio::spawn(async move {
            quantd_server::run_with_metrics(listener, metrics, st, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Server {
            base,
            state,
            metrics_base,
            http: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// A token for `workspace`.
    pub async fn token(&self, workspace: &str) -> String {
        self.state
            .engine()
            .tokens()
            .create(workspace, None, false)
            .await
            .unwrap()
            .token
    }

    /// An admin token (may upload packs) for `workspace`.
    pub async fn admin_token(&self, workspace: &str) -> String {
        self.state
            .engine()
            .tokens()
            .create(workspace, None, true)
            .await
            .unwrap()
            .token
    }

    /// The store as another process on the same data directory sees it (`quantd tokens
    /// revoke`, `quantd cancel`): its own connections, nothing shared with the server.
    pub async fn other_process_store(&self) -> quantd_store::SqliteStore {
        quantd_store::SqliteStore::open(self.data_dir())
            .await
            .unwrap()
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// `base + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with a bearer token.
    pub fn req(&self, method: reqwest::Method, path: &str, token: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path)).bearer_auth(token)
    }

    /// `GET path` with a token, parsed as JSON (whatever the status).
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        self.req(reqwest::Method::GET, path, token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Submits a scan and returns its id.
    pub async fn submit_scan(&self, token: &str) -> String {
        let r = self
            .req(reqwest::Method::POST, "/v1/executions", token)
            .json(&serde_json::json!({"kind": "scan", "expr": "close > sma(close, 10)", "pack": "demo"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{:?}", r.text().await);
        let v: Value = r.json().await.unwrap();
        v["execution"]["id"].as_str().unwrap().to_string()
    }

    /// Registers provider `name` with export policy `policy` (with an admin token) and makes
    /// pack `demo` name it.
    pub async fn demo_under(&self, admin: &str, name: &str, policy: &str) {
        let r = self
            .req(reqwest::Method::POST, &format!("/v1/rights/{name}"), admin)
            .json(&serde_json::json!({"export": policy, "license": "vendor EULA", "attribution": "Data courtesy of ACME"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{:?}", r.text().await);
        let r = self
            .req(reqwest::Method::PUT, "/v1/packs/demo/provider", admin)
            .json(&serde_json::json!({"provider": name}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{:?}", r.text().await);
    }

    /// Submits `body` in the token's workspace and waits until it completed; its id.
    pub async fn completed(&self, token: &str, body: Value) -> String {
        let r = self
            .req(reqwest::Method::POST, "/v1/executions", token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "{:?}", r.text().await);
        let v: Value = r.json().await.unwrap();
        let id = v["execution"]["id"].as_str().unwrap().to_string();
        assert_eq!(self.wait_done(token, &id).await["state"], "completed");
        id
    }

    /// Waits until the execution has ended.
    pub async fn wait_done(&self, token: &str, id: &str) -> Value {
        for _ in 0..600 {
            let v = self.get_json(&format!("/v1/executions/{id}"), token).await;
            if matches!(
                v["state"].as_str(),
                Some("completed" | "failed" | "cancelled")
            ) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("execution {id} did not finish");
    }

    /// Every stored event of an execution, in order.
    /// Waits until execution `id` has an event stored after sequence number `last` (one that
    /// happened while a client was disconnected).
    pub async fn await_event_after(&self, id: &str, last: u64) {
        let mut live = self.state.engine().subscribe();
        while !self.stored_events(id).await.iter().any(|&seq| seq > last) {
            live.recv().await.expect("the engine's events go on");
        }
    }

    pub async fn stored_events(&self, id: &str) -> Vec<u64> {
        use quantd_store::prelude::*;
        let id: ExecutionId = id.parse().unwrap();
        self.state
            .engine()
            .store()
            .events_after(&id, 0, u32::MAX)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.seq)
            .collect()
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(20), t)
                .await
                .expect("graceful shutdown")
                .unwrap();
        }
    }
}

/// The public id of a token (`qdt_<id>_<secret>`).
pub fn token_id(token: &str) -> &str {
    token
        .strip_prefix("qdt_")
        .and_then(|t| t.split('_').next())
        .unwrap()
}

/// One SSE message.
#[derive(Debug, Clone, PartialEq)]
pub struct SseMsg {
    /// `id:`.
    pub id: Option<String>,
    /// `event:`.
    pub event: Option<String>,
    /// `data:`.
    pub data: String,
}

/// Reads SSE messages from a response, calling `each` until it returns false or the stream ends.
pub async fn read_sse(resp: reqwest::Response, mut each: impl FnMut(SseMsg) -> bool) {
    let mut body = resp.bytes_stream();
    let mut buf = String::new();
    while let Some(chunk) = body.next().await {
        buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut msg = SseMsg {
                id: None,
                event: None,
                data: String::new(),
            };
            let mut any = false;
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    msg.id = Some(v.trim().to_string());
                    any = true;
                } else if let Some(v) = line.strip_prefix("event:") {
                    msg.event = Some(v.trim().to_string());
                    any = true;
                } else if let Some(v) = line.strip_prefix("data:") {
                    msg.data.push_str(v.trim_start());
                    any = true;
                }
            }
            if any && !each(msg) {
                return;
            }
        }
    }
}

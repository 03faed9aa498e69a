//! The MCP server in process, with rmcp's client over a duplex transport: the tasks extension
//! (a task ends with its execution; cancelling the task cancels the execution), resources, a
//! warming pack's "when it will be ready", rollbacks through `list_code`, and cursors.

use quantd_core::{NoProgress, PackId};
use quantd_engine::data::SynthSpec;
use quantd_engine::exec::pool::{Pool, PoolOptions, Running};
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_engine::{DataDir, Packs};
use quantd_mcp::{Ops, QuantdMcp};
use quantd_store::PackCatalog;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, ClientCapabilities, ClientConfig,
    GetTaskParams, Implementation, ReadResourceRequestParams, TaskPayload, TaskStatus,
};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

struct Setup {
    engine: Arc<Engine>,
    _dir: tempfile::TempDir,
}

async fn engine() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let packs = Packs::open(DataDir::new(dir.path())).await.unwrap();
    let spec = SynthSpec {
        tickers: 12,
        days: 200,
        seed: 5,
        start: "2024-01-02".parse().unwrap(),
        interval: Default::default(),
    };
    packs.synth("u", spec, Arc::new(NoProgress)).await.unwrap();
    let engine = Arc::new(Engine::new(packs, EngineOptions::default()).await.unwrap());
    Setup { engine, _dir: dir }
}

/// A client connected to `server` in process; `tasks` declares the tasks extension.
async fn connect(server: QuantdMcp, tasks: bool) -> RunningService<RoleClient, ClientConfig> {
    let (s, c) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(s).await {
            let _ = running.waiting().await;
        }
    });
    let caps = if tasks {
        ClientCapabilities::builder().enable_tasks().build()
    } else {
        ClientCapabilities::default()
    };
    ClientConfig::new(caps, Implementation::new("test", "1"))
        .serve(c)
        .await
        .unwrap()
}

fn params(tool: &str, args: Value) -> CallToolRequestParams {
    CallToolRequestParams::new(tool.to_string()).with_arguments(args.as_object().unwrap().clone())
}

async fn call(
    client: &RunningService<RoleClient, ClientConfig>,
    tool: &str,
    args: Value,
) -> (Value, bool) {
    let r = client.call_tool(params(tool, args)).await.unwrap();
    (r.structured_content.unwrap(), r.is_error == Some(true))
}

/// A running worker pool over `s`'s engine and a client of an MCP server using it in workspace
/// `default` (`tasks`: the client declares the tasks extension).
async fn served(
    s: &Setup,
    tasks: bool,
) -> (Arc<Pool>, Running, RunningService<RoleClient, ClientConfig>) {
    let pool = Pool::new(s.engine.clone(), PoolOptions::default());
    let running = pool.start();
    let server = QuantdMcp::new(
        Ops::new(s.engine.clone(), Some(pool.clone())),
        Some("default".into()),
    );
    (pool, running, connect(server, tasks).await)
}

/// Polls a task until it leaves `working` (tasks are polled by design; `poll_interval_ms` paces it).
async fn settle(
    client: &RunningService<RoleClient, ClientConfig>,
    id: &str,
) -> rmcp::model::DetailedTask {
    for _ in 0..600 {
        let t = client.get_task(GetTaskParams::new(id)).await.unwrap().task;
        if t.task.status != TaskStatus::Working {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {id} still working after 30 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_ends_with_its_execution() {
    let s = engine().await;
    let (pool, running, client) = served(&s, true).await;
    let out = client
        .call_tool_once(params(
            "start_execution",
            json!({"kind": "scan", "expr": "rsi(close, 14) < 40", "pack": "u"}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Task(created) = out else {
        panic!("a client that declares tasks gets a task: {out:?}")
    };
    let done = settle(&client, &created.task.task_id).await;
    assert_eq!(done.task.status, TaskStatus::Completed);
    let TaskPayload::Completed { result } = done.payload else {
        panic!("a result")
    };
    assert_eq!(
        result["structuredContent"]["execution"]["state"], "completed",
        "{result:?}"
    );

    // A request the engine refuses is a tool error at once, not a task.
    let out = client
        .call_tool_once(params(
            "start_execution",
            json!({"kind": "scan", "expr": "clos > 1", "pack": "u"}),
        ))
        .await
        .unwrap();
    let CallToolResponse::Complete(r) = out else {
        panic!("refused at once: {out:?}")
    };
    assert_eq!(r.is_error, Some(true));
    assert_eq!(
        r.structured_content.unwrap()["error"]["type"],
        "invalid-code"
    );
    pool.drain();
    running.join(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_a_task_cancels_its_execution() {
    let s = engine().await;
    // No workers: the execution waits in the queue until the task is cancelled.
    let server = QuantdMcp::new(Ops::new(s.engine.clone(), None), Some("default".into()));
    let client = connect(server, true).await;
    let CallToolResponse::Task(created) = client
        .call_tool_once(params(
            "start_execution",
            json!({"kind": "scan", "expr": "close > 0", "pack": "u"}),
        ))
        .await
        .unwrap()
    else {
        panic!("a task")
    };
    client
        .cancel_task(CancelTaskParams::new(created.task.task_id.clone()))
        .await
        .unwrap();
    let done = settle(&client, &created.task.task_id).await;
    assert_eq!(done.task.status, TaskStatus::Cancelled);
    let filter = quantd_engine::records::ExecutionFilter {
        workspace: Some("default".into()),
        limit: 1,
        ..Default::default()
    };
    let rec = s
        .engine
        .records()
        .list(&filter)
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!(rec.state.to_string(), "cancelled");
}

#[tokio::test]
async fn resources_warming_packs_rollbacks_and_cursors() {
    let s = engine().await;
    let server = QuantdMcp::new(Ops::new(s.engine.clone(), None), Some("default".into()));
    let client = connect(server, false).await;

    // The guides, as resources.
    let listed = client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = listed.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        [
            "quantd://docs/expressions",
            "quantd://docs/python",
            "quantd://docs/backtesting",
            "quantd://docs/patterns",
            "quantd://schemas/pattern"
        ]
    );
    let schema = client
        .read_resource(ReadResourceRequestParams::new("quantd://schemas/pattern"))
        .await
        .unwrap();
    let schema = serde_json::to_value(&schema.contents[0]).unwrap();
    assert_eq!(schema["mimeType"], "application/schema+json");
    let parsed: Value = serde_json::from_str(schema["text"].as_str().unwrap()).unwrap();
    assert_eq!(parsed["required"], json!(["steps"]));
    let doc = client
        .read_resource(ReadResourceRequestParams::new("quantd://docs/expressions"))
        .await
        .unwrap();
    let text = serde_json::to_value(&doc.contents[0]).unwrap();
    assert!(
        text["text"]
            .as_str()
            .unwrap()
            .contains("let trend = sma(close, 200);")
    );
    let missing = client
        .read_resource(ReadResourceRequestParams::new("quantd://docs/nope"))
        .await
        .unwrap_err()
        .to_string();
    assert!(missing.contains("quantd://docs/expressions"), "{missing}");

    // A warming pack says when it will be ready.
    let demo = s.engine.store().find_packs("u").await.unwrap().remove(0);
    let ready = chrono::Utc::now() + chrono::Duration::seconds(30);
    s.engine
        .store()
        .begin_import(&quantd_store::NewPack {
            name: "incoming".into(),
            id: PackId::from_digest([9; 32]),
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
    let (v, error) = call(
        &client,
        "start_execution",
        json!({"kind": "scan", "expr": "close > 1", "pack": "incoming"}),
    )
    .await;
    assert!(error);
    assert_eq!(v["error"]["type"], "pack-warming", "{v}");
    let wait = v["error"]["retry_after_seconds"].as_i64().unwrap();
    assert!((1..=30).contains(&wait), "{v}");
    assert!(v["error"]["estimated_ready"].is_string());

    // Deploy twice, roll back to version 1 through list_code.
    for expr in ["close > 1", "close > 2"] {
        call(&client, "deploy_code", json!({"name": "up", "expr": expr})).await;
    }
    let v = call(&client, "list_code", json!({"name": "up"})).await.0;
    assert_eq!(
        (
            v["current"].clone(),
            v["versions"].as_array().unwrap().len()
        ),
        (json!(2), 2)
    );
    let v = call(
        &client,
        "list_code",
        json!({"name": "up", "rollback_to": 1}),
    )
    .await
    .0;
    assert_eq!(v["current"], 1);
    let (v, error) = call(&client, "list_code", json!({"rollback_to": 1})).await;
    assert!(
        error
            && v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("needs the `name`"),
        "{v}"
    );

    // Cursors: a foreign one is refused with what to send.
    let started = call(
        &client,
        "start_execution",
        json!({"kind": "scan", "expr": "close > 0", "pack": "u"}),
    )
    .await
    .0;
    let id = started["execution"]["id"].clone();
    let (v, error) = call(
        &client,
        "get_results",
        json!({"id": id, "cursor": "page-2"}),
    )
    .await;
    assert!(
        error
            && v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`next` of the previous page"),
        "{v}"
    );
    let (v, error) = call(&client, "list_executions", json!({"state": "sleeping"})).await;
    assert!(
        error
            && v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("use pending, running"),
        "{v}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_results_keeps_to_the_data_rights() {
    let s = engine().await;
    let (pool, running, client) = served(&s, false).await;
    let acme = |export| quantd_core::Provider {
        name: "acme".into(),
        license: None,
        attribution: Some("Data courtesy of ACME".into()),
        export,
        environments: vec![],
    };
    s.engine
        .put_provider(&acme(quantd_core::ExportPolicy::Deny))
        .await
        .unwrap();
    s.engine.assign_provider("u", Some("acme")).await.unwrap();
    let (started, err) = call(
        &client,
        "start_execution",
        json!({"kind": "scan", "expr": "let c = close; close > 0", "pack": "u", "wait_seconds": 60}),
    )
    .await;
    assert!(!err, "{started}");
    let id = started["execution"]["id"].clone();

    // Derived columns: a `policy` tool error naming the provider and the way to the signals.
    let (r, err) = call(&client, "get_results", json!({"id": id})).await;
    assert!(err, "{r}");
    assert_eq!(r["error"]["type"], "policy");
    assert_eq!(r["error"]["provider"], "acme");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("signals_only: true"),
        "{r}"
    );
    let (page, err) = call(
        &client,
        "get_results",
        json!({"id": id, "signals_only": true, "limit": 5}),
    )
    .await;
    assert!(!err, "{page}");
    assert_eq!(page["columns"], json!(["ticker", "date"]));
    assert_eq!(page["attribution"], "Data courtesy of ACME");
    assert!(page.get("watermark").is_none());

    // Watermark: the page carries it.
    s.engine
        .put_provider(&acme(quantd_core::ExportPolicy::Watermark))
        .await
        .unwrap();
    let (page, err) = call(&client, "get_results", json!({"id": id, "limit": 5})).await;
    assert!(!err, "{page}");
    assert_eq!(page["columns"], json!(["ticker", "date", "c"]));
    assert_eq!(page["watermark"]["provider"], "acme");
    assert_eq!(page["watermark"]["execution"], id);
    assert_eq!(page["watermark"]["actor"], "mcp stdio");

    let log = s
        .engine
        .audit(
            &quantd_engine::records::AuditFilter {
                exports_only: true,
                ..Default::default()
            },
            &quantd_engine::records::Page::all(),
        )
        .await
        .unwrap();
    let actions: Vec<&str> = log.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["export.watermarked", "export.refused"]);
    pool.drain();
    running.join(Duration::from_secs(5)).await;
}

//! MCP end to end, with rmcp's own client, over stdio (`quantd mcp`) and over streamable HTTP
//! (`quantd serve`, `/mcp` with bearer tokens): what an agent does — validate a broken
//! expression and read its column, fix and deploy it, scan the market with progress
//! notifications, page through the results, A+ test the scanner on names it fired on, pause,
//! resume and cancel a sweep, and get "not found" for another workspace's execution.

mod common;

use common::{KillOnDrop, json, ok, quantd, synth_u};
use rmcp::model::{
    CallToolRequestParams, ClientRequest, ProgressNotificationParam, Request, ServerResult,
};
use rmcp::service::{NotificationContext, PeerRequestOptions, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, mpsc};

/// The sweep's failure point: its shards stop there, so it is still running while the test
/// pauses, resumes and cancels it.
const SWEEP_HOLD: &str = "sweep-shard";

/// A client that records every progress notification.
#[derive(Clone, Default)]
struct Agent {
    progress: Arc<Mutex<Vec<ProgressNotificationParam>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl ClientHandler for Agent {
    async fn on_progress(&self, p: ProgressNotificationParam, _c: NotificationContext<RoleClient>) {
        self.progress.lock().unwrap().push(p);
        self.arrived.notify_waiters();
    }
}

type Client = RunningService<RoleClient, Agent>;

/// A tool call's structured content and whether it was an error.
async fn call(client: &Client, tool: &str, args: Value) -> (Value, bool) {
    let params = CallToolRequestParams::new(tool.to_string())
        .with_arguments(args.as_object().expect("arguments are an object").clone());
    let r = client.call_tool(params).await.expect("a tool result");
    (
        r.structured_content.expect("structured content"),
        r.is_error == Some(true),
    )
}

/// A successful call's structured content.
async fn must(client: &Client, tool: &str, args: Value) -> Value {
    let (v, error) = call(client, tool, args.clone()).await;
    assert!(!error, "{tool} {args} failed: {v}");
    v
}

/// Lines of a process's stderr, read on a thread.
fn lines_of(stderr: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    rx
}

/// Waits for the line that says the sweep reached its hold point.
fn await_hold(stderr: &mpsc::Receiver<String>) {
    loop {
        let line = stderr
            .recv()
            .expect("the server reaches the sweep's hold point");
        if line.contains(&format!("failpoint {SWEEP_HOLD} reached")) {
            return;
        }
    }
}

fn data_dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    synth_u(d.path(), 120, 400);
    d
}

/// Everything an agent does, on one connected client; `stderr` are the server's log lines
/// and `other` a client of another workspace on the same server.
async fn agent_session(
    client: &Client,
    agent: &Agent,
    other: &Client,
    stderr: &mpsc::Receiver<String>,
) {
    let tools = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(
        names,
        [
            "validate_code",
            "deploy_code",
            "list_code",
            "start_execution",
            "check_lookahead",
            "evaluate_code",
            "get_execution",
            "list_executions",
            "control_execution",
            "get_results",
            "get_orders",
            "list_packs"
        ]
    );
    assert!(
        tools
            .iter()
            .all(|t| t.output_schema.is_some() && t.description.is_some())
    );

    // Validate a broken expression: a tool error with line, column and help.
    let broken = "let r = rsi(close, 14);\nr < 40 and clos > 1";
    let (v, error) = call(client, "validate_code", json!({"expr": broken})).await;
    assert!(error, "{v}");
    assert_eq!(v["valid"], false);
    assert_eq!(v["errors"][0]["line"], 2);
    assert_eq!(v["errors"][0]["column"], 12);
    assert_eq!(v["errors"][0]["help"], "did you mean `close`?");

    // Fix it, validate, deploy; deploying it again changes nothing.
    let fixed = broken.replace("clos ", "close ");
    let v = must(client, "validate_code", json!({"expr": fixed})).await;
    assert_eq!(v["valid"], true);
    let v = must(client, "deploy_code", json!({"name": "dip", "expr": fixed})).await;
    assert_eq!(
        (v["version"]["version"].clone(), v["unchanged"].clone()),
        (json!(1), json!(false))
    );
    let again = must(client, "deploy_code", json!({"name": "dip", "expr": fixed})).await;
    assert_eq!(again["version"]["id"], v["version"]["id"]);
    assert_eq!(again["unchanged"], true);
    let listed = must(client, "list_code", json!({})).await;
    assert_eq!(listed["names"][0]["name"], "dip");

    // The deployed scanner checked for look-ahead: clean, with the language's proof.
    let check = must(
        client,
        "check_lookahead",
        json!({"code": "dip", "pack": "u", "tickers": ["SYN0001", "SYN0002"], "cuts": 20, "wait_seconds": 60}),
    )
    .await;
    assert_eq!(check["execution"]["state"], "completed", "{check}");
    assert_eq!(check["execution"]["kind"], "check");
    let report = &check["execution"]["summary"];
    assert_eq!(report["verdict"], "clean", "{report}");
    assert_eq!(report["tickers_checked"], 2);
    assert!(
        report["static_proof"]
            .as_str()
            .unwrap()
            .contains("no negative offsets")
    );
    let (v, error) = call(client, "check_lookahead", json!({"code": "dip", "cuts": 1})).await;
    assert!(error && v.to_string().contains("`cuts` is 1"), "{v}");

    // The deployed scanner evaluated: every stage ran, its score and status are the summary.
    let evaluated = must(
        client,
        "evaluate_code",
        json!({"code": "dip", "pack": "u", "tickers": ["SYN0001", "SYN0002", "SYN0003"], "wait_seconds": 60}),
    )
    .await;
    assert_eq!(evaluated["execution"]["kind"], "evaluate", "{evaluated}");
    let e = &evaluated["execution"]["summary"];
    assert_eq!(e["code_kind"], "scanner", "{e}");
    assert_eq!(e["stages"].as_array().unwrap().len(), 4, "{e}");
    assert!(e["score"].as_u64().unwrap() <= 100);
    assert!(["passed", "warnings", "failed"].contains(&e["status"].as_str().unwrap()));

    // A full-market scan, waited for, with progress notifications.
    let params = CallToolRequestParams::new("start_execution").with_arguments(
        json!({"kind": "scan", "code": "dip", "pack": "u", "wait_seconds": 120})
            .as_object()
            .unwrap()
            .clone(),
    );
    let handle = client
        .send_cancellable_request(
            ClientRequest::CallToolRequest(Request::new(params)),
            PeerRequestOptions::no_options(),
        )
        .await
        .unwrap();
    let token = handle.progress_token.clone();
    let ServerResult::CallToolResult(r) = handle.await_response().await.unwrap() else {
        panic!("a tool result")
    };
    let scan = r.structured_content.unwrap();
    assert_eq!(scan["execution"]["state"], "completed", "{scan}");
    let scan_id = scan["execution"]["id"].as_str().unwrap().to_string();
    let shards = scan["execution"]["progress"]["total"].as_f64().unwrap();
    // The server sends every report before the result, but rmcp's client dispatches each
    // notification on a task of its own, possibly after the response: wait for the last one.
    let of_call = |agent: &Agent| -> Vec<ProgressNotificationParam> {
        agent
            .progress
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.progress_token == token)
            .cloned()
            .collect()
    };
    loop {
        let arrived = agent.arrived.notified();
        if of_call(agent).iter().any(|p| p.progress == shards) {
            break;
        }
        tokio::time::timeout(std::time::Duration::from_secs(10), arrived)
            .await
            .expect("the report of the last shard arrives");
    }
    let reports = of_call(agent);
    assert!(!reports.is_empty(), "progress notifications were sent");
    assert!(
        reports
            .iter()
            .all(|p| p.total == Some(shards) && p.message.is_some())
    );
    // rmcp's client hands each notification to its own task, so their order on arrival is not
    // the order they were sent in: check what they say, not their order.
    assert!(reports.iter().all(|p| p.progress <= shards));
    assert!(
        reports
            .iter()
            .any(|p| p.message.as_deref() == Some("scan completed")),
        "{reports:?}"
    );

    // Page through every row: none lost, none repeated, as many as the summary counts.
    let (mut rows, mut cursor) = (Vec::new(), Value::Null);
    loop {
        let page = must(
            client,
            "get_results",
            json!({"id": scan_id, "format": "detailed", "limit": 500, "cursor": cursor}),
        )
        .await;
        assert_eq!(page["columns"], json!(["ticker", "date", "r"]));
        rows.extend(page["rows"].as_array().unwrap().iter().cloned());
        cursor = page["next"].clone();
        if cursor.is_null() {
            assert!(page["summary"]["signals"].as_u64().unwrap() == rows.len() as u64);
            break;
        }
    }
    assert!(rows.len() > 500, "more than one page: {}", rows.len());
    let keys: HashSet<(String, String)> = rows
        .iter()
        .map(|r| (r["ticker"].to_string(), r["date"].to_string()))
        .collect();
    assert_eq!(keys.len(), rows.len(), "no row twice");
    let concise = must(client, "get_results", json!({"id": scan_id})).await;
    assert_eq!(concise["rows"].as_array().unwrap().len(), 50);
    assert!(concise.to_string().len() < 100_000);
    let one = must(
        client,
        "get_results",
        json!({"id": scan_id, "ticker": "SYN0007", "format": "detailed"}),
    )
    .await;
    assert!(
        one["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["ticker"] == "SYN0007")
    );

    // A+ test the scanner on three names it fired on.
    let examples: Vec<Value> = rows
        .iter()
        .step_by(rows.len() / 3)
        .take(3)
        .map(|r| json!({"ticker": r["ticker"], "date": r["date"]}))
        .collect();
    let test = must(
        client,
        "start_execution",
        json!({"kind": "test", "code": "dip", "pack": "u", "examples": examples, "wait_seconds": 120}),
    )
    .await;
    assert_eq!(test["execution"]["state"], "completed", "{test}");
    let report = must(
        client,
        "get_results",
        json!({"id": test["execution"]["id"], "format": "detailed"}),
    )
    .await;
    let matched = report["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == "matched")
        .count();
    assert_eq!(matched, 3, "{report}");

    // A sweep held at a ticker: pause, resume, cancel; an illegal change says why.
    let sweep = must(
        client,
        "start_execution",
        json!({"kind": "sweep", "pack": "u",
               "strategy": {"entry": "close > sma(close, $fast)", "exit": "close < sma(close, $slow)"},
               "grid": ["fast=5..15:5", "slow=20..40:10"]}),
    )
    .await;
    let sweep_id = sweep["execution"]["id"].as_str().unwrap().to_string();
    await_hold(stderr);
    let control = |action: &str| json!({"id": sweep_id, "action": action});
    let (v, error) = call(client, "control_execution", control("resume")).await;
    assert!(error, "a running sweep does not resume: {v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("only a paused execution resumes"),
        "{v}"
    );
    assert_eq!(
        must(client, "control_execution", control("pause")).await["state"],
        "paused"
    );
    assert_eq!(
        must(client, "control_execution", control("resume")).await["state"],
        "running"
    );
    assert_eq!(
        must(client, "control_execution", control("cancel")).await["state"],
        "cancelled"
    );
    let (v, error) = call(client, "control_execution", control("cancel")).await;
    assert!(error && v["error"]["type"] == "conflict", "{v}");
    let got = must(client, "get_execution", json!({"id": sweep_id})).await;
    assert_eq!(got["state"], "cancelled");
    let listed = must(client, "list_executions", json!({"kind": "sweep"})).await;
    assert_eq!(listed["items"][0]["id"], sweep_id.as_str());

    // Another workspace sees none of it.
    for id in [&scan_id, &sweep_id] {
        let (v, error) = call(other, "get_execution", json!({"id": id})).await;
        assert!(error, "{v}");
        assert_eq!(v["error"]["type"], "not-found");
        let (v, error) = call(other, "get_results", json!({"id": id})).await;
        assert!(error && v["error"]["type"] == "not-found", "{v}");
        let (v, _) = call(
            other,
            "control_execution",
            json!({"id": id, "action": "cancel"}),
        )
        .await;
        assert_eq!(v["error"]["type"], "not-found");
    }
    let theirs = must(other, "list_executions", json!({})).await;
    assert_eq!(theirs["items"], json!([]));
    let (v, error) = call(other, "list_code", json!({"name": "dip"})).await;
    assert!(error && v["error"]["type"] == "not-found", "{v}");
}

/// `quantd mcp` on `data` as a child process; its stderr lines.
/// Only the first runs workers (so the sweep is held where the test watches).
async fn stdio(
    data: &Path,
    workspace: &str,
    workers: &str,
) -> (Client, Agent, mpsc::Receiver<String>) {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_quantd"));
    cmd.env("QUANTD_DATA", data)
        .env("QUANTD_FAILPOINT", format!("{SWEEP_HOLD}:pause"))
        .env_remove("QUANTD_DATABASE_URL")
        .args(["mcp", "--workspace", workspace, "--workers", workers]);
    let (transport, stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn quantd mcp");
    let stderr = stderr
        .expect("stderr")
        .into_owned_fd()
        .expect("a file descriptor");
    let lines = lines_of(std::fs::File::from(stderr));
    let agent = Agent::default();
    let client = agent.clone().serve(transport).await.expect("initialize");
    (client, agent, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_works_over_stdio() {
    let d = data_dir();
    let (client, agent, stderr) = stdio(d.path(), "default", "2").await;
    let info = client.peer_info().unwrap();
    assert_eq!(info.server_info.as_ref().unwrap().name, "quantd");
    let (other, _, _) = stdio(d.path(), "someone-else", "0").await;
    agent_session(&client, &agent, &other, &stderr).await;
    client.cancel().await.unwrap();
    other.cancel().await.unwrap();
}

/// A client of `/mcp` with `token`.
async fn http(addr: &str, token: &str) -> (Client, Agent) {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
            .auth_header(token),
    );
    let agent = Agent::default();
    let client = agent
        .clone()
        .serve(transport)
        .await
        .expect("initialize over HTTP");
    (client, agent)
}

fn token(data: &Path, workspace: &str) -> String {
    ok(data, &["tokens", "create", "--workspace", workspace])
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_works_over_http_with_a_token() {
    let d = data_dir();
    let (mine, theirs) = (token(d.path(), "a"), token(d.path(), "b"));
    let mut command = quantd(d.path());
    command
        .env("QUANTD_FAILPOINT", format!("{SWEEP_HOLD}:pause"))
        .args(["serve", "--addr", "127.0.0.1:0", "--workers", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut server = KillOnDrop(command.spawn().expect("spawn quantd serve"));
    let stderr = lines_of(server.0.stderr.take().unwrap());
    let addr = loop {
        let line = stderr.recv().expect("the server announces its address");
        if let Some(rest) = line.split("http://").nth(1) {
            break rest.split(' ').next().unwrap().to_string();
        }
    };
    // Without a token (or with a wrong one) nothing connects.
    let anonymous = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp")),
    );
    let refused = match ().serve(anonymous).await {
        Ok(_) => panic!("no token, no session"),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("Auth required"), "{refused}");
    let wrong = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(format!("http://{addr}/mcp"))
            .auth_header("qdt_0000000000000000_00"),
    );
    assert!(().serve(wrong).await.is_err());

    let (client, agent) = http(&addr, &mine).await;
    let (other, _) = http(&addr, &theirs).await;
    agent_session(&client, &agent, &other, &stderr).await;
    client.cancel().await.unwrap();
    other.cancel().await.unwrap();
}

/// An agent trades a class strategy on paper: `start_execution` of kind `paper` waits for the
/// session to end, `get_orders` pages through its record (each fill once, the pages adding up to
/// what `quantd orders` lists), `get_results` gives its statistics; a backtest has no orders.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_trades_on_paper_and_reads_its_orders() {
    let d = tempfile::tempdir().unwrap();
    synth_u(d.path(), 3, 260);
    let python = common::reference_python();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_quantd"));
    cmd.env("QUANTD_DATA", d.path())
        .env("QUANTD_PYTHON", &python)
        .env_remove("QUANTD_DATABASE_URL")
        .args(["mcp", "--workers", "1"]);
    let (transport, _stderr) = TokioChildProcess::builder(cmd)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn quantd mcp");
    let client = Agent::default().serve(transport).await.expect("initialize");
    let strategy = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/strategies/sma_cross.py"),
    )
    .unwrap();
    let started = must(
        &client,
        "start_execution",
        json!({"kind": "paper", "python": strategy, "tickers": ["SYN0002"], "speed": "max",
               "wait_seconds": 120}),
    )
    .await;
    assert_eq!(started["execution"]["state"], "completed", "{started}");
    let id = started["execution"]["id"].as_str().unwrap().to_string();
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = must(
            &client,
            "get_orders",
            json!({"id": id, "after": after, "limit": 50}),
        )
        .await;
        let got = page["events"].as_array().unwrap();
        assert!(got.len() <= 50);
        events.extend(got.iter().cloned());
        match page["next"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    let cli = json(d.path(), &["orders", &id]);
    assert_eq!(
        Value::Array(events.clone()),
        cli,
        "the pages add up to `quantd orders`"
    );
    let fills = events
        .iter()
        .filter(|e| e["type"] == "order" && e["status"] == "filled")
        .count();
    assert!(fills >= 4, "{fills} fills");
    let results = must(&client, "get_results", json!({"id": id})).await;
    assert_eq!(results["rows"][0]["ticker"], "SYN0002", "{results}");
    let backtest = must(
        &client,
        "start_execution",
        json!({"kind": "backtest", "python": strategy, "tickers": ["SYN0002"], "wait_seconds": 120}),
    )
    .await;
    let (e, error) = call(
        &client,
        "get_orders",
        json!({"id": backtest["execution"]["id"]}),
    )
    .await;
    assert!(error, "a backtest has no orders: {e}");
    assert!(e.to_string().contains("not a paper"), "{e}");
    client.cancel().await.unwrap();
}

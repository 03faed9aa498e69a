//! The CLI on a Postgres store: `--database-url postgres://…` names a fresh database of the test
//! server (`QUANTD_TEST_DATABASE_URL`, or `postgres://postgres@127.0.0.1:5432/test`); `db check`
//! reports its schema (and fails until it is migrated), `db migrate` migrates it, a scan runs
//! on it with nothing stored in the data directory's SQLite file, and a schema newer than the
//! binary is refused by every command, naming both versions. The test fails, never skips, when
//! the server cannot be reached.

mod common;
use common::pg::*;
use common::*;

/// Runs `quantd --database-url URL args` on data directory `data`.
fn on(data: &std::path::Path, url: &str, args: &[&str]) -> std::process::Output {
    quantd(data)
        .arg("--database-url")
        .arg(url)
        .args(args)
        .output()
        .expect("run quantd")
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_scan_runs_on_a_postgres_database_that_db_check_reports() {
    let db = FreshDb::create();
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    let known = quantd_store::PgStore::schema_version();
    // A database nothing migrated yet: reachable, but not this quantd's schema.
    let out = on(&data, &url, &["db", "check"]);
    let (stdout, stderr) = text(&out);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("backend   postgres"), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "schema version 0, older than this quantd ({known})"
        )) && stderr.contains("quantd db migrate"),
        "{stderr}"
    );

    let out = on(&data, &url, &["--json", "db", "migrate"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let migrated: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(migrated["version"], known, "{migrated}");

    for args in [
        &[
            "data",
            "synth",
            "--name",
            "u",
            "--tickers",
            "4",
            "--days",
            "80",
            "--seed",
            "3",
        ][..],
        // The smallest pool there is runs a scan (its workers, heartbeats and commits share it).
        &["--db-pool-size", "2", "scan", "--expr", "close > 0"],
    ] {
        let out = on(&data, &url, args);
        assert!(out.status.success(), "{args:?}: {}", text(&out).1);
    }
    let out = on(&data, &url, &["--db-pool-size", "1", "history"]);
    assert!(
        !out.status.success(),
        "a pool of one connection was accepted"
    );
    assert!(text(&out).1.contains("--db-pool-size"), "{}", text(&out).1);
    let out = on(&data, &url, &["--json", "history"]);
    let history: serde_json::Value = serde_json::from_str(&text(&out).0).unwrap();
    let runs = history.as_array().expect("a list");
    assert_eq!(runs.len(), 1, "{history}");
    assert_eq!(runs[0]["state"], "completed", "{history}");
    assert!(
        !data.join("quantd.db").exists(),
        "the store is the database, not the data directory's file"
    );
    // The data directory's own store does not have the execution.
    let own = json(&data, &["history"]);
    assert_eq!(own.as_array().map(Vec::len), Some(0), "{own}");

    let out = on(&data, &url, &["--json", "db", "check"]);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["backend"], "postgres");
    assert_eq!(report["up_to_date"], true, "{report}");
    assert_eq!(
        report["applied"].as_array().map(Vec::len),
        Some(known as usize)
    );

    // A newer quantd migrated it: every command refuses it, naming both versions.
    db.sql(
        "INSERT INTO schema_migrations (version, applied_at) VALUES (999, now())",
        Some(&url),
    );
    for args in [&["db", "check"][..], &["scan", "--expr", "close > 0"]] {
        let out = on(&data, &url, args);
        let (_, stderr) = text(&out);
        assert!(!out.status.success(), "{args:?} accepted a newer schema");
        assert!(
            stderr.contains(&format!(
                "schema version 999, newer than this quantd ({known})"
            )),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("upgrade quantd"), "{args:?}: {stderr}");
    }
}

#[test]
fn db_check_says_what_to_check_when_the_server_cannot_be_reached() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1.
    let out = on(
        dir.path(),
        "postgres://quantd:hunter2@127.0.0.1:1/quantd",
        &["db", "check"],
    );
    let (_, stderr) = text(&out);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "cannot connect to the database at database URL `postgres://***@127.0.0.1:1/quantd`"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("check that the server is running"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "a password leaked: {stderr}");
}

#[test]
fn urls_name_their_database() {
    assert_eq!(
        with_database("postgres://u@h:1/test?sslmode=disable", "x"),
        "postgres://u@h:1/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
}

/// A worker's lock file is on its own host, so on a shared store only an expired lease frees its
/// shards: `recover` on this host leaves a live lease of a worker elsewhere alone (the SQLite
/// store, one host, would take the missing lock file for a dead worker).
#[test]
fn on_postgres_a_live_lease_of_a_worker_on_another_host_is_not_taken_for_dead() {
    use quantd_core::ExecutionKind;
    use quantd_engine::exec::request::SubmitRequest;
    use quantd_engine::exec::{Engine, EngineOptions};
    use quantd_engine::{Packs, StoreConfig};
    use quantd_store::prelude::*;

    let db = FreshDb::create();
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let synth = [
        "data",
        "synth",
        "--name",
        "u",
        "--tickers",
        "3",
        "--days",
        "60",
    ];
    assert!(on(&data, &url, &synth).status.success());
    db.rt.block_on(async {
        let config = StoreConfig::in_data_dir(&data).with_url(url.clone());
        let packs = Packs::open_with(&config).await.unwrap();
        let engine: Engine = Engine::new(packs, EngineOptions::default()).await.unwrap();
        let mut scan = SubmitRequest::new(ExecutionKind::Scan);
        scan.expr = Some("close > 0".into());
        let now = engine.clock().now_ms();
        let mut claimed = Vec::new();
        for until in [now + 600_000, now - 1] {
            let id = engine.submit(scan.clone()).await.unwrap().execution.id;
            let got = engine
                .store()
                .claim_shard(
                    "worker-on-host-b",
                    now,
                    until,
                    quantd_store::ClaimScope::Of(&id),
                )
                .await
                .unwrap();
            assert!(got.is_some(), "a claimable shard");
            claimed.push(id);
        }
        // Nor is the execution shown as interrupted for want of a lock file here.
        let rec = engine.execution(&claimed[0]).await.unwrap();
        let shards = engine.records().shards(&claimed[0]).await.unwrap();
        assert!(!engine.records().interrupted(&rec, &shards));
        // Only the expired lease goes back to the queue.
        assert_eq!(engine.recover().await.unwrap(), 1);
        let live = engine.records().shards(&claimed[0]).await.unwrap();
        assert_eq!(live[0].lease_owner.as_deref(), Some("worker-on-host-b"));
        let expired = engine.records().shards(&claimed[1]).await.unwrap();
        assert_eq!(expired[0].lease_owner, None, "{expired:?}");
    });
}

/// Two processes on one Postgres (two engines here, each with its own broadcast): every event
/// the first writes while it runs a scan reaches the second's subscribers through `LISTEN` —
/// no stream polls here — once each, in order, up to the final one.
#[test]
fn events_written_by_one_engine_reach_the_subscribers_of_another_through_listen() {
    use quantd_core::ExecutionKind;
    use quantd_engine::exec::request::SubmitRequest;
    use quantd_engine::exec::{Engine, EngineOptions};
    use quantd_engine::{Packs, StoreConfig};
    use std::sync::Arc;
    use std::time::Duration;

    let db = FreshDb::create();
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let synth = [
        "data",
        "synth",
        "--name",
        "u",
        "--tickers",
        "3",
        "--days",
        "60",
    ];
    assert!(on(&data, &url, &synth).status.success());
    db.rt.block_on(async {
        let config = StoreConfig::in_data_dir(&data).with_url(url.clone());
        let open = || async {
            let packs = Packs::open_with(&config).await.unwrap();
            Engine::new(packs, EngineOptions::default()).await.unwrap()
        };
        let (a, b): (Engine, Engine) = (open().await, open().await);
        let b = Arc::new(b);
        assert!(b.relay_events().await.unwrap(), "Postgres announces events");
        let mut rx = b.subscribe();
        let mut scan = SubmitRequest::new(ExecutionKind::Scan);
        scan.expr = Some("close > 0".into());
        let id = a.submit(scan).await.unwrap().execution.id;
        a.run(&id, 1).await.unwrap();
        let mut seqs = Vec::new();
        loop {
            let e = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                .await
                .expect("the next event within 30 s")
                .unwrap();
            if e.execution != id {
                continue;
            }
            seqs.push(e.seq);
            if e.event.is_final() {
                break;
            }
        }
        let stored = a.records().events_after(&id, 0, 1000).await.unwrap();
        let want: Vec<u64> = (1..=stored.len() as u64).collect();
        assert_eq!(seqs, want, "every event once, in order");
    });
}

/// The events of a stream read over HTTP/1.0 (the body ends when the stream does), as sequence
/// numbers: up to `stop_after` of them, or all until the server ends the stream.
fn sse_ids(
    addr: &str,
    path: &str,
    last_event_id: Option<u64>,
    stop_after: Option<usize>,
) -> Vec<u64> {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let resume = last_event_id.map_or(String::new(), |n| format!("Last-Event-ID: {n}\r\n"));
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{resume}\r\n"
    )
    .expect("write request");
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut ids = Vec::new();
    for line in BufReader::new(s).lines() {
        let line = line.expect("read the stream");
        if let Some(n) = line
            .strip_prefix("id: ")
            .or_else(|| line.strip_prefix("id:"))
        {
            ids.push(n.trim().parse().expect("a numeric id"));
            if stop_after.is_some_and(|k| ids.len() >= k) {
                break;
            }
        }
    }
    ids
}

/// Two API nodes on one database: node A runs the scan with its workers, node B has none; a
/// subscriber of node B gets every event of it, in order, once, across a reconnect with
/// `Last-Event-ID`.
#[test]
fn a_subscriber_of_another_node_sees_every_event_once_across_a_reconnect() {
    let db = FreshDb::create();
    let url = db.url();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let synth = [
        "data",
        "synth",
        "--name",
        "u",
        "--tickers",
        "40",
        "--days",
        "500",
    ];
    assert!(on(&data, &url, &synth).status.success());
    let node = |workers: &str| {
        let mut c = quantd(&data);
        c.arg("--database-url")
            .arg(&url)
            .env("QUANTD_SHARD_BARS", "2000");
        serve(c, &["--no-auth", "--workers", workers])
    };
    let (_a, a) = node("1");
    let (_b, b) = node("0");
    let scan = serde_json::json!({"kind": "scan", "expr": "close > sma(close, 20)"});
    let (status, body) = http(&a, "POST", "/v1/executions", Some(&scan));
    assert_eq!(status, 202, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["execution"]["id"].as_str().expect("an id").to_string();
    let path = format!("/v1/executions/{id}/events");
    let first = sse_ids(&b, &path, None, Some(3));
    assert_eq!(first, [1, 2, 3]);
    let rest = sse_ids(&b, &path, Some(3), None);
    let all: Vec<u64> = first.into_iter().chain(rest).collect();
    let want: Vec<u64> = (1..=all.len() as u64).collect();
    assert_eq!(all, want, "every event once, in order");
    let (_, view) = http(&b, "GET", &format!("/v1/executions/{id}"), None);
    let view: serde_json::Value = serde_json::from_str(&view).unwrap();
    assert_eq!(view["state"], "completed", "{view}");
    assert!(all.len() > 10, "{} events", all.len());
}

//! Fuzzed tool arguments — wrong types, huge strings, unknown fields, nested junk, unknown
//! tools — give tool errors that say what is wrong, never a panic, and the server answers
//! normally afterwards.

use proptest::prelude::*;
use quantd_core::NoProgress;
use quantd_engine::data::SynthSpec;
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_engine::{DataDir, Packs};
use quantd_mcp::{Ops, QuantdMcp, tools};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// Field names the tools take, and a few they do not.
const KEYS: &[&str] = &[
    "expr",
    "python",
    "strategy",
    "name",
    "rollback_to",
    "cursor",
    "limit",
    "kind",
    "code",
    "pack",
    "params",
    "tickers",
    "from",
    "to",
    "examples",
    "tolerance",
    "grid",
    "constraint",
    "config",
    "options",
    "reuse",
    "script",
    "args",
    "timeout",
    "wait_seconds",
    "id",
    "state",
    "action",
    "format",
    "ticker",
    "entry",
    "exit",
    "exprr",
    "__proto__",
    "",
    "ünïcode",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::from),
        prop_oneof![
            Just("scan"),
            Just("test"),
            Just("backtest"),
            Just("sweep"),
            Just("run"),
            Just("import"),
            Just("pause"),
            Just("resume"),
            Just("cancel"),
            Just("concise"),
            Just("detailed"),
            Just("close > 1"),
            Just("let x = rsi(close, 14); x < 30"),
            Just("u"),
            Just("ex_01m8xqkt2fwydmq9dsj4y6xfsw"),
            Just("2024-01-02"),
            Just("fast=1..3:1"),
            Just("o3"),
        ]
        .prop_map(Value::from),
        (1usize..4).prop_map(|mb| Value::from("x".repeat(mb << 20))),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn arguments() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(prop::sample::select(KEYS), value(), 0..8).prop_map(|m| {
        let mut args: Map<String, Value> = m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        // No worker runs here: a valid wait would only wait.
        if args
            .get("wait_seconds")
            .and_then(Value::as_u64)
            .is_some_and(|s| s > 0 && s <= 600)
        {
            args.insert("wait_seconds".into(), json!(0));
        }
        args
    })
}

fn tool() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::sample::select(tools::NAMES.to_vec()).prop_map(str::to_string),
        1 => ".{0,200}",
    ]
}

async fn server() -> (QuantdMcp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let packs = Packs::open(DataDir::new(dir.path())).await.unwrap();
    let spec = SynthSpec {
        tickers: 5,
        days: 60,
        seed: 1,
        start: "2024-01-02".parse().unwrap(),
        interval: Default::default(),
    };
    packs.synth("u", spec, Arc::new(NoProgress)).await.unwrap();
    let engine = Engine::new(packs, EngineOptions::default()).await.unwrap();
    (
        QuantdMcp::new(Ops::new(Arc::new(engine), None), Some("default".into())),
        dir,
    )
}

#[test]
fn fuzzed_arguments_are_tool_errors_never_panics() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (server, _dir) = rt.block_on(server());
    let config = ProptestConfig {
        cases: 192,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let (oks, errors) = (std::cell::Cell::new(0), std::cell::Cell::new(0));
    proptest!(config, |(name in tool(), args in arguments(), absent in any::<bool>())| {
        let server = server.clone();
        let args = (!absent || !args.is_empty()).then_some(args);
        let out = rt.block_on(async move {
            tokio::spawn(async move { server.call(&name, &reader(), args, None).await }).await
        });
        let out = out.expect("a tool call never panics");
        match &out {
            Ok(_) => oks.set(oks.get() + 1),
            Err(_) => errors.set(errors.get() + 1),
        }
        if let Err(e) = out {
            prop_assert!(!e.message.is_empty());
            prop_assert!(e.message.len() < 64 << 10, "an error message stays short: {} bytes", e.message.len());
            prop_assert!(e.content.is_object());
            prop_assert_ne!(e.kind, "internal", "{}", e.message);
        }
    });
    // The generator reaches both outcomes (a fuzzer that only ever fails proves little).
    assert!(
        oks.get() > 0 && errors.get() > oks.get(),
        "{} ok, {} errors",
        oks.get(),
        errors.get()
    );
    let packs = rt
        .block_on(server.call("list_packs", &reader(), None, None))
        .expect("the server still answers");
    assert_eq!(packs["items"][0]["name"], "u");
}

/// The fuzzer's caller: the default workspace over stdio.
fn reader() -> quantd_engine::rights::Reader {
    quantd_engine::rights::Reader::cli("default")
}

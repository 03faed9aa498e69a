//! What people read when a request cannot be done (newcomer review D6, D7, D8): the message says
//! what is wrong in their terms and what to do, never an internal state-machine word.

mod common;

use common::*;
use quantd_engine::exec::clock::ManualClock;
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::exec::{ExecutionOptions, Step};

#[tokio::test]
async fn a_finished_execution_says_so_instead_of_an_illegal_transition() {
    let (_d, packs) = setup(10).await;
    let clock = ManualClock::new(1_000_000);
    let engine = engine(&packs, clock.clone()).await;
    let id = default_scan(&engine, Submit::Queue).await;
    while let Some(Step::Done { .. }) = engine.step(Some(&id)).await.unwrap() {}
    for (what, err) in [
        ("cancel", engine.cancel(&id).await.unwrap_err()),
        ("pause", engine.pause(&id).await.unwrap_err()),
        ("resume", engine.resume(&id).await.unwrap_err()),
    ] {
        let text = err.to_string();
        assert_eq!(
            text,
            format!("{id} is already completed; nothing to {what}")
        );
        assert!(!text.contains("transition"), "{text}");
    }
}

#[tokio::test]
async fn unknown_tickers_name_the_pack_and_the_way_to_pick_another() {
    let (_d, packs) = setup(3).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    let spec = SubmitRequest {
        tickers: Some(vec!["AAPL".into(), "MSFT".into()]),
        ..common::scan(ExecutionOptions::default())
    };
    let text = engine.submit(spec).await.unwrap_err().to_string();
    assert!(
        text.starts_with("tickers AAPL, MSFT not found in pack "),
        "{text}"
    );
    assert!(
        text.contains("(3 tickers)") && text.contains("--pack"),
        "{text}"
    );
}

#[tokio::test]
async fn a_short_id_prefix_is_told_its_minimum() {
    let (_d, packs) = setup(3).await;
    let text = packs.find(Some("ef5d")).await.unwrap_err().to_string();
    assert!(
        text.contains("an id prefix needs 8 or more characters"),
        "{text}"
    );
    let text = packs.find(Some("nope")).await.unwrap_err().to_string();
    assert!(
        !text.contains("id prefix"),
        "a name is not told about prefixes: {text}"
    );
}

/// Every kind is requested the same way, and a kind's module names what it refuses: the fields
/// of other kinds, and for `import` (started by an upload) the way to start one.
#[tokio::test]
async fn each_kind_refuses_what_is_not_its_own_and_imports_point_to_uploads() {
    let (_d, packs) = setup(3).await;
    let engine = engine(&packs, ManualClock::new(1_000_000)).await;
    let mut stray = common::scan(ExecutionOptions::default());
    stray.grid = vec!["x=1".into()];
    stray.script = Some("print(1)".into());
    let text = engine.submit(stray).await.unwrap_err().to_string();
    assert_eq!(
        text,
        "`grid`, `script` are not for kind `scan`; remove them"
    );
    let import = SubmitRequest::new(quantd_core::ExecutionKind::Import);
    let text = engine.submit(import).await.unwrap_err().to_string();
    assert!(
        text.starts_with("an import starts from an upload: `POST /v1/packs/import"),
        "{text}"
    );
    let mut run = SubmitRequest::new(quantd_core::ExecutionKind::Run);
    run.name = Some("bot".into());
    let text = engine.submit(run).await.unwrap_err().to_string();
    assert!(text.contains("kind `run` needs `script`"), "{text}");
    let mut scan = SubmitRequest::new(quantd_core::ExecutionKind::Scan);
    scan.expr = Some(EXPR.into());
    scan.code = Some("stored".into());
    let text = engine.submit(scan).await.unwrap_err().to_string();
    assert!(
        text.contains("exactly one of `code`, `expr` or `python`"),
        "{text}"
    );
    let mut backtest = SubmitRequest::new(quantd_core::ExecutionKind::Backtest);
    backtest.code = Some("s".into());
    backtest.config = Some(serde_json::json!({"cash": "lots"}));
    let text = engine.submit(backtest).await.unwrap_err().to_string();
    assert!(text.starts_with("`config`:"), "{text}");
    assert!(
        engine.records().unfinished().await.unwrap().is_empty(),
        "refusals store nothing"
    );
}

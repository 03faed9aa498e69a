//! What people read when a request cannot be done (newcomer review D6, D7, D8): the message says
//! what is wrong in their terms and what to do, never an internal state-machine word.

mod common;

use common::*;
use quantd_engine::exec::clock::ManualClock;
use quantd_engine::exec::spec::{CodeChoice, JobRequest, ScanRequest, SubmitSpec};
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
    let spec = SubmitSpec {
        job: JobRequest::Scan(ScanRequest {
            code: CodeChoice::Inline(EXPR.into()),
            params: Default::default(),
            tickers: Some(vec!["AAPL".into(), "MSFT".into()]),
            from: None,
            to: None,
        }),
        pack: None,
        options: ExecutionOptions::default(),
        reuse: false,
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

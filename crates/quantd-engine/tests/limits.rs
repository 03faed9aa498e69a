//! Limits at the door: a request over a limit is refused with an error naming the limit, before
//! anything is stored or allocated for it, for every kind alike (scans, tests, backtests, sweeps,
//! runs). The review's reproductions: a sweep grid of 1..100000 × 1..100000 (the server tried to
//! allocate 3.36 TB) and a run timeout of i64::MAX (a worker panicked).

mod common;

use common::*;
use quantd_core::ExecutionKind;
use quantd_engine::EngineError;
use quantd_engine::exec::clock::ManualClock;
use quantd_engine::exec::limits::Limits;
use quantd_engine::exec::request::{ExampleRequest, SubmitRequest};
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_store::ExecutionFilter;
use quantd_store::prelude::*;

fn scan_of(expr: &str) -> SubmitRequest {
    let mut r = SubmitRequest::new(ExecutionKind::Scan);
    r.expr = Some(expr.into());
    r
}

fn backtest(kind: ExecutionKind, tickers: Option<Vec<String>>) -> SubmitRequest {
    let mut r = SubmitRequest::new(kind);
    r.strategy = Some(quantd_engine::code::StrategyExprs {
        entry: "close > sma(close, $fast)".into(),
        exit: "close < sma(close, $slow)".into(),
        short_entry: None,
        short_exit: None,
    });
    r.tickers = tickers;
    r
}

fn sweep(grid: &[&str]) -> SubmitRequest {
    let mut r = backtest(ExecutionKind::Sweep, Some(vec!["SYN0001".into()]));
    r.grid = grid.iter().map(|s| s.to_string()).collect();
    r
}

fn run(timeout_secs: u64) -> SubmitRequest {
    let mut r = SubmitRequest::new(ExecutionKind::Run);
    r.script = Some("print(1)".into());
    r.name = Some("bot".into());
    r.timeout = Some(timeout_secs);
    r
}

async fn engine_with(packs: &quantd_engine::Packs, limits: Limits) -> Engine {
    let options = EngineOptions {
        limits,
        ..EngineOptions::default()
    };
    Engine::with_clock(packs.clone(), options, ManualClock::new(1_000_000))
        .await
        .unwrap()
}

/// The request is refused over `limit`, and no execution exists afterwards.
async fn refused(engine: &Engine, job: SubmitRequest, limit: &str) -> String {
    let err = engine.submit(job).await.unwrap_err();
    let EngineError::Limit {
        limit: got,
        message,
    } = &err
    else {
        panic!("expected the {limit} limit, got {err:?}");
    };
    assert_eq!(*got, limit, "{message}");
    assert!(message.contains(limit), "{message}");
    let all = engine
        .store()
        .list_executions(&ExecutionFilter {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(all.items.is_empty(), "nothing was stored");
    message.clone()
}

#[tokio::test]
async fn a_huge_sweep_grid_is_refused_without_being_expanded() {
    let (_d, packs) = setup(5).await;
    let engine = engine_with(&packs, Limits::default()).await;
    let started = std::time::Instant::now();
    let message = refused(
        &engine,
        sweep(&["fast=1..100000:1", "slow=1..100000:1"]),
        "max_param_sets",
    )
    .await;
    assert!(message.contains("10000000000 parameter sets"), "{message}");
    assert!(message.contains("QUANTD_MAX_PARAM_SETS"), "{message}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "counted, not expanded"
    );
}

#[tokio::test]
async fn the_work_limit_applies_to_scans_tests_backtests_and_sweeps_alike() {
    let (_d, packs) = setup(5).await;
    let limits = Limits {
        max_grid: 4,
        ..Limits::default()
    };
    let engine = engine_with(&packs, limits).await;
    // 5 tickers in the pack: a whole-pack scan or backtest is 5 items, over 4.
    refused(&engine, scan_of(EXPR), "max_grid").await;
    refused(&engine, backtest(ExecutionKind::Backtest, None), "max_grid").await;
    // 1 ticker × 5 parameter sets.
    refused(&engine, sweep(&["fast=1..5", "slow=20"]), "max_grid").await;
    // Under the limit, a sweep runs.
    engine
        .submit(sweep(&["fast=1..2", "slow=20,30"]))
        .await
        .unwrap();
}

#[tokio::test]
async fn absurd_numbers_in_a_request_are_refused_with_the_limit_that_applies() {
    let (_d, packs) = setup(5).await;
    let engine = engine_with(&packs, Limits::default()).await;
    for timeout in [86_401, i64::MAX as u64, u64::MAX] {
        let message = refused(&engine, run(timeout), "max_run_timeout_secs").await;
        assert!(message.contains("QUANTD_MAX_RUN_TIMEOUT"), "{message}");
    }
    let tickers: Vec<String> = (0..20_001).map(|i| format!("T{i}")).collect();
    let scan = SubmitRequest {
        tickers: Some(tickers),
        ..scan_of(EXPR)
    };
    refused(&engine, scan, "max_tickers").await;
    let examples = (0..100_001)
        .map(|i| ExampleRequest {
            ticker: "SYN0001".into(),
            date: (chrono::NaiveDate::from_ymd_opt(2020, 1, 1).unwrap()
                + chrono::Days::new(i % 1000))
            .into(),
            expected: true,
        })
        .collect();
    let mut test = SubmitRequest::new(ExecutionKind::Test);
    test.expr = Some(EXPR.into());
    test.examples = examples;
    test.tolerance = Some(0);
    refused(&engine, test, "max_examples").await;
    let mut request = run(10);
    request.options.max_attempts = Some(u32::MAX);
    let err = engine.submit(request).await.unwrap_err();
    assert!(
        matches!(
            err,
            EngineError::Limit {
                limit: "max_attempts",
                ..
            }
        ),
        "{err:?}"
    );
}

/// `close > 0` with `lets` indicator columns: a hit on every bar (review E8/E9's shape).
fn every_bar(lets: usize) -> SubmitRequest {
    let expr: String = (0..lets)
        .map(|i| format!("let v{i} = close + {i};\n"))
        .chain(std::iter::once("close > 0".to_string()))
        .collect();
    scan_of(&expr)
}

async fn run_to_end(engine: &Engine, job: SubmitRequest) -> quantd_store::ExecutionRecord {
    let id = engine.submit(job).await.unwrap().execution.id;
    while engine.step(Some(&id)).await.unwrap().is_some() {}
    engine.execution(&id).await.unwrap()
}

#[tokio::test]
async fn scan_shards_are_cut_so_a_hit_on_every_bar_fits_the_memory_limit() {
    let (_d, packs) = setup(8).await; // 8 tickers × 600 days
    let limits = Limits {
        max_shard_memory: 110_000, // 20 lets: 172 bytes a row → 639 bars, one ticker a shard
        ..Limits::default()
    };
    let engine = engine_with(&packs, limits).await;
    let rec = run_to_end(&engine, every_bar(20)).await;
    assert_eq!(
        rec.state,
        quantd_core::ExecutionState::Completed,
        "{:?}",
        rec.error_message
    );
    assert_eq!(rec.shards_total, 8, "one ticker a shard");
    assert_eq!(rec.rows, rec.bars, "every bar a hit");
    assert!(rec.result_bytes <= 8 * 600 * 172 + 8 * 64);
}

#[tokio::test]
async fn results_over_the_limit_fail_the_execution_instead_of_the_process() {
    let (_d, packs) = setup(8).await;
    // One ticker's rows alone are over the shard memory: the shard fails, cleanly.
    let limits = Limits {
        max_shard_memory: 10_000,
        ..Limits::default()
    };
    let engine = engine_with(&packs, limits).await;
    let rec = run_to_end(&engine, every_bar(20)).await;
    assert_eq!(rec.state, quantd_core::ExecutionState::Failed);
    let message = rec.error_message.unwrap();
    assert!(message.contains("max_shard_memory"), "{message}");
    // The execution's stored results are bounded in all.
    let (_d, packs) = setup(8).await;
    let limits = Limits {
        max_result_bytes: 300_000,
        ..Limits::default()
    };
    let engine = engine_with(&packs, limits).await;
    let rec = run_to_end(&engine, every_bar(20)).await;
    assert_eq!(rec.state, quantd_core::ExecutionState::Failed);
    assert_eq!(rec.error_class, Some(quantd_core::ErrorClass::Resource));
    let message = rec.error_message.unwrap();
    assert!(message.contains("max_result_bytes"), "{message}");
    assert!(
        rec.result_bytes <= 300_000,
        "nothing over the limit was stored"
    );
}

#[tokio::test]
async fn code_priced_over_the_work_budget_is_refused_before_it_runs() {
    let (_d, packs) = setup(5).await;
    let limits = Limits {
        max_work: 10_000.0, // 5 tickers × 600 bars of any code is more
        ..Limits::default()
    };
    let engine = engine_with(&packs, limits).await;
    let scan = scan_of("cci(high, low, close, 200) > 0");
    let message = refused(&engine, scan.clone(), "max_work").await;
    assert!(message.contains("QUANTD_MAX_WORK"), "{message}");
    // Within the default budget, the same code runs.
    let engine = engine_with(&packs, Limits::default()).await;
    engine.submit(scan).await.unwrap();
}

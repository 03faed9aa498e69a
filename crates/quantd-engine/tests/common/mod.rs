//! Helpers shared by the engine's test files: a synthetic pack, the reference scan request, an
//! engine on a manual clock, claims made as another worker, and draining an execution step by
//! step.
#![allow(dead_code)]

use quantd_core::{ErrorClass, ExecutionId, NoProgress};
use quantd_data::SynthSpec;
use quantd_engine::exec::clock::ManualClock;
use quantd_engine::exec::request::{RequestOptions, SubmitRequest};
use quantd_engine::exec::{Engine, EngineOptions, ExecutionOptions, FaultHook, Step};
use quantd_engine::scan::Signals;
use quantd_engine::{DataDir, Packs};
use quantd_store::prelude::*;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub const EXPR: &str = "let r = rsi(close, 14); r < 40 and close < sma(close, 20)";

pub async fn setup(tickers: usize) -> (tempfile::TempDir, Packs) {
    let dir = tempfile::tempdir().unwrap();
    let packs = Packs::open(DataDir::new(dir.path())).await.unwrap();
    let spec = SynthSpec {
        tickers,
        days: 600,
        seed: 5,
        ..Default::default()
    };
    packs.synth("u", spec, Arc::new(NoProgress)).await.unwrap();
    (dir, packs)
}

/// The reference scan request, with the attempts and failure policy of `options` (the engine's
/// options hold the rest of a retry policy).
pub fn scan(options: ExecutionOptions) -> SubmitRequest {
    let mut r = SubmitRequest::new(quantd_core::ExecutionKind::Scan);
    r.expr = Some(EXPR.into());
    r.options = RequestOptions {
        max_attempts: Some(options.retry.maximum_attempts),
        on_shard_failure: options.on_shard_failure,
        retry: Default::default(),
        sandbox: Default::default(),
    };
    r
}

/// Small shards so a small pack has several.
pub fn options() -> EngineOptions {
    EngineOptions {
        scan_shard_bars: 6_000,
        poll_ms: 20,
        ..Default::default()
    }
}

pub async fn engine(packs: &Packs, clock: Arc<ManualClock>) -> Engine {
    Engine::with_clock(packs.clone(), options(), clock)
        .await
        .unwrap()
}

pub async fn rows(engine: &Engine, id: &ExecutionId) -> Vec<(String, i64, Vec<u64>)> {
    let mut out = vec![];
    engine
        .scan_results(id, |s: &Signals| {
            for i in 0..s.len() {
                out.push((
                    s.ticker_of(i).to_string(),
                    s.stamp[i],
                    s.values_of(i).iter().map(|v| v.to_bits()).collect(),
                ));
            }
            Ok(())
        })
        .await
        .unwrap();
    out
}

/// The same scan without the engine.
pub async fn bare(packs: &Packs) -> Vec<(String, i64, Vec<u64>)> {
    let rec = packs.find(None).await.unwrap();
    let reader = packs.open_reader(&rec).unwrap();
    let program = quantd_engine::scan::compile(&reader, EXPR, &Default::default()).unwrap();
    let all = quantd_engine::scan::select_tickers(&reader, None).unwrap();
    let s = quantd_engine::scan::run(
        &reader,
        &program,
        &all,
        None,
        None,
        &AtomicBool::new(false),
        &NoProgress,
    )
    .unwrap();
    (0..s.len())
        .map(|i| {
            (
                s.ticker_of(i).to_string(),
                s.stamp[i],
                s.values_of(i).iter().map(|v| v.to_bits()).collect(),
            )
        })
        .collect()
}

/// Claims the next shard of `id` straight from the store, as the worker `owner` (30 s lease).
pub async fn claim_as(
    engine: &Engine,
    owner: &str,
    clock: &ManualClock,
    id: &ExecutionId,
) -> quantd_store::ClaimedShard {
    let now = clock.now();
    let (shard, _) = engine
        .store()
        .claim_shard(owner, now, now + 30_000, quantd_store::ClaimScope::Of(id))
        .await
        .unwrap()
        .expect("a claimable shard");
    shard
}

/// A fault: shard 1 fails with a non-retryable data error, every attempt.
pub fn shard_1_has_bad_data() -> Arc<FaultHook> {
    Arc::new(|_, shard, _| (shard == 1).then(|| (ErrorClass::Data, "bad ticker data".to_string())))
}

/// How a test submits: for any worker ([`Engine::submit`]) or to run here ([`Engine::start`]).
pub enum Submit {
    /// For any worker.
    Queue,
    /// To run here.
    RunHere,
}

/// Submits the scan with default options; returns its id.
pub async fn default_scan(engine: &Engine, how: Submit) -> ExecutionId {
    let spec = scan(ExecutionOptions::default());
    let sub = match how {
        Submit::Queue => engine.submit(spec).await,
        Submit::RunHere => engine.start(spec).await,
    };
    sub.unwrap().execution.id
}

pub async fn drain(engine: &Engine, id: &ExecutionId) -> Vec<Step> {
    let mut steps = vec![];
    while let Some(s) = engine.step(Some(id)).await.unwrap() {
        steps.push(s);
    }
    steps
}

//! `submit_body`: bytes as the body of `POST /v1/executions`, through what the route does with
//! it: the engine's request type ([`SubmitRequest`], JSON with unknown fields refused), its
//! per-kind field checks, and the engine's validation and planning
//! ([`Engine::submit_request`]: names resolved, code compiled, the grid and the shards
//! planned, the execution stored) on a small synthetic pack with stored code to refer to; then
//! the response view, or the error mapped to its problem document.
//!
//! Executions are only created, never run: this is the request door. One engine serves a
//! process's inputs; it is rebuilt every [`REBUILD_EVERY`] inputs so the store stays small.

#[path = "scratch.rs"]
mod scratch;

use axum::response::IntoResponse;
use quantd_core::NoProgress;
use quantd_data::SynthSpec;
use quantd_engine::code::{CodeSource, StrategyExprs};
use quantd_engine::exec::request::SubmitRequest;
use quantd_engine::exec::{Engine, EngineOptions};
use quantd_engine::{DataDir, Packs};
use quantd_server::AppError;
use quantd_server::model::ExecutionView;
use std::cell::RefCell;
use std::sync::Arc;

/// The workspace inputs are submitted in.
const WORKSPACE: &str = "fuzz";
/// Inputs one engine serves before it is rebuilt on a new data directory.
const REBUILD_EVERY: u32 = 2_000;

/// An engine on a scratch data directory: pack `demo` (4 tickers `SYN0000`..`SYN0003`, 60 days
/// from 2020-01-02), scanner `up` (`close > sma(close, $n)`), strategy `cross`.
struct Fixture {
    rt: tokio::runtime::Runtime,
    engine: Engine,
    served: u32,
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = scratch::dir();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let engine = rt.block_on(async {
            let packs = Packs::open(DataDir::new(dir.path()))
                .await
                .expect("opening the scratch data directory");
            let spec = SynthSpec {
                tickers: 4,
                days: 60,
                seed: 7,
                start: chrono::NaiveDate::from_ymd_opt(2020, 1, 2).expect("a date"),
                interval: Default::default(),
            };
            packs
                .synth("demo", spec, Arc::new(NoProgress))
                .await
                .expect("the synthetic pack");
            let codes = [
                ("up", CodeSource::Expr("close > sma(close, $n)".into())),
                (
                    "cross",
                    CodeSource::Strategy(StrategyExprs {
                        entry: "crosses_above(sma(close, $fast), sma(close, $slow))".into(),
                        exit: "crosses_below(sma(close, $fast), sma(close, $slow))".into(),
                        short_entry: None,
                        short_exit: None,
                    }),
                ),
            ];
            for (name, source) in codes {
                packs
                    .code(WORKSPACE)
                    .add(name, &source)
                    .await
                    .expect("storing the fixture's code");
            }
            Engine::new(packs, EngineOptions::default())
                .await
                .expect("the engine")
        });
        Fixture {
            rt,
            engine,
            served: 0,
            _dir: dir,
        }
    }

    fn submit(&mut self, body: SubmitRequest) {
        self.served += 1;
        match self
            .rt
            .block_on(self.engine.submit_request(WORKSPACE, body))
        {
            Ok(sub) => {
                let view = ExecutionView::new(sub.execution, None);
                if let Err(e) = serde_json::to_vec(&view) {
                    panic!("an execution view does not serialize: {e}");
                }
            }
            Err(e) => respond_error(AppError::from(e)),
        }
    }
}

/// Maps an error to its HTTP response, as the route does.
fn respond_error(e: AppError) {
    let _ = e.to_string();
    let _ = e.into_response();
}

thread_local! {
    static FIXTURE: RefCell<Option<Fixture>> = const { RefCell::new(None) };
}

/// The `submit_body` target.
pub fn run(data: &[u8]) {
    // The server reads an empty (all-whitespace) body as `{}`.
    let bytes: &[u8] = if data.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        data
    };
    let body: SubmitRequest = match serde_json::from_slice(bytes) {
        Ok(body) => body,
        Err(e) => return respond_error(AppError::BadRequest(format!("invalid JSON body: {e}"))),
    };
    FIXTURE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|f| f.served >= REBUILD_EVERY) {
            *slot = None;
            *slot = Some(Fixture::new());
        }
        if let Some(fixture) = slot.as_mut() {
            fixture.submit(body);
        }
    });
}

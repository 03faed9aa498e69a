//! The `paper` kind: a class strategy traded on paper over a pack replayed bar by bar at a
//! chosen speed ([`crate::python::paper`]): one ticker, or a portfolio (`config.portfolio`) with
//! shared cash. Its orders, fills and trading days are events of the execution, recorded as they
//! happen and streamed like every event; paused, resumed, cancelled or interrupted, it goes on
//! from its record with the same orders and positions. When the pack's last bar has been
//! traded it completes with a backtest's results (statistics, trades, equity), which are the
//! same as a backtest of the same strategy on the same bars.

use super::backtest::{Backtest, ResolvedBacktest, backtest_table};
use super::{Kind, reader_of};
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::jobs::Job;
use crate::exec::request::SubmitRequest;
use crate::exec::spec::CodeInfo;
use crate::python::paper::{Follow, PaperJob, Recorder, Speed};
use crate::views::Table;
use quantd_core::{ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_store::{ExecutionRecord, PackRecord, Store};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A resolved paper session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedPaper {
    /// The strategy, pack, tickers, window and simulation settings, as a backtest's.
    pub backtest: ResolvedBacktest,
    /// Replay speed: a factor over the bars' own pace; `None` as fast as the strategy goes.
    pub speed: Option<f64>,
    /// The pack name whose newer versions the session goes on over, when it follows one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow: Option<String>,
}

/// The `paper` kind.
pub struct Paper;

impl Kind for Paper {
    const KIND: ExecutionKind = ExecutionKind::Paper;
    const FIELDS: &'static [&'static str] = &[
        "code", "python", "tickers", "from", "to", "config", "speed", "follow",
    ];
    type Spec = ResolvedPaper;

    async fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        mut request: SubmitRequest,
    ) -> Result<ResolvedPaper> {
        let speed =
            Speed::parse(request.speed.as_deref().unwrap_or("1x")).map_err(EngineError::Invalid)?;
        if let Some(pack) = pack {
            engine.check_live_derived(pack).await?;
        }
        let follow = match (request.follow, pack) {
            (false, _) => None,
            (true, _) if request.to.is_some() => {
                return Err(EngineError::Invalid(
                    "`to` ends the session's window, and `follow` goes on past the pack's last bar: give one of them".into(),
                ));
            }
            (true, Some(pack)) => Some(pack.name.clone()),
            (true, None) => {
                return Err(EngineError::Invalid(
                    "`follow` needs a pack: name the pack whose new versions the session trades"
                        .into(),
                ));
            }
        };
        let backtest = ResolvedBacktest::of(engine, workspace, pack, &mut request).await?;
        if backtest.python.is_none() {
            return Err(EngineError::Invalid(
                "paper trading needs a Python class strategy (class X(qd.Strategy)) in `python` or stored code; expression strategies backtest only".into(),
            ));
        }
        if !backtest.config.portfolio && backtest.tickers.as_ref().is_some_and(|t| t.len() != 1) {
            return Err(EngineError::Invalid(
                "`tickers`: a paper session trades one ticker, or a portfolio of several with shared cash: give one ticker, or set `config.portfolio`".into(),
            ));
        }
        Ok(ResolvedPaper {
            backtest,
            speed: speed.0,
            follow,
        })
    }

    fn sandboxed(_spec: &ResolvedPaper) -> bool {
        true
    }

    fn code(spec: &ResolvedPaper) -> Option<&CodeInfo> {
        spec.backtest.code.as_ref()
    }

    fn build<S: Store>(
        engine: &Engine<S>,
        id: &ExecutionId,
        spec: &ResolvedPaper,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        Ok(Arc::new(session_job(
            engine,
            id,
            spec,
            reader_of(reader)?,
            sandbox,
        )?))
    }

    async fn finalize<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<()> {
        engine.backtest_results(&rec.id).await.map(drop)
    }

    async fn outputs<S: Store>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
    ) -> Result<serde_json::Value> {
        engine.backtest_outputs(rec).await
    }

    async fn table<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Table> {
        Ok(backtest_table(&engine.backtest_results(&rec.id).await?))
    }
}

/// The job of session `id` (paper, or live before its broker is added) over `reader`.
pub(crate) fn session_job<S: Store>(
    engine: &Engine<S>,
    id: &ExecutionId,
    spec: &ResolvedPaper,
    reader: Arc<PackReader>,
    sandbox: &crate::exec::sandbox::SandboxRequest,
) -> Result<PaperJob<S>> {
    let b = &spec.backtest;
    let tickers = b.ticker_count(&reader);
    engine
        .options
        .limits
        .check_work(tickers, "tickers to trade on paper")?;
    if !b.config.portfolio && tickers != 1 {
        return Err(EngineError::Invalid(format!(
            "`tickers`: the pack has {tickers} tickers; a paper session trades one (name it in `tickers`), or a portfolio of several with shared cash (`config.portfolio`)"
        )));
    }
    let recorder = Recorder {
        store: engine.store().clone(),
        execution: id.clone(),
        events: engine.events.clone(),
        clock: engine.clock.clone(),
        runtime: tokio::runtime::Handle::current(),
    };
    let follow = spec.follow.as_ref().map(|name| Follow {
        name: name.clone(),
        packs: engine.packs.clone(),
    });
    Ok(PaperJob::new(
        b.clone(),
        engine.sandboxed(sandbox),
        reader,
        (recorder, Speed(spec.speed), follow),
        std::time::Duration::from_millis(engine.options.paper_idle_ms),
    ))
}

/// Whether `rec` holds backtest results: a backtest's, or a paper or live session's.
pub(crate) fn has_backtest_results(rec: &ExecutionRecord) -> Result<()> {
    if matches!(rec.kind, ExecutionKind::Paper | ExecutionKind::Live) {
        return Ok(());
    }
    super::spec_of::<Backtest>(rec).map(drop)
}

/// Events of a paper session's record read per store call.
const RECORD_BATCH: u32 = 1000;
/// Most record events one page holds.
pub const MAX_RECORD_PAGE: u32 = 10_000;

/// A page of a paper session's record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRecord {
    /// Its order events and trading days, oldest first.
    pub events: Vec<quantd_core::EventRecord>,
    /// The sequence number to ask for the next page after; `None` when this page is the last
    /// so far (a running session adds more).
    pub next: Option<u64>,
}

impl<S: Store> Engine<S> {
    /// The record of paper session `id`: its order events (accepted, rejected, filled,
    /// cancelled, expired) and trading days after event number `after`, at most `limit`
    /// ([`MAX_RECORD_PAGE`] at most).
    pub async fn session_record(
        &self,
        id: &ExecutionId,
        after: u64,
        limit: u32,
    ) -> Result<SessionRecord> {
        let rec = self.execution(id).await?;
        if rec.kind == ExecutionKind::Live {
            super::spec_of::<super::live::Live>(&rec)?;
        } else {
            super::spec_of::<Paper>(&rec)?;
        }
        read_record(
            self.store(),
            id,
            after,
            limit.clamp(1, MAX_RECORD_PAGE) as usize,
        )
        .await
    }
}

/// Up to `limit` events of the record of session `id` after event number `after`.
pub(crate) async fn read_record<S: Store>(
    store: &S,
    id: &ExecutionId,
    after: u64,
    limit: usize,
) -> Result<SessionRecord> {
    let mut events: Vec<quantd_core::EventRecord> = Vec::new();
    let mut cursor = after;
    loop {
        let batch = store.events_after(id, cursor, RECORD_BATCH).await?;
        let Some(last) = batch.last() else {
            return Ok(SessionRecord { events, next: None });
        };
        cursor = last.seq;
        for e in batch {
            if !e.event.is_session_record() {
                continue;
            }
            if events.len() == limit {
                let next = events.last().map(|e| e.seq);
                return Ok(SessionRecord { events, next });
            }
            events.push(e);
        }
    }
}

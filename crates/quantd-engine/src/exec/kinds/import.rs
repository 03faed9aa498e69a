//! The `import` kind: an uploaded file becomes a data pack as an execution of one shard, so an
//! upload is durable (the file waits under `<data>/uploads` until its shard has run; a crash
//! runs it again), watched (its steps stream as `phase` events: `read` bytes, `validate`,
//! `hash`, `write` tickers), listed in history and cancelled like any other work.
//!
//! The shard's result is the [`ImportOutcome`] (JSON), also stored as the execution's summary.
//! Imports are started by an upload ([`Engine::submit_import`]), not by a submit request.

use super::{Kind, spec_of};
use crate::error::{EngineError, Result as EngineResult};
use crate::exec::clock::Clock;
use crate::exec::jobs::{Job, ShardControl, ShardFailure, ShardOutput};
use crate::exec::request::SubmitRequest;
use crate::exec::submit::Planned;
use crate::exec::{Engine, ExecutionOptions, Submitted};
use crate::packs::Packs;
use crate::views::{Column, ColumnType, Table};
use quantd_core::{ErrorClass, Event, EventRecord, ExecutionId, Progress, Rights};
use quantd_data::ImportOptions;
use quantd_data::PackReader;
use quantd_store::Store;
use quantd_store::{ExecutionRecord, PackRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{broadcast, mpsc};

/// How often a running import reports how far its step is, at most.
const PHASE_EVERY: Duration = Duration::from_millis(200);

/// A request to import an uploaded file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRequest {
    /// The uploaded file, already saved under [`crate::DataDir::uploads`]; the execution owns
    /// it from now on (it is removed once imported or refused).
    pub upload: PathBuf,
    /// The file's name as the user knows it (shown in the pack's origin and in errors instead of
    /// the server's path).
    pub shown_as: String,
    /// The pack's name.
    pub name: String,
    /// Parsing options.
    pub options: ImportOptions,
    /// Where the data came from and what may be done with it.
    pub rights: Rights,
}

/// A resolved import, as stored with the execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedImport {
    /// The uploaded file.
    pub upload: PathBuf,
    /// The name the user knows it by.
    pub shown_as: String,
    /// The pack's name.
    pub name: String,
    /// The ticker of a file without a ticker column.
    pub ticker: Option<String>,
    /// Drop bad rows instead of refusing the file.
    pub lenient: bool,
    /// The exchange's time zone of naive times (`--tz`); imports stored before packs kept
    /// instants have none.
    #[serde(default)]
    pub tz: Option<quantd_data::time::Zone>,
    /// The unit of integer times (`--epoch`).
    #[serde(default)]
    pub epoch: Option<quantd_data::time::Epoch>,
    /// The bar interval, when given (`--interval`).
    #[serde(default)]
    pub interval: Option<quantd_data::time::Interval>,
    /// Rights stored with the pack.
    pub rights: Rights,
}

impl From<&ImportRequest> for ResolvedImport {
    fn from(r: &ImportRequest) -> Self {
        ResolvedImport {
            upload: r.upload.clone(),
            shown_as: r.shown_as.clone(),
            name: r.name.clone(),
            ticker: r.options.ticker.clone(),
            lenient: r.options.lenient,
            tz: r.options.tz,
            epoch: r.options.epoch,
            interval: r.options.interval,
            rights: r.rights.clone(),
        }
    }
}

/// What an import produced: the shard's result and the execution's summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportOutcome {
    /// The pack's name.
    pub name: String,
    /// The pack's id (content hash).
    pub pack_id: String,
    /// Tickers in the pack.
    pub tickers: u64,
    /// Bars in the pack.
    pub bars: u64,
    /// Data rows read from the file.
    pub rows_read: u64,
    /// Rows dropped (lenient imports).
    pub rows_dropped: u64,
    /// The name already had exactly this content: nothing was written.
    pub unchanged: bool,
}

/// The `import` kind.
pub struct Import;

impl Kind for Import {
    const KIND: quantd_core::ExecutionKind = quantd_core::ExecutionKind::Import;
    const FIELDS: &'static [&'static str] = &[];
    const READS_PACK: bool = false;
    type Spec = ResolvedImport;

    async fn resolve<S: Store>(
        _engine: &Engine<S>,
        _workspace: &str,
        _pack: Option<&PackRecord>,
        _request: SubmitRequest,
    ) -> EngineResult<ResolvedImport> {
        Err(EngineError::Invalid(
            "an import starts from an upload: `POST /v1/packs/import?name=NAME` with the file as \
             the body, or `quantd pack import FILE --name NAME`"
                .into(),
        ))
    }

    fn name(spec: &ResolvedImport) -> Option<String> {
        Some(spec.name.clone())
    }

    fn build<S: Store>(
        engine: &Engine<S>,
        id: &ExecutionId,
        spec: &ResolvedImport,
        _reader: Option<Arc<PackReader>>,
        _sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> EngineResult<Arc<dyn Job>> {
        Ok(Arc::new(ImportJob::new(
            spec.clone(),
            id.clone(),
            engine.packs.clone(),
            engine.events.clone(),
            engine.clock.clone(),
        )))
    }

    async fn finalize<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> EngineResult<()> {
        engine.import_outcome(&rec.id).await.map(drop)
    }

    async fn table<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> EngineResult<Table> {
        Ok(match engine.import_outcome(&rec.id).await? {
            Some(o) => import_table(&o),
            None => Table::default(),
        })
    }
}

/// The upload an unfinished import execution owns (`None` for other kinds).
pub fn upload_of(rec: &ExecutionRecord) -> Option<PathBuf> {
    spec_of::<Import>(rec).ok().map(|s| s.upload)
}

impl<S: Store> Engine<S> {
    /// Submits the import of an uploaded file on behalf of `workspace`: no input pack and no
    /// freshness gate; the fingerprint names the upload's content and options, but an import is
    /// never reused (it is cheap when the content is unchanged: the pack is found by its hash and
    /// nothing is written).
    pub async fn submit_import(
        &self,
        workspace: &str,
        request: &ImportRequest,
    ) -> EngineResult<Submitted> {
        crate::packs::check_name(&request.name)?;
        if let Some(p) = &request.rights.provider {
            self.provider(p).await?;
        }
        let spec = ResolvedImport::from(request);
        let id = self.new_execution_id();
        let job = Import::build(self, &id, &spec, None, &Default::default())?;
        let stored = super::StoredSpec::of::<Import>(&spec);
        let planned = Planned::new(id, stored, String::new(), ExecutionOptions::default(), job);
        self.create(workspace, planned, false, None).await
    }

    /// What an import execution produced (`None` until its shard is done); stored as its
    /// summary.
    pub async fn import_outcome(&self, id: &ExecutionId) -> EngineResult<Option<ImportOutcome>> {
        let rec = self.execution(id).await?;
        spec_of::<Import>(&rec)?;
        let Some(body) = self.store().shard_result(id, 0).await? else {
            return Ok(None);
        };
        let outcome: ImportOutcome = serde_json::from_slice(&body)
            .map_err(|e| EngineError::Internal(format!("stored import outcome: {e}")))?;
        if rec.summary.is_none() {
            let summary = serde_json::to_value(&outcome).expect("outcomes serialize");
            self.store().set_summary(id, &summary).await?;
        }
        Ok(Some(outcome))
    }
}

/// An import's outcome as one row.
pub fn import_table(o: &ImportOutcome) -> Table {
    let mut t = Table::new(vec![
        Column::new("name", ColumnType::Text),
        Column::new("pack", ColumnType::Text),
        Column::new("tickers", ColumnType::Int),
        Column::new("bars", ColumnType::Int),
        Column::new("rows read", ColumnType::Int),
        Column::new("rows dropped", ColumnType::Int),
        Column::new("unchanged", ColumnType::Text),
    ]);
    t.push(vec![
        o.name.as_str().into(),
        o.pack_id.as_str().into(),
        o.tickers.into(),
        o.bars.into(),
        o.rows_read.into(),
        o.rows_dropped.into(),
        o.unchanged.to_string().into(),
    ]);
    t
}

/// The job of an import execution.
pub(crate) struct ImportJob<S> {
    spec: ResolvedImport,
    execution: ExecutionId,
    packs: Packs<S>,
    events: broadcast::Sender<EventRecord>,
    clock: Arc<dyn Clock>,
    runtime: tokio::runtime::Handle,
}

impl<S: Store + Clone + 'static> ImportJob<S> {
    /// The job; must be built inside the engine's runtime.
    pub(crate) fn new(
        spec: ResolvedImport,
        execution: ExecutionId,
        packs: Packs<S>,
        events: broadcast::Sender<EventRecord>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        ImportJob {
            spec,
            execution,
            packs,
            events,
            clock,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// Appends phase events in order, as they come, until the sender side is dropped.
    fn forward_phases(
        &self,
        mut rx: mpsc::UnboundedReceiver<Event>,
    ) -> tokio::task::JoinHandle<()> {
        let store = self.packs.store().clone();
        let id = self.execution.clone();
        let events = self.events.clone();
        let clock = self.clock.clone();
        self.runtime.spawn(async move {
            while let Some(ev) = rx.recv().await {
                match store.record_event(&id, clock.now_ms(), ev).await {
                    Ok(rec) => {
                        let _ = events.send(rec);
                    }
                    Err(e) => tracing::warn!(execution = %id, error = %e, "could not record an import phase"),
                }
            }
        })
    }

    fn import(&self) -> crate::Result<crate::ImportReport> {
        let (tx, rx) = mpsc::unbounded_channel();
        let forward = self.forward_phases(rx);
        let progress: Arc<dyn Progress> = Arc::new(PhaseProgress::new(tx));
        let s = &self.spec;
        let report = self.runtime.block_on(self.packs.import_file_as(
            &s.upload,
            &s.shown_as,
            &s.name,
            ImportOptions {
                ticker: s.ticker.clone(),
                lenient: s.lenient,
                tz: s.tz,
                epoch: s.epoch,
                interval: s.interval,
            },
            s.rights.clone(),
            progress.clone(),
        ));
        progress.finish();
        drop(progress);
        // Every phase event is stored before the shard's completion is.
        let _ = self.runtime.block_on(forward);
        report
    }
}

impl<S: Store + Clone + 'static> Job for ImportJob<S> {
    fn plan(&self) -> Vec<Value> {
        vec![serde_json::json!({})]
    }

    fn run(&self, _payload: &Value, _ctl: &ShardControl) -> Result<ShardOutput, ShardFailure> {
        let result = self.import();
        let done = match &result {
            Ok(_) => true,
            Err(e) => matches!(e.class(), ErrorClass::Data | ErrorClass::Validation),
        };
        if done {
            // Imported, or refused for what the file holds: the upload is of no further use.
            if let Err(e) = std::fs::remove_file(&self.spec.upload) {
                tracing::warn!(file = %self.spec.upload.display(), error = %e, "could not remove an upload");
            }
        }
        let report = result.map_err(|e| {
            let message = e
                .to_string()
                .replace(&self.spec.upload.display().to_string(), &self.spec.shown_as);
            ShardFailure::Error(e.class(), message)
        })?;
        let outcome = ImportOutcome {
            name: report.pack.name.clone(),
            pack_id: report.pack.id.to_string(),
            tickers: report.pack.tickers,
            bars: report.pack.bars,
            rows_read: report.rows_read,
            rows_dropped: report.rows_dropped,
            unchanged: report.unchanged,
        };
        Ok(ShardOutput {
            bars: outcome.bars,
            rows: 1,
            body: serde_json::to_vec(&outcome).expect("outcomes serialize"),
            scan_summary: None,
            summary: Some(serde_json::to_value(&outcome).expect("outcomes serialize")),
        })
    }
}

/// [`Progress`] as `phase` events: one when a step starts, then at most one per
/// [`PHASE_EVERY`], and the step's last count when the next one starts.
struct PhaseProgress {
    tx: mpsc::UnboundedSender<Event>,
    state: Mutex<PhaseState>,
}

struct PhaseState {
    phase: String,
    done: u64,
    total: u64,
    last_sent: Instant,
    sent_done: u64,
}

impl PhaseProgress {
    fn new(tx: mpsc::UnboundedSender<Event>) -> Self {
        PhaseProgress {
            tx,
            state: Mutex::new(PhaseState {
                phase: String::new(),
                done: 0,
                total: 0,
                last_sent: Instant::now(),
                sent_done: 0,
            }),
        }
    }

    fn send(&self, st: &mut PhaseState) {
        st.last_sent = Instant::now();
        st.sent_done = st.done;
        let _ = self.tx.send(Event::Phase {
            phase: st.phase.clone(),
            done: st.done,
            total: st.total,
        });
    }

    /// Sends the current step's last count if it moved since the last event.
    fn flush(&self, st: &mut PhaseState) {
        if !st.phase.is_empty() && st.done != st.sent_done {
            self.send(st);
        }
    }
}

impl Progress for PhaseProgress {
    fn phase(&self, name: &str, total: u64) {
        let mut st = self.state.lock().expect("progress lock");
        self.flush(&mut st);
        st.phase = name.to_owned();
        st.done = 0;
        st.total = total;
        self.send(&mut st);
    }

    fn advance(&self, n: u64) {
        let mut st = self.state.lock().expect("progress lock");
        st.done += n;
        if st.last_sent.elapsed() >= PHASE_EVERY {
            self.send(&mut st);
        }
    }

    fn finish(&self) {
        let mut st = self.state.lock().expect("progress lock");
        self.flush(&mut st);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_are_reported_at_start_throttled_and_flushed() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let p = PhaseProgress::new(tx);
        p.phase("read", 100);
        for _ in 0..10 {
            p.advance(10);
        }
        p.phase("write", 3);
        p.advance(3);
        p.finish();
        let mut got = Vec::new();
        while let Ok(Event::Phase { phase, done, total }) = rx.try_recv() {
            got.push((phase, done, total));
        }
        assert_eq!(
            got,
            [
                ("read".into(), 0, 100),
                ("read".into(), 100, 100),
                ("write".into(), 0, 3),
                ("write".into(), 3, 3),
            ]
        );
    }
}

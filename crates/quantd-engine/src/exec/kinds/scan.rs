//! The `scan` kind: a scanner (an expression, or Python in the sandbox) over a pack marks the
//! (ticker, date) rows where its setup occurs. Shards are batches of tickers of about equal
//! bars; rows stream back shard by shard in plan order (sorted by ticker, then date), so
//! reading a whole-market result costs one shard's memory.

use super::{Kind, reader_of, spec_of};
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::jobs::{
    Job, SCAN_SHARD_BARS, ShardControl, ShardFailure, ShardOutput, bar_batches, payload_tickers,
};
use crate::exec::limits::Limits;
use crate::exec::request::SubmitRequest;
use crate::exec::spec::{CodeChoice, CodeInfo, scanner_text};
use crate::results::{ResultWriter, Writing};
use crate::scan;
use crate::views::Table;
use quantd_core::{ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_data::time::Calendar;
use quantd_expr::Program;
use quantd_store::{ExecutionRecord, PackRecord, Store};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

/// A resolved scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedScan {
    /// The expression text (the Python source when `python`).
    pub source: String,
    /// The source is a Python scanner (run in the sandbox), not an expression.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub python: bool,
    /// The stored code it came from, if any.
    pub code: Option<CodeInfo>,
    /// The pack read.
    pub pack_id: String,
    /// Parameter values.
    pub params: BTreeMap<String, f64>,
    /// Ticker selection.
    pub tickers: Option<Vec<String>>,
    /// Date window.
    pub from: Option<quantd_data::when::When>,
    /// Date window.
    pub to: Option<quantd_data::when::When>,
}

/// The `scan` kind.
pub struct Scan;

impl Kind for Scan {
    const KIND: ExecutionKind = ExecutionKind::Scan;
    const FIELDS: &'static [&'static str] = &["code", "expr", "python", "tickers", "from", "to"];
    type Spec = ResolvedScan;

    async fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        mut request: SubmitRequest,
    ) -> Result<ResolvedScan> {
        let choice = CodeChoice::of(&mut request)?;
        let (source, python, code) = scanner_text(engine.store(), workspace, choice).await?;
        Ok(ResolvedScan {
            source,
            python,
            code,
            pack_id: pack.map(|p| p.id.to_string()).unwrap_or_default(),
            params: request.params,
            tickers: request.tickers,
            from: request.from,
            to: request.to,
        })
    }

    fn sandboxed(spec: &ResolvedScan) -> bool {
        spec.python
    }

    fn code(spec: &ResolvedScan) -> Option<&CodeInfo> {
        spec.code.as_ref()
    }

    fn build<S: Store>(
        engine: &Engine<S>,
        _id: &ExecutionId,
        spec: &ResolvedScan,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        let reader = reader_of(reader)?;
        let options = &engine.options;
        let listed = spec.tickers.as_ref().map(Vec::len);
        let tickers = listed.map_or(reader.manifest().tickers.len(), |n| n) as u64;
        options.limits.check_work(tickers, "tickers to scan")?;
        if spec.python {
            let custom =
                (options.scan_shard_bars != SCAN_SHARD_BARS).then_some(options.scan_shard_bars);
            return Ok(Arc::new(crate::python::PyScanJob::new(
                spec,
                reader,
                engine.sandboxed(sandbox),
                custom,
            )?));
        }
        Ok(Arc::new(ScanJob::new(
            spec,
            reader,
            options.scan_shard_bars,
            &options.limits,
        )?))
    }

    async fn finalize<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<()> {
        engine.store_scan_summary(rec).await.map(drop)
    }

    async fn outputs<S: Store>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
    ) -> Result<serde_json::Value> {
        engine.scan_outputs(rec).await
    }

    async fn table<S: Store>(_engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Table> {
        Err(EngineError::Invalid(format!(
            "execution {} is a scan; it has no result table (a scan's rows stream)",
            rec.id
        )))
    }

    /// Streams the rows shard by shard: the writer starts with the first chunk's columns
    /// (none with `signals_only`); with `max_rows`, stops after that many.
    async fn write_results<S: Store, W: Write + Send>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
        how: &Writing<'_>,
        out: W,
    ) -> Result<()> {
        let mut out = Some(out);
        let mut writer: Option<ResultWriter<W>> = None;
        let mut left = how.max_rows.unwrap_or(usize::MAX);
        let read = engine
            .scan_results(&rec.id, |chunk| {
                let chunk = match (how.signals_only, left < chunk.len()) {
                    (true, _) => chunk.signals_only().head(left),
                    (false, true) => chunk.head(left),
                    (false, false) => chunk.clone(),
                };
                left -= chunk.len();
                let w = match &mut writer {
                    Some(w) => w,
                    None => writer.insert(ResultWriter::marked(
                        how.format,
                        chunk.calendar,
                        &chunk.indicators,
                        out.take().expect("one writer"),
                        how.mark,
                    )?),
                };
                w.write(&chunk)?;
                if left == 0 {
                    // Stops the stream: every row asked for is out.
                    return Err(EngineError::Cancelled);
                }
                Ok(())
            })
            .await;
        match read {
            Err(EngineError::Cancelled) if left == 0 => {}
            other => other?,
        }
        match writer {
            Some(w) => w.finish(),
            None => {
                let calendar = engine.scan_calendar(&rec.id).await?;
                ResultWriter::marked(
                    how.format,
                    calendar,
                    &[],
                    out.take().expect("unused"),
                    how.mark,
                )?
                .finish()
            }
        }
    }
}

/// The `tickers_scanned` of a scan's summary: the tickers it asked for, else every ticker of its
/// pack (`pack_tickers`). `None` for other kinds.
pub(crate) fn tickers_scanned(rec: &ExecutionRecord, pack_tickers: u64) -> Option<u64> {
    let spec = spec_of::<Scan>(rec).ok()?;
    Some(
        spec.tickers
            .as_ref()
            .map_or(pack_tickers, |t| t.len() as u64),
    )
}

impl<S: Store> Engine<S> {
    /// The empty rows every chunk of a scan's results starts from: its calendar and its
    /// indicator columns (a Python scanner's are the union of the names its shards carry).
    async fn signals_template(&self, id: &ExecutionId) -> Result<scan::Signals> {
        let job = self.job(id).await?;
        let mut template = job.signals_template().ok_or_else(|| {
            EngineError::Invalid(format!(
                "execution {id} is not a scan; it has no signal rows"
            ))
        })?;
        if job.indicators_from_results() {
            // Every chunk gets the same columns: the union of the names the shards carry.
            for idx in self.store().result_shards(id).await? {
                if let Some(body) = self.store().shard_result(id, idx).await?
                    && let Some(names) = scan::Signals::encoded_names(&body)?
                {
                    for n in names {
                        if !template.indicators.contains(&n) {
                            template.indicators.push(n);
                        }
                    }
                }
            }
        }
        Ok(template)
    }

    /// The indicator (`let`) columns of a scan's rows, after `ticker` and the bar.
    pub async fn scan_columns(&self, id: &ExecutionId) -> Result<Vec<String>> {
        Ok(self.signals_template(id).await?.indicators)
    }

    /// Streams a scan execution's signal rows to `sink`, one shard's rows at a time in plan
    /// order (so rows come sorted by ticker, then date) — memory is bounded by one shard.
    pub async fn scan_results(
        &self,
        id: &ExecutionId,
        mut sink: impl FnMut(&scan::Signals) -> Result<()>,
    ) -> Result<()> {
        let template = self.signals_template(id).await?;
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                let mut chunk = template.clone();
                chunk.append_encoded(&body)?;
                sink(&chunk)?;
            }
        }
        Ok(())
    }

    /// How a scan's rows read their bars' instants: its pack's calendar (what
    /// [`scan::Signals::calendar`] of every chunk of [`Engine::scan_results`] holds, known here
    /// without reading a row).
    pub async fn scan_calendar(&self, id: &ExecutionId) -> Result<Calendar> {
        Ok(self
            .job(id)
            .await?
            .signals_template()
            .map(|t| t.calendar)
            .unwrap_or_default())
    }

    /// A finished scan's summary (totals, top dates and tickers): the stored one, or counted now
    /// and stored with the execution.
    pub async fn summarize_scan(&self, id: &ExecutionId) -> Result<scan::ScanSummary> {
        let rec = self.execution(id).await?;
        if let Some(stored) = rec.summary.as_ref()
            && let Ok(summary) = serde_json::from_value(stored.clone())
        {
            return Ok(summary);
        }
        self.store_scan_summary(&rec).await
    }

    /// Counts a scan's signals and stores the summary. Merges the counts its shards made while
    /// they ran when this engine committed every done shard; else decodes the stored rows.
    async fn store_scan_summary(&self, rec: &ExecutionRecord) -> Result<scan::ScanSummary> {
        let spec = spec_of::<Scan>(rec)?;
        let tickers = match &spec.tickers {
            Some(t) => t.len() as u64,
            None => self
                .job(&rec.id)
                .await?
                .signals_template()
                .map_or(0, |t| t.tickers.len() as u64),
        };
        let partials = self
            .scan_partials
            .lock()
            .expect("partials lock")
            .remove(&rec.id)
            .unwrap_or_default();
        let mut builder = scan::SummaryBuilder::default();
        // Partials exist only for committed shards, one per index: equal counts mean equal sets.
        if partials.len() == rec.shards_done as usize {
            for part in partials.into_values() {
                builder.merge(part);
            }
        } else {
            self.scan_results(&rec.id, |chunk| {
                builder.add(chunk);
                Ok(())
            })
            .await?;
        }
        let summary = builder.finish(tickers, rec.bars);
        self.store()
            .set_summary(
                &rec.id,
                &serde_json::to_value(&summary).expect("summary serializes"),
            )
            .await?;
        Ok(summary)
    }
}

/// Scan progress (tickers done) as bars on a [`ShardControl`], at the shard's mean bars per
/// ticker: the running count is approximate, the committed one exact.
struct ScanBars<'a> {
    ctl: &'a ShardControl,
    bars_per_ticker: f64,
}

impl quantd_core::Progress for ScanBars<'_> {
    fn phase(&self, _name: &str, _total: u64) {}
    fn advance(&self, tickers: u64) {
        self.ctl
            .add_bars((tickers as f64 * self.bars_per_ticker) as u64);
    }
    fn finish(&self) {}
}

/// A scan of expressions: shards are batches of tickers.
pub struct ScanJob {
    reader: Arc<PackReader>,
    program: Program,
    tickers: Vec<usize>,
    from: Option<quantd_data::when::When>,
    to: Option<quantd_data::when::When>,
    shard_bars: u64,
    max_shard_memory: u64,
}

impl ScanJob {
    /// A scan in shards of at most `max_shard_bars`, balanced: as few shards as cover its
    /// tickers' bars, of equal bars.
    /// The shard size also keeps a shard's worst case (a hit on every bar, with every indicator
    /// column) under `max_shard_memory`.
    fn new(
        s: &ResolvedScan,
        reader: Arc<PackReader>,
        max_shard_bars: u64,
        limits: &Limits,
    ) -> Result<ScanJob> {
        let max_shard_memory = limits.max_shard_memory;
        let program = scan::compile_with(&reader, &s.source, &s.params, &limits.expr)?;
        let tickers = scan::select_tickers(&reader, s.tickers.as_deref())?;
        limits.check_cost(&program.cost(), &reader, &tickers)?;
        let entries = &reader.manifest().tickers;
        let total: u64 = tickers.iter().map(|&t| entries[t].rows).sum();
        let by_memory = max_shard_memory / scan::row_bytes(program.indicators().len());
        let max_shard_bars = max_shard_bars.min(by_memory).max(1);
        let shards = total.div_ceil(max_shard_bars).max(1);
        Ok(ScanJob {
            program,
            tickers,
            from: s.from,
            to: s.to,
            shard_bars: total.div_ceil(shards).max(1),
            max_shard_memory,
            reader,
        })
    }
}

impl Job for ScanJob {
    fn plan(&self) -> Vec<Value> {
        bar_batches(&self.reader, &self.tickers, self.shard_bars)
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let tickers: Vec<usize> = payload_tickers(payload)?;
        let entries = &self.reader.manifest().tickers;
        if quantd_data::failpoint::armed() {
            for &t in &tickers {
                quantd_data::failpoint::hit(&format!("scan-ticker={}", entries[t].ticker));
            }
        }
        let bars: u64 = tickers.iter().map(|&t| entries[t].rows).sum();
        let progress = ScanBars {
            ctl,
            bars_per_ticker: bars as f64 / tickers.len().max(1) as f64,
        };
        let signals = scan::run_bounded(
            &self.reader,
            &self.program,
            &tickers,
            self.from,
            self.to,
            ctl.stop_flag(),
            &progress,
            self.max_shard_memory,
        )?;
        let mut summary = scan::SummaryBuilder::default();
        summary.add(&signals);
        Ok(ShardOutput {
            bars,
            rows: signals.len() as u64,
            body: signals.encode_rows(),
            scan_summary: Some(summary),
            summary: None,
        })
    }

    fn signals_template(&self) -> Option<scan::Signals> {
        Some(scan::Signals {
            tickers: self.reader.ticker_names(),
            indicators: self.program.indicators().to_vec(),
            calendar: self.reader.manifest().calendar,
            ..Default::default()
        })
    }

    fn parallel_inside(&self) -> bool {
        true
    }

    fn may_run_ahead(&self) -> bool {
        true
    }
}

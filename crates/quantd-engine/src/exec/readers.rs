//! Reading results back, per kind: scan rows, A+ reports, backtest and sweep rows, run logs,
//! import outcomes, and the summaries stored from them.

use super::*;

impl<S: Store> Engine<S> {
    /// Streams a scan execution's signal rows to `sink`, one shard's rows at a time in plan
    /// order (so rows come sorted by ticker, then date) — memory is bounded by one shard.
    pub async fn scan_results(
        &self,
        id: &ExecutionId,
        mut sink: impl FnMut(&crate::scan::Signals) -> Result<()>,
    ) -> Result<()> {
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
                    && let Some(names) = crate::scan::Signals::encoded_names(&body)?
                {
                    for n in names {
                        if !template.indicators.contains(&n) {
                            template.indicators.push(n);
                        }
                    }
                }
            }
        }
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                let mut chunk = template.clone();
                chunk.append_encoded(&body)?;
                sink(&chunk)?;
            }
        }
        Ok(())
    }

    /// The log and metrics of a `run` execution (its one shard's body); stores the metrics as
    /// the summary. `None` when the run has no committed result (it failed or is still running).
    pub async fn run_log(&self, id: &ExecutionId) -> Result<Option<crate::python::bot::RunLog>> {
        let rec = self.execution(id).await?;
        if rec.kind != quantd_core::ExecutionKind::Run {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not a run",
                rec.kind
            )));
        }
        let Some(idx) = self.store().result_shards(id).await?.into_iter().next() else {
            return Ok(None);
        };
        let Some(body) = self.store().shard_result(id, idx).await? else {
            return Ok(None);
        };
        let log: crate::python::bot::RunLog = serde_json::from_slice(&body)
            .map_err(|e| EngineError::Internal(format!("stored run log: {e}")))?;
        if rec.summary.is_none() {
            self.store().set_summary(id, &log.summary()).await?;
        }
        Ok(Some(log))
    }

    /// What an import execution produced (`None` until its shard is done); stored as its
    /// summary.
    pub async fn import_outcome(&self, id: &ExecutionId) -> Result<Option<import::ImportOutcome>> {
        let rec = self.execution(id).await?;
        if rec.kind != quantd_core::ExecutionKind::Import {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not an import",
                rec.kind
            )));
        }
        let Some(body) = self.store().shard_result(id, 0).await? else {
            return Ok(None);
        };
        let outcome: import::ImportOutcome = serde_json::from_slice(&body)
            .map_err(|e| EngineError::Internal(format!("stored import outcome: {e}")))?;
        if rec.summary.is_none() {
            let summary = serde_json::to_value(&outcome).expect("outcomes serialize");
            self.store().set_summary(id, &summary).await?;
        }
        Ok(Some(outcome))
    }

    /// The A+ report of a test execution, assembled from its shards; stored as its summary.
    pub async fn test_report(&self, id: &ExecutionId) -> Result<crate::atest::Report> {
        let rec = self.execution(id).await?;
        let ResolvedSpec::Test(spec) = Self::spec_of(&rec)? else {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not an A+ test",
                rec.kind
            )));
        };
        let mut tickers = Vec::new();
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                let part: Vec<crate::atest::TickerReport> = serde_json::from_slice(&body)
                    .map_err(|e| EngineError::Internal(format!("stored test results: {e}")))?;
                tickers.extend(part);
            }
        }
        let report = crate::atest::Report::new(spec.tolerance, tickers);
        let summary = serde_json::json!({
            "precision": report.precision, "recall": report.recall, "accuracy": report.accuracy,
            "matched": report.matched, "missed": report.missed, "unexpected": report.unexpected,
        });
        self.store().set_summary(id, &summary).await?;
        Ok(report)
    }

    /// A backtest's per-ticker results, in ticker order; stores the aggregate as the summary.
    pub async fn backtest_results(
        &self,
        id: &ExecutionId,
    ) -> Result<Vec<strategy::TickerBacktest>> {
        let rec = self.execution(id).await?;
        if rec.kind != quantd_core::ExecutionKind::Backtest {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not a backtest",
                rec.kind
            )));
        }
        let mut out = Vec::new();
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                let part: Vec<strategy::TickerBacktest> = serde_json::from_slice(&body)
                    .map_err(|e| EngineError::Internal(format!("stored backtest results: {e}")))?;
                out.extend(part);
            }
        }
        let summary = strategy::aggregate(&out);
        self.store()
            .set_summary(
                id,
                &serde_json::to_value(&summary).expect("summary serializes"),
            )
            .await?;
        Ok(out)
    }

    /// A sweep's grid (names and values) and its rows, shard by shard, to `sink`.
    pub async fn sweep_results(
        &self,
        id: &ExecutionId,
        mut sink: impl FnMut(&[strategy::SweepResultRow]) -> Result<()>,
    ) -> Result<quantd_backtest::ParamGrid> {
        let rec = self.execution(id).await?;
        let ResolvedSpec::Sweep(spec) = Self::spec_of(&rec)? else {
            return Err(EngineError::Invalid(format!(
                "execution {id} is a {}, not a sweep",
                rec.kind
            )));
        };
        let grid = quantd_backtest::ParamGrid::parse(&spec.grid)?;
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                sink(&strategy::decode_sweep(&body)?)?;
            }
        }
        Ok(grid)
    }

    /// A finished scan's summary (totals, top dates and tickers): the stored one, or counted now
    /// and stored with the execution.
    pub async fn summarize_scan(&self, id: &ExecutionId) -> Result<crate::scan::ScanSummary> {
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
    pub(super) async fn store_scan_summary(
        &self,
        rec: &ExecutionRecord,
    ) -> Result<crate::scan::ScanSummary> {
        let ResolvedSpec::Scan(spec) = Self::spec_of(rec)? else {
            return Err(EngineError::Invalid(format!(
                "execution {} is a {}, not a scan",
                rec.id, rec.kind
            )));
        };
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
        let mut builder = crate::scan::SummaryBuilder::default();
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

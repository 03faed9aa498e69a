//! The `sweep` kind: a backtest over a parameter grid (with an optional constraint), ranked by
//! any statistic and mapped as a heatmap ([`SweepView`]). Shards are ticker batches, each
//! trading every parameter set; rows are encoded compactly (see [`strategy::decode_sweep`]).

use super::backtest::ResolvedBacktest;
use super::{Kind, reader_of, spec_of};
use crate::error::Result;
use crate::exec::Engine;
use crate::exec::jobs::Job;
use crate::exec::request::SubmitRequest;
use crate::exec::spec::CodeInfo;
use crate::exec::strategy;
use crate::views::{SweepCollector, SweepView, Table};
use quantd_core::{ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_store::{ExecutionRecord, PackRecord, Store};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// A resolved sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedSweep {
    /// The backtest (fixed parameters in `params`).
    pub backtest: ResolvedBacktest,
    /// Grid ranges.
    pub grid: Vec<String>,
    /// Constraint on the parameters.
    pub constraint: Option<String>,
}

/// The `sweep` kind.
pub struct Sweep;

impl Kind for Sweep {
    const KIND: ExecutionKind = ExecutionKind::Sweep;
    const FIELDS: &'static [&'static str] = &[
        "code",
        "python",
        "strategy",
        "tickers",
        "from",
        "to",
        "config",
        "grid",
        "constraint",
    ];
    type Spec = ResolvedSweep;

    async fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        mut request: SubmitRequest,
    ) -> Result<ResolvedSweep> {
        let backtest = ResolvedBacktest::of(engine, workspace, pack, &mut request).await?;
        Ok(ResolvedSweep {
            backtest,
            grid: request.grid,
            constraint: request.constraint,
        })
    }

    fn sandboxed(spec: &ResolvedSweep) -> bool {
        spec.backtest.python.is_some()
    }

    fn code(spec: &ResolvedSweep) -> Option<&CodeInfo> {
        spec.backtest.code.as_ref()
    }

    /// Counts the grid (never expands it, so an absurd grid costs nothing) before the job is
    /// built.
    fn build<S: Store>(
        engine: &Engine<S>,
        _id: &ExecutionId,
        spec: &ResolvedSweep,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        let reader = reader_of(reader)?;
        let limits = &engine.options.limits;
        let grid = quantd_backtest::ParamGrid::parse(&spec.grid)?;
        limits.check_grid(grid.len(), spec.backtest.ticker_count(&reader))?;
        if spec.backtest.python.is_some() {
            return Ok(Arc::new(crate::python::PySweepJob::new(
                spec,
                reader,
                engine.sandboxed(sandbox),
            )?));
        }
        strategy::build_sweep(spec, reader, &limits.expr)
    }

    /// A sweep stores no summary: its view ranks parameter sets when it is read.
    async fn finalize<S: Store>(_engine: &Engine<S>, _rec: &ExecutionRecord) -> Result<()> {
        Ok(())
    }

    async fn outputs<S: Store>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
    ) -> Result<serde_json::Value> {
        engine.sweep_outputs(rec).await
    }

    async fn table<S: Store>(engine: &Engine<S>, rec: &ExecutionRecord) -> Result<Table> {
        Ok(engine.sweep_view(&rec.id).await?.table())
    }
}

impl<S: Store> Engine<S> {
    /// A sweep's grid (names and values) and its rows, shard by shard, to `sink`.
    pub async fn sweep_results(
        &self,
        id: &ExecutionId,
        mut sink: impl FnMut(&[strategy::SweepResultRow]) -> Result<()>,
    ) -> Result<quantd_backtest::ParamGrid> {
        let rec = self.execution(id).await?;
        let spec = spec_of::<Sweep>(&rec)?;
        let grid = quantd_backtest::ParamGrid::parse(&spec.grid)?;
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                sink(&strategy::decode_sweep(&body)?)?;
            }
        }
        Ok(grid)
    }

    /// A sweep's parameter sets with their mean statistics.
    pub async fn sweep_view(&self, id: &ExecutionId) -> Result<SweepView> {
        let mut collector = SweepCollector::default();
        let grid = self
            .sweep_results(id, |chunk| {
                collector.add(chunk);
                Ok(())
            })
            .await?;
        Ok(collector.finish(&grid))
    }
}

//! Python strategy sweeps: shards are ticker batches; each shard runs one sandbox job per
//! accepted parameter set over its batch — a signal strategy's signals traded by the Rust
//! backtester, a class strategy's orders filled by the broker on the job's channel
//! ([`backtest_shard`]) — and stores the same rows as an expression sweep (so rankings and
//! heatmaps are the same).

use super::ipc::bars_ipc;
use super::jobs::{backtest_shard, read_windows};
use super::{Sandboxed, params_json};
use crate::error::{EngineError, Result};
use crate::exec::jobs::{
    Job, ShardControl, ShardFailure, ShardOutput, payload_tickers, ticker_batches,
};
use crate::exec::kinds::sweep::ResolvedSweep;
use crate::exec::strategy::{SWEEP_SHARD_TICKERS, constraint_accepts, encode_sweep};
use crate::scan;
use quantd_backtest::{Metric, ParamGrid};
use quantd_data::PackReader;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A sweep of a Python strategy. See the module docs.
pub struct PySweepJob {
    py: Sandboxed,
    reader: Arc<PackReader>,
    spec: ResolvedSweep,
    source: String,
    /// The parameters of each accepted combination, by combination index.
    combos: Vec<(u32, BTreeMap<String, f64>)>,
    tickers: Vec<usize>,
}

impl PySweepJob {
    /// Parses the grid and evaluates the constraint.
    pub fn new(spec: &ResolvedSweep, reader: Arc<PackReader>, py: Sandboxed) -> Result<Self> {
        let grid = ParamGrid::parse(&spec.grid)?;
        let accepted = match &spec.constraint {
            Some(c) => constraint_accepts(&grid, c)?,
            None => vec![true; grid.len() as usize],
        };
        let mut values = Vec::new();
        let mut combos = Vec::new();
        for (i, &ok) in accepted.iter().enumerate() {
            if !ok {
                continue;
            }
            grid.values_at(i as u64, &mut values);
            let mut params = spec.backtest.params.clone();
            params.extend(grid.names().iter().cloned().zip(values.iter().copied()));
            combos.push((i as u32, params));
        }
        if combos.is_empty() {
            return Err(EngineError::Invalid(
                "the constraint rejects every parameter combination".into(),
            ));
        }
        let tickers = scan::select_tickers(&reader, spec.backtest.tickers.as_deref())?;
        Ok(PySweepJob {
            py,
            reader,
            source: spec.backtest.python.clone().unwrap_or_default(),
            spec: spec.clone(),
            combos,
            tickers,
        })
    }
}

impl Job for PySweepJob {
    fn plan(&self) -> Vec<Value> {
        ticker_batches(&self.tickers, SWEEP_SHARD_TICKERS)
    }

    fn run(
        &self,
        payload: &Value,
        ctl: &ShardControl,
    ) -> std::result::Result<ShardOutput, ShardFailure> {
        let cancel = ctl.stop_flag();
        let tickers = payload_tickers(payload)?;
        let b = &self.spec.backtest;
        let (data, ranges) = read_windows(&self.reader, &tickers, b.from, b.to)?;
        let (ipc, input) = bars_ipc(&self.reader, &ranges)?;
        let mut rows_out: Vec<(u32, u32, Vec<f64>)> = Vec::new();
        for (combo, params) in &self.combos {
            if ctl.stopped() {
                return Err(ShardFailure::Cancelled);
            }
            let (results, _) = backtest_shard(
                &self.py,
                (&self.source, &params_json(params)),
                &self.reader,
                &data,
                (ipc.clone(), &input),
                &b.config,
                false,
                (cancel, &mut super::broker::Unwatched),
            )?;
            for ((t, _, _), result) in data.iter().zip(results) {
                let metrics = Metric::ALL
                    .iter()
                    .map(|&m| result.stats.as_ref().map_or(f64::NAN, |s| s.get(m)))
                    .collect();
                rows_out.push((*t as u32, *combo, metrics));
            }
            ctl.add_bars(input.bars() as u64);
        }
        rows_out.sort_by_key(|r| (r.0, r.1));
        Ok(ShardOutput {
            bars: input.bars() as u64 * self.combos.len() as u64,
            rows: rows_out.len() as u64,
            body: encode_sweep(&rows_out),
            scan_summary: None,
            summary: None,
        })
    }
}

//! The look-ahead check of expression code (a scanner or a strategy), natively: the program is
//! evaluated on each ticker's whole history, on prefixes and on perturbed bars ([`super::cuts`]).
//! The language cannot read ahead ([`super::STATIC_PROOF`]); this confirms it, bar by bar.

use super::TickerCheck;
use super::cuts::{Column, Cutter, FACTOR, Outputs, Run, Settings};
use crate::exec::jobs::{
    Job, ShardControl, ShardFailure, ShardOutput, payload_tickers, ticker_batches,
};
use crate::inputs::{ClockBuffers, InputPlan};
use quantd_data::PackReader;
use quantd_expr::{Program, Workspace};
use serde_json::Value;
use std::sync::Arc;

/// Tickers per shard of a check.
pub const SHARD_TICKERS: usize = 5;

/// The check of a compiled expression program over `tickers` of a pack.
pub struct ExprCheckJob {
    reader: Arc<PackReader>,
    program: Program,
    plan: InputPlan,
    tickers: Vec<usize>,
    settings: Settings,
}

impl ExprCheckJob {
    /// The job checking `program` (a scanner's or a strategy's) on `tickers`.
    pub fn new(
        reader: Arc<PackReader>,
        program: Program,
        tickers: Vec<usize>,
        settings: Settings,
    ) -> ExprCheckJob {
        let plan = InputPlan::new(&[], program.columns(), reader.manifest().calendar);
        ExprCheckJob {
            reader,
            program,
            plan,
            tickers,
            settings,
        }
    }

    fn check_ticker(&self, t: usize, ws: &mut Workspace) -> Result<TickerCheck, ShardFailure> {
        let manifest = self.reader.manifest();
        let name = &manifest.tickers[t].ticker;
        let data = self.reader.read(t, &self.plan.projection(&self.reader)?)?;
        let n = data.len();
        let mut clock = ClockBuffers::default();
        let inputs = self.plan.inputs(&data, 0..n, &mut clock);
        let names = self.program.columns();
        let mut failure = None;
        let run = |r: Run| -> Outputs {
            let evaluated = match r {
                Run::Prefix(c) => {
                    let cut: Vec<&[f64]> = inputs.iter().map(|col| &col[..=c]).collect();
                    self.outputs(&cut, ws)
                }
                Run::PerturbedAfter(t) => {
                    let owned: Vec<Vec<f64>> = inputs
                        .iter()
                        .zip(names)
                        .map(|(col, name)| perturbed(col, name, t))
                        .collect();
                    let cols: Vec<&[f64]> = owned.iter().map(Vec::as_slice).collect();
                    self.outputs(&cols, ws)
                }
            };
            evaluated.unwrap_or_else(|e| {
                failure.get_or_insert(e);
                Vec::new()
            })
        };
        let stamps = data.stamps();
        let date = |i: usize| manifest.calendar.format(stamps[i]);
        let check = Cutter::new(name, n, self.settings, run, &date).check();
        match failure {
            Some(e) => Err(ShardFailure::Error(quantd_core::ErrorClass::Internal, e)),
            None => Ok(check),
        }
    }

    /// The program's outputs (signals) and indicators over `columns`.
    fn outputs(&self, columns: &[&[f64]], ws: &mut Workspace) -> Result<Outputs, String> {
        let eval = self
            .program
            .evaluate(columns, ws)
            .map_err(|e| e.to_string())?;
        let mut out: Outputs = self
            .program
            .outputs()
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), Column::Flags(eval.output(i).to_vec())))
            .collect();
        out.extend(
            self.program
                .indicators()
                .iter()
                .enumerate()
                .map(|(i, n)| (n.clone(), Column::Numbers(eval.indicator(i).to_vec()))),
        );
        Ok(out)
    }
}

/// Column `name`'s values with the bars after `t` made extreme (prices × [`FACTOR`], volume ×
/// its square; other columns as they are).
fn perturbed(col: &[f64], name: &str, t: usize) -> Vec<f64> {
    let factor = match name {
        "open" | "high" | "low" | "close" => FACTOR,
        "volume" => FACTOR * FACTOR,
        _ => 1.0,
    };
    col.iter()
        .enumerate()
        .map(|(i, &v)| if i > t { v * factor } else { v })
        .collect()
}

impl Job for ExprCheckJob {
    fn plan(&self) -> Vec<Value> {
        ticker_batches(&self.tickers, SHARD_TICKERS)
    }

    fn run(&self, payload: &Value, ctl: &ShardControl) -> Result<ShardOutput, ShardFailure> {
        let mut ws = Workspace::new();
        let mut checks = Vec::new();
        let mut bars = 0;
        for t in payload_tickers(payload)? {
            if ctl.stopped() {
                return Err(ShardFailure::Cancelled);
            }
            let check = self.check_ticker(t, &mut ws)?;
            bars += check.bars;
            ctl.add_bars(check.bars);
            checks.push(check);
        }
        Ok(ShardOutput {
            bars,
            rows: checks.len() as u64,
            body: serde_json::to_vec(&checks).expect("checks serialize"),
            scan_summary: None,
            summary: None,
        })
    }
}

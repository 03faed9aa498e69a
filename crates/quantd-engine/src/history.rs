//! Totals over past executions (`quantd summary`, `GET /v1/summary`): runs, success rate,
//! signals, and for backtests the average return, Sharpe and drawdown with the best and worst
//! run. One implementation for the CLI and the API.

use crate::error::Result;
use quantd_core::ExecutionState;
use quantd_core::state::StateMachine;
use quantd_store::{ExecutionFilter, ExecutionRecord, Store};
use serde::Serialize;

/// A run picked out by its return.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReturn {
    /// The execution id.
    pub execution: String,
    /// Its return in percent.
    pub return_pct: f64,
}

/// Totals over the executions of a workspace (of one code name, when given).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    /// The code name asked for.
    pub name: Option<String>,
    /// Executions.
    pub runs: usize,
    /// Executions that finished (completed, failed or cancelled).
    pub finished: usize,
    /// Executions that completed.
    pub completed: usize,
    /// completed / finished.
    pub success_rate: Option<f64>,
    /// Signals of every scan.
    pub signals: u64,
    /// Mean backtest return, in percent.
    pub average_return_pct: Option<f64>,
    /// Mean Sharpe ratio.
    pub average_sharpe: Option<f64>,
    /// Mean maximum drawdown, in percent.
    pub average_max_drawdown_pct: Option<f64>,
    /// The run with the highest return.
    pub best_run: Option<RunReturn>,
    /// The run with the lowest return.
    pub worst_run: Option<RunReturn>,
}

/// Summarizes the executions of `workspace` (of code `name`, when given).
pub async fn summarize(
    store: &impl Store,
    workspace: &str,
    name: Option<&str>,
) -> Result<RunSummary> {
    let f = ExecutionFilter {
        workspace: Some(workspace.to_string()),
        name: name.map(str::to_string),
        limit: u32::MAX,
        ..Default::default()
    };
    let rows = store.list_executions(&f).await?.items;
    Ok(of(name, &rows))
}

/// The summary of some executions.
pub fn of(name: Option<&str>, rows: &[ExecutionRecord]) -> RunSummary {
    let finished = rows.iter().filter(|r| r.state.is_terminal()).count();
    let completed = rows
        .iter()
        .filter(|r| r.state == ExecutionState::Completed)
        .count();
    let metric = |key: &str| -> Vec<(String, f64)> {
        rows.iter()
            .filter_map(|r| Some((r.id.to_string(), r.summary.as_ref()?.get(key)?.as_f64()?)))
            .collect()
    };
    let mean = |v: &[(String, f64)]| {
        (!v.is_empty()).then(|| v.iter().map(|x| x.1).sum::<f64>() / v.len() as f64)
    };
    let returns = metric("Return [%]");
    let pick = |r: Option<&(String, f64)>| {
        r.map(|(id, v)| RunReturn {
            execution: id.clone(),
            return_pct: *v,
        })
    };
    RunSummary {
        name: name.map(str::to_string),
        runs: rows.len(),
        finished,
        completed,
        success_rate: (finished > 0).then(|| completed as f64 / finished as f64),
        signals: rows
            .iter()
            .filter_map(|r| r.summary.as_ref()?.get("signals")?.as_u64())
            .sum(),
        average_return_pct: mean(&returns),
        average_sharpe: mean(&metric("Sharpe Ratio")),
        average_max_drawdown_pct: mean(&metric("Max. Drawdown [%]")),
        best_run: pick(returns.iter().max_by(|a, b| a.1.total_cmp(&b.1))),
        worst_run: pick(returns.iter().min_by(|a, b| a.1.total_cmp(&b.1))),
    }
}

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

/// Executions read per page while summarizing: memory stays bounded by a page whatever the
/// number of executions a workspace holds.
const PAGE: u32 = 1_000;

/// Summarizes the executions of `workspace` (of code `name`, when given), a page at a time.
pub async fn summarize(
    store: &impl Store,
    workspace: &str,
    name: Option<&str>,
) -> Result<RunSummary> {
    let mut f = ExecutionFilter {
        workspace: Some(workspace.to_string()),
        name: name.map(str::to_string),
        limit: PAGE,
        ..Default::default()
    };
    let mut totals = Totals::default();
    loop {
        let page = store.list_executions(&f).await?;
        page.items.iter().for_each(|r| totals.add(r));
        match page.next {
            Some(next) if !page.items.is_empty() => f.after = Some(next),
            _ => break,
        }
    }
    Ok(totals.summary(name))
}

/// A mean kept as a sum and a count.
#[derive(Debug, Default)]
struct Mean {
    sum: f64,
    n: usize,
}

impl Mean {
    fn add(&mut self, v: Option<f64>) {
        if let Some(v) = v {
            self.sum += v;
            self.n += 1;
        }
    }

    fn get(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
}

/// What [`RunSummary`] needs of the executions seen so far.
#[derive(Debug, Default)]
struct Totals {
    runs: usize,
    finished: usize,
    completed: usize,
    signals: u64,
    returns: Mean,
    sharpe: Mean,
    drawdown: Mean,
    best: Option<RunReturn>,
    worst: Option<RunReturn>,
}

impl Totals {
    fn add(&mut self, r: &ExecutionRecord) {
        let metric = |key: &str| r.summary.as_ref()?.get(key)?.as_f64();
        self.runs += 1;
        self.finished += usize::from(r.state.is_terminal());
        self.completed += usize::from(r.state == ExecutionState::Completed);
        self.signals += r
            .summary
            .as_ref()
            .and_then(|s| s.get("signals")?.as_u64())
            .unwrap_or(0);
        self.sharpe.add(metric("Sharpe Ratio"));
        self.drawdown.add(metric("Max. Drawdown [%]"));
        let Some(ret) = metric("Return [%]") else {
            return;
        };
        self.returns.add(Some(ret));
        let run = || RunReturn {
            execution: r.id.to_string(),
            return_pct: ret,
        };
        // Ties keep the run seen last for the best and the first for the worst, as
        // `Iterator::max_by` and `min_by` do.
        if self
            .best
            .as_ref()
            .is_none_or(|b| ret.total_cmp(&b.return_pct).is_ge())
        {
            self.best = Some(run());
        }
        if self
            .worst
            .as_ref()
            .is_none_or(|w| ret.total_cmp(&w.return_pct).is_lt())
        {
            self.worst = Some(run());
        }
    }

    fn summary(self, name: Option<&str>) -> RunSummary {
        RunSummary {
            name: name.map(str::to_string),
            runs: self.runs,
            finished: self.finished,
            completed: self.completed,
            success_rate: (self.finished > 0).then(|| self.completed as f64 / self.finished as f64),
            signals: self.signals,
            average_return_pct: self.returns.get(),
            average_sharpe: self.sharpe.get(),
            average_max_drawdown_pct: self.drawdown.get(),
            best_run: self.best,
            worst_run: self.worst,
        }
    }
}

//! The `backtest` kind: a strategy (entry and exit expressions, or Python in the sandbox)
//! traded on each ticker of a pack, with backtesting.py's statistics per ticker, its trades,
//! and their means as the summary. The trading itself is [`crate::exec::strategy`], shared with
//! sweeps.

use super::{Kind, reader_of};
use crate::code::StrategyExprs;
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::jobs::Job;
use crate::exec::request::SubmitRequest;
use crate::exec::spec::{CodeInfo, StrategyChoice, strategy_exprs};
use crate::exec::strategy::{self, TickerBacktest};
use crate::views::{Cell, Column, ColumnType, Table};
use quantd_backtest::Metric;
use quantd_core::{ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_store::{ExecutionRecord, PackRecord, Store};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A resolved backtest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedBacktest {
    /// The strategy's expressions (empty when `python` is set).
    pub strategy: StrategyExprs,
    /// A Python strategy's source (run in the sandbox) instead of expressions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub python: Option<String>,
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
    /// Simulation settings.
    pub config: quantd_backtest::Config,
}

impl ResolvedBacktest {
    /// Resolves the backtest of a request (a backtest's, or a sweep's with its fixed
    /// parameters): the strategy's code and the simulation settings.
    pub(crate) async fn of<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        request: &mut SubmitRequest,
    ) -> Result<ResolvedBacktest> {
        let config = match request.config.take() {
            Some(v) => serde_json::from_value(v).map_err(|e| {
                EngineError::Invalid(format!(
                    "`config`: {e}; see docs/backtesting.md for its fields"
                ))
            })?,
            None => quantd_backtest::Config::default(),
        };
        let choice = StrategyChoice::of(request)?;
        config.validate()?;
        let (strategy, python, code) = strategy_exprs(engine.store(), workspace, choice).await?;
        Ok(ResolvedBacktest {
            strategy,
            python,
            code,
            pack_id: pack.map(|p| p.id.to_string()).unwrap_or_default(),
            params: std::mem::take(&mut request.params),
            tickers: request.tickers.take(),
            from: request.from,
            to: request.to,
            config,
        })
    }

    /// The tickers it trades: those listed, else every ticker of the pack.
    pub(crate) fn ticker_count(&self, reader: &PackReader) -> u64 {
        self.tickers
            .as_ref()
            .map_or(reader.manifest().tickers.len(), Vec::len) as u64
    }
}

/// The `backtest` kind.
pub struct Backtest;

impl Kind for Backtest {
    const KIND: ExecutionKind = ExecutionKind::Backtest;
    const FIELDS: &'static [&'static str] = &[
        "code", "python", "strategy", "tickers", "from", "to", "config",
    ];
    type Spec = ResolvedBacktest;

    async fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        mut request: SubmitRequest,
    ) -> Result<ResolvedBacktest> {
        ResolvedBacktest::of(engine, workspace, pack, &mut request).await
    }

    fn sandboxed(spec: &ResolvedBacktest) -> bool {
        spec.python.is_some()
    }

    fn code(spec: &ResolvedBacktest) -> Option<&CodeInfo> {
        spec.code.as_ref()
    }

    fn build<S: Store>(
        engine: &Engine<S>,
        _id: &ExecutionId,
        spec: &ResolvedBacktest,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>> {
        let reader = reader_of(reader)?;
        let limits = &engine.options.limits;
        limits.check_work(spec.ticker_count(&reader), "tickers to backtest")?;
        backtest_job(spec, reader, &limits.expr, || engine.sandboxed(sandbox))
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

/// The job of a backtest: the Rust backtester over the strategy's expressions, or over a Python
/// strategy's signals from `py` (called only then). The `backtest` kind's job, and an
/// evaluation's backtests.
pub(crate) fn backtest_job(
    spec: &ResolvedBacktest,
    reader: Arc<PackReader>,
    limits: &quantd_expr::Limits,
    py: impl FnOnce() -> crate::python::Sandboxed,
) -> Result<Arc<dyn Job>> {
    if spec.config.portfolio {
        if spec.python.is_none() {
            return Err(EngineError::Invalid(
                "`config.portfolio`: a portfolio backtest needs a Python class strategy (class X(qd.Strategy)); expression strategies run per ticker".into(),
            ));
        }
        return Ok(Arc::new(crate::python::PyPortfolioJob::new(
            spec,
            reader,
            py(),
        )?));
    }
    if spec.python.is_some() {
        return Ok(Arc::new(crate::python::PyBacktestJob::new(
            spec,
            reader,
            py(),
        )?));
    }
    strategy::build_backtest(spec, reader, limits)
}

impl<S: Store> Engine<S> {
    /// A backtest's (or a paper session's) per-ticker results, in ticker order; stores the
    /// aggregate as the summary.
    pub async fn backtest_results(&self, id: &ExecutionId) -> Result<Vec<TickerBacktest>> {
        let rec = self.execution(id).await?;
        super::paper::has_backtest_results(&rec)?;
        let out: Vec<TickerBacktest> = self.shard_lists(id, "backtest").await?;
        let summary = strategy::aggregate(&out);
        self.store()
            .set_summary(
                id,
                &serde_json::to_value(&summary).expect("summary serializes"),
            )
            .await?;
        Ok(out)
    }
}

/// A backtest per ticker: every statistic (backtesting.py's names) and why one failed.
pub fn backtest_table(results: &[TickerBacktest]) -> Table {
    let mut columns = vec![Column::new("ticker", ColumnType::Text)];
    columns.extend(
        Metric::ALL
            .iter()
            .map(|m| Column::new(m.name(), ColumnType::Float)),
    );
    columns.push(Column::new("error", ColumnType::Text));
    let mut t = Table::new(columns);
    for r in results {
        let mut row = vec![Cell::from(r.ticker.as_str())];
        row.extend(Metric::ALL.iter().map(|&m| {
            r.stats
                .as_ref()
                .map_or(Cell::Null, |s| Cell::Float(s.get(m)))
        }));
        row.push(r.error.clone().into());
        t.push(row);
    }
    t
}

/// Every closed trade of a backtest, per ticker.
pub fn trades_table(results: &[TickerBacktest]) -> Table {
    // Every ticker of a backtest is of one pack: one calendar.
    let calendar = results.first().map(|r| r.calendar).unwrap_or_default();
    let mut t = Table::new(vec![
        Column::new("ticker", ColumnType::Text),
        Column::new("size", ColumnType::Float),
        Column::new("entry", ColumnType::Time(calendar)),
        Column::new("entry price", ColumnType::Float),
        Column::new("exit", ColumnType::Time(calendar)),
        Column::new("exit price", ColumnType::Float),
        Column::new("PnL", ColumnType::Float),
        Column::new("return [%]", ColumnType::Float),
    ]);
    for r in results {
        for tr in &r.trades {
            t.push(vec![
                r.ticker.as_str().into(),
                tr.size.into(),
                Cell::Time(tr.entry_time, r.calendar),
                tr.entry_price.into(),
                Cell::Time(tr.exit_time, r.calendar),
                tr.exit_price.into(),
                tr.pnl.into(),
                (tr.return_pct * 100.0).into(),
            ]);
        }
    }
    t
}

//! Result views, one per kind, shared by every surface: what an execution produced as a
//! [`Table`] (or, for sweeps, a [`SweepView`] that ranks and maps parameter sets), written in
//! any [`Format`] by [`Engine::write_results`]. The CLI and the API show the same rows.

pub mod sweep;
pub mod table;

pub use sweep::{SweepCell, SweepCollector, SweepView};
pub use table::{Cell, Column, ColumnType, Table};

use crate::atest::Report;
use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::import::ImportOutcome;
use crate::exec::strategy::TickerBacktest;
use crate::python::bot::RunLog;
use crate::results::{Format, ResultWriter};
use quantd_backtest::Metric;
use quantd_core::{ExecutionId, ExecutionKind};
use quantd_store::Store;
use std::io::Write;

/// Decimals of floats in terminal tables and Markdown.
pub const TABLE_PRECISION: usize = 4;

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
    let mut t = Table::new(vec![
        Column::new("ticker", ColumnType::Text),
        Column::new("size", ColumnType::Float),
        Column::new("entry", ColumnType::Date),
        Column::new("entry price", ColumnType::Float),
        Column::new("exit", ColumnType::Date),
        Column::new("exit price", ColumnType::Float),
        Column::new("PnL", ColumnType::Float),
        Column::new("return [%]", ColumnType::Float),
    ]);
    for r in results {
        for tr in &r.trades {
            t.push(vec![
                r.ticker.as_str().into(),
                tr.size.into(),
                Cell::Date(tr.entry_time),
                tr.entry_price.into(),
                Cell::Date(tr.exit_time),
                tr.exit_price.into(),
                tr.pnl.into(),
                (tr.return_pct * 100.0).into(),
            ]);
        }
    }
    t
}

/// An A+ report as rows: one per example or unexpected signal, with its verdict.
pub fn report_table(report: &Report) -> Table {
    let mut t = Table::new(vec![
        Column::new("ticker", ColumnType::Text),
        Column::new("date", ColumnType::Date),
        Column::new("verdict", ColumnType::Text),
        Column::new("signal", ColumnType::Date),
    ]);
    for r in &report.tickers {
        let mut rows: Vec<(chrono::NaiveDate, &str, Option<chrono::NaiveDate>)> = Vec::new();
        rows.extend(r.matched.iter().map(|&(e, f)| (e, "matched", Some(f))));
        rows.extend(r.missed.iter().map(|&d| (d, "missed", None)));
        rows.extend(r.unexpected.iter().map(|&d| (d, "unexpected", Some(d))));
        rows.extend(r.silent.iter().map(|&d| (d, "silent", None)));
        rows.extend(r.false_alarms.iter().map(|&d| (d, "false alarm", None)));
        rows.extend(r.not_in_data.iter().map(|&d| (d, "not in data", None)));
        rows.sort_by_key(|&(d, v, _)| (d, v));
        for (date, verdict, signal) in rows {
            t.push(vec![
                r.ticker.as_str().into(),
                date.into(),
                verdict.into(),
                signal.map_or(Cell::Null, Cell::from),
            ]);
        }
    }
    t
}

/// A run's log: one row per captured line, stdout first (no rows before the run ended).
pub fn run_table(log: Option<&RunLog>) -> Table {
    let mut t = Table::new(vec![
        Column::new("stream", ColumnType::Text),
        Column::new("line", ColumnType::Int),
        Column::new("text", ColumnType::Text),
    ]);
    let Some(log) = log else { return t };
    for (stream, text) in [("stdout", &log.stdout), ("stderr", &log.stderr)] {
        for (n, line) in text.lines().enumerate() {
            t.push(vec![stream.into(), (n as u64 + 1).into(), line.into()]);
        }
    }
    t
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

impl<S: Store> Engine<S> {
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

    /// The result table of an execution of any kind but scan (whose rows stream: see
    /// [`Engine::write_results`]).
    pub async fn result_table(&self, id: &ExecutionId) -> Result<Table> {
        let rec = self.execution(id).await?;
        Ok(match rec.kind {
            ExecutionKind::Backtest => backtest_table(&self.backtest_results(id).await?),
            ExecutionKind::Sweep => self.sweep_view(id).await?.table(),
            ExecutionKind::Test => report_table(&self.test_report(id).await?),
            ExecutionKind::Run => run_table(self.run_log(id).await?.as_ref()),
            ExecutionKind::Import => match self.import_outcome(id).await? {
                Some(o) => import_table(&o),
                None => Table::default(),
            },
            other => {
                return Err(EngineError::Invalid(format!(
                    "execution {id} is a {other}; it has no result table (a scan's rows stream)"
                )));
            }
        })
    }

    /// Writes what execution `id` produced so far in `format`: scan rows streamed shard by
    /// shard, every other kind as its result table.
    pub async fn write_results<W: Write + Send>(
        &self,
        id: &ExecutionId,
        format: Format,
        out: W,
    ) -> Result<()> {
        let rec = self.execution(id).await?;
        if rec.kind != ExecutionKind::Scan {
            return self
                .result_table(id)
                .await?
                .write(format, TABLE_PRECISION, out);
        }
        let mut out = Some(out);
        let mut writer: Option<ResultWriter<W>> = None;
        self.scan_results(id, |chunk| {
            let w = match &mut writer {
                Some(w) => w,
                None => writer.insert(ResultWriter::new(
                    format,
                    &chunk.indicators,
                    out.take().expect("one writer"),
                )?),
            };
            w.write(chunk)
        })
        .await?;
        match writer {
            Some(w) => w.finish(),
            None => ResultWriter::new(format, &[], out.take().expect("unused"))?.finish(),
        }
    }
}

//! Result views shared by every surface: what an execution produced as a [`Table`] (or, for
//! sweeps, a [`SweepView`] that ranks and maps parameter sets), written in any [`Format`] by
//! [`Engine::export`], the one door of result exports, where data rights are decided. Each kind's module ([`crate::exec::kinds`]) makes its table; the
//! CLI and the API show the same rows.

pub mod model;
pub mod page;
pub mod sweep;
pub mod table;

pub use sweep::{SweepCell, SweepCollector, SweepView};
pub use table::{Cell, Column, ColumnType, Table};

pub use crate::exec::kinds::backtest::{backtest_table, trades_table};
pub use crate::exec::kinds::import::import_table;
pub use crate::exec::kinds::run::run_table;
pub use crate::exec::kinds::test::report_table;

use crate::error::Result;
use crate::exec::Engine;
use crate::exec::kinds::with_kind;
use crate::records::ExecutionRecord;
use crate::results::{Format, Writing};
use crate::rights::{Reader, Release};
use quantd_core::{Disclosure, ExecutionId, ExecutionKind};
use quantd_store::Store;
use std::io::Write;

/// What an export asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportRequest {
    /// The format.
    pub format: Format,
    /// A scan's signals alone (ticker and bar, no `let` columns): readable whatever the
    /// rights. Ignored by other kinds.
    pub signals_only: bool,
    /// At most this many scan rows (a terminal's first rows); `None`: all.
    pub max_rows: Option<usize>,
}

impl ExportRequest {
    /// Every row in `format`.
    pub fn all(format: Format) -> ExportRequest {
        ExportRequest {
            format,
            signals_only: false,
            max_rows: None,
        }
    }
}

/// Decimals of floats in terminal tables and Markdown.
pub const TABLE_PRECISION: usize = 4;

impl<S: Store> Engine<S> {
    /// The result table of an execution of any kind but scan (whose rows stream: see
    /// [`Engine::write_results`]).
    pub async fn result_table(&self, id: &ExecutionId) -> Result<Table> {
        let rec = self.execution(id).await?;
        with_kind!(rec.kind, |K| K::table(self, &rec).await)
    }

    /// Exports what `rec` produced so far as `req` asks, for `reader`: the one door of every
    /// result export (CLI output and files, API downloads, the dashboard's). The rights of the
    /// pack decide first ([`Engine::release`]): derived data is refused (an
    /// [`EngineError::Policy`](crate::EngineError::Policy)) or watermarked as its terms say.
    /// Returns the release, whose attribution the caller shows.
    pub async fn export<W: Write + Send>(
        &self,
        rec: &ExecutionRecord,
        req: &ExportRequest,
        reader: &Reader,
        out: W,
    ) -> Result<Release> {
        let release = self.release_export(rec, req, reader).await?;
        self.write_export(rec, req, &release, out).await?;
        Ok(release)
    }

    /// The first half of [`Engine::export`]: the rights' decision (refused, watermarked or
    /// free), recorded; for a caller that must answer before the rows stream (a refusal is a
    /// status, not a cut body).
    pub async fn release_export(
        &self,
        rec: &ExecutionRecord,
        req: &ExportRequest,
        reader: &Reader,
    ) -> Result<Release> {
        let what_for = format!("as {}", req.format.name());
        Ok(self
            .release_results(rec, req.signals_only, &what_for, reader)
            .await?
            .1)
    }

    /// The rights' decision on reading `rec`'s results (`signals_only`: a scan's signals
    /// alone) for `reader`, described as `<kind> results <what_for>`: whether signals alone are
    /// read (only scans have them), and the release.
    pub(crate) async fn release_results(
        &self,
        rec: &ExecutionRecord,
        signals_only: bool,
        what_for: &str,
        reader: &Reader,
    ) -> Result<(bool, Release)> {
        let signals_only = signals_only && rec.kind == ExecutionKind::Scan;
        let what = if signals_only {
            Disclosure::Signals
        } else {
            self.disclosure_of(rec).await?
        };
        let detail = format!(
            "{} results {what_for}{}",
            rec.kind,
            if signals_only { " (signals only)" } else { "" }
        );
        Ok((
            signals_only,
            self.release(rec, reader, what, &detail).await?,
        ))
    }

    /// The second half of [`Engine::export`]: the rows, as `release` allows.
    pub async fn write_export<W: Write + Send>(
        &self,
        rec: &ExecutionRecord,
        req: &ExportRequest,
        release: &Release,
        out: W,
    ) -> Result<()> {
        let how = Writing {
            format: req.format,
            signals_only: req.signals_only && rec.kind == ExecutionKind::Scan,
            max_rows: req.max_rows,
            mark: release.watermark.as_ref(),
        };
        with_kind!(rec.kind, |K| K::write_results(self, rec, &how, out).await)
    }
}

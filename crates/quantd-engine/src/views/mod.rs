//! Result views shared by every surface: what an execution produced as a [`Table`] (or, for
//! sweeps, a [`SweepView`] that ranks and maps parameter sets), written in any [`Format`] by
//! [`Engine::write_results`]. Each kind's module ([`crate::exec::kinds`]) makes its table; the
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
use crate::results::Format;
use quantd_core::ExecutionId;
use quantd_store::Store;
use std::io::Write;

/// Decimals of floats in terminal tables and Markdown.
pub const TABLE_PRECISION: usize = 4;

impl<S: Store> Engine<S> {
    /// The result table of an execution of any kind but scan (whose rows stream: see
    /// [`Engine::write_results`]).
    pub async fn result_table(&self, id: &ExecutionId) -> Result<Table> {
        let rec = self.execution(id).await?;
        with_kind!(rec.kind, |K| K::table(self, &rec).await)
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
        with_kind!(rec.kind, |K| K::write_results(self, &rec, format, out)
            .await)
    }
}

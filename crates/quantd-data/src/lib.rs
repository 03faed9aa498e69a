//! Market data packs: immutable, content-addressed snapshots of bars for a universe.
//!
//! - [`import`]: long-format CSV and Parquet → validated [`BarTable`] (problems reported with row
//!   numbers; `lenient` drops bad rows instead);
//! - [`hash`]: the canonical content hash that names a pack ([`quantd_core::PackId`]);
//! - [`format`]: the on-disk pack (memory-mapped Arrow IPC, one batch per ticker), written
//!   atomically and read with column and ticker projection;
//! - [`synth`]: deterministic synthetic universes;
//! - [`export`]: back to CSV or Parquet;
//! - [`resample`]: bars to a coarser interval in the exchange's wall clock (not yet wired);
//! - [`time`]: instants, bar intervals and exchange time zones (intraday bars; not yet wired);
//! - [`text`]: untrusted text (tickers, quoted input) made safe to print;
//! - [`failpoint`]: the test-only failure points (`QUANTD_FAILPOINT`) that crash tests across the
//!   workspace use to stop a process at a chosen step.
//!
//! Every [`Day`] a pack holds is within [`bars::MIN_DATE`] ..= [`bars::MAX_DATE`]; dates from
//! outside go through [`bars::checked_day`].
//!
//! This crate knows nothing of the catalog (the store keeps pack states) and never writes a pack
//! directory in place: packs are written to a temporary directory and renamed whole.

pub mod bars;
pub mod error;
pub mod export;
pub mod failpoint;
pub mod format;
pub mod hash;
pub mod import;
mod mmap;
pub mod resample;
pub mod synth;
pub mod text;
pub mod time;
pub mod validate;
pub mod when;

pub use bars::{BarTable, Column, Day};
pub use error::{DataError, Result};
pub use format::{Manifest, PackReader, Projection, TickerBars};
pub use import::{
    FileFormat, ImportLimits, ImportOptions, Imported, import_bytes, import_file, import_file_with,
};
pub use synth::SynthSpec;
pub use validate::ValidationReport;

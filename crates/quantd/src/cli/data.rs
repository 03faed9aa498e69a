//! The arguments of `quantd db …` and `quantd data …` (packs: synthesize, import, list, show,
//! export, resample, collect).

use super::parse_policy;
use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `quantd db ...`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply the migrations the database does not have yet (every command does it when it
    /// opens the store; this does it alone, e.g. before starting many workers).
    Migrate,
    /// Connect and compare the database's schema with this quantd's, changing nothing; exits
    /// non-zero when it cannot connect or the versions differ.
    Check,
}

/// `quantd data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Generate a deterministic synthetic universe (GBM) and store it as a pack; prints its id.
    Synth(SynthArgs),
    /// Import a long-format CSV or Parquet file (ticker,date|time,open,high,low,close,volume) as a pack: daily bars (dates) or intraday bars (times with an offset, naive times in --tz, epochs with --epoch); prints its id.
    Import(ImportArgs),
    /// List the packs in the catalog, newest first.
    List,
    /// Show one pack: state, size, interval, zone, first and last bar, columns, rights, tickers.
    Show(PackArg),
    /// Export a pack's bars to CSV or Parquet (by the extension of --out).
    Export(ExportArgs),
    /// Resample a pack to a coarser interval as a new pack (open first, high max, low min, close
    /// last, volume sum, in the exchange's wall clock); prints its id.
    Resample(ResampleArgs),
    /// Remove pack files no usable catalog row names (left by failed or interrupted imports),
    /// from the pack store and this data directory.
    Gc(GcArgs),
}

/// Arguments of `data gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
}

/// Arguments of `data resample`.
#[derive(Debug, Args)]
pub struct ResampleArgs {
    /// The pack to resample: name, id, or id prefix (8+ characters).
    pub pack: String,
    /// The new interval, coarser than the pack's.
    #[arg(long, value_name = "5m|15m|30m|1h|4h|1d|1w|1mo")]
    pub to: quantd_engine::data::Interval,
    /// The new pack's name.
    #[arg(long)]
    pub name: String,
}

/// Arguments of `data synth`.
#[derive(Debug, Args)]
pub struct SynthArgs {
    /// Pack name.
    #[arg(long)]
    pub name: String,
    /// Number of tickers.
    #[arg(long)]
    pub tickers: usize,
    /// Business days per ticker.
    #[arg(long)]
    pub days: usize,
    /// PRNG seed: same arguments give the same pack id on every machine.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// First date (YYYY-MM-DD), moved to the next business day.
    #[arg(long, default_value = "2015-01-02")]
    pub start: chrono::NaiveDate,
    /// Bar interval: daily bars, or intraday bars of a US session (09:30–16:00 New York).
    #[arg(long, default_value = "1d", value_name = "1d|1m|5m|15m|30m|1h")]
    pub interval: quantd_engine::data::Interval,
}

/// Arguments of `data import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The CSV or Parquet file.
    pub file: PathBuf,
    /// Pack name.
    #[arg(long)]
    pub name: String,
    /// Ticker of a file without a ticker column.
    #[arg(long, value_name = "SYMBOL")]
    pub ticker: Option<String>,
    /// Drop bad rows (and record how many) instead of refusing the import.
    #[arg(long)]
    pub lenient: bool,
    /// Where the data came from (rights metadata).
    #[arg(long)]
    pub source: Option<String>,
    /// The data's license (rights metadata).
    #[arg(long)]
    pub license: Option<String>,
    /// Attribution text to show with the data (rights metadata).
    #[arg(long)]
    pub attribution: Option<String>,
    /// Forbid exporting the bars, and data derived from them, out of quantd (`--export deny`).
    #[arg(long, conflicts_with = "export")]
    pub no_export: bool,
    /// What may leave quantd of the bars and of data derived from them: allow, watermark or deny.
    #[arg(long, value_parser = parse_policy)]
    pub export: Option<quantd_core::ExportPolicy>,
    /// The provider of the rights registry whose terms apply (`quantd rights list`).
    #[arg(long)]
    pub provider: Option<String>,
    /// The exchange's time zone (IANA name, e.g. America/New_York): times without an offset are
    /// local to it, and the pack records it [default: UTC, or a Parquet column's own zone].
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<quantd_engine::data::Zone>,
    /// Integer times are epoch seconds, milliseconds or nanoseconds.
    #[arg(long, value_name = "s|ms|ns")]
    pub epoch: Option<quantd_engine::data::Epoch>,
    /// The bar interval [default: the most common gap between bars].
    #[arg(long, value_name = "1m|5m|15m|30m|1h|4h|1d|1w|1mo|irregular")]
    pub interval: Option<quantd_engine::data::Interval>,
}

/// A pack named by name, id or id prefix.
#[derive(Debug, Args)]
pub struct PackArg {
    /// Pack name, id, or id prefix (8+ characters).
    pub pack: String,
}

/// Arguments of `data export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Pack name, id, or id prefix (8+ characters).
    pub pack: String,
    /// Output file: *.csv or *.parquet.
    #[arg(long)]
    pub out: PathBuf,
}

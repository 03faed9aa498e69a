//! The pack catalog's rows: which packs exist under which name, in which state, with which
//! rights ([`PackRecord`]), and what an import registers before it writes a pack ([`NewPack`]).

use chrono::{DateTime, NaiveDate, Utc};
use quantd_core::{PackId, PackState, Rights};

/// A catalog row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PackRecord {
    /// The pack's name.
    pub name: String,
    /// Its content id.
    pub id: PackId,
    /// Its state.
    pub state: PackState,
    /// Why it is in `error`.
    pub error: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// While warming: when it should be ready.
    pub estimated_ready: Option<DateTime<Utc>>,
    /// Number of tickers.
    pub tickers: u64,
    /// Number of bars.
    pub bars: u64,
    /// Earliest date.
    pub first_date: NaiveDate,
    /// Latest date.
    pub last_date: NaiveDate,
    /// Bar interval, zone, first and last bar.
    #[serde(flatten)]
    pub timing: PackTiming,
    /// Value columns.
    pub columns: Vec<String>,
    /// Rows dropped by a lenient import.
    pub rows_dropped: u64,
    /// The imported file, or how it was generated.
    pub origin: String,
    /// Rights metadata.
    pub rights: Rights,
    /// Import order; larger is newer.
    pub seq: i64,
}

/// How a pack's bars are timed, as the catalog shows it (the pack's manifest is the truth).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackTiming {
    /// The bar interval: `1m`, `5m`, `15m`, `30m`, `1h`, `4h`, `1d`, `1w`, `1mo` or `irregular`.
    pub interval: String,
    /// The exchange's time zone (IANA name, or `UTC`).
    pub zone: String,
    /// The first bar: `YYYY-MM-DD` for daily bars, RFC 3339 with its offset for intraday ones.
    pub first_bar: String,
    /// The last bar, written the same way.
    pub last_bar: String,
}

impl Default for PackTiming {
    /// Daily bars in UTC with no bars yet: what every pack was before packs kept instants.
    fn default() -> Self {
        PackTiming {
            interval: "1d".into(),
            zone: "UTC".into(),
            first_bar: String::new(),
            last_bar: String::new(),
        }
    }
}

/// What an import registers before it writes the pack.
#[derive(Debug, Clone)]
pub struct NewPack {
    /// The name.
    pub name: String,
    /// The content id.
    pub id: PackId,
    /// The importer's lock-file token (see [`crate::PackCatalog::fail_orphaned_imports`]).
    pub import_token: String,
    /// When the import should be done.
    pub estimated_ready: DateTime<Utc>,
    /// Number of tickers.
    pub tickers: u64,
    /// Number of bars.
    pub bars: u64,
    /// Earliest date.
    pub first_date: NaiveDate,
    /// Latest date.
    pub last_date: NaiveDate,
    /// Bar interval, zone, first and last bar.
    pub timing: PackTiming,
    /// Value columns.
    pub columns: Vec<String>,
    /// Rows dropped by a lenient import.
    pub rows_dropped: u64,
    /// Where the bars came from.
    pub origin: String,
    /// Rights metadata.
    pub rights: Rights,
}

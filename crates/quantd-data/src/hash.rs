//! The canonical content hash that names a pack.
//!
//! The encoding depends only on the bars — not on the input's row order, file format, column
//! order or letter case — so the same bars always give the same [`PackId`]:
//!
//! ```text
//! pack id  = BLAKE3( "quantd-pack/1\n"                                 daily bars in UTC (below)
//!                  | "quantd-pack/2\n" ‖ u32 len ‖ interval ‖ u32 len ‖ zone ‖ u8 daily   any other
//!                    ‖ u32 column count ‖ (u32 len ‖ name)…          canonical column order
//!                    ‖ u64 ticker count ‖ (u32 len ‖ ticker ‖ u64 rows ‖ ticker digest)… tickers sorted )
//! ticker digest = BLAKE3( keys… ‖ for each column: values as f64 LE… )
//! keys          = /1: session dates as i32 LE (days since 1970-01-01) · /2: instants as i64 LE (ns)
//! ```
//! The first encoding is the one every pack had before packs kept instants, so the ids of daily
//! packs do not change: it is used when the bars are daily, the zone is UTC and the interval is
//! the one the bars imply ([`Interval::infer`]) — all of which the dates alone then say. A pack
//! with times of day, another zone or a given interval names them in its id.
//! Values are canonicalized first: `-0.0` becomes `0.0` and every NaN the same quiet NaN. All
//! integers are little-endian. Ticker digests are computed in parallel.

use crate::bars::BarTable;
use crate::time::{Interval, NANOS_PER_DAY, Zone, day_of_stamp};
use quantd_core::PackId;
use rayon::prelude::*;

/// Version tag of the encoding of daily UTC packs (dates as keys).
const DAILY_DOMAIN: &[u8] = b"quantd-pack/1\n";
/// Version tag of the encoding of every other pack (instants as keys, interval and zone named).
const DOMAIN: &[u8] = b"quantd-pack/2\n";

/// Whether a table's id uses the first encoding: daily bars at 00:00 UTC, zone UTC, and the
/// interval its dates imply.
fn dates_say_it_all(table: &BarTable) -> bool {
    let c = table.calendar;
    c.daily
        && c.zone == Zone::UTC
        && table
            .stamps
            .iter()
            .all(|s| s.rem_euclid(NANOS_PER_DAY) == 0)
        && c.interval == implied_interval(table)
}

/// The interval the bars' instants imply: the most common gap, daily for a table of single bars.
pub fn implied_interval(table: &BarTable) -> Interval {
    Interval::infer((0..table.tickers.len()).map(|i| &table.stamps[table.range(i)])).unwrap_or(
        if table.calendar.daily {
            Interval::Day1
        } else {
            Interval::Irregular
        },
    )
}

/// The canonical bit pattern of a value.
fn canonical_bits(v: f64) -> u64 {
    if v.is_nan() {
        0x7ff8_0000_0000_0000
    } else if v == 0.0 {
        0
    } else {
        v.to_bits()
    }
}

/// Digest of one ticker's rows.
fn ticker_digest(table: &BarTable, i: usize, dates: bool) -> [u8; 32] {
    let range = table.range(i);
    let mut h = blake3::Hasher::new();
    let mut buf: Vec<u8> = Vec::with_capacity(range.len() * 8);
    let stamps = &table.stamps[range.clone()];
    if dates {
        buf.extend(stamps.iter().flat_map(|&s| day_of_stamp(s).to_le_bytes()));
    } else {
        buf.extend(stamps.iter().flat_map(|s| s.to_le_bytes()));
    }
    h.update(&buf);
    for col in &table.columns {
        buf.clear();
        buf.extend(
            col.values[range.clone()]
                .iter()
                .flat_map(|&v| canonical_bits(v).to_le_bytes()),
        );
        h.update(&buf);
    }
    *h.finalize().as_bytes()
}

/// The pack id of a table (which must satisfy [`BarTable::check_invariants`]).
pub fn pack_id(table: &BarTable) -> PackId {
    let dates = dates_say_it_all(table);
    let digests: Vec<[u8; 32]> = (0..table.tickers.len())
        .into_par_iter()
        .map(|i| ticker_digest(table, i, dates))
        .collect();
    let mut h = blake3::Hasher::new();
    if dates {
        h.update(DAILY_DOMAIN);
    } else {
        h.update(DOMAIN);
        for name in [table.calendar.interval.as_str(), table.calendar.zone.name()] {
            h.update(&(name.len() as u32).to_le_bytes());
            h.update(name.as_bytes());
        }
        h.update(&[u8::from(table.calendar.daily)]);
    }
    h.update(&(table.columns.len() as u32).to_le_bytes());
    for c in &table.columns {
        h.update(&(c.name.len() as u32).to_le_bytes());
        h.update(c.name.as_bytes());
    }
    h.update(&(table.tickers.len() as u64).to_le_bytes());
    for (i, (t, d)) in table.tickers.iter().zip(&digests).enumerate() {
        h.update(&(t.len() as u32).to_le_bytes());
        h.update(t.as_bytes());
        h.update(&(table.range(i).len() as u64).to_le_bytes());
        h.update(d);
    }
    PackId::from_digest(*h.finalize().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_nan_are_canonical() {
        assert_eq!(canonical_bits(-0.0), canonical_bits(0.0));
        assert_eq!(canonical_bits(f64::NAN), canonical_bits(-f64::NAN));
        assert_ne!(canonical_bits(1.0), canonical_bits(-1.0));
    }
}

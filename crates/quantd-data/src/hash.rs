//! The canonical content hash that names a pack.
//!
//! The encoding depends only on the bars — not on the input's row order, file format, column
//! order or letter case — so the same bars always give the same [`PackId`]:
//!
//! ```text
//! pack id  = BLAKE3( "quantd-pack/1\n"
//!                    ‖ u32 column count ‖ (u32 len ‖ name)…          canonical column order
//!                    ‖ u64 ticker count ‖ (u32 len ‖ ticker ‖ u64 rows ‖ ticker digest)… tickers sorted )
//! ticker digest = BLAKE3( dates as i32 LE… ‖ for each column: values as f64 LE… )
//! ```
//! Values are canonicalized first: `-0.0` becomes `0.0` and every NaN the same quiet NaN. All
//! integers are little-endian. Ticker digests are computed in parallel.

use crate::bars::BarTable;
use quantd_core::PackId;
use rayon::prelude::*;

/// Version tag of the encoding; a change of encoding must change this tag.
const DOMAIN: &[u8] = b"quantd-pack/1\n";

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
fn ticker_digest(table: &BarTable, i: usize) -> [u8; 32] {
    let range = table.range(i);
    let mut h = blake3::Hasher::new();
    let mut buf: Vec<u8> = Vec::with_capacity(range.len() * 8);
    buf.extend(
        table.dates[range.clone()]
            .iter()
            .flat_map(|d| d.to_le_bytes()),
    );
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
    let digests: Vec<[u8; 32]> = (0..table.tickers.len())
        .into_par_iter()
        .map(|i| ticker_digest(table, i))
        .collect();
    let mut h = blake3::Hasher::new();
    h.update(DOMAIN);
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

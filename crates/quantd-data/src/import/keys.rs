//! Dictionary keys of fixed-length byte array pages, checked before they are decoded.
//!
//! The `parquet` crate checks the dictionary keys of every column type against its dictionary
//! except fixed-length byte arrays: there a key past the dictionary's end slices out of bounds
//! and panics (found by the `import_parquet` fuzz target). For such columns [`check`] decodes the
//! keys of each dictionary-encoded data page — only as many as the page has values, the rest of
//! a bit-packed group being padding — and refuses a page with a key the dictionary does not
//! have.

use super::pages::{MaxLevels, Sections, bit_width, damaged, uleb128};
use parquet::errors::Result;

/// Widest dictionary key the decoder accepts (it refuses wider ones itself).
const MAX_KEY_BITS: usize = 32;

/// Refuses the dictionary-encoded data page of `sections` if it has a key at or past `entries`,
/// the values of the chunk's dictionary page.
pub(super) fn check(sections: &Sections<'_>, max: MaxLevels, entries: u32) -> Result<()> {
    // Keys exist for present values only; deprecated `BIT_PACKED` definition levels are not
    // counted (every value may be a key).
    let count = match sections.definitions {
        Some(levels) => present(levels, max.definition, sections.levels)?,
        None => sections.levels,
    };
    // The decoder refuses an empty key section, a key width over 32 bits, and reads nothing
    // from an empty dictionary; it also reads all-zero keys of width 0 without looking.
    let Some((&width, runs)) = sections.values.split_first() else {
        return Ok(());
    };
    let width = usize::from(width);
    if entries == 0 || width == 0 || width > MAX_KEY_BITS {
        return Ok(());
    }
    hybrid(runs, width, count, |key, _| {
        if key >= u64::from(entries) {
            return Err(damaged(format!(
                "a dictionary key ({key}) is past the {entries} values of its dictionary"
            )));
        }
        Ok(())
    })
}

/// How many of the first `levels` definition levels in `stream` are `max` (values present).
fn present(stream: &[u8], max: i16, levels: usize) -> Result<usize> {
    let mut count = 0;
    hybrid(stream, bit_width(max), levels, |level, times| {
        if level == max as u64 {
            count += times;
        }
        Ok(())
    })?;
    Ok(count)
}

/// Calls `f(value, times)` for the first `limit` values of an RLE/bit-packed hybrid stream of
/// `width`-bit values (1 ≤ `width` ≤ 32), in order: once per RLE run, once per bit-packed value.
/// Stops early where the stream ends (the decoder reads a cut stream as ending there).
fn hybrid(
    stream: &[u8],
    width: usize,
    limit: usize,
    mut f: impl FnMut(u64, usize) -> Result<()>,
) -> Result<()> {
    let mut at = 0;
    let mut left = limit;
    while left > 0 && at < stream.len() {
        let Some((header, len)) = uleb128(&stream[at..]) else {
            break;
        };
        at += len;
        let run = usize::try_from(header >> 1).unwrap_or(usize::MAX);
        if header & 1 == 1 {
            let bytes = &stream[at..at
                .saturating_add(run.saturating_mul(width))
                .min(stream.len())];
            let n = run.saturating_mul(8).min(bytes.len() * 8 / width).min(left);
            for i in 0..n {
                f(unpack(bytes, i, width), 1)?;
            }
            left -= n;
            at += bytes.len();
        } else {
            let Some(value) = stream.get(at..at + width.div_ceil(8)) else {
                break;
            };
            let times = run.min(left);
            if times > 0 {
                f(
                    value.iter().rev().fold(0, |v, &b| v << 8 | u64::from(b)),
                    times,
                )?;
            }
            left -= times;
            at += value.len();
        }
    }
    Ok(())
}

/// The `i`th `width`-bit value of a bit-packed run (least significant bits first).
fn unpack(bytes: &[u8], i: usize, width: usize) -> u64 {
    let bit = i * width;
    let mut window = [0u8; 8];
    let tail = &bytes[bit / 8..];
    let n = tail.len().min(8);
    window[..n].copy_from_slice(&tail[..n]);
    (u64::from_le_bytes(window) >> (bit % 8)) & ((1u64 << width) - 1)
}

#[cfg(test)]
mod tests {
    use super::super::pages::check_levels;
    use super::*;
    use bytes::Bytes;
    use parquet::basic::Encoding;
    use parquet::column::page::Page;

    /// The key check of a page, after its levels were checked (as the page reader does).
    fn check_page(page: &Page, max: MaxLevels, entries: u32) -> Result<()> {
        check(&check_levels(page, max)?, max, entries)
    }

    fn page(keys: &[u8], num_values: u32, def_levels: Option<&[u8]>) -> Page {
        let mut buf = Vec::new();
        if let Some(levels) = def_levels {
            buf.extend_from_slice(&(levels.len() as i32).to_le_bytes());
            buf.extend_from_slice(levels);
        }
        buf.extend_from_slice(keys);
        Page::DataPage {
            buf: Bytes::from(buf),
            num_values,
            encoding: Encoding::RLE_DICTIONARY,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        }
    }

    const REQUIRED: MaxLevels = MaxLevels {
        repetition: 0,
        definition: 0,
    };
    const OPTIONAL: MaxLevels = MaxLevels {
        repetition: 0,
        definition: 1,
    };

    #[test]
    fn keys_past_the_dictionary_are_refused_and_padding_is_not_read() {
        // Width 2, one bit-packed group: keys 0, 1, 2, 3, then padding 3, 3, 3, 3.
        let keys = [2u8, 0b11, 0b1110_0100, 0xff];
        check_page(&page(&keys, 3, None), REQUIRED, 3).unwrap();
        let e = check_page(&page(&keys, 4, None), REQUIRED, 3).unwrap_err();
        assert!(
            e.to_string()
                .contains("a dictionary key (3) is past the 3 values of its dictionary"),
            "{e}"
        );
        check_page(&page(&keys, 4, None), REQUIRED, 4).unwrap();
        // An RLE run of 5 keys 7 (width 3).
        let rle = [3u8, 10, 7];
        check_page(&page(&rle, 5, None), REQUIRED, 8).unwrap();
        assert!(check_page(&page(&rle, 5, None), REQUIRED, 7).is_err());
        // A cut stream, an empty dictionary, width 0 and a width the decoder refuses are left
        // to the decoder.
        check_page(&page(&[2u8, 0b11], 8, None), REQUIRED, 1).unwrap();
        check_page(&page(&keys, 4, None), REQUIRED, 0).unwrap();
        check_page(&page(&[0u8, 10], 5, None), REQUIRED, 1).unwrap();
        check_page(&page(&[33u8, 10, 7], 5, None), REQUIRED, 1).unwrap();
    }

    #[test]
    fn only_present_values_have_keys() {
        // Definition levels 1, 0, 1, 0 (one bit-packed group): two values, keys 0 and 3.
        let levels = [3u8, 0b0000_0101];
        let keys = [2u8, 0b11, 0b0000_1100];
        check_page(&page(&keys, 4, Some(&levels)), OPTIONAL, 4).unwrap();
        assert!(check_page(&page(&keys, 4, Some(&levels)), OPTIONAL, 3).is_err());
        // All null: no key is read.
        let none = [8u8, 0];
        check_page(&page(&keys, 4, Some(&none)), OPTIONAL, 1).unwrap();
    }
}

//! Parquet pages checked on their way to the decoder.
//!
//! The `parquet` crate's column decoder trusts the order of a chunk's pages: a data page encoded
//! against a dictionary (`PLAIN_DICTIONARY`, `RLE_DICTIONARY`) in a chunk that has not given a
//! dictionary page yet makes it panic (found by the `import_parquet` fuzz target), and so does a
//! dictionary page of byte strings that declares no values but holds bytes (a division by zero).
//! Its level decoders trust the framing of a data page's repetition and definition levels: a
//! bit-packed run longer than the bytes left, or `BIT_PACKED` levels longer than the page, make
//! them slice or index past the end. Every page a reader hands to the decoder passes through
//! [`CheckedPages`] first, which turns such a chunk into an error. The check reads page headers
//! and the run headers of the levels (a few bytes per run); it decodes no values, except the
//! dictionary keys of fixed-length byte array columns ([`super::keys`]).

use parquet::arrow::arrow_reader::RowGroups;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::column::page::{Page, PageIterator, PageMetadata, PageReader};
use parquet::errors::{ParquetError, Result};
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::reader::FileReader;
use std::sync::Arc;

/// The error for a damaged page; [`super::parquet`] shows its text after "the file is damaged".
pub(super) fn damaged(what: String) -> ParquetError {
    ParquetError::General(format!("{DAMAGED}{what}"))
}

/// Starts the text of every error made here.
pub(super) const DAMAGED: &str = "the file is damaged: ";

/// The row groups of a file whose pages are checked (see the module docs).
pub(super) struct CheckedRowGroups(pub(super) Arc<dyn FileReader>);

impl RowGroups for CheckedRowGroups {
    fn num_rows(&self) -> usize {
        self.0.num_rows()
    }

    fn column_chunks(&self, i: usize) -> Result<Box<dyn PageIterator>> {
        let column = self.0.metadata().file_metadata().schema_descr().column(i);
        let levels = MaxLevels {
            repetition: column.max_rep_level(),
            definition: column.max_def_level(),
        };
        let check_keys = column.physical_type() == PhysicalType::FIXED_LEN_BYTE_ARRAY;
        Ok(Box::new(CheckedChunks(
            self.0.column_chunks(i)?,
            levels,
            check_keys,
        )))
    }

    fn row_groups(&self) -> Box<dyn Iterator<Item = &RowGroupMetaData> + '_> {
        self.0.row_groups()
    }

    fn metadata(&self) -> &ParquetMetaData {
        RowGroups::metadata(&self.0)
    }
}

/// The highest repetition and definition levels of a column; a level stream exists when its
/// highest level is above 0.
#[derive(Debug, Clone, Copy)]
pub(super) struct MaxLevels {
    pub(super) repetition: i16,
    pub(super) definition: i16,
}

/// One column's chunks, one per row group, each read through [`CheckedPages`]; the flag says
/// whether their dictionary keys are checked.
struct CheckedChunks(Box<dyn PageIterator>, MaxLevels, bool);

impl Iterator for CheckedChunks {
    type Item = Result<Box<dyn PageReader>>;

    fn next(&mut self) -> Option<Self::Item> {
        let chunk = self.0.next()?;
        let (levels, check_keys) = (self.1, self.2);
        Some(chunk.map(|pages| {
            Box::new(CheckedPages {
                pages,
                levels,
                dictionary: None,
                check_keys,
            }) as Box<dyn PageReader>
        }))
    }
}

impl PageIterator for CheckedChunks {}

/// The pages of one column chunk; refuses a dictionary-encoded data page before any dictionary.
struct CheckedPages {
    pages: Box<dyn PageReader>,
    levels: MaxLevels,
    /// The values of the chunk's dictionary page, once it has given it.
    dictionary: Option<u32>,
    /// Whether the keys of dictionary-encoded data pages are checked against the dictionary.
    check_keys: bool,
}

impl CheckedPages {
    fn check(&mut self, page: &Page) -> Result<()> {
        if page.is_dictionary_page() {
            if page.num_values() == 0 && !page.buffer().is_empty() {
                return Err(damaged(format!(
                    "a dictionary page declares no values but holds {} bytes",
                    page.buffer().len()
                )));
            }
            self.dictionary = Some(page.num_values());
            return Ok(());
        }
        let encoding = page.encoding();
        let needs_dictionary = matches!(
            encoding,
            Encoding::PLAIN_DICTIONARY | Encoding::RLE_DICTIONARY
        );
        let entries = match self.dictionary {
            None if needs_dictionary => {
                return Err(damaged(format!(
                    "a data page is {encoding} encoded but its column chunk has no dictionary \
                     page before it"
                )));
            }
            entries => entries,
        };
        let sections = check_levels(page, self.levels)?;
        match entries {
            Some(entries) if needs_dictionary && self.check_keys => {
                super::keys::check(&sections, self.levels, entries)
            }
            _ => Ok(()),
        }
    }
}

/// The name of the definition level stream, in messages.
const DEFINITION: &str = "definition";

/// A data page's parts after its levels were checked.
#[derive(Debug)]
pub(super) struct Sections<'a> {
    /// Levels (and values, nulls included) the page holds.
    pub(super) levels: usize,
    /// The definition levels, when they are an RLE/bit-packed hybrid stream.
    pub(super) definitions: Option<&'a [u8]>,
    /// What follows the levels: the encoded values.
    pub(super) values: &'a [u8],
}

/// The level streams of a data page fit in it, run by run (see the module docs); returns the
/// page's sections (none for a dictionary page).
pub(super) fn check_levels(page: &Page, max: MaxLevels) -> Result<Sections<'_>> {
    let streams = [(max.repetition, "repetition"), (max.definition, DEFINITION)];
    match page {
        Page::DataPage {
            buf,
            num_values,
            def_level_encoding,
            rep_level_encoding,
            ..
        } => {
            let mut rest: &[u8] = buf;
            let mut definitions = None;
            let encodings = [*rep_level_encoding, *def_level_encoding];
            for ((max, what), encoding) in streams.into_iter().zip(encodings) {
                if max > 0 {
                    let (stream, after) = v1_levels(rest, max, *num_values, encoding, what)?;
                    if what == DEFINITION {
                        definitions = stream;
                    }
                    rest = after;
                }
            }
            Ok(Sections {
                levels: *num_values as usize,
                definitions,
                values: rest,
            })
        }
        Page::DataPageV2 {
            buf,
            num_values,
            def_levels_byte_len,
            rep_levels_byte_len,
            ..
        } => {
            let mut rest: &[u8] = buf;
            let mut definitions = None;
            for ((max, what), len) in streams
                .into_iter()
                .zip([rep_levels_byte_len, def_levels_byte_len])
            {
                let len = *len as usize;
                let Some((stream, after)) = rest.split_at_checked(len) else {
                    return Err(damaged(format!(
                        "its {what} levels take {len} bytes of a page that has {}",
                        rest.len()
                    )));
                };
                if max > 0 {
                    runs(stream, bit_width(max), what)?;
                    if what == DEFINITION {
                        definitions = Some(stream);
                    }
                }
                rest = after;
            }
            Ok(Sections {
                levels: *num_values as usize,
                definitions,
                values: rest,
            })
        }
        Page::DictionaryPage { .. } => Ok(Sections {
            levels: 0,
            definitions: None,
            values: &[],
        }),
    }
}

/// Checks the level stream at the start of a version 1 page's `rest`; returns the stream (when it
/// is RLE/bit-packed hybrid encoded) and what follows it.
fn v1_levels<'a>(
    rest: &'a [u8],
    max: i16,
    num_values: u32,
    encoding: Encoding,
    what: &str,
) -> Result<(Option<&'a [u8]>, &'a [u8])> {
    let short = || damaged(format!("its {what} levels run past the end of the page"));
    match encoding {
        Encoding::RLE => {
            let (len, rest) = rest.split_first_chunk::<4>().ok_or_else(short)?;
            let len = usize::try_from(i32::from_le_bytes(*len)).map_err(|_| short())?;
            let (stream, after) = rest.split_at_checked(len).ok_or_else(short)?;
            runs(stream, bit_width(max), what)?;
            Ok((Some(stream), after))
        }
        #[expect(deprecated)]
        Encoding::BIT_PACKED => {
            let bits = (num_values as usize).saturating_mul(bit_width(max));
            let (_, after) = rest.split_at_checked(bits.div_ceil(8)).ok_or_else(short)?;
            Ok((None, after))
        }
        other => Err(damaged(format!(
            "its {what} levels are {other} encoded; levels are RLE or BIT_PACKED"
        ))),
    }
}

/// Bits per level for levels up to `max`.
pub(super) fn bit_width(max: i16) -> usize {
    (u16::BITS - max.max(0).cast_unsigned().leading_zeros()) as usize
}

/// Walks the runs of an RLE/bit-packed hybrid stream of `width`-bit values: every run's bytes
/// must be in the stream.
fn runs(stream: &[u8], width: usize, what: &str) -> Result<()> {
    let mut at = 0;
    while at < stream.len() {
        let (header, len) = uleb128(&stream[at..])
            .ok_or_else(|| damaged(format!("a run header of its {what} levels is cut off")))?;
        at += len;
        let bytes = if header & 1 == 1 {
            usize::try_from(header >> 1)
                .ok()
                .and_then(|groups| groups.checked_mul(width))
        } else {
            Some(width.div_ceil(8))
        };
        match bytes.and_then(|b| at.checked_add(b)) {
            Some(end) if end <= stream.len() => at = end,
            _ => {
                return Err(damaged(format!(
                    "a run of its {what} levels is longer than the {} bytes left",
                    stream.len() - at
                )));
            }
        }
    }
    Ok(())
}

/// An unsigned LEB128 number of at most 10 bytes at the start of `bytes`, and its length.
pub(super) fn uleb128(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in bytes.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

impl Iterator for CheckedPages {
    type Item = Result<Page>;

    fn next(&mut self) -> Option<Self::Item> {
        self.get_next_page().transpose()
    }
}

impl PageReader for CheckedPages {
    fn get_next_page(&mut self) -> Result<Option<Page>> {
        let page = self.pages.get_next_page()?;
        if let Some(page) = &page {
            self.check(page)?;
        }
        Ok(page)
    }

    fn peek_next_page(&mut self) -> Result<Option<PageMetadata>> {
        self.pages.peek_next_page()
    }

    fn skip_next_page(&mut self) -> Result<()> {
        self.pages.skip_next_page()
    }

    fn at_record_boundary(&mut self) -> Result<bool> {
        self.pages.at_record_boundary()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// A chunk's pages, given in order.
    struct Given(std::vec::IntoIter<Page>);

    impl Iterator for Given {
        type Item = Result<Page>;
        fn next(&mut self) -> Option<Self::Item> {
            self.0.next().map(Ok)
        }
    }

    impl PageReader for Given {
        fn get_next_page(&mut self) -> Result<Option<Page>> {
            Ok(self.0.next())
        }
        fn peek_next_page(&mut self) -> Result<Option<PageMetadata>> {
            Ok(None)
        }
        fn skip_next_page(&mut self) -> Result<()> {
            Ok(())
        }
    }

    fn data(encoding: Encoding) -> Page {
        Page::DataPage {
            buf: Bytes::new(),
            num_values: 0,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        }
    }

    fn dictionary() -> Page {
        Page::DictionaryPage {
            buf: Bytes::from_static(b"\x01\0\0\0a"),
            num_values: 1,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        }
    }

    fn read(pages: Vec<Page>) -> Result<usize> {
        let mut checked = CheckedPages {
            pages: Box::new(Given(pages.into_iter())),
            levels: MaxLevels {
                repetition: 0,
                definition: 0,
            },
            dictionary: None,
            check_keys: false,
        };
        let mut n = 0;
        while checked.get_next_page()?.is_some() {
            n += 1;
        }
        Ok(n)
    }

    #[test]
    fn dictionary_pages_must_come_before_the_data_that_uses_them() {
        assert_eq!(read(vec![data(Encoding::PLAIN)]).unwrap(), 1);
        assert_eq!(
            read(vec![dictionary(), data(Encoding::RLE_DICTIONARY)]).unwrap(),
            2
        );
        for encoding in [Encoding::RLE_DICTIONARY, Encoding::PLAIN_DICTIONARY] {
            let e = read(vec![data(Encoding::PLAIN), data(encoding)]).unwrap_err();
            assert!(e.to_string().contains("no dictionary page"), "{e}");
            assert!(read(vec![data(encoding), dictionary()]).is_err());
        }
        let mut empty = dictionary();
        if let Page::DictionaryPage { num_values, .. } = &mut empty {
            *num_values = 0;
        }
        let e = read(vec![empty]).unwrap_err();
        assert!(
            e.to_string()
                .contains("declares no values but holds 5 bytes"),
            "{e}"
        );
    }

    fn with_def_levels(levels: &[u8]) -> Page {
        let mut buf = (levels.len() as i32).to_le_bytes().to_vec();
        buf.extend_from_slice(levels);
        buf.extend_from_slice(&[0; 8]);
        Page::DataPage {
            buf: Bytes::from(buf),
            num_values: 8,
            encoding: Encoding::PLAIN,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        }
    }

    #[test]
    fn level_runs_must_fit_in_the_page() {
        let optional = MaxLevels {
            repetition: 0,
            definition: 1,
        };
        // An RLE run of 8 ones; one bit-packed group of 8; both.
        for good in [&[16u8, 1][..], &[3, 0xff], &[16, 1, 3, 0xff]] {
            check_levels(&with_def_levels(good), optional).unwrap();
        }
        // Two bit-packed groups with one byte; an RLE run without its value; a cut header;
        // a length prefix longer than the page.
        for (bad, says) in [
            (&[5u8, 0xff][..], "longer than the 1 bytes left"),
            (&[16], "longer than the 0 bytes left"),
            (&[0x80], "run header of its definition levels is cut off"),
        ] {
            let e = check_levels(&with_def_levels(bad), optional).unwrap_err();
            assert!(e.to_string().contains(says), "{bad:?}: {e}");
        }
        let mut long = with_def_levels(&[16, 1]);
        if let Page::DataPage { buf, .. } = &mut long {
            let mut b = buf.to_vec();
            b[..4].copy_from_slice(&100i32.to_le_bytes());
            *buf = Bytes::from(b);
        }
        let e = check_levels(&long, optional).unwrap_err();
        assert!(
            e.to_string().contains("run past the end of the page"),
            "{e}"
        );
        // Without a level stream nothing is read.
        check_levels(
            &with_def_levels(&[5]),
            MaxLevels {
                repetition: 0,
                definition: 0,
            },
        )
        .unwrap();
        assert_eq!(
            (
                bit_width(0),
                bit_width(1),
                bit_width(2),
                bit_width(3),
                bit_width(4)
            ),
            (0, 1, 2, 2, 3)
        );
    }
}

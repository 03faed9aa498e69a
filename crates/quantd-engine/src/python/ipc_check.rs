//! Bounds of an Arrow IPC file written by user code, checked before the Arrow reader sees it.
//!
//! `arrow-ipc` trusts a file's layout: a block's negative length, a block past the end of the
//! file, or a buffer whose offset points outside its message body make it panic (found by the
//! `python_result` fuzz target). Every block the footer lists, and every buffer of every record
//! or dictionary batch, must lie inside the file and its body; compressed bodies are refused (the
//! harness never writes them, and they would decompress to any size).
//!
//! The reader also panics on a string column whose offsets buffer is not a whole number of `i32`s,
//! and decodes dictionary batches (of any type) before the schema can be checked: the harness
//! writes neither dictionaries nor odd offsets, so both are refused here.

use super::options::shown;
use arrow_ipc::{Block, Footer, Message, Type, root_as_footer, root_as_message};

/// The marker before a message's length in files written since Arrow 0.15.
const CONTINUATION_MARKER: [u8; 4] = [0xff; 4];

/// What is wrong with a file's layout.
fn bad(what: impl std::fmt::Display) -> String {
    format!("its Arrow layout is broken: {what}")
}

/// Checks the layout of the Arrow IPC file `bytes` (see the module docs).
pub(crate) fn check_file(bytes: &[u8]) -> Result<(), String> {
    const MAGIC: &[u8] = b"ARROW1";
    let n = bytes.len();
    if n < 10 + 8 || &bytes[n - 6..] != MAGIC || &bytes[..6] != MAGIC {
        return Err(bad("it does not start and end with the Arrow file magic"));
    }
    let footer_len = i32::from_le_bytes(bytes[n - 10..n - 6].try_into().expect("4 bytes"));
    let footer_start = usize::try_from(footer_len)
        .ok()
        .and_then(|len| (n - 10).checked_sub(len))
        .ok_or_else(|| bad(format!("a footer of {footer_len} bytes does not fit")))?;
    let footer = root_as_footer(&bytes[footer_start..n - 10]).map_err(bad)?;
    let strings = string_offsets(&footer)?;
    if footer.dictionaries().is_some_and(|d| !d.is_empty()) {
        return Err(bad("it has dictionary batches; write plain columns"));
    }
    for block in footer.recordBatches().into_iter().flatten() {
        check_block(bytes, footer_start, block, &strings)?;
    }
    Ok(())
}

/// The offsets buffers of the schema's string columns: (buffer index, column name). Empty when a
/// column is of a type the harness never writes; the schema check refuses that file before any
/// batch is read.
fn string_offsets<'a>(footer: &Footer<'a>) -> Result<Vec<(usize, &'a str)>, String> {
    let mut offsets = Vec::new();
    let mut buffer = 0;
    let fields = footer.schema().and_then(|s| s.fields());
    for field in fields.into_iter().flatten() {
        let name = field.name().unwrap_or("");
        if field.dictionary().is_some() {
            let name = shown(name, 64);
            return Err(bad(format!(
                "column `{name}` is dictionary-encoded; write plain columns"
            )));
        }
        if field.children().is_some_and(|c| !c.is_empty()) {
            return Ok(Vec::new());
        }
        match field.type_type() {
            Type::Utf8 => {
                offsets.push((buffer + 1, name));
                buffer += 3;
            }
            Type::Bool | Type::Date | Type::FloatingPoint => buffer += 2,
            _ => return Ok(Vec::new()),
        }
    }
    Ok(offsets)
}

/// One block: inside the file before the footer, with its message's buffers inside its body.
fn check_block(
    bytes: &[u8],
    end: usize,
    block: &Block,
    strings: &[(usize, &str)],
) -> Result<(), String> {
    let at = |v: i64| usize::try_from(v).ok();
    let (Some(offset), Some(meta), Some(body)) = (
        at(block.offset()),
        usize::try_from(block.metaDataLength()).ok(),
        at(block.bodyLength()),
    ) else {
        return Err(bad("a block has a negative offset or length"));
    };
    let body_start = offset.checked_add(meta);
    let body_end = body_start.and_then(|s| s.checked_add(body));
    let (Some(body_start), Some(body_end)) = (body_start, body_end) else {
        return Err(bad("a block's length overflows"));
    };
    if meta < 8 || body_end > end {
        return Err(bad(format!(
            "a block at byte {offset} ({meta} + {body} bytes) does not fit in the file"
        )));
    }
    let metadata = &bytes[offset..body_start];
    let flatbuffer = if metadata[..4] == CONTINUATION_MARKER {
        &metadata[8..]
    } else {
        &metadata[4..]
    };
    let message = root_as_message(flatbuffer).map_err(bad)?;
    check_buffers(&message, body, strings)
}

/// A batch's buffers lie inside its body, uncompressed, and string offsets are whole `i32`s.
fn check_buffers(message: &Message, body: usize, strings: &[(usize, &str)]) -> Result<(), String> {
    let Some(batch) = message.header_as_record_batch() else {
        return Ok(());
    };
    if batch.compression().is_some() {
        return Err(bad("its batches are compressed; write them uncompressed"));
    }
    for buffer in batch.buffers().into_iter().flatten() {
        let inside = u64::try_from(buffer.offset())
            .ok()
            .zip(u64::try_from(buffer.length()).ok())
            .and_then(|(o, l)| o.checked_add(l))
            .is_some_and(|end| end <= body as u64);
        if !inside {
            return Err(bad(format!(
                "a buffer at offset {} of {} bytes lies outside its batch's {body} bytes",
                buffer.offset(),
                buffer.length()
            )));
        }
    }
    let buffers = batch.buffers().unwrap_or_default();
    for &(i, name) in strings {
        if i < buffers.len() && buffers.get(i).length() % 4 != 0 {
            return Err(bad(format!(
                "the offsets of column `{}` take {} bytes, not a whole number of 4-byte offsets",
                shown(name, 64),
                buffers.get(i).length()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int64Array, RecordBatch};
    use std::sync::Arc;

    /// An Arrow IPC file of one column.
    fn file_of(name: &str, column: arrow_array::ArrayRef) -> Vec<u8> {
        let batch = RecordBatch::try_from_iter([(name, column)]).unwrap();
        let mut out = Vec::new();
        let mut w = arrow_ipc::writer::FileWriter::try_new(&mut out, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
        drop(w);
        out
    }

    fn file() -> Vec<u8> {
        file_of("x", Arc::new(Int64Array::from(vec![1, 2, 3])))
    }

    #[test]
    fn dictionary_columns_are_refused_before_the_reader_decodes_them() {
        use arrow_array::{DictionaryArray, types::Int32Type};
        let dict: DictionaryArray<Int32Type> = vec!["a", "b", "a"].into_iter().collect();
        let e = check_file(&file_of("ticker", Arc::new(dict))).unwrap_err();
        assert!(e.contains("column `ticker` is dictionary-encoded"), "{e}");
    }

    #[test]
    fn a_written_file_passes_and_cut_or_forged_ones_do_not() {
        let good = file();
        check_file(&good).unwrap();
        assert!(check_file(&good[..good.len() - 1]).is_err());
        assert!(check_file(b"ARROW1").is_err());
        // Every single-byte change either keeps the layout sound or is refused; the reader
        // then never panics on what passes.
        for i in 0..good.len() {
            for v in [0u8, 0x7f, 0xff] {
                let mut forged = good.clone();
                forged[i] = v;
                if check_file(&forged).is_ok() {
                    let r = std::panic::catch_unwind(|| {
                        arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(forged), None)
                            .map(|r| r.count())
                    });
                    assert!(r.is_ok(), "byte {i} = {v:#x} passed the check and panicked");
                }
            }
        }
    }
}

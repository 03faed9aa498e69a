//! The CSV reader: header → [`Layout`], then each record parsed field by field into the
//! [`Collector`], with line numbers for every problem. The input is read through a [`Bounded`]
//! reader, so a file without line breaks is refused after `max_line_bytes`, not held whole.

use super::limits::{Bounded, Overrun};
use super::{Collector, ImportLimits, ImportOptions, Layout, RawRow};
use crate::bars::BASE_COLUMNS;
use crate::error::{DataError, Result};
use crate::validate::RowRef;
use quantd_core::Progress;
use std::io::Read;

/// Rows between progress updates.
const PROGRESS_EVERY: u64 = 65_536;

/// Reads the rows of a CSV input of `size` bytes (used for progress and to size buffers).
pub(super) fn read<R: Read>(
    source: &str,
    input: R,
    size: u64,
    opts: &ImportOptions,
    limits: &ImportLimits,
    progress: &dyn Progress,
) -> Result<Collector> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .buffer_capacity(1 << 20)
        .from_reader(Bounded::new(input, limits));
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(str::to_string).collect(),
        Err(e) => return Err(csv_error(source, limits, 1, e)),
    };
    check_line(
        source,
        limits,
        1,
        header.iter().map(String::len),
        header.len(),
    )?;
    limits.check_columns(source, "columns in its header", header.len())?;
    let layout = Layout::from_header(source, &header, opts.ticker.as_deref())?;
    let zone = opts.tz.unwrap_or(crate::time::Zone::UTC);
    let mut c = Collector::new(source.to_string(), opts, zone, layout.extra_names(), limits);
    c.reserve(size / 48);
    progress.phase("read", size);
    let mut record = csv::StringRecord::new();
    let mut extras = vec![0.0; layout.extras.len()];
    let mut last_byte = 0u64;
    loop {
        let line = rdr.position().line();
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(source, limits, line, e)),
        }
        let line = record.position().map_or(line, |p| p.line());
        check_line(
            source,
            limits,
            line,
            record.iter().map(str::len),
            record.len(),
        )?;
        if c.full() {
            return Err(limits.too_many_rows(source));
        }
        read_row(&mut c, &layout, &header, &record, opts, &mut extras, line);
        if c.rows_read.is_multiple_of(PROGRESS_EVERY) {
            let byte = record.position().map_or(last_byte, |p| p.byte());
            progress.advance(byte.saturating_sub(last_byte));
            last_byte = last_byte.max(byte);
        }
    }
    progress.advance(size.saturating_sub(last_byte));
    Ok(c)
}

/// Parses one record into the collector.
fn read_row(
    c: &mut Collector,
    layout: &Layout,
    header: &[String],
    record: &csv::StringRecord,
    opts: &ImportOptions,
    extras: &mut [f64],
    line: u64,
) {
    // The reader refuses records with another field count than the header's, so every index
    // of the layout is present; `""` only guards the invariant.
    let field = |i: usize| record.get(i).unwrap_or("");
    let at = RowRef::Line(line);
    let ticker = match layout.ticker {
        Some(i) => field(i),
        None => opts.ticker.as_deref().unwrap_or(""),
    };
    let date_text = field(layout.date);
    let time = match c.reader.read(date_text) {
        Ok(time) => Some(time),
        Err(fault) => {
            let column = header.get(layout.date).map_or("date", String::as_str);
            c.bad_time(at, column, date_text, fault);
            None
        }
    };
    let mut base = [None; 5];
    for ((slot, &i), name) in base.iter_mut().zip(&layout.base).zip(BASE_COLUMNS) {
        *slot = parse_number(c, at, name, field(i), true);
    }
    let mut extras_ok = true;
    for (slot, (name, i)) in extras.iter_mut().zip(&layout.extras) {
        match parse_number(c, at, name, field(*i), false) {
            Some(v) => *slot = v,
            None => extras_ok = false,
        }
    }
    if !extras_ok {
        base[0] = None;
    }
    c.push(RawRow {
        at,
        ticker: Some(ticker),
        time,
        base,
        extras,
    });
}

/// Refuses a line (its fields' lengths and count) longer than `max_line_bytes`. Catches long
/// lines that arrived within one read, which [`Bounded`] only bounds.
fn check_line(
    source: &str,
    limits: &ImportLimits,
    line: u64,
    field_lengths: impl Iterator<Item = usize>,
    fields: usize,
) -> Result<()> {
    let bytes = field_lengths.fold(fields.saturating_sub(1), usize::saturating_add);
    if bytes as u64 > limits.max_line_bytes {
        return Err(limits.line_too_long(source, line));
    }
    Ok(())
}

/// Parses a number. Required columns need a finite value; extra columns may be empty (NaN).
pub(super) fn parse_number(
    c: &mut Collector,
    at: RowRef,
    column: &str,
    text: &str,
    required: bool,
) -> Option<f64> {
    if text.is_empty() && !required {
        return Some(f64::NAN);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() || (!required && v.is_nan()) => Some(v),
        _ => {
            c.unparsable(
                at,
                column,
                text,
                if required {
                    "a finite number"
                } else {
                    "a number"
                },
            );
            None
        }
    }
}

/// The user-facing error of a CSV read error; `line` is where the reader was.
fn csv_error(source: &str, limits: &ImportLimits, line: u64, e: csv::Error) -> DataError {
    let line = e.position().map_or(line, |p| p.line());
    if let csv::ErrorKind::Io(io) = e.kind()
        && let Some(overrun) = Overrun::of(io)
    {
        return overrun.to_error(limits, source, line);
    }
    let at = format!(" at line {line}");
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => DataError::Input {
            what: format!("`{source}`{at}: {len} fields where the header has {expected_len}"),
            fix: "give every row as many comma-separated fields as the header (quote values that contain commas)".into(),
        },
        csv::ErrorKind::Utf8 { .. } => DataError::Input {
            what: format!("`{source}`{at}: text is not valid UTF-8"),
            fix: "save the file as UTF-8".into(),
        },
        csv::ErrorKind::Io(io) => DataError::io("reading", source, std::io::Error::new(io.kind(), io.to_string())),
        _ => DataError::Input {
            what: format!("`{source}`{at}: {}", crate::text::echo(&e.to_string())),
            fix: "check that the file is comma-separated with one header row".into(),
        },
    }
}

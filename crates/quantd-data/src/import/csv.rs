//! The CSV reader: header → [`Layout`], then each record parsed field by field into the
//! [`Collector`], with line numbers for every problem.

use super::{Collector, ImportOptions, Layout, RawRow, parse_day};
use crate::bars::BASE_COLUMNS;
use crate::error::{DataError, Result};
use crate::validate::RowRef;
use quantd_core::Progress;
use std::path::Path;

/// Rows between progress updates.
const PROGRESS_EVERY: u64 = 65_536;

pub(super) fn read(
    path: &Path,
    opts: &ImportOptions,
    progress: &dyn Progress,
) -> Result<Collector> {
    let source = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| DataError::io("reading", path, e))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .buffer_capacity(1 << 20)
        .from_reader(file);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| csv_error(&source, e))?
        .iter()
        .map(str::to_string)
        .collect();
    let layout = Layout::from_header(&source, &header, opts.ticker.as_deref())?;
    let mut c = Collector::new(source.clone(), opts.lenient, layout.extra_names());
    c.reserve((size / 48) as usize);
    progress.phase("read", size);
    let mut record = csv::StringRecord::new();
    let mut extras = vec![0.0; layout.extras.len()];
    let mut last_byte = 0u64;
    loop {
        match rdr.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&source, e)),
        }
        let at = RowRef::Line(record.position().map_or(0, |p| p.line()));
        let ticker = match (layout.ticker, opts.ticker.as_deref()) {
            (Some(i), _) => &record[i],
            (None, Some(t)) => t,
            (None, None) => unreachable!("layout requires a ticker"),
        };
        let date_text = &record[layout.date];
        let day = parse_day(date_text);
        if day.is_none() {
            c.unparsable(at, &header[layout.date], date_text, "a date (YYYY-MM-DD)");
        }
        let mut base = [None; 5];
        for ((slot, &i), name) in base.iter_mut().zip(&layout.base).zip(BASE_COLUMNS) {
            *slot = parse_number(&mut c, at, name, &record[i], true);
        }
        let mut extras_ok = true;
        for (slot, (name, i)) in extras.iter_mut().zip(&layout.extras) {
            match parse_number(&mut c, at, name, &record[*i], false) {
                Some(v) => *slot = v,
                None => extras_ok = false,
            }
        }
        if !extras_ok {
            base[0] = None;
        }
        c.push(RawRow {
            at,
            ticker,
            day,
            base,
            extras: &extras,
        });
        if c.rows_read.is_multiple_of(PROGRESS_EVERY) {
            let byte = record.position().map_or(0, |p| p.byte());
            progress.advance(byte - last_byte);
            last_byte = byte;
        }
    }
    progress.advance(size.saturating_sub(last_byte));
    Ok(c)
}

/// Parses a number. Required columns need a finite value; extra columns may be empty (NaN).
fn parse_number(
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

fn csv_error(source: &str, e: csv::Error) -> DataError {
    let line = e
        .position()
        .map(|p| format!(" at line {}", p.line()))
        .unwrap_or_default();
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => DataError::Input {
            what: format!("`{source}`{line}: {len} fields where the header has {expected_len}"),
            fix: "give every row as many comma-separated fields as the header (quote values that contain commas)".into(),
        },
        csv::ErrorKind::Utf8 { .. } => DataError::Input {
            what: format!("`{source}`{line}: text is not valid UTF-8"),
            fix: "save the file as UTF-8".into(),
        },
        _ => DataError::Input {
            what: format!("`{source}`{line}: {e}"),
            fix: "check that the file is comma-separated with one header row".into(),
        },
    }
}

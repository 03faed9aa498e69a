//! `import_csv` and `import_parquet`: bytes as a CSV or Parquet file through quantd-data's pack
//! importer ([`quantd_data::import_file`]), strict and lenient. What imports must keep the
//! importer's promises: a consistent table ([`quantd_data::BarTable::check_invariants`]), the
//! same table read back from the pack directory it writes, and the same pack id after an export
//! to CSV and to Parquet and a new import (export.rs: "export → import gives the same pack id").

#[path = "scratch.rs"]
mod scratch;

use quantd_core::NoProgress;
use quantd_data::export::{ParquetLayout, export};
use quantd_data::format::write_pack;
use quantd_data::hash::pack_id;
use quantd_data::{BarTable, ImportOptions, PackReader, import_file};
use std::path::Path;

/// The `import_csv` target.
pub fn csv(data: &[u8]) {
    import_bytes(data, "input.csv");
}

/// The `import_parquet` target.
pub fn parquet(data: &[u8]) {
    import_bytes(data, "input.parquet");
}

/// The options every input is imported with: strict with the file's own ticker column, lenient,
/// lenient for a file of one ticker without a ticker column (`--ticker`), and naive times in New
/// York with integers as epoch milliseconds.
fn option_sets() -> [ImportOptions; 4] {
    [
        ImportOptions::default(),
        ImportOptions {
            lenient: true,
            ..ImportOptions::default()
        },
        ImportOptions {
            ticker: Some("FZ".into()),
            lenient: true,
            ..ImportOptions::default()
        },
        ImportOptions {
            tz: Some("America/New_York".parse().expect("a zone")),
            epoch: Some(quantd_data::time::Epoch::Millis),
            ..ImportOptions::default()
        },
    ]
}

fn import_bytes(data: &[u8], name: &str) {
    let dir = scratch::dir();
    let path = dir.path().join(name);
    std::fs::write(&path, data).expect("writing the input to the scratch directory");
    for opts in option_sets() {
        match import_file(&path, &opts, &NoProgress) {
            Ok(imported) => {
                assert!(
                    imported.rows_read >= imported.table.len() as u64,
                    "more bars than rows read"
                );
                check_table(dir.path(), &imported.table);
            }
            Err(e) => {
                // The message is what users see: building it must not fail either.
                let _ = (e.to_string(), e.class());
            }
        }
    }
}

/// The promises an imported table keeps.
fn check_table(dir: &Path, table: &BarTable) {
    if let Err(e) = table.check_invariants() {
        panic!("the importer returned an inconsistent table: {e}");
    }
    assert!(!table.is_empty(), "an import succeeded with no bars");
    let id = pack_id(table);

    let packs = dir.join("packs");
    let tmp = dir.join("tmp-pack");
    std::fs::create_dir_all(&tmp).expect("creating the pack's temporary directory");
    let pack_dir = match write_pack(&packs, &tmp, table, &id, &NoProgress) {
        Ok(d) => d,
        Err(e) => panic!("an imported table could not be written as a pack: {e}"),
    };
    let reader = match PackReader::open(&pack_dir) {
        Ok(r) => r,
        Err(e) => panic!("a pack just written could not be opened: {e}"),
    };
    assert_eq!(
        reader.manifest().id,
        id,
        "the pack's manifest names another id"
    );
    match reader.to_table() {
        Ok(back) => assert!(
            same_bars(&back, table),
            "the pack reads back other bars than were written"
        ),
        Err(e) => panic!("a pack just written could not be read: {e}"),
    }
    drop(reader);
    let _ = std::fs::remove_dir_all(&packs);

    for out in ["export.csv", "export.parquet"] {
        let path = dir.join(out);
        if let Err(e) = export(table, &path, ParquetLayout::default(), &NoProgress) {
            panic!("exporting an imported table to {out} failed: {e}");
        }
        // A CSV file carries instants but not the zone: give it back as `--tz`.
        let again = ImportOptions {
            tz: Some(table.calendar.zone),
            interval: Some(table.calendar.interval),
            ..ImportOptions::default()
        };
        match import_file(&path, &again, &NoProgress) {
            Ok(again) => assert_eq!(
                pack_id(&again.table),
                id,
                "{out} does not import back to the same pack id"
            ),
            Err(e) => panic!("{out}, exported from an imported table, does not import: {e}"),
        }
        let _ = std::fs::remove_file(&path);
    }
}

/// Whether two tables hold the same bars, values compared bit for bit (an empty extra field is
/// NaN, and NaN is not equal to itself).
fn same_bars(a: &BarTable, b: &BarTable) -> bool {
    let bits = |t: &BarTable| -> Vec<(String, Vec<u64>)> {
        t.columns
            .iter()
            .map(|c| {
                (
                    c.name.clone(),
                    c.values.iter().map(|v| v.to_bits()).collect(),
                )
            })
            .collect()
    };
    a.tickers == b.tickers
        && a.offsets == b.offsets
        && a.stamps == b.stamps
        && a.calendar == b.calendar
        && bits(a) == bits(b)
}

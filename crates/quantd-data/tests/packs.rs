//! Pack import, hashing, on-disk format and export, end to end through files.

use quantd_core::NoProgress;
use quantd_data::export::{ParquetLayout, export};
use quantd_data::format::{PackReader, write_pack};
use quantd_data::synth::{SynthSpec, generate};
use quantd_data::{BarTable, DataError, ImportOptions, hash, import_file};
use std::path::{Path, PathBuf};

fn small() -> BarTable {
    generate(
        &SynthSpec {
            tickers: 7,
            days: 40,
            seed: 3,
            ..Default::default()
        },
        &NoProgress,
    )
}

fn import(path: &Path) -> Result<quantd_data::Imported, DataError> {
    import_file(path, &ImportOptions::default(), &NoProgress)
}

fn export_to(table: &BarTable, dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    export(table, &path, ParquetLayout::default(), &NoProgress).unwrap();
    path
}

/// Deterministic shuffle (xorshift) of the data lines of a CSV, keeping the header first.
fn shuffle_csv(src: &Path, dst: &Path) {
    let text = std::fs::read_to_string(src).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    let mut x: u64 = 0x2545F4914F6CDD1D;
    for i in (1..lines.len()).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        lines.swap(i, (x % (i as u64 + 1)) as usize);
    }
    std::fs::write(dst, format!("{header}\n{}\n", lines.join("\n"))).unwrap();
}

#[test]
fn the_id_ignores_row_order_file_format_and_header_case() {
    let dir = tempfile::tempdir().unwrap();
    let table = small();
    let id = hash::pack_id(&table);

    let csv = export_to(&table, dir.path(), "a.csv");
    assert_eq!(
        hash::pack_id(&import(&csv).unwrap().table),
        id,
        "CSV round trip"
    );

    let shuffled = dir.path().join("shuffled.csv");
    shuffle_csv(&csv, &shuffled);
    assert_ne!(
        std::fs::read(&csv).unwrap(),
        std::fs::read(&shuffled).unwrap()
    );
    assert_eq!(
        hash::pack_id(&import(&shuffled).unwrap().table),
        id,
        "shuffled rows"
    );

    // Reordered, upper-case columns.
    let text = std::fs::read_to_string(&csv).unwrap();
    let reordered: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            let row = [f[6], f[5], f[1], f[0], f[2], f[3], f[4]].join(",");
            if i == 0 {
                row.to_uppercase() + "\n"
            } else {
                row + "\n"
            }
        })
        .collect();
    let reordered_path = dir.path().join("reordered.csv");
    std::fs::write(&reordered_path, reordered).unwrap();
    assert_eq!(
        hash::pack_id(&import(&reordered_path).unwrap().table),
        id,
        "column order and case"
    );

    let pq = export_to(&table, dir.path(), "a.parquet");
    assert_eq!(hash::pack_id(&import(&pq).unwrap().table), id, "Parquet");
    let pq_tickers = dir.path().join("b.parquet");
    export(
        &table,
        &pq_tickers,
        ParquetLayout {
            row_group_per_ticker: true,
            ..Default::default()
        },
        &NoProgress,
    )
    .unwrap();
    assert_eq!(
        hash::pack_id(&import(&pq_tickers).unwrap().table),
        id,
        "Parquet, row group per ticker"
    );
}

#[test]
fn the_id_changes_when_any_value_changes() {
    let table = small();
    let id = hash::pack_id(&table);
    let mut changed = table.clone();
    changed.columns[3].values[17] += 0.01;
    assert_ne!(hash::pack_id(&changed), id);
    let mut renamed = table.clone();
    renamed.tickers[0] = "SYN0000".into();
    assert_ne!(hash::pack_id(&renamed), id);
}

#[test]
fn a_written_pack_reads_back_exactly_with_projection_and_windows() {
    let dir = tempfile::tempdir().unwrap();
    let table = small();
    let id = hash::pack_id(&table);
    let tmp = dir.path().join("tmp-1");
    std::fs::create_dir(&tmp).unwrap();
    let packs = dir.path().join("packs");
    let pack_dir = write_pack(&packs, &tmp, &table, &id, &NoProgress).unwrap();
    assert!(!tmp.exists(), "the temporary directory is renamed away");
    let reader = PackReader::open(&pack_dir).unwrap();
    assert_eq!(reader.manifest().id, id);
    assert_eq!(reader.to_table().unwrap(), table);

    let proj = reader.projection(&["volume", "close"]).unwrap();
    let i = reader.ticker_index("SYN0003").unwrap();
    let bars = reader.read(i, &proj).unwrap();
    let range = table.range(i);
    assert_eq!(bars.column(0), &table.columns[4].values[range.clone()]);
    assert_eq!(bars.column(1), &table.columns[3].values[range.clone()]);
    let d = bars.stamps();
    let w = bars.window(Some(d[5]), Some(d[9]));
    assert_eq!(w, 5..10);
    assert_eq!(bars.window(Some(d[39] + 1), None).len(), 0);

    let err = reader.projection(&["clsoe"]).unwrap_err().to_string();
    assert!(
        err.contains("column `clsoe` not in the pack; the pack has open, high, low, close, volume"),
        "{err}"
    );

    // Writing the same content again keeps the existing directory and removes the new temp.
    let tmp2 = dir.path().join("tmp-2");
    std::fs::create_dir(&tmp2).unwrap();
    assert_eq!(
        write_pack(&packs, &tmp2, &table, &id, &NoProgress).unwrap(),
        pack_dir
    );
    assert!(!tmp2.exists());
}

#[test]
fn extra_columns_are_kept_sorted_and_may_be_empty() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.csv");
    std::fs::write(
        &path,
        "Ticker,Date,Open,High,Low,Close,Volume,Zeta,Adj Close\n\
         B,2024-01-03,10,11,9,10,5,1,9.5\n\
         A,2024-01-02,10,11,9,10,5,,9.9\n",
    )
    .unwrap();
    let t = import(&path).unwrap().table;
    assert_eq!(
        t.column_names().collect::<Vec<_>>(),
        [
            "open",
            "high",
            "low",
            "close",
            "volume",
            "adj_close",
            "zeta"
        ]
    );
    assert_eq!(t.tickers, ["A", "B"]);
    assert_eq!(t.column("adj_close").unwrap(), [9.9, 9.5]);
    assert!(t.column("zeta").unwrap()[0].is_nan());
    let csv = export_to(&t, dir.path(), "y.csv");
    assert_eq!(
        hash::pack_id(&import(&csv).unwrap().table),
        hash::pack_id(&t),
        "NaN extras round-trip"
    );
}

#[test]
fn a_file_without_ticker_column_needs_the_ticker_flag() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("goog.csv");
    std::fs::write(&path, ",Open,High,Low,Close,Volume\n2004-08-19,100,104,95,100.3,44659000\n2004-08-20 00:00:00,101,109,100,108.3,22834300\n").unwrap();
    let err = import(&path).unwrap_err().to_string();
    assert!(err.contains("--ticker SYMBOL"), "{err}");
    let opts = ImportOptions {
        ticker: Some("GOOG".into()),
        lenient: false,
        ..Default::default()
    };
    let t = import_file(&path, &opts, &NoProgress).unwrap().table;
    assert_eq!(t.tickers, ["GOOG"]);
    assert_eq!(t.len(), 2);
}

#[test]
fn lenient_drops_bad_rows_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(
        &path,
        "ticker,date,open,high,low,close,volume\n\
         A,2024-01-02,10,11,9,10,5\n\
         A,2024-01-02,10,11,9,10,5\n\
         A,2024-01-03,10,11,9,10,-5\n\
         A,2024-01-04,10,11,9,10,5\n",
    )
    .unwrap();
    assert!(matches!(import(&path), Err(DataError::Invalid(_))));
    let opts = ImportOptions {
        ticker: None,
        lenient: true,
        ..Default::default()
    };
    let imported = import_file(&path, &opts, &NoProgress).unwrap();
    assert_eq!(
        (
            imported.rows_read,
            imported.rows_dropped,
            imported.table.len()
        ),
        (4, 2, 2)
    );
}

mod snapshots {
    //! What users read when an import is refused.
    use super::*;

    fn refusal(content: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("input.csv");
        std::fs::write(&path, content).unwrap();
        let err = import(&path).unwrap_err().to_string();
        err.replace(&dir.path().display().to_string(), "[DIR]")
    }

    #[test]
    fn duplicate_and_high_below_close() {
        insta::assert_snapshot!(refusal(
            "ticker,date,open,high,low,close,volume\n\
             AAA,2024-01-02,10,11,9,10.5,100\n\
             AAA,2024-01-03,10,11,9,12,100\n\
             BBB,2024-01-02,20,21,19,20,100\n\
             AAA,2024-01-02,10,11,9,10.5,100\n"
        ));
    }

    #[test]
    fn every_kind_of_row_problem() {
        insta::assert_snapshot!(refusal(
            "ticker,date,open,high,low,close,volume\n\
             A,2024-13-01,10,11,9,10,1\n\
             A,2024-01-02,ten,11,9,10,1\n\
             A,2024-01-03,0,11,9,10,1\n\
             A,2024-01-04,10,11,10.5,10,1\n\
             A,2024-01-05,10,11,9,10,-1\n\
             ,2024-01-06,10,11,9,10,1\n\
             A,2024-01-07,10,11,9,inf,1\n"
        ));
    }

    #[test]
    fn only_twenty_problems_are_listed() {
        let mut csv = String::from("ticker,date,open,high,low,close,volume\n");
        for day in 1..=28 {
            csv.push_str(&format!("A,2024-02-{day:02},10,11,9,10,-{day}\n"));
        }
        insta::assert_snapshot!(refusal(&csv));
    }

    #[test]
    fn missing_columns() {
        insta::assert_snapshot!(refusal("Ticker,Date,Open,Close\nA,2024-01-02,1,2\n"));
    }

    #[test]
    fn ragged_row() {
        insta::assert_snapshot!(refusal(
            "ticker,date,open,high,low,close,volume\nA,2024-01-02,10,11,9,10\n"
        ));
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Any permutation of the input rows gives the same table and id.
        #[test]
        fn row_order_never_changes_the_id(seed in any::<u64>(), tickers in 1usize..5, days in 1usize..30) {
            let table = generate(&SynthSpec { tickers, days, seed, ..Default::default() }, &NoProgress);
            let dir = tempfile::tempdir().unwrap();
            let csv = export_to(&table, dir.path(), "a.csv");
            let shuffled = dir.path().join("b.csv");
            shuffle_csv(&csv, &shuffled);
            let back = import(&shuffled).unwrap().table;
            prop_assert_eq!(hash::pack_id(&back), hash::pack_id(&table));
            prop_assert_eq!(back, table);
        }
    }
}

/// Packs keep instants (intraday bars); daily packs keep the ids and files they had before.
mod instants {
    use super::*;
    use quantd_data::time::{Calendar, Interval, Zone};

    /// The id the last release before instants gave this universe (pinned from that build).
    const DAILY_ID_BEFORE_INSTANTS: &str =
        "b6f163f66d2cf8c430c4d2fc08fc47edec9e338619c95c59b565801abaf4aa08";

    fn three_by_fifty() -> BarTable {
        let spec = SynthSpec {
            tickers: 3,
            days: 50,
            ..Default::default()
        };
        generate(&spec, &NoProgress)
    }

    #[test]
    fn daily_pack_ids_are_unchanged() {
        let t = three_by_fifty();
        assert_eq!(t.calendar, Calendar::DAILY);
        assert_eq!(hash::pack_id(&t).as_str(), DAILY_ID_BEFORE_INSTANTS);
        // Through a CSV file and back: the same id.
        let dir = tempfile::tempdir().unwrap();
        let back = import(&export_to(&t, dir.path(), "d.csv")).unwrap().table;
        assert_eq!(back.calendar, Calendar::DAILY);
        assert_eq!(hash::pack_id(&back).as_str(), DAILY_ID_BEFORE_INSTANTS);
    }

    #[test]
    fn a_pack_written_before_instants_reads_as_daily_bars() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format1-pack");
        let reader = PackReader::open(&dir).unwrap();
        assert_eq!(reader.manifest().format, 1);
        assert_eq!(reader.manifest().calendar, Calendar::DAILY);
        let t = reader.to_table().unwrap();
        assert_eq!(t, three_by_fifty());
        assert_eq!(
            reader.manifest().first_bar,
            t.stamps[0],
            "the first bar is filled in from the first date"
        );
        assert_eq!(hash::pack_id(&t).as_str(), DAILY_ID_BEFORE_INSTANTS);
    }

    const HOURLY: &str = "ticker,time,open,high,low,close,volume\n\
        FX,2024-03-09 22:00,1,2,0.5,1.5,10\n\
        FX,2024-03-09 23:00,1,2,0.5,1.5,10\n\
        FX,2024-03-10 03:00,1,2,0.5,1.5,10\n\
        FX,2024-03-10 04:00,1,2,0.5,1.5,10\n";

    #[test]
    fn an_intraday_pack_round_trips_its_instants_and_zone() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("h.csv");
        std::fs::write(&src, HOURLY).unwrap();
        let ny: Zone = "America/New_York".parse().unwrap();
        let opts = ImportOptions {
            tz: Some(ny),
            ..Default::default()
        };
        let t = import_file(&src, &opts, &NoProgress).unwrap().table;
        assert_eq!(
            t.calendar,
            Calendar {
                interval: Interval::Hour1,
                zone: ny,
                daily: false
            }
        );
        // 2024-03-10 03:00 New York is after the clocks went forward: 07:00 UTC, one hour
        // after 01:00 EST (06:00 UTC) would have been.
        assert_eq!(t.calendar.format(t.stamps[2]), "2024-03-10T03:00:00-04:00");
        assert_eq!(t.calendar.format(t.stamps[0]), "2024-03-09T22:00:00-05:00");
        let id = hash::pack_id(&t);
        // The same instants in UTC are another pack: the zone is part of what a pack is.
        let utc = import_file(&src, &ImportOptions::default(), &NoProgress)
            .unwrap()
            .table;
        assert_ne!(hash::pack_id(&utc), id);

        // Parquet carries the zone: the same id without --tz.
        let pq = import(&export_to(&t, dir.path(), "h.parquet"))
            .unwrap()
            .table;
        assert_eq!(pq, t);
        // CSV carries offsets, so the instants; --tz gives the zone back.
        let csv = export_to(&t, dir.path(), "h2.csv");
        let text = std::fs::read_to_string(&csv).unwrap();
        assert!(
            text.starts_with(
                "ticker,time,open,high,low,close,volume\nFX,2024-03-09T22:00:00-05:00,"
            ),
            "{text}"
        );
        let back = import_file(&csv, &opts, &NoProgress).unwrap().table;
        assert_eq!(hash::pack_id(&back), id);
        // The pack on disk reads back exactly, its manifest naming interval, zone and bars.
        let packs = tempfile::tempdir().unwrap();
        let tmp = packs.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let pack = write_pack(packs.path(), &tmp, &t, &id, &NoProgress).unwrap();
        let reader = PackReader::open(&pack).unwrap();
        assert_eq!(reader.to_table().unwrap(), t);
        let m = reader.manifest();
        assert_eq!((m.first_bar, m.last_bar), (t.stamps[0], t.stamps[3]));
        let json = std::fs::read_to_string(pack.join("manifest.json")).unwrap();
        assert!(json.contains("\"interval\": \"1h\""), "{json}");
        assert!(json.contains("\"zone\": \"America/New_York\""), "{json}");
    }

    #[test]
    fn local_times_that_daylight_saving_skips_or_repeats_are_refused_by_line() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("dst.csv");
        std::fs::write(
            &src,
            "ticker,time,open,high,low,close,volume\n\
             FX,2024-03-10 01:00,1,2,0.5,1.5,10\n\
             FX,2024-03-10 02:30,1,2,0.5,1.5,10\n\
             FX,2024-11-03 01:30,1,2,0.5,1.5,10\n",
        )
        .unwrap();
        let opts = ImportOptions {
            tz: Some("America/New_York".parse().unwrap()),
            ..Default::default()
        };
        let e = import_file(&src, &opts, &NoProgress)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("line 3: column `time`: `2024-03-10 02:30`: this local time does not exist in America/New_York"),
            "{e}"
        );
        assert!(
            e.contains("line 4: column `time`: `2024-11-03 01:30`: this local time occurs twice in America/New_York"),
            "{e}"
        );
        // In UTC (the default) the same file is fine.
        assert!(import(&src).is_ok());
    }

    #[test]
    fn epochs_and_a_given_interval() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("e.csv");
        std::fs::write(
            &src,
            "ticker,timestamp,open,high,low,close,volume\n\
             C,1704187800,1,2,0.5,1.5,10\n\
             C,1704188100,1,2,0.5,1.5,10\n",
        )
        .unwrap();
        let e = import(&src).unwrap_err().to_string();
        assert!(
            e.contains("line 2: column `timestamp`: `1704187800` is not"),
            "{e}"
        );
        let opts = ImportOptions {
            epoch: Some("s".parse().unwrap()),
            interval: Some(Interval::Minute1),
            ..Default::default()
        };
        let t = import_file(&src, &opts, &NoProgress).unwrap().table;
        assert_eq!(
            t.calendar.interval,
            Interval::Minute1,
            "given, not inferred"
        );
        assert_eq!(t.calendar.format(t.stamps[1]), "2024-01-02T09:35:00+00:00");
    }
}

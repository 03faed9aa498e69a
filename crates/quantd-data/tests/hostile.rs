//! Hostile input, by class ("Safe to share"): whatever a file holds, the importer refuses it with
//! a short message that says what and where, never panics, never reads without bound, and never
//! drops information silently.

mod parquet_files;

use parquet_files::{DateValues, ParquetSpec, write_parquet};
use quantd_core::NoProgress;
use quantd_data::export::{ParquetLayout, export};
use quantd_data::{DataError, FileFormat, ImportLimits, ImportOptions, hash, import_file};
use std::path::{Path, PathBuf};

/// Longest message an import may give, whatever the input.
const MAX_MESSAGE: usize = 8 * 1024;

const HEADER: &str = "ticker,date,open,high,low,close,volume\n";

fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn refusal_with(path: &Path, opts: &ImportOptions, limits: &ImportLimits) -> DataError {
    match quantd_data::import_file_with(path, opts, limits, &NoProgress) {
        Ok(imported) => panic!("{} imported: {:?}", path.display(), imported.table.tickers),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.len() <= MAX_MESSAGE,
                "{} bytes of message: {}",
                text.len(),
                &text[..200.min(text.len())]
            );
            e
        }
    }
}

fn refusal(path: &Path) -> String {
    refusal_with(path, &ImportOptions::default(), &ImportLimits::default()).to_string()
}

fn bar_line(ticker: &str, date: &str) -> String {
    format!("{ticker},{date},10,11,9,10.5,1000\n")
}

mod dates {
    use super::*;

    /// The bars of a file that must import.
    fn imported(path: &Path) -> quantd_data::BarTable {
        import_file(path, &ImportOptions::default(), &NoProgress)
            .unwrap()
            .table
    }

    #[test]
    fn parquet_date32_extremes_are_refused_with_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_parquet(
            dir.path(),
            "hugedate.parquet",
            &ParquetSpec::dates(DateValues::Date32(vec![i32::MAX, i32::MIN, 0])),
        );
        let e = refusal(&path);
        assert!(
            e.contains("row 1: column `date`: `2147483647 days since 1970-01-01` is outside the supported dates 1800-01-01 ..= 2262-04-11"),
            "{e}"
        );
        assert!(e.contains("row 2: column `date`: `-2147483648 days"), "{e}");
        assert!(e.contains("2 problems in 2 rows"), "{e}");
    }

    #[test]
    fn parquet_timestamps_far_from_now_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let secs = DateValues::Seconds(vec![1_000_000_000_000, -1_000_000_000_000, 0], None);
        let path = write_parquet(dir.path(), "tssec.parquet", &ParquetSpec::dates(secs));
        let e = refusal(&path);
        assert!(
            e.contains("row 1: column `date`: `1000000000000 seconds since 1970-01-01` is outside the supported dates"),
            "{e}"
        );
        assert!(
            e.contains("row 2: column `date`: `-1000000000000 seconds"),
            "{e}"
        );
    }

    #[test]
    fn csv_dates_out_of_range_are_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let csv = format!(
            "{HEADER}{}{}{}",
            bar_line("A", "0024-01-02"),
            bar_line("A", "1799-12-31"),
            bar_line("A", "2024-01-02")
        );
        let e = refusal(&write(dir.path(), "old.csv", csv));
        assert!(
            e.contains("line 2: column `date`: `0024-01-02` is outside the supported dates 1800-01-01 ..= 2262-04-11"),
            "{e}"
        );
        assert!(
            e.contains("line 3: column `date`: `1799-12-31` is outside"),
            "{e}"
        );
    }

    /// The session date of each bar.
    fn days(t: &quantd_data::BarTable) -> Vec<i32> {
        t.stamps.iter().map(|&s| t.calendar.day_of(s)).collect()
    }

    #[test]
    fn times_of_day_make_an_intraday_pack_keyed_by_instant() {
        let dir = tempfile::tempdir().unwrap();
        let csv = format!(
            "{HEADER}{}{}",
            bar_line("AAA", "2024-01-02 09:30"),
            bar_line("AAA", "2024-01-02 10:30")
        );
        let t = imported(&write(dir.path(), "intraday.csv", csv));
        assert!(!t.calendar.daily);
        assert_eq!(t.calendar.interval.as_str(), "1h");
        assert_eq!(
            t.stamps,
            [1_704_187_800_000_000_000, 1_704_191_400_000_000_000]
        );
        // The same instant twice is a duplicate, named in the pack's wall clock.
        let csv = format!(
            "{HEADER}{}{}",
            bar_line("AAA", "2024-01-02 09:30"),
            bar_line("AAA", "2024-01-02T09:30:00Z")
        );
        let e = refusal(&write(dir.path(), "twice.csv", csv));
        assert!(
            e.contains(
                "line 3: duplicate bar for AAA on 2024-01-02T09:30:00+00:00 (first at line 2)"
            ),
            "{e}"
        );
    }

    #[test]
    fn parquet_timestamps_with_times_of_day_keep_their_instants() {
        let dir = tempfile::tempdir().unwrap();
        let day = 19_724_i64 * 86_400; // 2024-01-02
        let us = |s: i64| s * 1_000_000;
        let spec = ParquetSpec::dates(DateValues::Micros(
            vec![us(day + 34_200), us(day + 37_800), us(day + 86_400)],
            None,
        ));
        let t = imported(&write_parquet(dir.path(), "intraday.parquet", &spec));
        assert!(!t.calendar.daily);
        let ns = |s: i64| s * 1_000_000_000;
        assert_eq!(
            t.stamps,
            [ns(day + 34_200), ns(day + 37_800), ns(day + 86_400)]
        );
    }

    #[test]
    fn midnight_timestamps_import_in_utc_and_fixed_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let day = 19_724_i64 * 86_400;
        let utc = ParquetSpec::dates(DateValues::Seconds(
            vec![day, day + 86_400, day],
            Some("UTC"),
        ));
        let t = imported(&write_parquet(dir.path(), "utc.parquet", &utc));
        assert!(t.calendar.daily);
        assert_eq!(days(&t), [19_724, 19_725, 19_724]);
        // Midnight in New York (winter) is 05:00 UTC: the date is the local one.
        let ny = ParquetSpec::dates(DateValues::Seconds(
            vec![day + 5 * 3600, day + 86_400 + 5 * 3600, day + 5 * 3600],
            Some("-05:00"),
        ));
        let t = imported(&write_parquet(dir.path(), "ny.parquet", &ny));
        assert_eq!(days(&t), [19_724, 19_725, 19_724]);
    }

    #[test]
    fn named_time_zones_give_local_dates_through_daylight_saving() {
        let dir = tempfile::tempdir().unwrap();
        let (jan2, jul2) = (19_724_i64 * 86_400, 19_906_i64 * 86_400); // 2024-01-02, 2024-07-02
        // Midnight in New York: 05:00 UTC in winter (EST), 04:00 UTC in summer (EDT), as pandas
        // writes `tz_localize("America/New_York")` daily indexes.
        let ny = ParquetSpec::dates(DateValues::Seconds(
            vec![jan2 + 5 * 3600, jul2 + 4 * 3600, jan2 + 5 * 3600],
            Some("America/New_York"),
        ));
        let t = imported(&write_parquet(dir.path(), "ny.parquet", &ny));
        assert!(t.calendar.daily);
        assert_eq!(t.calendar.zone.name(), "America/New_York");
        assert_eq!(days(&t), [19_724, 19_906, 19_724]);
        // 05:00 UTC in July is 01:00 in New York: a time of day, so the bars are intraday,
        // keyed by their instants, and read in the zone they were stored with.
        let off = ParquetSpec::dates(DateValues::Seconds(
            vec![jan2 + 5 * 3600, jul2 + 5 * 3600, jan2 + 5 * 3600],
            Some("America/New_York"),
        ));
        let t = imported(&write_parquet(dir.path(), "off.parquet", &off));
        assert!(!t.calendar.daily);
        assert_eq!(t.calendar.zone.name(), "America/New_York");
        assert_eq!(t.calendar.format(t.stamps[1]), "2024-07-02T01:00:00-04:00");
    }

    #[test]
    fn an_unknown_time_zone_gets_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ParquetSpec::dates(DateValues::Seconds(
            vec![0, 86_400, 0],
            Some("Mars/Olympus"),
        ));
        let e = refusal(&write_parquet(dir.path(), "tz.parquet", &spec));
        assert!(
            e.contains("column `date` holds timestamps in the time zone `Mars/Olympus`, which is not a time zone quantd knows"),
            "{e}"
        );
        assert!(e.contains("IANA name"), "{e}");
        assert!(!e.contains("chrono-tz"), "{e}");
    }
}

/// Dictionary keys of fixed-length byte array columns are checked before the decoder reads them
/// (a key past the dictionary made it panic): the keys a writer writes pass.
mod dictionary_keys {
    use super::*;
    use parquet::basic::{Encoding, Type};
    use parquet::file::reader::{FileReader, SerializedFileReader};

    #[test]
    fn decimal_prices_in_a_dictionary_import_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let (spec, expected) = ParquetSpec::decimal_open(3000);
        let path = write_parquet(dir.path(), "decimal.parquet", &spec);
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let open = reader.metadata().row_group(0).column(2);
        assert_eq!(open.column_type(), Type::FIXED_LEN_BYTE_ARRAY);
        assert!(
            open.encodings().any(|e| e == Encoding::RLE_DICTIONARY),
            "the keys are checked only for dictionary pages"
        );
        let imported = quantd_data::import_file_with(
            &path,
            &ImportOptions::default(),
            &ImportLimits::default(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(imported.table.columns[0].name, "open");
        assert_eq!(imported.table.columns[0].values, expected);
    }
}

mod files {
    use super::*;

    /// Imports `path` on another thread; fails if it has not answered within `secs` (a FIFO
    /// opened for reading would block forever).
    fn refusal_within(path: PathBuf, secs: u64) -> String {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = import_file(&path, &ImportOptions::default(), &NoProgress);
            let _ = tx.send(r.map(|_| ()).map_err(|e| e.to_string()));
        });
        match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
            Ok(Err(e)) => e,
            Ok(Ok(())) => panic!("imported"),
            Err(_) => panic!("no answer within {secs} s"),
        }
    }

    #[test]
    fn special_files_are_refused_before_reading_even_behind_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let zero = dir.path().join("zero.csv");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let e = refusal_within(zero, 10);
        assert!(
            e.contains("zero.csv` is a character device, not a regular file"),
            "{e}"
        );

        let fifo = dir.path().join("fifo.csv");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let e = refusal_within(fifo, 10);
        assert!(
            e.contains("is a FIFO (named pipe), not a regular file"),
            "{e}"
        );

        let sub = dir.path().join("data.csv");
        std::fs::create_dir(&sub).unwrap();
        let e = refusal_within(sub, 10);
        assert!(e.contains("is a directory, not a regular file"), "{e}");
        assert_eq!(e.matches("directory").count(), 1, "said once: {e}");
        // An unknown extension is sniffed: that must not open a FIFO either.
        let e = FileFormat::detect(Path::new("/dev/null"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("character device"), "{e}");
    }

    #[test]
    fn a_file_larger_than_the_limit_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sparse.csv");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(300 << 20)
            .unwrap();
        let limits = ImportLimits {
            max_import_bytes: 100 << 20,
            ..ImportLimits::default()
        };
        let e = refusal_with(&path, &ImportOptions::default(), &limits);
        assert!(
            matches!(
                e,
                DataError::Limit {
                    limit: "max_import_bytes",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("is 314572800 bytes"), "{e}");
    }

    #[test]
    fn a_line_without_end_is_refused_with_a_short_message() {
        let dir = tempfile::tempdir().unwrap();
        // 300 MB of NUL bytes without a line break (D5): the header would be the whole file.
        let path = dir.path().join("sparse.csv");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(300 << 20)
            .unwrap();
        let e = refusal(&path);
        assert!(e.contains("line 1 is longer than 1048576 bytes"), "{e}");
        assert!(e.contains("limit `max_line_bytes`"), "{e}");
        // A long row after a good header: the row's line is named.
        let long = format!(
            "{HEADER}{}A,2024-01-03,{}\n",
            bar_line("A", "2024-01-02"),
            "9".repeat(2 << 20)
        );
        let e = refusal(&write(dir.path(), "long.csv", long));
        assert!(e.contains("line 3 is longer than"), "{e}");
        // Lines within one read buffer are measured exactly.
        let limits = ImportLimits {
            max_line_bytes: 100,
            ..ImportLimits::default()
        };
        let medium = format!(
            "{HEADER}{}A,2024-01-03,1{},11,9,10,1\n",
            bar_line("A", "2024-01-02"),
            "0".repeat(200)
        );
        let e = refusal_with(
            &write(dir.path(), "medium.csv", medium),
            &ImportOptions::default(),
            &limits,
        );
        assert!(
            e.to_string().contains("line 3 is longer than 100 bytes"),
            "{e}"
        );
    }

    #[test]
    fn too_many_rows_are_refused_while_reading() {
        let dir = tempfile::tempdir().unwrap();
        let limits = ImportLimits {
            max_rows: 3,
            ..ImportLimits::default()
        };
        let mut csv = HEADER.to_string();
        for d in 2..=6 {
            csv.push_str(&bar_line("A", &format!("2024-01-0{d}")));
        }
        let e = refusal_with(
            &write(dir.path(), "rows.csv", csv),
            &ImportOptions::default(),
            &limits,
        );
        assert!(
            matches!(
                e,
                DataError::Limit {
                    limit: "max_rows",
                    max: 3,
                    ..
                }
            ),
            "{e}"
        );
        let pq = write_parquet(dir.path(), "rows.parquet", &ParquetSpec::rows(10));
        let e = refusal_with(&pq, &ImportOptions::default(), &limits);
        assert!(
            matches!(
                e,
                DataError::Limit {
                    limit: "max_rows",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn too_many_columns_are_refused_from_the_header() {
        let dir = tempfile::tempdir().unwrap();
        let pq = write_parquet(dir.path(), "wide.parquet", &ParquetSpec::wide(3000));
        let e = refusal(&pq);
        assert!(
            e.contains("has 3007 columns (limit `max_columns` = 1024)"),
            "{e}"
        );
        let names: Vec<String> = (0..2000).map(|i| format!("x{i}")).collect();
        let csv = format!(
            "ticker,date,open,high,low,close,volume,{}\n",
            names.join(",")
        );
        let e = refusal(&write(dir.path(), "wide.csv", csv));
        assert!(
            e.contains("has 2007 columns in its header (limit `max_columns` = 1024)"),
            "{e}"
        );
    }
}

mod messages {
    use super::*;

    #[test]
    fn messages_quote_at_most_a_little_of_the_input() {
        let dir = tempfile::tempdir().unwrap();
        let big = "Z".repeat(500_000);
        // Five of these fit in one line of the default limit.
        let mid = "Z".repeat(150_000);
        let cases: Vec<(&str, String)> = vec![
            // A huge unknown header column and a missing one: the header is listed, cut.
            (
                "header.csv",
                format!("ticker,date,open,high,low,close,{big}\n"),
            ),
            // Many header columns, none of them right.
            (
                "names.csv",
                format!(
                    "{}\n",
                    (0..1000)
                        .map(|i| format!("{i}{}", "q".repeat(900)))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
            // A long value in every numeric field of many rows.
            (
                "values.csv",
                format!(
                    "{HEADER}{}",
                    format!("A,2024-01-02,{mid},{mid},{mid},{mid},{mid}\n").repeat(30)
                ),
            ),
            // A long date.
            ("date.csv", format!("{HEADER}A,2024-01-02{big},1,1,1,1,1\n")),
            // A long extra column name with bad values.
            (
                "extra.csv",
                format!(
                    "ticker,date,open,high,low,close,volume,{big}\n{}",
                    "A,2024-01-02,10,11,9,10,1,x\n".repeat(30)
                ),
            ),
            // A long ticker, many times (each a problem).
            (
                "ticker.csv",
                format!("{HEADER}{}", bar_line(&big, "2024-01-02").repeat(30)),
            ),
            // A ragged row of long fields.
            ("unequal.csv", format!("{HEADER}A,2024-01-02,{big}\n")),
        ];
        for (name, content) in cases {
            let path = write(dir.path(), name, content);
            let e = refusal(&path);
            assert!(e.len() <= MAX_MESSAGE, "{name}: {} bytes", e.len());
            assert!(!e.contains(&"Z".repeat(100)), "{name} echoes too much: {e}");
        }
        let path = write(
            dir.path(),
            "one.csv",
            ",Open,High,Low,Close,Volume\n2024-01-02,1,1,1,1,1\n",
        );
        let opts = ImportOptions {
            ticker: Some(big.clone()),
            lenient: false,
            ..Default::default()
        };
        let e = refusal_with(&path, &opts, &ImportLimits::default()).to_string();
        assert!(e.contains("more bytes)"), "{e}");
    }

    #[test]
    fn parquet_messages_say_what_the_value_is() {
        let dir = tempfile::tempdir().unwrap();
        let e = refusal(&write_parquet(
            dir.path(),
            "strprice.parquet",
            &ParquetSpec::text_prices(&["10", "x", ""], &[true, true, false]),
        ));
        assert!(
            e.contains("row 2: column `open`: `x` is not a finite number"),
            "{e}"
        );
        assert!(
            e.contains("row 3: column `open` is empty; expected a finite number"),
            "{e}"
        );
        assert!(!e.contains("`null`"), "{e}");

        let e = refusal(&write_parquet(
            dir.path(),
            "binticker.parquet",
            &ParquetSpec::binary_tickers(&[b"AAA", b"\xff\xfe", b"BBB"]),
        ));
        assert!(
            e.contains("row 2: ticker `\\xff\\xfe` is not valid UTF-8 text"),
            "{e}"
        );
        assert!(!e.contains("empty"), "{e}");
        // Valid UTF-8 in a binary column is a ticker like any other.
        let ok = write_parquet(
            dir.path(),
            "binok.parquet",
            &ParquetSpec::binary_tickers(&[b"AAA", b"BBB", b"CCC"]),
        );
        let t = import_file(&ok, &ImportOptions::default(), &NoProgress)
            .unwrap()
            .table;
        assert_eq!(t.tickers, ["AAA", "BBB", "CCC"]);
    }
}

mod tickers {
    use super::*;

    #[test]
    fn tickers_a_terminal_would_act_on_are_refused_with_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let bad = [
            ("\u{1b}]0;PWNED\u{7}\u{1b}[2J", "U+001B"),
            ("BEL\u{7}", "U+0007"),
            ("NUL\u{0}X", "U+0000"),
            ("DEL\u{7f}", "U+007F"),
            ("C1\u{85}X", "U+0085"),
            ("C1\u{9b}2J", "U+009B"),
            ("RTL\u{202e}LIVE", "U+202E"),
            ("ISO\u{2066}X", "U+2066"),
            ("NEW\nLINE", "U+000A"),
        ];
        for (ticker, code) in bad {
            let quoted = format!("\"{ticker}\"");
            let csv = format!("{HEADER}{}", bar_line(&quoted, "2024-01-02"));
            let e = refusal(&write(dir.path(), "t.csv", csv));
            assert!(e.contains("line 2: ticker `"), "{ticker:?}: {e}");
            assert!(
                e.contains(&format!("contains the control character {code}")),
                "{ticker:?}: {e}"
            );
            assert!(
                !e.chars()
                    .any(|c| quantd_data::text::is_unsafe_char(c) && c != '\n'),
                "{e:?}"
            );
        }
        let opts = ImportOptions {
            ticker: Some("\u{1b}[31mRED".into()),
            lenient: false,
            ..Default::default()
        };
        let one = write(
            dir.path(),
            "one.csv",
            ",Open,High,Low,Close,Volume\n2024-01-02,10,11,9,10,1\n",
        );
        let e = refusal_with(&one, &opts, &ImportLimits::default()).to_string();
        assert!(
            e.contains("--ticker: ticker `\\u{1b}[31mRED` contains the control character U+001B"),
            "{e}"
        );
    }

    #[test]
    fn tickers_are_at_most_max_ticker_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let longest = "T".repeat(64);
        let csv = format!("{HEADER}{}", bar_line(&longest, "2024-01-02"));
        let t = import_file(
            &write(dir.path(), "ok.csv", csv),
            &ImportOptions::default(),
            &NoProgress,
        )
        .unwrap();
        assert_eq!(t.table.tickers, [longest]);
        let huge = "T".repeat(100_000);
        let csv = format!("{HEADER}{}", bar_line(&huge, "2024-01-02"));
        let e = refusal(&write(dir.path(), "huge.csv", csv));
        assert!(
            e.contains("line 2: ticker `TTTT") && e.contains("is 100000 bytes long; tickers are at most 64 bytes (import limit `max_ticker_bytes`)"),
            "{e}"
        );
    }

    #[test]
    fn odd_tickers_survive_a_csv_and_parquet_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let tickers = ["BRK,A", "SAY \"HI\"", "A;B", "Ünï", "#1", "'Q"];
        let mut csv = String::from("ticker,date,open,high,low,close,volume\n");
        for t in tickers {
            let quoted = format!("\"{}\"", t.replace('"', "\"\""));
            csv.push_str(&bar_line(&quoted, "2024-01-02"));
            csv.push_str(&bar_line(&quoted, "2024-01-03"));
        }
        let first = import_file(
            &write(dir.path(), "odd.csv", csv),
            &ImportOptions::default(),
            &NoProgress,
        )
        .unwrap()
        .table;
        let mut sorted = tickers.map(String::from).to_vec();
        sorted.sort();
        assert_eq!(first.tickers, sorted);
        let id = hash::pack_id(&first);
        for name in ["back.csv", "back.parquet"] {
            let out = dir.path().join(name);
            export(&first, &out, ParquetLayout::default(), &NoProgress).unwrap();
            let back = import_file(&out, &ImportOptions::default(), &NoProgress)
                .unwrap()
                .table;
            assert_eq!(hash::pack_id(&back), id, "{name}");
        }
        let text = std::fs::read_to_string(dir.path().join("back.csv")).unwrap();
        assert!(text.contains("\"BRK,A\",2024-01-02,"), "{text}");
        assert!(text.contains("\"SAY \"\"HI\"\"\",2024-01-02,"), "{text}");
    }
}

//! Damaged and arbitrary input ("Safe to share"): a damaged pack directory, random bytes as CSV or
//! Parquet, a valid Parquet file with bytes changed. Each ends in a result or a short error, never
//! a panic.

mod parquet_files;

use parquet_files::{ParquetSpec, write_parquet};
use quantd_core::NoProgress;
use quantd_data::{DataError, FileFormat, ImportLimits, ImportOptions, hash};
use std::path::{Path, PathBuf};

/// Longest message an import may give, whatever the input.
const MAX_MESSAGE: usize = 8 * 1024;

mod packs {
    //! A pack directory is written by quantd, but it is still a file on disk: a damaged one is an
    //! error naming the pack, never a panic.
    use super::*;
    use quantd_data::format::{MANIFEST_FILE, PackReader, write_pack};
    use quantd_data::synth::{SynthSpec, generate};

    fn written(dir: &Path) -> PathBuf {
        let table = generate(
            &SynthSpec {
                tickers: 3,
                days: 20,
                ..Default::default()
            },
            &NoProgress,
        );
        let id = hash::pack_id(&table);
        let tmp = dir.join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        write_pack(&dir.join("packs"), &tmp, &table, &id, &NoProgress).unwrap()
    }

    fn edit_manifest(pack: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
        let path = pack.join(MANIFEST_FILE);
        let mut m: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        edit(&mut m);
        std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    }

    #[test]
    fn a_manifest_that_disagrees_with_the_bars_file_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let pack = written(dir.path());
        edit_manifest(&pack, |m| {
            m["columns"].as_array_mut().unwrap().push("zzz".into())
        });
        let e = PackReader::open(&pack).unwrap_err();
        assert!(matches!(e, DataError::Corrupt { .. }), "{e}");
        assert!(
            e.to_string().contains("columns do not match the manifest"),
            "{e}"
        );
    }

    #[test]
    fn absurd_counts_and_positions_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let pack = written(dir.path());
        edit_manifest(&pack, |m| m["bars"] = u64::MAX.into());
        let reader = PackReader::open(&pack).unwrap();
        assert_eq!(reader.to_table().unwrap().len(), 60);
        let proj = reader.projection(&["close"]).unwrap();
        let e = reader.read(3, &proj).unwrap_err().to_string();
        assert!(
            e.contains("ticker number 3 not in the pack; the pack has 3 tickers"),
            "{e}"
        );
        assert!(reader.read(usize::MAX, &proj).is_err());
    }
}

mod any_input {
    //! Whatever the bytes, an import ends in a table or a short error, never a panic.
    use super::*;
    use proptest::prelude::*;
    use quantd_data::import_bytes;

    fn attempt(bytes: Vec<u8>, format: FileFormat) -> Result<(), TestCaseError> {
        let r = import_bytes(
            "fuzz",
            bytes.into(),
            format,
            &ImportOptions::default(),
            &ImportLimits::default(),
            &NoProgress,
        );
        if let Err(e) = r {
            let len = e.to_string().len();
            prop_assert!(len <= MAX_MESSAGE, "{len} bytes: {e}");
        }
        Ok(())
    }

    /// Bytes of CSV-like text: header words, numbers, dates, separators, quotes, line breaks,
    /// control characters and invalid UTF-8.
    fn csv_like() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop::sample::select(vec![
            &b"ticker,date,open,high,low,close,volume\n"[..],
            b"ticker",
            b"date",
            b"open",
            b",",
            b"\n",
            b"\r",
            b"\"",
            b"A",
            b"BRK,A",
            b"2024-01-02",
            b"2024-01-02 09:30",
            b"0024-01-02",
            b"9999-12-31",
            b"10",
            b"11",
            b"9",
            b"-1",
            b"1e400",
            b"NaN",
            b"inf",
            b"\x1b",
            b"\0",
            b"\xff\xfe",
            b"\xe2\x80\xae",
            b" ",
            b"x",
        ]);
        prop::collection::vec(piece, 0..200).prop_map(|v| v.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn any_csv_bytes(bytes in csv_like()) {
            attempt(bytes, FileFormat::Csv)?;
        }

        #[test]
        fn any_raw_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
            attempt(bytes.clone(), FileFormat::Csv)?;
            attempt(bytes, FileFormat::Parquet)?;
        }

        /// A valid Parquet file with some bytes changed: the decoder sees damaged pages,
        /// footers and statistics.
        #[test]
        fn damaged_parquet(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
            let mut bytes = valid_parquet().clone();
            for (at, value) in edits {
                let i = at.index(bytes.len());
                bytes[i] = value;
            }
            attempt(bytes, FileFormat::Parquet)?;
        }
    }

    /// Single-byte damage that makes the `parquet` crate (60.1) panic, refused before the decoder
    /// sees it: a negative column chunk offset (an assertion), an empty dictionary page with bytes
    /// (a division by zero), a dictionary-encoded data page without a dictionary (an `expect`).
    #[test]
    fn damage_that_panics_the_decoder_is_a_parquet_error() {
        let valid = valid_parquet();
        assert_eq!(valid.len(), 2032, "the offsets below are for this file");
        for (at, value, says) in [
            (
                812,
                0x7f,
                "column chunk 0 of row group 0 lies outside the file",
            ),
            (12, 0x00, "a dictionary page declares no values but holds"),
            (
                891,
                0x01,
                "a data page is RLE_DICTIONARY encoded but its column chunk has no dictionary page",
            ),
        ] {
            let mut bytes = valid.clone();
            bytes[at] = value;
            let r = import_bytes(
                "damaged.parquet",
                bytes.into(),
                FileFormat::Parquet,
                &ImportOptions::default(),
                &ImportLimits::default(),
                &NoProgress,
            );
            let e = r.err().unwrap_or_else(|| panic!("byte {at}: imported"));
            assert!(matches!(e, DataError::Parquet { .. }), "byte {at}: {e}");
            assert!(e.to_string().contains(says), "byte {at}: {e}");
            assert!(e.to_string().contains("the file is damaged"), "{e}");
            assert!(
                !e.to_string().contains("the decoder failed"),
                "a panic: {e}"
            );
        }
    }

    fn valid_parquet() -> &'static Vec<u8> {
        static BYTES: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        BYTES.get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let path = write_parquet(dir.path(), "ok.parquet", &ParquetSpec::rows(20));
            std::fs::read(path).unwrap()
        })
    }
}

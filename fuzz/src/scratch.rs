//! Scratch directories for targets that need files: on `/dev/shm` when it exists (fsyncs cost
//! nothing there, so a pack write takes microseconds, not milliseconds), else the system's
//! temporary directory. `TMPDIR` (or `QUANTD_FUZZ_TMP`) moves them; scripts/fuzz points it at a
//! directory it removes afterwards.

use std::path::PathBuf;

/// Where scratch directories go.
pub fn base() -> PathBuf {
    if let Some(dir) = std::env::var_os("QUANTD_FUZZ_TMP") {
        return dir.into();
    }
    let shm = PathBuf::from("/dev/shm");
    if std::env::var_os("TMPDIR").is_none() && shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    }
}

/// A new, empty scratch directory, removed when dropped.
pub fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("quantd-fuzz-")
        .tempdir_in(base())
        .expect("a scratch directory (set QUANTD_FUZZ_TMP to a writable directory)")
}

//! The errors of pack handling, each with the [`ErrorClass`] the engine sorts it into.

use crate::validate::ValidationReport;
use quantd_core::ErrorClass;
use std::path::PathBuf;

/// Everything that can go wrong reading, importing, writing or exporting packs.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file could not be read or written.
    #[error("{action} `{path}`: {source}")]
    Io {
        /// What was being done (`reading`, `writing`, …).
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The input's rows failed validation; the report lists the problems with row numbers.
    #[error("{0}")]
    Invalid(Box<ValidationReport>),
    /// The input's shape is wrong (missing columns, unknown format): nothing was read.
    #[error("{what}\n  help: {fix}")]
    Input {
        /// What is wrong, and where.
        what: String,
        /// How to fix it.
        fix: String,
    },
    /// The input is larger than a configured limit allows: nothing was imported.
    #[error("{what} (limit `{limit}` = {max})\n  help: {fix}")]
    Limit {
        /// What is too large, and where.
        what: String,
        /// The setting's name (a field of [`crate::ImportLimits`]).
        limit: &'static str,
        /// The setting's value.
        max: u64,
        /// How to fix it.
        fix: String,
    },
    /// A Parquet file could not be decoded.
    #[error("reading Parquet `{path}`: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// A stored pack is damaged or of an unknown format version.
    #[error("pack at `{path}` is unreadable: {message}")]
    Corrupt {
        /// The pack directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A ticker or column the caller asked for is not in the pack.
    #[error("{what} not in the pack{hint}")]
    NotInPack {
        /// The missing ticker or column.
        what: String,
        /// A suggestion, starting with `; `.
        hint: String,
    },
}

/// Results of this crate.
pub type Result<T, E = DataError> = std::result::Result<T, E>;

impl DataError {
    /// The class the engine and the API use for this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            DataError::Io { .. } => ErrorClass::Network,
            DataError::Invalid(_) | DataError::Parquet { .. } => ErrorClass::Data,
            DataError::Input { .. } | DataError::Limit { .. } | DataError::NotInPack { .. } => {
                ErrorClass::Validation
            }
            DataError::Corrupt { .. } => ErrorClass::Internal,
        }
    }

    /// Wraps an I/O error with what was being done to which file.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

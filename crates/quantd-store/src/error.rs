//! The store's errors, classified for the engine's retry policy.

use quantd_core::ErrorClass;

/// Everything the store can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened, read or written.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database server could not be reached (or refused the connection).
    #[error(
        "cannot connect to the database at {place}: {reason}; check that the server is running and reachable from here (host and port), and that the user, password and database name are right"
    )]
    Unreachable {
        /// The URL, password hidden.
        place: String,
        /// Why (the driver's error, or the time waited).
        reason: String,
    },
    /// A migration failed.
    #[error("migrating the database to version {version}: {source}")]
    Migration {
        /// The migration that failed.
        version: i64,
        /// Why.
        source: sqlx::Error,
    },
    /// The database was written by a newer quantd.
    #[error(
        "the database is at schema version {found}, newer than this quantd ({known}); upgrade quantd"
    )]
    TooNew {
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A row holds a value this build cannot read.
    #[error("corrupt row in `{table}`: {message}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A page cursor that no list of this store handed out.
    #[error("invalid page cursor `{0}`: pass the `next` value of the previous page unchanged")]
    BadCursor(String),
    /// The requested change does not apply to the row's current state.
    #[error("{0}")]
    Conflict(String),
    /// The configuration names no store this build can open (see [`crate::StoreConfig`]).
    #[error("{place}: {reason}")]
    Config {
        /// What was configured: "database URL `…`" (any password hidden), or the data
        /// directory.
        place: String,
        /// What is wrong and what to write instead.
        reason: String,
    },
}

/// Results of the store.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// The class the engine uses for retries.
    pub fn class(&self) -> ErrorClass {
        match self {
            StoreError::Database(
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed,
            ) => ErrorClass::Network,
            StoreError::Database(sqlx::Error::Database(e))
                if e.message().contains("locked") || e.message().contains("busy") =>
            {
                ErrorClass::Network
            }
            // Postgres: serialization failure, deadlock detected, connection lost, shutting down.
            StoreError::Database(sqlx::Error::Database(e))
                if e.code().is_some_and(|c| {
                    matches!(&*c, "40001" | "40P01") || c.starts_with("08") || c.starts_with("57P")
                }) =>
            {
                ErrorClass::Network
            }
            StoreError::Unreachable { .. } => ErrorClass::Network,
            StoreError::Conflict(_) | StoreError::BadCursor(_) | StoreError::Config { .. } => {
                ErrorClass::Validation
            }
            _ => ErrorClass::Internal,
        }
    }
}

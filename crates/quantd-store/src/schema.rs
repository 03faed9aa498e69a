//! What a database's schema is against this build ([`SchemaStatus`]): the migrations it has,
//! and the newest version this build knows. `quantd db check` reports it; a store refuses to
//! open a database that is newer than the build ([`crate::StoreError::TooNew`]).

use chrono::{DateTime, Utc};

/// The migrations a database has, against this build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaStatus {
    /// The backend (`sqlite`, `postgres`); each numbers its own migrations.
    pub backend: &'static str,
    /// The migrations applied, oldest first: (version, when).
    pub applied: Vec<(i64, DateTime<Utc>)>,
    /// The newest version this build knows.
    pub known: i64,
}

impl SchemaStatus {
    /// The database's version (0: no migration applied, or no database yet).
    pub fn current(&self) -> i64 {
        self.applied.last().map_or(0, |a| a.0)
    }

    /// Whether the database is exactly at this build's version.
    pub fn up_to_date(&self) -> bool {
        self.current() == self.known
    }
}

//! The database under the store, for operators: what its schema is against this build
//! (`quantd db check`) and bringing it up to date (`quantd db migrate`), for whichever backend
//! the configuration names (the data directory's SQLite file, or a database URL).

use crate::error::Result;
use quantd_store::{AnyStore, StoreConfig};

pub use quantd_store::SchemaStatus;

/// What a check or a migration found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbReport {
    /// Where the database is: the SQLite file, or the URL with any password hidden.
    pub place: String,
    /// Its schema against this build.
    pub status: SchemaStatus,
}

/// Connects to the database `config` names and reads its schema, changing nothing (a SQLite
/// file that does not exist yet has no migration). An unreachable server, or a URL this build
/// cannot open, is an error saying what to check.
pub async fn check(config: &StoreConfig) -> Result<DbReport> {
    let place = config.backend()?.place();
    let status = AnyStore::status(config).await?;
    Ok(DbReport { place, status })
}

/// Applies the migrations the database `config` names does not have yet (creating a SQLite
/// file if needed); a database newer than this build is refused, naming both versions.
pub async fn migrate(config: &StoreConfig) -> Result<DbReport> {
    let place = config.backend()?.place();
    let store = AnyStore::open(config).await?;
    let status = store.schema().await?;
    Ok(DbReport { place, status })
}

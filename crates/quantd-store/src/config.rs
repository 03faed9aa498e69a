//! Which store to open, and where: [`StoreConfig`] (a data directory, and optionally a database
//! URL) resolved to a [`Backend`] before anything is opened or created, so a bad URL is refused
//! with the forms that work and changes nothing.

use crate::error::{Result, StoreError};
use crate::sqlite::DB_FILE;
use std::path::{Path, PathBuf};

/// Which store to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// The data directory. Without [`StoreConfig::url`], the store is the SQLite file
    /// `quantd.db` inside it.
    pub data_dir: PathBuf,
    /// A database URL, which wins over the data directory for the database (packs stay where
    /// [`StoreConfig::pack_store`] says): `sqlite://PATH` names a SQLite file (relative to the working directory,
    /// or absolute as `sqlite:///var/lib/quantd/quantd.db`); its directory must exist;
    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or `postgresql://…`, with any option
    /// Postgres URLs take) names a Postgres database. Default `None` (and an empty URL counts as
    /// none).
    pub url: Option<String>,
    /// Where packs are shared, as an object store URL (`file:///DIR`, `s3://BUCKET/PREFIX`,
    /// `gs://…`, `az://…`): imports write there, and the data directory's `packs/` becomes this
    /// host's cache of it. `None` (or blank): packs live in the data directory alone.
    pub pack_store: Option<String>,
    /// The cache's size cap in MiB when [`StoreConfig::pack_store`] is set: the least recently
    /// used packs are removed from the data directory beyond it. `None`: the default (20,480).
    pub pack_cache_mib: Option<u64>,
    /// Connections this process opens to Postgres at most. `None`: [`crate::PG_POOL_SIZE`].
    pub pool_size: Option<u32>,
}

/// A store [`StoreConfig`] resolved to: the backend and where its database is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite store, in this file.
    Sqlite {
        /// The database file (created if missing).
        path: PathBuf,
    },
    /// The Postgres store, at this URL.
    Postgres {
        /// The URL as configured (with its password: never print it, see [`Backend::place`]).
        url: String,
    },
}

impl Backend {
    /// Where the database is, for messages: the file, or the URL with any password hidden.
    pub fn place(&self) -> String {
        match self {
            Backend::Sqlite { path } => format!("SQLite file {}", path.display()),
            Backend::Postgres { url } => url_place(url),
        }
    }
}

impl StoreConfig {
    /// The store of a data directory: its SQLite file.
    pub fn in_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        StoreConfig {
            data_dir: data_dir.into(),
            url: None,
            pack_store: None,
            pack_cache_mib: None,
            pool_size: None,
        }
    }

    /// This configuration with the database at `url` (see [`StoreConfig::url`]).
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        self.url = Some(url.into());
        self
    }

    /// This configuration with packs shared through the object store at `url`.
    pub fn with_pack_store(mut self, url: impl Into<String>) -> Self {
        self.pack_store = Some(url.into());
        self
    }

    /// Whether the database is the data directory's own file (no URL, or a blank one).
    pub fn database_in_data_dir(&self) -> bool {
        self.url.as_deref().is_none_or(|u| u.trim().is_empty())
    }

    /// The backend and database this configuration names, read without touching anything: a
    /// URL of an unknown or unsupported kind is [`StoreError::Config`] saying what to write
    /// instead.
    pub fn backend(&self) -> Result<Backend> {
        let path = match self.url.as_deref().map(str::trim) {
            Some(url) if is_postgres(url) => return postgres_url(url),
            Some(url) if !url.is_empty() => sqlite_path(url)?,
            _ => self.data_dir.join(DB_FILE),
        };
        Ok(Backend::Sqlite { path })
    }

    /// [`StoreError::Config`] unless the directory of the database file `path` exists (SQLite
    /// creates the file, not its directory).
    pub(crate) fn check_dir(&self, path: &Path) -> Result<()> {
        let dir = match path.parent() {
            Some(d) if d.as_os_str().is_empty() => Path::new("."),
            Some(d) => d,
            None => Path::new("/"),
        };
        if dir.is_dir() {
            return Ok(());
        }
        Err(StoreError::Config {
            place: self.place(),
            reason: format!(
                "the directory of the database file {} does not exist; create it, or name a file in an existing directory",
                path.display()
            ),
        })
    }

    /// What names the database, for errors: the URL (password hidden) or the data directory.
    fn place(&self) -> String {
        match self.url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => url_place(url),
            _ => format!("data directory {}", self.data_dir.display()),
        }
    }
}

/// Whether `url` has a Postgres scheme.
fn is_postgres(url: &str) -> bool {
    url.split_once(':').is_some_and(|(scheme, _)| {
        scheme.eq_ignore_ascii_case("postgres") || scheme.eq_ignore_ascii_case("postgresql")
    })
}

/// The Postgres database a `postgres://…` URL names, checked for form (not yet connected).
fn postgres_url(url: &str) -> Result<Backend> {
    if !url.contains("://") {
        return Err(config_error(
            url,
            "a Postgres URL is postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
        ));
    }
    url.parse::<sqlx::postgres::PgConnectOptions>()
        .map_err(|e| {
            config_error(
                url,
                format!(
                    "it is not a Postgres URL this build can read ({}); write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE",
                    redact(&e.to_string())
                ),
            )
        })?;
    Ok(Backend::Postgres {
        url: url.to_string(),
    })
}

/// The SQLite file a `sqlite://PATH` URL names; any other URL is refused with the reason.
fn sqlite_path(url: &str) -> Result<PathBuf> {
    let Some((scheme, rest)) = url.split_once(':') else {
        return Err(config_error(
            url,
            "it has no scheme; write sqlite://PATH/TO/quantd.db, or leave it unset to use the data directory",
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "sqlite" => {}
        other => {
            return Err(config_error(
                url,
                format!(
                    "unknown scheme `{other}`; write sqlite://PATH/TO/quantd.db or postgres://USER@HOST/DATABASE, or leave it unset to use the data directory"
                ),
            ));
        }
    }
    let Some(path) = rest.strip_prefix("//") else {
        return Err(config_error(
            url,
            "a SQLite URL is sqlite://PATH (in-memory databases are not shared between connections, so they cannot hold a queue)",
        ));
    };
    if path.contains('?') {
        return Err(config_error(
            url,
            "options in a SQLite URL (`?…`) are not supported: the store sets its own (WAL, foreign keys, busy timeout); remove them",
        ));
    }
    if path.is_empty() || path.ends_with('/') {
        return Err(config_error(
            url,
            "it names no file; write sqlite://PATH/TO/quantd.db",
        ));
    }
    Ok(PathBuf::from(path))
}

/// [`StoreError::Config`] for `url`, with any password in it hidden.
fn config_error(url: &str, reason: impl Into<String>) -> StoreError {
    StoreError::Config {
        place: url_place(url),
        reason: reason.into(),
    }
}

/// How errors name a database URL.
pub(crate) fn url_place(url: &str) -> String {
    format!("database URL `{}`", redact(url))
}

/// `url` with the user information of its authority (`user:password@`) replaced by `***@`, so
/// errors and logs never show a password.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_backend_or_are_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let base = StoreConfig::in_data_dir(dir.path());
        assert_eq!(
            base.backend().unwrap(),
            Backend::Sqlite {
                path: dir.path().join("quantd.db")
            }
        );
        assert_eq!(
            base.clone().with_url("  ").backend().unwrap(),
            base.backend().unwrap()
        );
        let file = dir.path().join("elsewhere.db");
        let url = format!("sqlite://{}", file.display());
        assert_eq!(
            base.clone().with_url(url).backend().unwrap(),
            Backend::Sqlite { path: file }
        );
        for url in [
            "postgres://u:hunter2@db/q",
            "POSTGRESQL://db:5433/q?sslmode=disable",
        ] {
            let backend = base.clone().with_url(url).backend().unwrap();
            assert_eq!(backend, Backend::Postgres { url: url.into() });
            assert!(!backend.place().contains("hunter2"), "{}", backend.place());
        }
        for (url, says) in [
            ("postgres:db", "postgres://USER"),
            ("postgres://u:hunter2@db:notaport/q", "not a Postgres URL"),
            ("mysql://db/q", "unknown scheme `mysql`"),
            ("quantd.db", "no scheme"),
            ("sqlite::memory:", "sqlite://PATH"),
            ("sqlite://", "names no file"),
            ("sqlite://x.db?mode=ro", "not supported"),
        ] {
            let err = base.clone().with_url(url).backend().unwrap_err();
            let text = err.to_string();
            assert!(matches!(err, StoreError::Config { .. }), "{url}: {err:?}");
            assert!(text.contains(says), "{url}: {text}");
            assert!(!text.contains("hunter2"), "a password leaked: {text}");
        }
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://u:pw@h:5432/db"),
            "postgres://***@h:5432/db"
        );
        assert_eq!(redact("sqlite://a@b/x.db"), "sqlite://***@b/x.db");
        assert_eq!(redact("sqlite:///var/x@y.db"), "sqlite:///var/x@y.db");
        assert_eq!(redact("nothing"), "nothing");
    }
}

//! The pack catalog: which packs exist under which name, in which state, with which rights.
//!
//! A row is keyed by (name, content id). Importing registers a `warming` row, then in one
//! transaction marks it `fresh` and the name's previous fresh row `stale`. A warming row whose
//! importer died is turned into `error` by [`SqliteStore::fail_orphaned_imports`].

use crate::SqliteStore;
use crate::error::{Result, StoreError};
use crate::traits::{PackCatalog, Page, Paged};
use chrono::{DateTime, NaiveDate, Utc};
use quantd_core::{PackId, PackState, Rights};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// A catalog row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PackRecord {
    /// The pack's name.
    pub name: String,
    /// Its content id.
    pub id: PackId,
    /// Its state.
    pub state: PackState,
    /// Why it is in `error`.
    pub error: Option<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// While warming: when it should be ready.
    pub estimated_ready: Option<DateTime<Utc>>,
    /// Number of tickers.
    pub tickers: u64,
    /// Number of bars.
    pub bars: u64,
    /// Earliest date.
    pub first_date: NaiveDate,
    /// Latest date.
    pub last_date: NaiveDate,
    /// Value columns.
    pub columns: Vec<String>,
    /// Rows dropped by a lenient import.
    pub rows_dropped: u64,
    /// The imported file, or how it was generated.
    pub origin: String,
    /// Rights metadata.
    pub rights: Rights,
    /// Import order; larger is newer.
    pub seq: i64,
}

/// What an import registers before it writes the pack.
#[derive(Debug, Clone)]
pub struct NewPack {
    /// The name.
    pub name: String,
    /// The content id.
    pub id: PackId,
    /// The importer's lock-file token (see [`SqliteStore::fail_orphaned_imports`]).
    pub import_token: String,
    /// When the import should be done.
    pub estimated_ready: DateTime<Utc>,
    /// Number of tickers.
    pub tickers: u64,
    /// Number of bars.
    pub bars: u64,
    /// Earliest date.
    pub first_date: NaiveDate,
    /// Latest date.
    pub last_date: NaiveDate,
    /// Value columns.
    pub columns: Vec<String>,
    /// Rows dropped by a lenient import.
    pub rows_dropped: u64,
    /// Where the bars came from.
    pub origin: String,
    /// Rights metadata.
    pub rights: Rights,
}

/// `SELECT <every PackRecord column> FROM packs <rest>`, as a `&'static str`.
macro_rules! select_packs {
    ($rest:literal) => {
        concat!(
            "SELECT name, id, state, error, created_at, estimated_ready, tickers, bars, first_date, last_date, ",
            "columns, rows_dropped, origin, rights_source, rights_license, rights_attribution, export_allowed, seq, ",
            "import_token FROM packs ",
            $rest
        )
    };
}

fn corrupt(message: impl ToString) -> StoreError {
    StoreError::Corrupt {
        table: "packs",
        message: message.to_string(),
    }
}

fn from_row(row: &SqliteRow) -> Result<PackRecord> {
    let id: String = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let created: String = row.try_get("created_at")?;
    let ready: Option<String> = row.try_get("estimated_ready")?;
    let columns: String = row.try_get("columns")?;
    let date = |c: &str| -> Result<NaiveDate> {
        let s: String = row.try_get(c)?;
        s.parse().map_err(corrupt)
    };
    let time = |s: &str| -> Result<DateTime<Utc>> {
        Ok(DateTime::parse_from_rfc3339(s)
            .map_err(corrupt)?
            .with_timezone(&Utc))
    };
    Ok(PackRecord {
        name: row.try_get("name")?,
        id: id.parse().map_err(corrupt)?,
        state: state.parse().map_err(corrupt)?,
        error: row.try_get("error")?,
        created_at: time(&created)?,
        estimated_ready: ready.as_deref().map(time).transpose()?,
        tickers: row.try_get::<i64, _>("tickers")? as u64,
        bars: row.try_get::<i64, _>("bars")? as u64,
        first_date: date("first_date")?,
        last_date: date("last_date")?,
        columns: serde_json::from_str(&columns).map_err(corrupt)?,
        rows_dropped: row.try_get::<i64, _>("rows_dropped")? as u64,
        origin: row.try_get("origin")?,
        rights: Rights {
            source: row.try_get("rights_source")?,
            license: row.try_get("rights_license")?,
            attribution: row.try_get("rights_attribution")?,
            export_allowed: row.try_get::<i64, _>("export_allowed")? != 0,
        },
        seq: row.try_get("seq")?,
    })
}

impl PackCatalog for SqliteStore {
    /// Registers an import as `warming` (replacing an `error` row of the same name and id).
    /// Refuses when the same (name, id) is already warming, fresh or stale.
    async fn begin_import(&self, p: &NewPack) -> Result<()> {
        let now = Utc::now().to_rfc3339();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT state FROM packs WHERE name = ? AND id = ?")
                .bind(&p.name)
                .bind(p.id.as_str())
                .fetch_optional(&mut *tx)
                .await?;
        match existing.as_deref() {
            None | Some("error") => {}
            Some(state) => {
                return Err(StoreError::Conflict(format!(
                    "pack `{}` with id {} is already {state}",
                    p.name,
                    p.id.short()
                )));
            }
        }
        sqlx::query("DELETE FROM packs WHERE name = ? AND id = ?")
            .bind(&p.name)
            .bind(p.id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO packs (name, id, state, seq, created_at, updated_at, estimated_ready, import_token, \
             tickers, bars, first_date, last_date, columns, rows_dropped, origin, rights_source, rights_license, \
             rights_attribution, export_allowed) \
             VALUES (?, ?, 'warming', (SELECT COALESCE(MAX(seq), 0) + 1 FROM packs), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.name)
        .bind(p.id.as_str())
        .bind(&now)
        .bind(&now)
        .bind(p.estimated_ready.to_rfc3339())
        .bind(&p.import_token)
        .bind(p.tickers as i64)
        .bind(p.bars as i64)
        .bind(p.first_date.to_string())
        .bind(p.last_date.to_string())
        .bind(serde_json::to_string(&p.columns).expect("strings serialize"))
        .bind(p.rows_dropped as i64)
        .bind(&p.origin)
        .bind(&p.rights.source)
        .bind(&p.rights.license)
        .bind(&p.rights.attribution)
        .bind(p.rights.export_allowed as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes (name, id) the name's fresh pack — from `warming` after an import, or from `stale`
    /// when the same content is imported again — and the name's other fresh pack stale, in one
    /// transaction. Rights given replace the stored ones.
    async fn make_fresh(&self, name: &str, id: &PackId, rights: Option<&Rights>) -> Result<()> {
        let now = Utc::now().to_rfc3339();
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let updated = sqlx::query(
            "UPDATE packs SET state = 'fresh', updated_at = ?, import_token = NULL, estimated_ready = NULL, \
             seq = (SELECT MAX(seq) + 1 FROM packs) WHERE name = ? AND id = ? AND state IN ('warming', 'stale')",
        )
        .bind(&now)
        .bind(name)
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "pack `{name}` with id {} is not warming or stale",
                id.short()
            )));
        }
        if let Some(r) = rights {
            sqlx::query(
                "UPDATE packs SET rights_source = ?, rights_license = ?, rights_attribution = ?, export_allowed = ? \
                 WHERE name = ? AND id = ?",
            )
            .bind(&r.source)
            .bind(&r.license)
            .bind(&r.attribution)
            .bind(r.export_allowed as i64)
            .bind(name)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE packs SET state = 'stale', updated_at = ? WHERE name = ? AND id != ? AND state = 'fresh'")
            .bind(&now)
            .bind(name)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Marks a warming import as failed, with the reason.
    async fn fail_import(&self, name: &str, id: &PackId, message: &str) -> Result<()> {
        sqlx::query(
            "UPDATE packs SET state = 'error', error = ?, updated_at = ?, import_token = NULL, estimated_ready = NULL \
             WHERE name = ? AND id = ? AND state = 'warming'",
        )
        .bind(message)
        .bind(Utc::now().to_rfc3339())
        .bind(name)
        .bind(id.as_str())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Turns every warming row whose importer is gone into `error`. `importer_alive` is asked
    /// with each row's import token. Returns the rows changed.
    async fn fail_orphaned_imports(
        &self,
        importer_alive: impl Fn(&str) -> bool,
    ) -> Result<Vec<PackRecord>> {
        let rows = sqlx::query(select_packs!("WHERE state = 'warming'"))
            .fetch_all(&self.pool)
            .await?;
        let mut failed = Vec::new();
        for row in rows {
            let token: Option<String> = row.try_get("import_token")?;
            if token.as_deref().is_some_and(&importer_alive) {
                continue;
            }
            let mut rec = from_row(&row)?;
            let message = "import interrupted: the importing process stopped before the pack was complete; import the file again";
            self.fail_import(&rec.name, &rec.id, message).await?;
            rec.state = PackState::Error;
            rec.error = Some(message.into());
            failed.push(rec);
        }
        Ok(failed)
    }

    /// Every catalog row, newest first.
    async fn list_packs(&self, page: &Page) -> Result<Paged<PackRecord>> {
        let before = page.cursor(|c| c.parse::<i64>().ok())?;
        if let Some(seq) = before {
            let known: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM packs WHERE seq = ?)")
                    .bind(seq)
                    .fetch_one(&self.pool)
                    .await?;
            if !known {
                return Err(page.unknown_cursor());
            }
        }
        let before = before.unwrap_or(i64::MAX);
        let rows = sqlx::query(select_packs!("WHERE seq < ? ORDER BY seq DESC LIMIT ?"))
            .bind(before)
            .bind(page.sql_limit())
            .fetch_all(&self.pool)
            .await?;
        let rows = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page, |r| r.seq.to_string()))
    }

    /// Rows whose name is `key`, whose id is `key`, or whose id starts with `key` (at least 8
    /// hex characters), newest first.
    async fn find_packs(&self, key: &str) -> Result<Vec<PackRecord>> {
        let prefix = if key.len() >= 8 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            format!("{}%", key.to_ascii_lowercase())
        } else {
            String::from("\u{0}")
        };
        let rows = sqlx::query(select_packs!(
            "WHERE name = ? OR id LIKE ? ORDER BY (name = ?) DESC, seq DESC"
        ))
        .bind(key)
        .bind(prefix)
        .bind(key)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The newest fresh pack of any name.
    async fn newest_fresh_pack(&self) -> Result<Option<PackRecord>> {
        let row = sqlx::query(select_packs!(
            "WHERE state = 'fresh' ORDER BY seq DESC LIMIT 1"
        ))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }
}

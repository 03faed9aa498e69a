//! The Postgres pack catalog.
//!
//! A row is keyed by (name, content id). Importing registers a `warming` row, then in one
//! transaction marks it `fresh` and the name's previous fresh row `stale`. A warming row whose
//! importer died is turned into `error` by [`PackCatalog::fail_orphaned_imports`]. Import order
//! (`seq`) comes from a sequence, so concurrent imports never share a number.

use super::PgStore;
use super::rows::{pack_from_row, select_packs, text};
use crate::error::{Result, StoreError};
use crate::records::{NewPack, PackRecord, Page, Paged};
use crate::traits::PackCatalog;
use chrono::Utc;
use quantd_core::{ExportPolicy, PackId, PackState, Rights};
use sqlx::Row;

impl PackCatalog for PgStore {
    /// Registers an import as `warming` (replacing an `error` row of the same name and id).
    /// Refuses when the same (name, id) is already warming, fresh or stale.
    async fn begin_import(&self, p: &NewPack) -> Result<()> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let existing: Option<String> =
            sqlx::query_scalar("SELECT state FROM packs WHERE name = $1 AND id = $2 FOR UPDATE")
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
        sqlx::query("DELETE FROM packs WHERE name = $1 AND id = $2")
            .bind(&p.name)
            .bind(p.id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO packs (name, id, state, seq, created_at, updated_at, estimated_ready, import_token, \
             tickers, bars, first_date, last_date, columns, rows_dropped, origin, rights_source, rights_license, \
             rights_attribution, export_allowed, bar_interval, zone, first_bar, last_bar, provider, export_policy) \
             VALUES ($1, $2, 'warming', nextval('packs_seq'), $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18, $19, $20, $21, $22)",
        )
        .bind(&p.name)
        .bind(p.id.as_str())
        .bind(now)
        .bind(p.estimated_ready)
        .bind(&p.import_token)
        .bind(p.tickers as i64)
        .bind(p.bars as i64)
        .bind(p.first_date)
        .bind(p.last_date)
        .bind(serde_json::to_string(&p.columns).expect("strings serialize"))
        .bind(p.rows_dropped as i64)
        .bind(&p.origin)
        .bind(&p.rights.source)
        .bind(&p.rights.license)
        .bind(&p.rights.attribution)
        .bind(p.rights.export != ExportPolicy::Deny)
        .bind(&p.timing.interval)
        .bind(&p.timing.zone)
        .bind(&p.timing.first_bar)
        .bind(&p.timing.last_bar)
        .bind(&p.rights.provider)
        .bind(p.rights.export.as_str())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Makes (name, id) the name's fresh pack — from `warming` after an import, or from `stale`
    /// when the same content is imported again — and the name's other fresh pack stale, in one
    /// transaction. Rights given replace the stored ones.
    async fn make_fresh(&self, name: &str, id: &PackId, rights: Option<&Rights>) -> Result<()> {
        let now = Utc::now();
        let mut tx = self.pool.begin().await?;
        let updated = sqlx::query(
            "UPDATE packs SET state = 'fresh', updated_at = $1, import_token = NULL, estimated_ready = NULL, \
             seq = nextval('packs_seq') WHERE name = $2 AND id = $3 AND state IN ('warming', 'stale')",
        )
        .bind(now)
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
                "UPDATE packs SET rights_source = $1, rights_license = $2, rights_attribution = $3, export_allowed = $4, \
                 provider = $5, export_policy = $6 WHERE name = $7 AND id = $8",
            )
            .bind(&r.source)
            .bind(&r.license)
            .bind(&r.attribution)
            .bind(r.export != ExportPolicy::Deny)
            .bind(&r.provider)
            .bind(r.export.as_str())
            .bind(name)
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query(
            "UPDATE packs SET state = 'stale', updated_at = $1 WHERE name = $2 AND id <> $3 AND state = 'fresh'",
        )
        .bind(now)
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
            "UPDATE packs SET state = 'error', error = $1, updated_at = $2, import_token = NULL, estimated_ready = NULL \
             WHERE name = $3 AND id = $4 AND state = 'warming'",
        )
        .bind(text(message).into_owned())
        .bind(Utc::now())
        .bind(name)
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Turns every warming row whose importer is gone into `error`. `importer_alive` is asked
    /// with each row's import token. Returns the rows changed.
    async fn fail_orphaned_imports(
        &self,
        importer_alive: impl Fn(&str) -> bool + Send,
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
            let mut rec = pack_from_row(&row)?;
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
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM packs WHERE seq = $1)")
                    .bind(seq)
                    .fetch_one(&self.pool)
                    .await?;
            if !known {
                return Err(page.unknown_cursor());
            }
        }
        let before = before.unwrap_or(i64::MAX);
        let rows = sqlx::query(select_packs!("WHERE seq < $1 ORDER BY seq DESC LIMIT $2"))
            .bind(before)
            .bind(page.fetch_limit())
            .fetch_all(&self.pool)
            .await?;
        let rows = rows.iter().map(pack_from_row).collect::<Result<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page, |r| r.seq.to_string()))
    }

    /// Rows whose name is `key`, whose id is `key`, or whose id starts with `key` (at least 8
    /// hex characters), newest first.
    async fn find_packs(&self, key: &str) -> Result<Vec<PackRecord>> {
        let prefix = if key.len() >= 8 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            format!("{}%", key.to_ascii_lowercase())
        } else {
            // Matches no id (and a NUL could not be sent as text).
            String::from("\u{1}")
        };
        let rows = sqlx::query(select_packs!(
            "WHERE name = $1 OR id LIKE $2 ORDER BY (name = $1) DESC, seq DESC"
        ))
        .bind(text(key).into_owned())
        .bind(prefix)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(pack_from_row).collect()
    }

    /// The newest fresh pack of any name.
    async fn newest_fresh_pack(&self) -> Result<Option<PackRecord>> {
        let row = sqlx::query(select_packs!(
            "WHERE state = 'fresh' ORDER BY seq DESC LIMIT 1"
        ))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(pack_from_row).transpose()
    }
}

//! Row decoding: Postgres rows into the backend-neutral [`crate::records`]. A value this build
//! cannot read is [`StoreError::Corrupt`] naming its table, never a panic.

use crate::error::{Result, StoreError};
use crate::records::{
    CodeVersion, ExecutionRecord, Millis, PackRecord, PackTiming, ShardRecord, TokenRecord,
};
use chrono::{DateTime, Utc};
use quantd_core::{ExecutionKind, ExportPolicy, Rights};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;

/// A value of `table` this build cannot read.
pub(super) fn corrupt(table: &'static str, m: impl ToString) -> StoreError {
    StoreError::Corrupt {
        table,
        message: m.to_string(),
    }
}

/// A value of the `executions` (or `shards`, `events`) table this build cannot read.
pub(super) fn corrupt_exec(m: impl ToString) -> StoreError {
    corrupt("executions", m)
}

/// A name stored as text (a state, a kind, an error class), read through its serde form.
pub(super) fn parse<T: serde::de::DeserializeOwned>(s: &str) -> Result<T> {
    serde_json::from_value(Value::String(s.to_string())).map_err(corrupt_exec)
}

/// An execution kind stored as text.
pub(super) fn kind_from(s: &str) -> Result<ExecutionKind> {
    parse(s)
}

/// A JSON column.
pub(super) fn json(s: &str) -> Result<Value> {
    serde_json::from_str(s).map_err(corrupt_exec)
}

/// A time stored as Unix milliseconds.
pub(super) fn at(ms: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// Text as Postgres stores it: a NUL character (which a `text` column refuses) becomes U+FFFD,
/// so an error message quoting binary output is stored instead of failing the write.
pub(super) fn text(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains('\0') {
        s.replace('\0', "\u{FFFD}").into()
    } else {
        s.into()
    }
}

/// An `executions` row (`SELECT *`).
pub(super) fn record_from_row(r: &PgRow) -> Result<ExecutionRecord> {
    let id: String = r.try_get("id")?;
    let state: String = r.try_get("state")?;
    let kind: String = r.try_get("kind")?;
    let spec: String = r.try_get("spec")?;
    let options: String = r.try_get("options")?;
    let class: Option<String> = r.try_get("error_class")?;
    let summary: Option<String> = r.try_get("summary")?;
    let n = |c: &str| -> Result<i64> { Ok(r.try_get::<i64, _>(c)?) };
    let exec_id = |c: &str| -> Result<Option<quantd_core::ExecutionId>> {
        r.try_get::<Option<String>, _>(c)?
            .map(|p| p.parse().map_err(corrupt_exec))
            .transpose()
    };
    Ok(ExecutionRecord {
        id: id.parse().map_err(corrupt_exec)?,
        workspace: r.try_get("workspace")?,
        kind: kind_from(&kind)?,
        name: r.try_get("name")?,
        state: state.parse().map_err(corrupt_exec)?,
        spec: json(&spec)?,
        fingerprint: r.try_get("fingerprint")?,
        pack_id: r.try_get("pack_id")?,
        code_version: r.try_get("code_version")?,
        options: json(&options)?,
        shards_total: n("shards_total")? as u32,
        shards_done: n("shards_done")? as u32,
        shards_failed: n("shards_failed")? as u32,
        bars: n("bars")? as u64,
        rows: n("rows")? as u64,
        attempts: n("attempts")? as u32,
        failed_attempts: n("failed_attempts")? as u32,
        error_class: class.as_deref().map(parse).transpose()?,
        error_message: r.try_get("error_message")?,
        summary: summary.as_deref().map(json).transpose()?,
        quarantined: r.try_get("quarantined")?,
        crash_streak: n("crash_streak")? as u32,
        result_bytes: n("result_bytes")? as u64,
        created_at: r.try_get("created_at")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        parent_id: exec_id("parent_id")?,
        parent_step: r.try_get("parent_step")?,
        root_id: exec_id("root_id")?,
    })
}

/// An execution's shards as [`shard_from_row`] reads them (without their payloads, which can be
/// long lists of tickers).
pub(super) const SELECT_SHARDS: &str = "SELECT idx, state, attempt, bars, rows, error_class, error_message, started_at, finished_at, lease_owner \
     FROM shards WHERE execution_id = $1 ORDER BY idx";

/// A `shards` row selected with [`SELECT_SHARDS`].
pub(super) fn shard_from_row(r: &PgRow) -> Result<ShardRecord> {
    let state: String = r.try_get("state")?;
    let class: Option<String> = r.try_get("error_class")?;
    Ok(ShardRecord {
        idx: r.try_get::<i64, _>("idx")? as u32,
        state: state.parse().map_err(corrupt_exec)?,
        attempt: r.try_get::<i64, _>("attempt")? as u32,
        bars: r.try_get::<i64, _>("bars")? as u64,
        rows: r.try_get::<i64, _>("rows")? as u64,
        error_class: class.as_deref().map(parse).transpose()?,
        error_message: r.try_get("error_message")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        lease_owner: r.try_get("lease_owner")?,
    })
}

/// A `(name, body)` row of a registry that keeps bodies the engine defines (agents, providers).
pub(super) fn named_body(row: &PgRow, table: &'static str) -> Result<(String, Value)> {
    let body: String = row.try_get("body")?;
    Ok((
        row.try_get("name")?,
        serde_json::from_str(&body).map_err(|e| corrupt(table, e))?,
    ))
}

/// `SELECT <every PackRecord column> FROM packs <rest>`, as a `&'static str`.
macro_rules! select_packs {
    ($rest:literal) => {
        concat!(
            "SELECT name, id, state, error, created_at, estimated_ready, tickers, bars, first_date, last_date, ",
            "columns, rows_dropped, origin, rights_source, rights_license, rights_attribution, export_allowed, seq, ",
            "import_token, bar_interval, zone, first_bar, last_bar, provider, export_policy FROM packs ",
            $rest
        )
    };
}
pub(super) use select_packs;

/// A `packs` row selected with [`select_packs!`].
pub(super) fn pack_from_row(row: &PgRow) -> Result<PackRecord> {
    let id: String = row.try_get("id")?;
    let state: String = row.try_get("state")?;
    let columns: String = row.try_get("columns")?;
    let first_date: chrono::NaiveDate = row.try_get("first_date")?;
    let last_date: chrono::NaiveDate = row.try_get("last_date")?;
    // A pack whose bars were not recorded reads its dates instead (as SQLite's older rows).
    let bar = |c: &str, date: chrono::NaiveDate| -> Result<String> {
        let recorded: Option<String> = row.try_get(c)?;
        Ok(recorded
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| date.to_string()))
    };
    Ok(PackRecord {
        name: row.try_get("name")?,
        id: id.parse().map_err(|e| corrupt("packs", e))?,
        state: state.parse().map_err(|e| corrupt("packs", e))?,
        error: row.try_get("error")?,
        created_at: row.try_get("created_at")?,
        estimated_ready: row.try_get("estimated_ready")?,
        tickers: row.try_get::<i64, _>("tickers")? as u64,
        bars: row.try_get::<i64, _>("bars")? as u64,
        first_date,
        last_date,
        timing: PackTiming {
            interval: row.try_get("bar_interval")?,
            zone: row.try_get("zone")?,
            first_bar: bar("first_bar", first_date)?,
            last_bar: bar("last_bar", last_date)?,
        },
        columns: serde_json::from_str(&columns).map_err(|e| corrupt("packs", e))?,
        rows_dropped: row.try_get::<i64, _>("rows_dropped")? as u64,
        origin: row.try_get("origin")?,
        rights: Rights {
            provider: row.try_get("provider")?,
            source: row.try_get("rights_source")?,
            license: row.try_get("rights_license")?,
            attribution: row.try_get("rights_attribution")?,
            export: {
                let p: String = row.try_get("export_policy")?;
                ExportPolicy::parse(&p)
                    .ok_or_else(|| corrupt("packs", format!("export policy `{p}`")))?
            },
        },
        seq: row.try_get("seq")?,
    })
}

/// A `code_versions` row.
pub(super) fn version_from_row(row: &PgRow) -> Result<CodeVersion> {
    let id: String = row.try_get("id")?;
    let params: String = row.try_get("params")?;
    Ok(CodeVersion {
        name: row.try_get("name")?,
        version: row.try_get::<i64, _>("version")? as u32,
        id: id.parse().map_err(|e| corrupt("code_versions", e))?,
        language: row.try_get("language")?,
        source: row.try_get("source")?,
        params: serde_json::from_str(&params).map_err(|e| corrupt("code_versions", e))?,
        created_at: row.try_get("created_at")?,
    })
}

/// A `tokens` row (its secret only as the hash).
pub(super) fn token_from_row(r: &PgRow) -> Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.try_get("id")?,
        workspace: r.try_get("workspace")?,
        name: r.try_get("name")?,
        secret_hash: r.try_get("secret_hash")?,
        admin: r.try_get("admin")?,
        created_at: r.try_get("created_at")?,
    })
}

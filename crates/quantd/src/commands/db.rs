//! `quantd db migrate` and `quantd db check`: the database under the store, for operators.
//! `check` changes nothing and exits non-zero when the database cannot be reached or its schema
//! is not this quantd's; `migrate` brings it up to date (refusing a newer one).

use super::Ctx;
use crate::cli::DbCommand;
use quantd_engine::db::{self, DbReport};
use std::process::ExitCode;

/// Runs a `db` command.
pub async fn run(ctx: &Ctx, cmd: DbCommand) -> anyhow::Result<ExitCode> {
    let config = ctx.store_config();
    let report = match cmd {
        DbCommand::Migrate => db::migrate(&config).await?,
        DbCommand::Check => db::check(&config).await?,
    };
    print(ctx, &report)?;
    let (current, known) = (report.status.current(), report.status.known);
    if current == known {
        return Ok(ExitCode::SUCCESS);
    }
    if current > known {
        eprintln!(
            "error: the database is at schema version {current}, newer than this quantd ({known}); \
             upgrade quantd (a newer quantd migrated it; this one refuses to open it)"
        );
    } else {
        eprintln!(
            "error: the database is at schema version {current}, older than this quantd ({known}); \
             run `quantd db migrate` (any command that opens the store also migrates it)"
        );
    }
    Ok(ExitCode::FAILURE)
}

/// Prints the report: a table, or JSON with `--json`.
fn print(ctx: &Ctx, r: &DbReport) -> anyhow::Result<()> {
    let s = &r.status;
    if ctx.json {
        let applied: Vec<_> = s
            .applied
            .iter()
            .map(|(v, at)| serde_json::json!({"version": v, "applied_at": at.to_rfc3339()}))
            .collect();
        return crate::output::json(&serde_json::json!({
            "backend": s.backend,
            "database": r.place,
            "version": s.current(),
            "known": s.known,
            "up_to_date": s.up_to_date(),
            "applied": applied,
        }));
    }
    println!("backend   {}", s.backend);
    println!("database  {}", r.place);
    println!(
        "schema    version {} (this quantd: {})",
        s.current(),
        s.known
    );
    for (v, at) in &s.applied {
        println!("applied   {v} at {}", at.to_rfc3339());
    }
    Ok(())
}

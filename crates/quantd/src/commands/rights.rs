//! `quantd rights add|list|rm|assign|log`: the rights registry of data providers, which pack
//! names which, and the audit trail of refused and watermarked exports (docs/rights.md). Also
//! the CLI's side of the rules: who reads ([`reader`]) and what a terminal view shows of
//! derived data ([`display`]).

use super::Ctx;
use crate::cli::RightsCommand;
use crate::output::{self, untrusted};
use quantd_core::{Disclosure, Provider};
use quantd_engine::EngineError;
use quantd_engine::exec::Engine;
use quantd_engine::records::{AuditFilter, ExecutionRecord, Page};
use quantd_engine::rights::{Reader, Release};
use std::process::ExitCode;

/// The CLI's reader: the local user in the engine's workspace.
pub fn reader(engine: &Engine) -> Reader {
    Reader::cli(&engine.options().workspace)
}

/// Whether a terminal view may show `rec`'s derived data: `Ok(release)` when it may (with the
/// attribution to print), `Err(why)` when the data's rights deny it (recorded as refused), so
/// the view shows signals and statistics and says why.
pub async fn display(
    engine: &Engine,
    rec: &ExecutionRecord,
    detail: &str,
) -> anyhow::Result<Result<Release, String>> {
    match engine
        .release(rec, &reader(engine), Disclosure::Derived, detail)
        .await
    {
        Ok(r) => Ok(Ok(r)),
        Err(EngineError::Policy { message, .. }) => Ok(Err(message)),
        Err(e) => Err(e.into()),
    }
}

/// Prints the attribution of `release`, if any, to stderr (under a view of derived data).
pub fn attribute(release: &Release) {
    if let Some(a) = release.attribution() {
        eprintln!("data: {}", untrusted(&a, 1_000));
    }
}

pub async fn run(ctx: &Ctx, cmd: RightsCommand) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    match cmd {
        RightsCommand::Add(a) => {
            let p = Provider {
                name: a.name,
                license: a.license,
                attribution: a.attribution,
                export: a.export,
                environments: a.environments,
            };
            let new = engine.put_provider(&p).await?;
            if ctx.json {
                output::json(&serde_json::json!({"provider": p, "new": new}))?;
            } else {
                eprintln!(
                    "provider `{}` {} (export {})",
                    p.name,
                    if new { "added" } else { "replaced" },
                    p.export
                );
            }
        }
        RightsCommand::List => {
            let all = engine.providers().await?;
            if ctx.json {
                output::json(&all)?;
            } else if all.is_empty() {
                eprintln!(
                    "no providers: add one with `quantd rights add NAME --export allow|watermark|deny`"
                );
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|p| {
                        vec![
                            p.name.clone(),
                            p.export.to_string(),
                            p.license.clone().unwrap_or_else(|| "-".into()),
                            p.attribution.clone().unwrap_or_else(|| "-".into()),
                            if p.environments.is_empty() {
                                "any".into()
                            } else {
                                p.environments.join(",")
                            },
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "PROVIDER",
                        "EXPORT",
                        "LICENSE",
                        "ATTRIBUTION",
                        "ENVIRONMENTS",
                    ],
                    &rows,
                );
            }
        }
        RightsCommand::Rm { name } => {
            if !engine.remove_provider(&reader(&engine), &name).await? {
                anyhow::bail!("no provider `{name}`; list them with `quantd rights list`");
            }
            eprintln!("provider `{name}` removed");
        }
        RightsCommand::Assign(a) => {
            let provider = if a.none { None } else { a.provider.as_deref() };
            engine.assign_provider(&a.pack, provider).await?;
            match provider {
                Some(p) => eprintln!("pack `{}` now takes the terms of provider `{p}`", a.pack),
                None => eprintln!("pack `{}` now takes its own terms", a.pack),
            }
        }
        RightsCommand::Log(a) => {
            let filter = AuditFilter {
                workspace: (!a.all).then(|| engine.options().workspace.clone()),
                execution: a.execution.as_deref().map(str::parse).transpose()?,
                exports_only: !a.actions,
            };
            let page = engine
                .audit(&filter, &Page::first(a.limit.clamp(1, 10_000)))
                .await?;
            if ctx.json {
                output::json(&page.items)?;
            } else if page.items.is_empty() {
                eprintln!("nothing recorded");
            } else {
                let rows: Vec<Vec<String>> = page
                    .items
                    .iter()
                    .map(|e| {
                        vec![
                            chrono::DateTime::from_timestamp_millis(e.at)
                                .unwrap_or_default()
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                            e.workspace.clone(),
                            e.actor.clone(),
                            e.action.clone(),
                            e.provider.clone().unwrap_or_else(|| "-".into()),
                            e.execution.clone().unwrap_or_else(|| "-".into()),
                            e.detail.clone(),
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "AT",
                        "WORKSPACE",
                        "WHO",
                        "ACTION",
                        "PROVIDER",
                        "EXECUTION",
                        "WHAT",
                    ],
                    &rows,
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

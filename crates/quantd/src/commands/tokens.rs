//! `quantd tokens create|list|revoke`: bearer tokens of workspaces. A token is printed once at
//! creation (the store keeps only its SHA-256); lists show ids, never secrets.

use super::Ctx;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `quantd tokens ...`
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token for a workspace and print it once.
    Create(CreateArgs),
    /// List the live tokens (ids, workspaces, labels; never secrets).
    List(ListArgs),
    /// Revoke a token by id (the `ID` of `qdt_ID_…`): it stops working at once.
    Revoke(RevokeArgs),
}

/// Arguments of `tokens list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this workspace's tokens.
    #[arg(long)]
    pub workspace: Option<String>,
}

/// Arguments of `tokens revoke`.
#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The token's id (as listed, or the part after `qdt_` up to the next `_`).
    pub id: String,
}

/// Arguments of `tokens create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The workspace the token grants (letters, digits, `-`, `_`).
    #[arg(long)]
    pub workspace: String,
    /// A label for people (`ci`, `alice`).
    #[arg(long)]
    pub name: Option<String>,
    /// Also allow uploading packs (shared by every workspace).
    #[arg(long)]
    pub admin: bool,
}

pub async fn run(ctx: &Ctx, cmd: TokensCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TokensCommand::Create(a) => {
            let packs = ctx.packs().await?;
            let created = packs
                .tokens()
                .create(&a.workspace, a.name.as_deref(), a.admin)
                .await?;
            if ctx.json {
                crate::output::json(&serde_json::json!({
                    "token": created.token,
                    "id": created.record.id,
                    "workspace": created.record.workspace,
                    "name": created.record.name,
                    "admin": created.record.admin,
                }))?;
            } else {
                println!("{}", created.token);
                eprintln!(
                    "token {} for workspace `{}`{}: shown once, store it now (send it as `Authorization: Bearer …`)",
                    created.record.id,
                    created.record.workspace,
                    if created.record.admin { " (admin)" } else { "" }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::List(a) => {
            let packs = ctx.packs().await?;
            let tokens = packs.tokens().list(a.workspace.as_deref()).await?;
            if ctx.json {
                crate::output::json(&tokens)?;
            } else if tokens.is_empty() {
                eprintln!("no tokens; create one with `quantd tokens create --workspace W`");
            } else {
                println!(
                    "{:<18} {:<16} {:<6} {:<26} name",
                    "id", "workspace", "admin", "created"
                );
                for t in &tokens {
                    println!(
                        "{:<18} {:<16} {:<6} {:<26} {}",
                        t.id,
                        t.workspace,
                        if t.admin { "yes" } else { "no" },
                        t.created_at.format("%Y-%m-%d %H:%M:%S UTC"),
                        t.name.as_deref().unwrap_or("")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::Revoke(a) => {
            let packs = ctx.packs().await?;
            let id =
                a.id.strip_prefix("qdt_")
                    .map_or(a.id.as_str(), |rest| rest.split('_').next().unwrap_or(rest));
            if packs.tokens().revoke(id).await? {
                eprintln!("token {id} revoked");
                Ok(ExitCode::SUCCESS)
            } else {
                anyhow::bail!(
                    "no live token with id `{id}`; see `quantd tokens list` (a revoked token cannot be revoked again)"
                )
            }
        }
    }
}

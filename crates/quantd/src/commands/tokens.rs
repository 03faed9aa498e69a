//! `quantd tokens create`: a bearer token for a workspace, printed once (the store keeps only
//! its SHA-256).

use super::Ctx;
use clap::{Args, Subcommand};
use std::process::ExitCode;

/// `quantd tokens ...`
#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Create a token for a workspace and print it once.
    Create(CreateArgs),
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
            let created = quantd_server::auth::create_token(
                packs.store(),
                &a.workspace,
                a.name.as_deref(),
                a.admin,
            )
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
    }
}

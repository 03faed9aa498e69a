//! `quantd agents add|list|rm`: the agents pattern `call` steps reach (docs/agents.md).

use super::Ctx;
use crate::cli::AgentsCommand;
use crate::output;
use anyhow::Context;
use quantd_engine::agents::AgentSpec;
use std::process::ExitCode;

/// The workspace the CLI works in.
const WORKSPACE: &str = "default";

pub async fn run(ctx: &Ctx, cmd: AgentsCommand) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    match cmd {
        AgentsCommand::Add(a) => {
            let breaker = a
                .breaker
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .context("--breaker: expected a JSON object of breaker settings")?;
            let spec = AgentSpec {
                url: a.url,
                capabilities: a.capabilities,
                secret_env: a.secret_env,
                breaker,
            };
            let new = engine.add_agent(WORKSPACE, &a.name, &spec).await?;
            if ctx.json {
                output::json(&serde_json::json!({"agent": a.name, "new": new}))?;
            } else {
                eprintln!(
                    "agent `{}` {} ({})",
                    a.name,
                    if new { "added" } else { "replaced" },
                    spec.capabilities.join(", ")
                );
            }
        }
        AgentsCommand::List => {
            let views = engine.agent_views(WORKSPACE).await?;
            if ctx.json {
                output::json(&views)?;
            } else if views.is_empty() {
                eprintln!(
                    "no agents: add one with `quantd agents add NAME --url URL --capability C`"
                );
            } else {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| {
                        vec![
                            v.name.clone(),
                            v.spec.capabilities.join(","),
                            v.spec.url.clone(),
                            v.state.clone(),
                            v.spec.secret_env.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                output::table(
                    &["AGENT", "CAPABILITIES", "URL", "BREAKER", "SECRET"],
                    &rows,
                );
                eprintln!("breakers as this process sees them; a server's are at /v1/agents");
            }
        }
        AgentsCommand::Rm { name } => {
            if !engine
                .remove_agent(&super::rights::reader(&engine), &name)
                .await?
            {
                anyhow::bail!("no agent `{name}`; list them with `quantd agents list`");
            }
            eprintln!("agent `{name}` removed");
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `quantd webhooks add|list|remove|deliveries`: URLs told when the workspace's executions end
//! (docs/webhooks.md). The secret is printed once, by `add`.

use super::Ctx;
use crate::cli::WebhooksCommand;
use crate::output;
use quantd_engine::webhooks::WebhookSpec;
use std::process::ExitCode;

/// The workspace the CLI works in.
const WORKSPACE: &str = "default";

fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

pub async fn run(ctx: &Ctx, cmd: WebhooksCommand) -> anyhow::Result<ExitCode> {
    let engine = ctx.engine().await?;
    match cmd {
        WebhooksCommand::Add(a) => {
            let spec = WebhookSpec {
                url: a.url,
                events: a.events,
                secret: a.secret,
            };
            let view = engine.add_webhook(WORKSPACE, &spec).await?;
            if ctx.json {
                output::json(&view)?;
            } else {
                eprintln!(
                    "webhook {} added for {} -> {}",
                    view.id,
                    view.events.join(", "),
                    view.url
                );
                if spec.secret.is_none() {
                    eprintln!("its signing secret (shown only now; keep it to verify deliveries):");
                    println!("{}", view.secret.as_deref().unwrap_or_default());
                }
            }
        }
        WebhooksCommand::List => {
            let views = engine.webhooks(WORKSPACE).await?;
            if ctx.json {
                output::json(&views)?;
            } else if views.is_empty() {
                eprintln!("no webhooks: add one with `quantd webhooks add URL`");
            } else {
                let rows: Vec<Vec<String>> = views
                    .iter()
                    .map(|v| {
                        vec![
                            v.id.clone(),
                            v.events.join(","),
                            v.url.clone(),
                            time(v.created_at),
                        ]
                    })
                    .collect();
                output::table(&["WEBHOOK", "EVENTS", "URL", "CREATED"], &rows);
            }
        }
        WebhooksCommand::Remove { id } => {
            engine
                .remove_webhook(&super::rights::reader(&engine), &id)
                .await?;
            eprintln!("webhook {id} removed");
        }
        WebhooksCommand::Deliveries { id, limit } => {
            let list = engine.webhook_deliveries(WORKSPACE, &id, limit).await?;
            if ctx.json {
                output::json(&list)?;
            } else if list.is_empty() {
                eprintln!("no deliveries yet: one is made when an execution of the workspace ends");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|d| {
                        let last = d.log.last();
                        vec![
                            d.id.clone(),
                            d.event.clone(),
                            d.execution_id.clone(),
                            d.state.clone(),
                            d.attempts.to_string(),
                            last.and_then(|a| a.status)
                                .map_or_else(|| "-".into(), |s| s.to_string()),
                            last.and_then(|a| a.error.as_deref()).map_or_else(
                                || "-".into(),
                                |e| quantd_engine::data::cut(e, 60).into_owned(),
                            ),
                            d.next_attempt_at.map_or_else(|| "-".into(), time),
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "DELIVERY",
                        "EVENT",
                        "EXECUTION",
                        "STATE",
                        "ATTEMPTS",
                        "STATUS",
                        "LAST ERROR",
                        "NEXT",
                    ],
                    &rows,
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! `quantd code add|list|show|rm|rollback`.

use super::Ctx;
use crate::cli::{CodeAddArgs, CodeCommand};
use crate::output;
use anyhow::Context;
use quantd_engine::code::{CodeSource, StrategyExprs};
use quantd_engine::records::{CodeVersion, Page};
use std::process::ExitCode;

/// The CLI works in the default workspace (the API serves the others).
const WS: &str = quantd_engine::DEFAULT_WORKSPACE;

pub async fn run(ctx: &Ctx, cmd: CodeCommand) -> anyhow::Result<ExitCode> {
    let packs = ctx.packs().await?;
    let code = packs.code(WS);
    match cmd {
        CodeCommand::Add(a) => {
            let name = a.name.clone();
            let source = source_of(a)?;
            // Python code is validated in the sandbox: by this runner while it lives.
            let _python = quantd_engine::python::Python::new(&ctx.data_dir, ctx.unsafe_no_sandbox);
            let added = code.add(&name, &source).await?;
            if ctx.json {
                output::json(&added)?;
            } else {
                let v = &added.version;
                let what = if added.unchanged {
                    "unchanged"
                } else {
                    "added"
                };
                println!(
                    "{what} {}@{} ({}, {})",
                    v.name,
                    v.version,
                    v.language,
                    v.id.short()
                );
                if !v.params.is_empty() {
                    println!(
                        "parameters: {}",
                        v.params
                            .iter()
                            .map(|p| format!("${p}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    );
                }
            }
        }
        CodeCommand::List => {
            let names = code.names(&Page::all()).await?.items;
            if ctx.json {
                output::json(&names)?;
            } else if names.is_empty() {
                eprintln!("no stored code yet: `quantd code add NAME --expr EXPR`");
            } else {
                let rows: Vec<Vec<String>> = names
                    .iter()
                    .map(|n| {
                        vec![
                            n.name.clone(),
                            format!("@{}", n.current),
                            n.versions.to_string(),
                            n.language.clone(),
                            n.updated_at.format("%Y-%m-%d %H:%M:%S").to_string(),
                        ]
                    })
                    .collect();
                output::table(
                    &["NAME", "CURRENT", "VERSIONS", "LANGUAGE", "UPDATED"],
                    &rows,
                );
            }
        }
        CodeCommand::Show(r) => {
            let v = code.resolve(&r.code).await?;
            let engine = ctx.engine().await?;
            let evaluation = engine.evaluation_of(WS, &v.name, &v.id.to_string()).await?;
            show(ctx, &v, evaluation)?
        }
        CodeCommand::Rm(r) => {
            let engine = ctx.engine().await?;
            let removed = engine
                .remove_code(&super::rights::reader(&engine), &r.code)
                .await?;
            anyhow::ensure!(removed, "code `{}` not found", r.code);
            println!(
                "removed {} (its versions stay readable as {}@N)",
                r.code, r.code
            );
        }
        CodeCommand::Rollback(r) => {
            let v = code.rollback(&r.name, r.to).await?;
            if ctx.json {
                output::json(&v)?;
            } else {
                println!(
                    "{} now resolves to {}@{} ({})",
                    r.name,
                    v.name,
                    v.version,
                    v.id.short()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn source_of(a: CodeAddArgs) -> anyhow::Result<CodeSource> {
    if let Some(e) = a.expr {
        return Ok(CodeSource::Expr(e));
    }
    if let Some(f) = a.pattern {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        let doc: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", f.display()))?;
        return Ok(CodeSource::Pattern(doc.to_string()));
    }
    if let Some(f) = a.file {
        let text =
            std::fs::read_to_string(&f).with_context(|| format!("reading {}", f.display()))?;
        return Ok(if f.extension().is_some_and(|e| e == "py") {
            CodeSource::Python(text)
        } else {
            CodeSource::Expr(text)
        });
    }
    Ok(CodeSource::Strategy(StrategyExprs {
        entry: a.entry.expect("clap requires a source"),
        exit: a.exit.expect("clap requires --exit with --entry"),
        short_entry: a.short_entry,
        short_exit: a.short_exit,
    }))
}

/// The deployment status of a version: its newest completed evaluation, if any.
type Evaluated = Option<(
    quantd_core::ExecutionId,
    quantd_engine::evaluate::Evaluation,
)>;

fn show(ctx: &Ctx, v: &CodeVersion, evaluation: Evaluated) -> anyhow::Result<()> {
    if ctx.json {
        let mut out = serde_json::to_value(v)?;
        out["evaluation"] = match &evaluation {
            Some((id, e)) => {
                serde_json::json!({"execution": id, "status": e.status, "score": e.score, "reasons": e.reasons})
            }
            None => serde_json::Value::Null,
        };
        return output::json(&out);
    }
    println!(
        "{}@{}  {}  {}  added {}",
        v.name,
        v.version,
        v.language,
        v.id,
        v.created_at.format("%Y-%m-%d %H:%M:%S")
    );
    match &evaluation {
        Some((id, e)) => println!(
            "evaluation: {} ({}/100), {id}{}",
            e.status.as_str(),
            e.score,
            e.reasons
                .first()
                .map_or(String::new(), |r| format!("; {r}"))
        ),
        None => println!(
            "evaluation: not evaluated (quantd evaluate {}@{})",
            v.name, v.version
        ),
    }
    if !v.params.is_empty() {
        println!(
            "parameters: {}",
            v.params
                .iter()
                .map(|p| format!("${p}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!();
    match CodeSource::from_stored(&v.language, &v.source)? {
        CodeSource::Strategy(s) => {
            for (name, src) in s.named() {
                println!("{name:<12} {src}");
            }
        }
        CodeSource::Expr(src) | CodeSource::Python(src) => println!("{src}"),
        CodeSource::Pattern(text) => {
            let (pattern, plan) = quantd_engine::pattern::check(&text)?;
            for (n, level) in plan.levels.iter().enumerate() {
                let ids: Vec<&str> = level
                    .iter()
                    .map(|&i| pattern.steps[i].id.as_str())
                    .collect();
                println!("level {n}: {}", ids.join(", "));
            }
            println!();
            let doc: serde_json::Value = serde_json::from_str(&text)?;
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
    }
    Ok(())
}

//! What is checked before a pattern runs (at `code add` and validate): step ids unique, every
//! `needs` names a step (with "did you mean"), each execution step's fields are ones its kind
//! takes, every template compiles and names only known inputs, steps, `ctx` fields and (in a
//! `for_each` step) `item` — a `state.<step>` it reads is an edge like `needs` — and the steps
//! can be ordered (a cycle is named in full: `a → b → c → a`).

pub use crate::document::Problem;
use crate::document::quote;
use crate::document::{Action, Pattern, StepKind};
use crate::plan::Plan;
use crate::template;
use std::collections::HashMap;

/// The fields each execution kind's request takes besides `kind` (the engine's list).
pub type KindFields<'a> = &'a dyn Fn(StepKind) -> Vec<&'static str>;

/// Checks `p` and plans it; every problem found, with paths.
pub fn check(p: &Pattern, fields: KindFields<'_>) -> Result<Plan, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, s) in p.steps.iter().enumerate() {
        if let Some(&first) = index.get(s.id.as_str()) {
            problems.push(Problem {
                path: format!("steps[{i}].id"),
                message: format!("step id `{}` is used by steps[{first}] too", s.id),
                help: Some("give every step its own id".into()),
            });
        } else {
            index.insert(&s.id, i);
        }
    }
    let ids: Vec<&str> = p.steps.iter().map(|s| s.id.as_str()).collect();
    let mut depends_on = vec![Vec::new(); p.steps.len()];
    for (i, s) in p.steps.iter().enumerate() {
        for (j, need) in s.needs.iter().enumerate() {
            let path = format!("steps[{i}].needs[{j}]");
            match index.get(need.as_str()) {
                Some(&d) if d == i => problems.push(Problem {
                    path,
                    message: format!("step `{need}` needs itself"),
                    help: None,
                }),
                Some(&d) => depends_on[i].push(d),
                None => problems.push(Problem {
                    path,
                    message: format!("no step `{}`", quote(need)),
                    help: quantd_expr::did_you_mean(need, ids.iter().copied())
                        .or_else(|| Some(format!("the steps are {}", ids.join(", ")))),
                }),
            }
        }
        for (path, name) in template_names(i, s, &mut problems) {
            let mut parts = name.split('.');
            let root = parts.next().unwrap_or_default();
            let second = parts.next();
            let known: Vec<&str> = match root {
                "inputs" => p.inputs.keys().map(String::as_str).collect(),
                "state" => ids.clone(),
                "ctx" => template::CTX_FIELDS.to_vec(),
                "item" if s.for_each.is_some() && !path.ends_with(".for_each") => continue,
                "item" => {
                    problems.push(Problem {
                        path,
                        message: "`item` is defined only in a step with `for_each`".into(),
                        help: None,
                    });
                    continue;
                }
                other => {
                    problems.push(Problem {
                        path,
                        message: format!("unknown name `{}` in a template", quote(other)),
                        help: quantd_expr::did_you_mean(other, template::ROOTS).or_else(|| {
                            Some(format!(
                                "templates start with {}",
                                template::ROOTS.join(", ")
                            ))
                        }),
                    });
                    continue;
                }
            };
            let Some(second) = second else { continue };
            match (root, index.get(second)) {
                ("state", Some(&d)) if d == i => problems.push(Problem {
                    path,
                    message: format!("step `{second}` reads its own state"),
                    help: Some(
                        "a step's outputs exist only after it ran; read an earlier step's".into(),
                    ),
                }),
                ("state", Some(&d)) => depends_on[i].push(d),
                _ if known.contains(&second) => {}
                _ => problems.push(Problem {
                    path,
                    message: format!(
                        "no {} `{}`",
                        match root {
                            "inputs" => "input",
                            "state" => "step",
                            _ => "ctx field",
                        },
                        quote(second)
                    ),
                    help: quantd_expr::did_you_mean(second, known.iter().copied()).or_else(|| {
                        Some(if known.is_empty() {
                            "there are none".to_string()
                        } else {
                            format!("there are {}", known.join(", "))
                        })
                    }),
                }),
            }
        }
        depends_on[i].sort_unstable();
        depends_on[i].dedup();
        if let Action::Execute { kind, request } = &s.action {
            let takes = fields(*kind);
            for key in request.keys() {
                if !takes.contains(&key.as_str()) {
                    problems.push(Problem {
                        path: format!("steps[{i}].{}", quote(key)),
                        message: format!(
                            "`{}` is not a field of a {} step",
                            quote(key),
                            kind.name()
                        ),
                        help: quantd_expr::did_you_mean(key, takes.iter().copied()).or_else(|| {
                            Some(format!("a {} takes {}", kind.name(), takes.join(", ")))
                        }),
                    });
                }
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Plan::of(p, depends_on).map_err(|cycle| {
        vec![Problem {
            path: "steps".into(),
            message: format!("the steps form a cycle: {}", cycle.join(" → ")),
            help: Some("remove one of these dependencies (`needs` or a template naming an earlier step's state)".into()),
        }]
    })
}

/// Every name the templates of step `i` read, with the path of the field it is in; templates
/// that do not compile are problems.
fn template_names(i: usize, s: &crate::Step, problems: &mut Vec<Problem>) -> Vec<(String, String)> {
    let env = template::environment();
    let base = format!("steps[{i}]");
    let mut fields: Vec<(String, &str)> = Vec::new();
    let (prefix, map) = match &s.action {
        Action::Execute { request, .. } => (base.clone(), request),
        Action::Select(m) => (format!("{base}.select"), m),
        Action::Call(m) => (format!("{base}.call"), m),
        Action::Pattern { inputs, .. } => (format!("{base}.inputs"), inputs),
    };
    for (k, v) in map {
        template::strings(format!("{prefix}.{k}"), v, &mut fields);
    }
    if let Some(f) = &s.for_each {
        template::strings(format!("{base}.for_each"), f, &mut fields);
    }
    let mut out = Vec::new();
    for (path, text) in fields {
        if !template::is_template(text) {
            continue;
        }
        match template::references(&env, text) {
            Ok(names) => out.extend(names.into_iter().map(|n| (path.clone(), n))),
            Err(e) => problems.push(Problem {
                path,
                message: format!("template: {e}"),
                help: None,
            }),
        }
    }
    if let Some(c) = &s.condition {
        let path = format!("{base}.if");
        match template::condition_references(&env, c) {
            Ok(names) => out.extend(names.into_iter().map(|n| (path.clone(), n))),
            Err(e) => problems.push(Problem {
                path,
                message: format!("condition: {e}"),
                help: None,
            }),
        }
    }
    out
}

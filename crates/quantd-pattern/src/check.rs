//! What is checked before a pattern runs (at `code add` and validate): step ids unique, every
//! `needs` names a step (with "did you mean"), each execution step's fields are ones its kind
//! takes, and the steps can be ordered (a cycle is named in full: `a → b → c → a`).

pub use crate::document::Problem;
use crate::document::{Action, Pattern, StepKind};
use crate::plan::Plan;
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
                    message: format!("no step `{}`", cut(need)),
                    help: quantd_expr::did_you_mean(need, ids.iter().copied())
                        .or_else(|| Some(format!("the steps are {}", ids.join(", ")))),
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
                        path: format!("steps[{i}].{}", cut(key)),
                        message: format!("`{}` is not a field of a {} step", cut(key), kind.name()),
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

fn cut(s: &str) -> String {
    let c: String = s.chars().take(40).collect();
    if c.len() < s.len() {
        format!("{c}…")
    } else {
        c
    }
}

//! Templates in pattern fields, on minijinja: `{{ inputs.x }}`, `{{ state.<step>.outputs.<field> }}`,
//! `{{ state.<step>.status }}`, `{{ ctx.pack_id }}`, `{{ ctx.execution_id }}`, `{{ ctx.started_at }}`,
//! and `{{ item }}` inside a `for_each` step. Undefined names are errors (strict), and every
//! render has bounded fuel, so no template can loop for long. A field that is exactly one
//! `{{ … }}` keeps the JSON type of its value (a list stays a list); any other text with `{{` is
//! rendered as text. An `if` is an expression, with or without `{{ }}`.
//!
//! Before a pattern runs, [`references`] lists what a field's templates name, so the checker
//! can refuse unknown steps and inputs and add an edge for every `state.<step>` a step reads.

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value;
use std::collections::BTreeSet;

/// Instructions one render may execute (minijinja's fuel): ample for field templates, small
/// enough that a loop in a template ends in milliseconds.
pub const FUEL: u64 = 50_000;

/// The names a template may start with.
pub const ROOTS: [&str; 4] = ["inputs", "state", "ctx", "item"];

/// The fields of `ctx`.
pub const CTX_FIELDS: [&str; 3] = ["pack_id", "execution_id", "started_at"];

/// A template that could not be compiled or evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// What is wrong (minijinja's message, with the line inside the field when it has one).
    pub message: String,
}

impl std::fmt::Display for TemplateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn error(e: &minijinja::Error) -> TemplateError {
    let mut message = e
        .detail()
        .map_or_else(|| e.kind().to_string(), str::to_string);
    if let Some(line) = e.line()
        && line > 1
    {
        message = format!("{message} (line {line} of the field)");
    }
    TemplateError { message }
}

/// The environment every pattern template runs in: strict, fueled, no loader.
pub fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(64);
    env
}

/// Whether `text` holds a template at all.
pub fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The expression of a field that is exactly one `{{ … }}`, if it is one.
pub fn single_expression(text: &str) -> Option<&str> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

/// The dotted names a field's template reads (`state.scan.outputs.signals`, `inputs.pack`,
/// `item`), or why it does not compile. minijinja's own list misses names used with a slice
/// (`state.scan.outputs.tickers[:5]` is not in it), so the names `inputs.x`, `state.x`,
/// `ctx.x` and `item` written anywhere in the template are added (a name inside a quoted string
/// counts too: it can only add a dependency, never lose one).
pub fn references(env: &Environment<'_>, text: &str) -> Result<BTreeSet<String>, TemplateError> {
    let mut names = compiled_references(env, text)?;
    names.extend(written_names(text));
    Ok(names)
}

/// Names of the roots written in `text`: `root.ident` for `inputs`, `state` and `ctx`, and
/// `item`, each at a word boundary.
fn written_names(text: &str) -> BTreeSet<String> {
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = text.as_bytes();
    let mut out = BTreeSet::new();
    for root in ROOTS {
        let mut from = 0;
        while let Some(at) = text[from..].find(root).map(|i| i + from) {
            from = at + root.len();
            let before_ok = at == 0 || !(ident(bytes[at - 1]) || bytes[at - 1] == b'.');
            let after = bytes.get(from).copied();
            if !before_ok || after.is_some_and(ident) {
                continue;
            }
            if root == "item" {
                out.insert("item".to_string());
            } else if after == Some(b'.') {
                let name: String = text[from + 1..]
                    .bytes()
                    .take_while(|&b| ident(b))
                    .map(char::from)
                    .collect();
                if !name.is_empty() {
                    out.insert(format!("{root}.{name}"));
                }
            }
        }
    }
    out
}

fn compiled_references(
    env: &Environment<'_>,
    text: &str,
) -> Result<BTreeSet<String>, TemplateError> {
    let names = match single_expression(text) {
        Some(expr) => env
            .compile_expression(expr)
            .map_err(|e| error(&e))?
            .undeclared_variables(true),
        None => env
            .template_from_str(text)
            .map_err(|e| error(&e))?
            .undeclared_variables(true),
    };
    Ok(names.into_iter().collect())
}

/// The names an `if` condition reads (with or without `{{ }}`).
pub fn condition_references(
    env: &Environment<'_>,
    text: &str,
) -> Result<BTreeSet<String>, TemplateError> {
    let expr = single_expression(text).unwrap_or(text);
    let mut names: BTreeSet<String> = env
        .compile_expression(expr)
        .map_err(|e| error(&e))?
        .undeclared_variables(true)
        .into_iter()
        .collect();
    names.extend(written_names(expr));
    Ok(names)
}

/// Renders every string of `value` that holds a template against `scope`; a string that is
/// exactly one `{{ … }}` becomes the JSON value of its expression.
pub fn render<S: serde::Serialize>(
    env: &Environment<'_>,
    value: &Value,
    scope: &S,
) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(s) if is_template(s) => match single_expression(s) {
            Some(expr) => {
                let v = eval(env, expr, scope)?;
                serde_json::to_value(&v).map_err(|e| TemplateError {
                    message: format!("`{expr}` is not a JSON value: {e}"),
                })?
            }
            None => Value::String(env.render_str(s, scope).map_err(|e| error(&e))?),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render(env, v, scope))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), render(env, v, scope)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

/// The value of expression `expr` in `scope`; undefined is an error (strict mode errs only
/// when an undefined value is used, not when it is the result).
fn eval<S: serde::Serialize>(
    env: &Environment<'_>,
    expr: &str,
    scope: &S,
) -> Result<minijinja::Value, TemplateError> {
    let v = env
        .compile_expression(expr)
        .map_err(|e| error(&e))?
        .eval(scope)
        .map_err(|e| error(&e))?;
    if v.is_undefined() {
        return Err(TemplateError {
            message: format!("`{expr}` is undefined"),
        });
    }
    Ok(v)
}

/// Whether an `if` condition holds in `scope`.
pub fn holds<S: serde::Serialize>(
    env: &Environment<'_>,
    condition: &str,
    scope: &S,
) -> Result<bool, TemplateError> {
    let expr = single_expression(condition).unwrap_or(condition);
    let v = eval(env, expr, scope)?;
    Ok(v.is_true())
}

/// Every string of `value` with its JSON path under `path`.
pub fn strings<'a>(path: String, value: &'a Value, out: &mut Vec<(String, &'a str)>) {
    match value {
        Value::String(s) => out.push((path, s)),
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                strings(format!("{path}[{i}]"), v, out);
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                strings(format!("{path}.{k}"), v, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_expression_keeps_its_type_and_text_is_rendered() {
        let env = environment();
        let scope = json!({"inputs": {"n": 3, "names": ["A", "B"]}, "state": {"scan": {"outputs": {"tickers": ["X"]}}}});
        assert_eq!(
            render(&env, &json!("{{ inputs.names }}"), &scope).unwrap(),
            json!(["A", "B"])
        );
        assert_eq!(
            render(&env, &json!(" {{ inputs.n * 2 }} "), &scope).unwrap(),
            json!(6)
        );
        assert_eq!(
            render(&env, &json!("top {{ inputs.n }}"), &scope).unwrap(),
            json!("top 3")
        );
        assert_eq!(
            render(
                &env,
                &json!({"t": ["{{ state.scan.outputs.tickers }}"]}),
                &scope
            )
            .unwrap(),
            json!({"t": [["X"]]})
        );
        assert!(holds(&env, "{{ inputs.n >= 3 }}", &scope).unwrap());
        assert!(!holds(&env, "inputs.n > 3", &scope).unwrap());
    }

    #[test]
    fn undefined_names_and_endless_loops_are_errors() {
        let env = environment();
        let scope = json!({"inputs": {}});
        let e = render(&env, &json!("{{ inputs.missing }}"), &scope).unwrap_err();
        assert!(e.message.contains("undefined"), "{e}");
        let e = render(&env, &json!("x {{ inputs.missing.deeper }}"), &scope).unwrap_err();
        assert!(e.message.contains("undefined"), "{e}");
        assert!(holds(&env, "inputs.missing", &scope).is_err());
        let e = render(
            &env,
            &json!(
                "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
            ),
            &scope,
        )
        .unwrap_err();
        assert!(e.message.contains("fuel"), "{e}");
        assert!(references(&env, "{{ inputs.x ").is_err());
    }

    #[test]
    fn references_list_dotted_names() {
        let env = environment();
        let r = references(
            &env,
            "{{ state.scan.outputs.top_tickers[:5] }} and {{ inputs.pack }}",
        )
        .unwrap();
        assert!(
            r.contains("state.scan"),
            "a slice hides it from minijinja, not from us: {r:?}"
        );
        assert!(r.contains("inputs.pack"), "{r:?}");
        let r = references(
            &env,
            "{{ 'pinned' }} {{ myinputs.x }} {{ x.item }} {{ item }}",
        )
        .unwrap();
        assert!(
            r.contains("item") && !r.iter().any(|n| n.starts_with("inputs")),
            "{r:?}"
        );
        let r = condition_references(&env, "state.check.outputs.recall >= 0.8").unwrap();
        assert!(r.iter().any(|n| n.starts_with("state.check")), "{r:?}");
    }
}

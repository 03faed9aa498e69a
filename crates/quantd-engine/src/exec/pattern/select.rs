//! `select` steps: pick values out of earlier outputs, computed by the engine (no child
//! execution). A select takes a list (`from`, usually a template such as
//! `{{ state.scan.outputs.by_ticker }}`), optionally keeps the items whose `where` holds (an
//! expression over `item`), sorts it by a field (`sort_by`, `order`: `desc` by default), keeps
//! the first `limit` items, and plucks one `field` of each. Its outputs: `values` and `count`.

use serde_json::{Map, Value, json};
use std::cmp::Ordering;

/// The keys a `select` takes.
pub const KEYS: [&str; 6] = ["from", "where", "sort_by", "order", "limit", "field"];

/// Runs a select: its outputs, or what is wrong (with the key it is about).
pub fn select(
    env: &quantd_pattern::minijinja::Environment<'static>,
    body: &Map<String, Value>,
    scope: &quantd_pattern::minijinja::Value,
) -> Result<Value, String> {
    if let Some(k) = body.keys().find(|k| !KEYS.contains(&k.as_str())) {
        let help = quantd_expr::did_you_mean(k, KEYS)
            .unwrap_or_else(|| format!("a select takes {}", KEYS.join(", ")));
        return Err(format!(
            "unknown key `{}` ({help})",
            quantd_data::text::cut(k, 40)
        ));
    }
    // Every key but `where` (an expression over each item) may be a template.
    let mut rendered = Map::new();
    for (k, v) in body.iter().filter(|(k, _)| k.as_str() != "where") {
        let v = quantd_pattern::template::render(env, v, scope).map_err(|e| format!("{k}: {e}"))?;
        rendered.insert(k.clone(), v);
    }
    let body_where = body.get("where");
    let body = &rendered;
    let from = body
        .get("from")
        .cloned()
        .ok_or("`from` is required: the list to select from")?;
    let Value::Array(mut items) = from else {
        return Err(format!(
            "from: expected a list, found {}",
            quantd_data::text::cut(&from.to_string(), 60)
        ));
    };
    if let Some(condition) = body_where {
        let Value::String(condition) = condition else {
            return Err(
                "where: expected an expression over `item`, e.g. \"item.signals >= 3\"".into(),
            );
        };
        let mut kept = Vec::with_capacity(items.len());
        for item in items {
            let item_scope = quantd_pattern::minijinja::context! { item => quantd_pattern::minijinja::Value::from_serialize(&item), ..scope.clone() };
            if quantd_pattern::template::holds(env, condition, &item_scope)
                .map_err(|e| format!("where: {e}"))?
            {
                kept.push(item);
            }
        }
        items = kept;
    }
    if let Some(field) = body.get("sort_by") {
        let field = field.as_str().ok_or("sort_by: expected a field name")?;
        let descending = match body.get("order").map(|o| o.as_str()) {
            None | Some(Some("desc")) => true,
            Some(Some("asc")) => false,
            Some(_) => return Err("order: expected `asc` or `desc`".into()),
        };
        items.sort_by(|a, b| {
            let o = compare(a.get(field), b.get(field));
            if descending { o.reverse() } else { o }
        });
    } else if body.contains_key("order") {
        return Err("order: applies only with `sort_by`".into());
    }
    if let Some(limit) = body.get("limit") {
        let limit = limit
            .as_u64()
            .ok_or("limit: expected a whole number of items")?;
        items.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    if let Some(field) = body.get("field") {
        let field = field.as_str().ok_or("field: expected a field name")?;
        items = items
            .into_iter()
            .map(|item| item.get(field).cloned().unwrap_or(Value::Null))
            .collect();
    }
    Ok(json!({"count": items.len(), "values": items}))
}

/// Orders two field values: numbers by value, then strings, then anything else (missing last).
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    fn rank(v: Option<&Value>) -> u8 {
        match v {
            Some(Value::Number(_)) => 0,
            Some(Value::String(_)) => 1,
            Some(Value::Null) | None => 3,
            Some(_) => 2,
        }
    }
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x.total_cmp(&y)
        }
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: Value, scope: Value) -> Result<Value, String> {
        let env = quantd_pattern::template::environment();
        let Value::Object(body) = body else { panic!() };
        select(
            &env,
            &body,
            &quantd_pattern::minijinja::Value::from_serialize(&scope),
        )
    }

    #[test]
    fn picks_the_tickers_with_most_signals() {
        let scope = json!({"state": {"scan": {"outputs": {"by_ticker": [
            {"ticker": "A", "signals": 2}, {"ticker": "B", "signals": 9}, {"ticker": "C", "signals": 5}
        ]}}}});
        let out = run(
            json!({"from": "{{ state.scan.outputs.by_ticker }}", "sort_by": "signals", "limit": 2, "field": "ticker"}),
            scope.clone(),
        )
        .unwrap();
        assert_eq!(out, json!({"count": 2, "values": ["B", "C"]}));
        let out = run(
            json!({"from": "{{ state.scan.outputs.by_ticker }}", "where": "item.signals < 6", "sort_by": "ticker", "order": "asc", "field": "ticker"}),
            scope,
        )
        .unwrap();
        assert_eq!(out["values"], json!(["A", "C"]));
    }

    #[test]
    fn mistakes_name_their_key() {
        let e = run(json!({"form": [1]}), json!({})).unwrap_err();
        assert!(
            e.contains("unknown key `form`") && e.contains("from"),
            "{e}"
        );
        let e = run(json!({"from": 3}), json!({})).unwrap_err();
        assert!(e.starts_with("from: expected a list"), "{e}");
        let e = run(json!({"from": [1], "limit": -1}), json!({})).unwrap_err();
        assert!(e.starts_with("limit:"), "{e}");
        let e = run(json!({"from": "{{ inputs.x }}"}), json!({"inputs": {}})).unwrap_err();
        assert!(e.contains("undefined"), "{e}");
    }
}

//! JSON Schemas of tool arguments and results, made from the same `utoipa` schemas as the HTTP
//! API's OpenAPI document (one source for both): the type's schema with every type it refers
//! to under `$defs`, and references rewritten from `#/components/schemas/X` to `#/$defs/X`.

use serde_json::{Map, Value};
use utoipa::ToSchema;

/// The schema of `T` as one self-contained JSON object (`type: object` at the root).
pub fn of<T: ToSchema>() -> Map<String, Value> {
    let mut deps = Vec::new();
    T::schemas(&mut deps);
    let mut root = to_object(serde_json::to_value(T::schema()).expect("schemas serialize"));
    if !deps.is_empty() {
        let defs: Map<String, Value> = deps
            .into_iter()
            .map(|(name, s)| (name, serde_json::to_value(s).expect("schemas serialize")))
            .collect();
        root.insert("$defs".into(), Value::Object(defs));
    }
    let mut v = Value::Object(root);
    rewrite_refs(&mut v);
    match v {
        Value::Object(m) => m,
        _ => unreachable!("an object stays an object"),
    }
}

fn to_object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("type".into(), "object".into());
            m.insert("description".into(), format!("{other}").into());
            m
        }
    }
}

fn rewrite_refs(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/components/schemas/")
            {
                *r = format!("#/$defs/{name}");
            }
            m.values_mut().for_each(rewrite_refs);
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// Adds property `name` (with `schema`) to an object schema.
pub fn with_property(mut s: Map<String, Value>, name: &str, schema: Value) -> Map<String, Value> {
    if let Some(Value::Object(props)) = s.get_mut("properties") {
        props.insert(name.into(), schema);
    }
    s
}

/// Every `$ref` in `v` (for the test that none dangles).
pub fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

//! Pattern documents: read with JSON paths in every problem, checked (ids, references, fields,
//! cycles named in full), planned into parallel levels; hostile documents (huge, deep, random)
//! get errors, never a panic.

use proptest::prelude::*;
use quantd_pattern::{Action, Limits, Problem, StepKind, check, parse};
use serde_json::{Value, json};

/// The fields of each kind's request in these tests (the engine gives its own).
fn fields(kind: StepKind) -> Vec<&'static str> {
    let mut f = vec![
        "pack", "params", "options", "reuse", "code", "expr", "python", "tickers", "from", "to",
    ];
    match kind {
        StepKind::Test => f.extend(["examples", "tolerance"]),
        StepKind::Sweep => f.extend(["strategy", "grid", "constraint", "config"]),
        StepKind::Backtest => f.extend(["strategy", "config"]),
        StepKind::Run => f = vec!["pack", "script", "name", "args", "timeout"],
        StepKind::Scan => {}
    }
    f
}

fn problems(doc: Value) -> Vec<Problem> {
    match parse(&doc.to_string(), &Limits::default()) {
        Err(p) => p,
        Ok(p) => check(&p, &fields).expect_err("problems expected"),
    }
}

fn one(doc: Value) -> String {
    let p = problems(doc);
    assert_eq!(p.len(), 1, "{p:?}");
    p[0].to_string()
}

#[test]
fn a_routine_parses_and_plans_into_parallel_levels() {
    let doc = json!({
        "description": "dip routine",
        "inputs": {"pack": {"type": "string", "default": "u"}, "since": {"type": "date", "default": "2024-01-02"}},
        "steps": [
            {"id": "scan", "kind": "scan", "code": "dip", "pack": "{{ inputs.pack }}"},
            {"id": "check", "kind": "test", "code": "dip", "examples": [], "needs": []},
            {"id": "bt", "kind": "backtest", "code": "dip-exit", "needs": ["scan", "check"], "if": "{{ true }}"},
            {"id": "top", "select": {"from": "scan", "top": 20}, "needs": ["scan"]},
            {"id": "sw", "kind": "sweep", "code": "dip-exit", "grid": ["n=5..20:5"], "needs": ["bt", "top"],
             "for_each": ["a", "b"], "max_parallel": 2, "tolerated_failures": 1, "continue_on_error": true}
        ]
    });
    let p = parse(&doc.to_string(), &Limits::default()).unwrap();
    assert_eq!(p.inputs.len(), 2);
    let Action::Execute { kind, request } = &p.steps[0].action else {
        panic!()
    };
    assert_eq!(*kind, StepKind::Scan);
    assert_eq!(request["pack"], "{{ inputs.pack }}");
    let plan = check(&p, &fields).unwrap();
    assert_eq!(plan.levels, vec![vec![0, 1], vec![2, 3], vec![4]]);
    assert_eq!(plan.order, vec![0, 1, 2, 3, 4]);
    assert_eq!(plan.depends_on[4], vec![2, 3]);
}

#[test]
fn a_cycle_is_named_in_full() {
    let msg = one(json!({"steps": [
        {"id": "a", "kind": "scan", "needs": ["c"]},
        {"id": "b", "kind": "scan", "needs": ["a"]},
        {"id": "c", "kind": "scan", "needs": ["b"]},
        {"id": "d", "kind": "scan"}
    ]}));
    assert!(
        msg.contains("the steps form a cycle: a → b → c → a"),
        "{msg}"
    );
}

#[test]
fn references_and_fields_say_where_and_what_was_meant() {
    let p = problems(json!({"steps": [
        {"id": "scan", "kind": "scan", "code": "dip", "grid": ["x=1"]},
        {"id": "bt", "kind": "backtest", "needs": ["scna"], "strategyy": {}},
        {"id": "scan", "kind": "scan"}
    ]}));
    let text: Vec<String> = p.iter().map(ToString::to_string).collect();
    assert!(
        text.contains(
            &"steps[2].id: step id `scan` is used by steps[0] too (give every step its own id)"
                .to_string()
        ),
        "{text:?}"
    );
    assert!(
        text.contains(&"steps[1].needs[0]: no step `scna` (did you mean `scan`?)".to_string()),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("steps[0].grid: `grid` is not a field of a scan step")),
        "{text:?}"
    );
    assert!(text.contains(&"steps[1].strategyy: `strategyy` is not a field of a backtest step (did you mean `strategy`?)".to_string()), "{text:?}");
}

#[test]
fn shapes_and_types_are_checked_with_their_paths() {
    let p: Vec<String> = problems(json!({"stepz": []}))
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(p[0], "stepz: unknown field `stepz` (did you mean `steps`?)");
    assert!(p[1].starts_with("a pattern needs `steps`"), "{p:?}");
    assert_eq!(
        one(json!({"steps": [{"id": "a", "kind": "scna"}]})),
        "steps[0].kind: unknown kind `scna` (did you mean `scan`?)"
    );
    assert_eq!(
        one(json!({"steps": [{"id": "a", "kind": "scan", "needs": "b"}]})),
        "steps[0].needs: expected a list of step ids, found a string"
    );
    assert_eq!(
        one(json!({"steps": [{"id": "a"}]}))
            .split(" (")
            .next()
            .unwrap(),
        "steps[0]: step `a` does nothing"
    );
    assert!(
        one(json!({"steps": [{"id": "a", "kind": "scan", "call": {}}]}))
            .contains("has kind and call: a step does one thing")
    );
    assert_eq!(
        one(
            json!({"inputs": {"n": {"type": "integer", "default": "ten"}}, "steps": [{"id": "a", "kind": "scan"}]})
        ),
        "inputs.n.default: the default is a string, not an integer"
    );
    assert!(one(json!({"inputs": {"d": {"type": "date", "default": "2024-02-30"}}, "steps": [{"id": "a", "kind": "scan"}]})).contains("YYYY-MM-DD"));
    assert!(
        one(json!({"inputs": {"n": {"type": "strng"}}, "steps": [{"id": "a", "kind": "scan"}]}))
            .contains("did you mean `string`?")
    );
    assert!(
        one(json!({"steps": [{"id": "a b", "kind": "scan"}]}))
            .starts_with("steps[0].id: step id `a b` is not a valid name")
    );
    assert_eq!(
        one(json!({"steps": [{"id": "a", "kind": "scan", "max_parallel": 2}]})),
        "steps[0].max_parallel: `max_parallel` applies only with `for_each`"
    );
    assert!(
        one(json!({"steps": [{"id": "a", "select": {}, "code": "x"}]}))
            .starts_with("steps[0].code: unknown field `code`")
    );
}

#[test]
fn hostile_documents_get_errors_not_panics() {
    let steps: Vec<Value> = (0..10_000)
        .map(|i| json!({"id": format!("s{i}"), "kind": "scan"}))
        .collect();
    let roomy = Limits {
        max_bytes: 1 << 20,
        ..Limits::default()
    };
    let p = parse(&json!({ "steps": steps }).to_string(), &roomy).unwrap_err();
    assert_eq!(p.len(), 1);
    assert!(
        p[0].to_string()
            .starts_with("steps: 10000 steps, more than the limit of 500"),
        "{p:?}"
    );
    let big = "x".repeat(300 << 10);
    assert!(
        one(json!({"description": big, "steps": []}))
            .contains("more than the limit of 262144 bytes")
    );
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(one(Value::Null).contains("expected an object"));
    let p = parse(&deep, &Limits::default()).unwrap_err();
    assert!(p[0].message.starts_with("not JSON"), "{p:?}");
    let many: Vec<Value> = (0..100).map(|i| json!({"id": i})).collect();
    assert_eq!(
        problems(json!({ "steps": many })).len(),
        quantd_pattern::document::MAX_PROBLEMS
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "a",
            "b",
            "scan",
            "test",
            "select",
            "{{ x }}",
            "2024-01-02",
            ""
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        let keys = prop::sample::select(vec![
            "id",
            "kind",
            "needs",
            "steps",
            "inputs",
            "type",
            "default",
            "select",
            "call",
            "pattern",
            "if",
            "for_each",
            "max_parallel",
            "retry",
            "code",
            "a",
            "b",
        ]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys, inner, 0..6).prop_map(|m| Value::Object(
                m.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #[test]
    fn any_json_is_read_or_refused_without_panicking(v in json_value()) {
        match parse(&v.to_string(), &Limits::default()) {
            Ok(p) => { let _ = check(&p, &fields); }
            Err(problems) => {
                prop_assert!(!problems.is_empty() && problems.len() <= quantd_pattern::document::MAX_PROBLEMS);
            }
        }
    }
}

#[test]
fn templates_add_edges_and_name_only_what_exists() {
    let doc = json!({
        "inputs": {"pack": {"type": "string", "default": "u"}},
        "steps": [
            {"id": "bt", "kind": "backtest", "tickers": "{{ state.scan.outputs.tickers[:20] }}", "pack": "{{ inputs.pack }}"},
            {"id": "scan", "kind": "scan", "code": "dip", "pack": "{{ inputs.pack }}"},
            {"id": "each", "kind": "scan", "code": "{{ item }}", "for_each": ["a", "b"], "if": "state.bt.status == 'completed'"}
        ]
    });
    let plan = check(
        &parse(&doc.to_string(), &Limits::default()).unwrap(),
        &fields,
    )
    .unwrap();
    assert_eq!(
        plan.levels,
        vec![vec![1], vec![0], vec![2]],
        "bt reads scan's state; each's `if` reads bt's"
    );

    let p: Vec<String> = problems(json!({
        "inputs": {"pack": {"type": "string"}},
        "steps": [
            {"id": "scan", "kind": "scan", "pack": "{{ inputs.pakc }}", "code": "{{ item }}"},
            {"id": "bt", "kind": "backtest", "tickers": "{{ state.scna.outputs.tickers }}"},
            {"id": "x", "kind": "scan", "code": "{{ stat.scan }}", "expr": "{{ ctx.pack }}"},
            {"id": "y", "kind": "scan", "code": "{{ inputs.pack ", "if": "state.y.status"}
        ]
    }))
    .iter()
    .map(ToString::to_string)
    .collect();
    let has = |s: &str| p.iter().any(|t| t.starts_with(s));
    assert!(
        has("steps[0].pack: no input `pakc` (did you mean `pack`?)"),
        "{p:?}"
    );
    assert!(
        has("steps[0].code: `item` is defined only in a step with `for_each`"),
        "{p:?}"
    );
    assert!(
        has("steps[1].tickers: no step `scna` (did you mean `scan`?)"),
        "{p:?}"
    );
    assert!(
        has("steps[2].code: unknown name `stat` in a template (did you mean `state`?)"),
        "{p:?}"
    );
    assert!(
        has("steps[2].expr: no ctx field `pack` (did you mean `pack_id`?)"),
        "{p:?}"
    );
    assert!(has("steps[3].code: template: "), "{p:?}");
    assert!(has("steps[3].if: step `y` reads its own state"), "{p:?}");
}

#[test]
fn a_cycle_through_templates_is_named_too() {
    let msg = one(json!({"steps": [
        {"id": "a", "kind": "scan", "code": "{{ state.b.outputs.x }}"},
        {"id": "b", "kind": "scan", "needs": ["a"]}
    ]}));
    assert!(msg.contains("the steps form a cycle: a → b → a"), "{msg}");
}

#[test]
fn the_json_schema_names_exactly_what_the_reader_accepts() {
    let schema: Value = serde_json::from_str(quantd_pattern::JSON_SCHEMA).unwrap();
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        k.sort();
        k
    };
    assert_eq!(keys(&schema), ["description", "inputs", "steps"]);
    let mut step: Vec<String> = quantd_pattern::document::STEP_KEYS
        .iter()
        .chain(quantd_pattern::document::ACTION_KEYS.iter())
        .chain(["inputs"].iter())
        .map(|s| s.to_string())
        .collect();
    step.sort();
    assert_eq!(keys(&schema["$defs"]["step"]), step);
    assert_eq!(
        keys(&schema["$defs"]["input"]),
        ["default", "description", "type"]
    );
    assert_eq!(
        schema["$defs"]["step"]["properties"]["kind"]["enum"],
        json!(StepKind::NAMES)
    );
    assert_eq!(
        schema["$defs"]["input"]["properties"]["type"]["enum"],
        json!(quantd_pattern::InputType::NAMES)
    );
    let limits = Limits::default();
    assert_eq!(schema["properties"]["steps"]["maxItems"], limits.max_steps);
    assert_eq!(
        schema["properties"]["inputs"]["maxProperties"],
        limits.max_inputs
    );
}

#[test]
fn yaml_documents_read_like_json_with_the_same_paths() {
    let yaml = "
description: dip routine
inputs:
  pack: {type: string, default: u}
steps:
  - id: scan
    kind: scan
    expr: close > 1
    pack: '{{ inputs.pack }}'
  - id: top
    select: {from: '{{ state.scan.outputs.tickers }}', limit: 2}
";
    let json = r#"{"description": "dip routine", "inputs": {"pack": {"type": "string", "default": "u"}},
        "steps": [{"id": "scan", "kind": "scan", "expr": "close > 1", "pack": "{{ inputs.pack }}"},
                  {"id": "top", "select": {"from": "{{ state.scan.outputs.tickers }}", "limit": 2}}]}"#;
    let limits = Limits::default();
    assert_eq!(parse(yaml, &limits).unwrap(), parse(json, &limits).unwrap());
    let bad = "steps:\n  - id: a\n    kind: scna\n";
    let p = parse(bad, &limits).unwrap_err();
    assert_eq!(p[0].path, "steps[0].kind", "{p:?}");
    let broken = "steps:\n  - id: a\n   kind: [\n";
    let p = parse(broken, &limits).unwrap_err();
    assert!(
        p[0].message.starts_with("not YAML") && p[0].message.contains("line"),
        "{p:?}"
    );
    // Aliases that would expand a billion times are refused, not expanded.
    let mut laughs = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (i, prev) in ('b'..='i').zip('a'..='h') {
        laughs.push_str(&format!(
            "{i}: &{i} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    laughs.push_str("steps: *i\n");
    assert!(parse(&laughs, &limits).is_err());
}

//! The pattern document and how it is read. A pattern is JSON:
//!
//! ```json
//! {
//!   "description": "dip routine",
//!   "inputs": {"pack": {"type": "string", "default": "u"}},
//!   "steps": [
//!     {"id": "scan", "kind": "scan", "code": "dip", "pack": "{{ inputs.pack }}"},
//!     {"id": "bt", "kind": "backtest", "code": "dip-exit", "needs": ["scan"]}
//!   ]
//! }
//! ```
//!
//! A step does one thing: an execution (`kind` with the fields of that kind's request, inline),
//! a `select` over earlier outputs, a `call` to an agent, or a sub-`pattern`. Around it: `needs`,
//! `if`, `for_each` (with `max_parallel`, `tolerated_failures`), `retry`, `timeout`,
//! `continue_on_error`, `cache`. Every problem is reported with its JSON path
//! (`steps[2].needs[0]`); reading goes on after a problem so that one pass finds them all (up
//! to [`MAX_PROBLEMS`]).

use crate::Limits;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// At most this many problems are reported for one document.
pub const MAX_PROBLEMS: usize = 20;

/// One thing wrong with a pattern document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: a JSON path (`steps[2].needs[0]`), empty for the whole document.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when known.
    pub help: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)?;
        } else {
            write!(f, "{}: {}", self.path, self.message)?;
        }
        if let Some(h) = &self.help {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

/// A pattern: its inputs and its steps, in document order.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// What it is for.
    pub description: Option<String>,
    /// Its inputs by name.
    pub inputs: BTreeMap<String, Input>,
    /// Its steps, in document order.
    pub steps: Vec<Step>,
}

/// An input of a pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    /// Its type.
    pub ty: InputType,
    /// The value when the caller gives none (else the input is required).
    pub default: Option<Value>,
    /// What it means.
    pub description: Option<String>,
}

/// The type of an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputType {
    /// Text.
    String,
    /// Any number.
    Number,
    /// A whole number.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A date, `YYYY-MM-DD`.
    Date,
    /// A JSON array.
    List,
    /// A JSON object.
    Object,
}

impl InputType {
    /// Every type's name, as written in documents.
    pub const NAMES: [&'static str; 7] = [
        "string", "number", "integer", "boolean", "date", "list", "object",
    ];

    fn parse(s: &str) -> Option<InputType> {
        Some(match s {
            "string" => InputType::String,
            "number" => InputType::Number,
            "integer" => InputType::Integer,
            "boolean" => InputType::Boolean,
            "date" => InputType::Date,
            "list" => InputType::List,
            "object" => InputType::Object,
            _ => return None,
        })
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }

    /// Its name after "a" or "an".
    pub fn with_article(self) -> String {
        match self {
            InputType::Integer | InputType::Object => format!("an {}", self.name()),
            _ => format!("a {}", self.name()),
        }
    }

    /// Whether `v` is a value of this type.
    pub fn admits(self, v: &Value) -> bool {
        match self {
            InputType::String => v.is_string(),
            InputType::Number => v.is_number(),
            InputType::Integer => v.is_i64() || v.is_u64(),
            InputType::Boolean => v.is_boolean(),
            InputType::Date => v.as_str().is_some_and(|s| s.len() == 10 && is_date(s)),
            InputType::List => v.is_array(),
            InputType::Object => v.is_object(),
        }
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if !(digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10)) {
        return false;
    }
    let (y, m, d): (u32, u32, u32) = (
        s[0..4].parse().unwrap_or(0),
        s[5..7].parse().unwrap_or(0),
        s[8..10].parse().unwrap_or(0),
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// What a step does.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// An execution of `kind`; `request` holds that kind's request fields (templates unrendered).
    Execute {
        /// The execution kind.
        kind: StepKind,
        /// Its request fields, as written.
        request: Map<String, Value>,
    },
    /// Values picked out of earlier outputs (`select`).
    Select(Map<String, Value>),
    /// An agent with a capability (`call`).
    Call(Map<String, Value>),
    /// Another stored pattern (`pattern`), with its inputs.
    Pattern {
        /// Its code reference, `NAME` or `NAME@N`.
        code: String,
        /// Its inputs, as written.
        inputs: Map<String, Value>,
    },
}

/// The execution kinds a step may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepKind {
    /// A scan.
    Scan,
    /// An A+ test.
    Test,
    /// A backtest.
    Backtest,
    /// A sweep.
    Sweep,
    /// A bot script.
    Run,
}

impl StepKind {
    /// Every kind's name.
    pub const NAMES: [&'static str; 5] = ["scan", "test", "backtest", "sweep", "run"];

    fn parse(s: &str) -> Option<StepKind> {
        Some(match s {
            "scan" => StepKind::Scan,
            "test" => StepKind::Test,
            "backtest" => StepKind::Backtest,
            "sweep" => StepKind::Sweep,
            "run" => StepKind::Run,
            _ => return None,
        })
    }

    /// Its name, as an execution kind.
    pub fn name(self) -> &'static str {
        Self::NAMES[self as usize]
    }
}

/// One step of a pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its id, unique in the pattern.
    pub id: String,
    /// What it does.
    pub action: Action,
    /// Steps that must finish first (besides those its templates name).
    pub needs: Vec<String>,
    /// Run only when this condition holds (`if`).
    pub condition: Option<String>,
    /// Run once per item of this list (a template or a literal list).
    pub for_each: Option<Value>,
    /// At most this many items at once.
    pub max_parallel: Option<u32>,
    /// Items that may fail without failing the step.
    pub tolerated_failures: Option<u32>,
    /// Retries of the step's executions (the engine's retry policy fields).
    pub retry: Option<Map<String, Value>>,
    /// Seconds the step may take.
    pub timeout: Option<u64>,
    /// A failure does not stop the steps that depend on it.
    pub continue_on_error: bool,
    /// Reuse a completed identical step (default: on for deterministic kinds).
    pub cache: Option<bool>,
    /// What it is for.
    pub description: Option<String>,
}

/// The keys every step may have, whatever it does.
pub const STEP_KEYS: [&str; 11] = [
    "id",
    "needs",
    "if",
    "for_each",
    "max_parallel",
    "tolerated_failures",
    "retry",
    "timeout",
    "continue_on_error",
    "cache",
    "description",
];

/// The keys that say what a step does; exactly one per step.
pub const ACTION_KEYS: [&str; 4] = ["kind", "select", "call", "pattern"];

/// Reads a pattern from JSON or YAML text (JSON when it starts with `{` or `[`), or every problem
/// found (with paths; a syntax error with its line and column).
pub fn parse(text: &str, limits: &Limits) -> Result<Pattern, Vec<Problem>> {
    if text.len() > limits.max_bytes {
        return Err(vec![Problem {
            path: String::new(),
            message: format!(
                "the pattern is {} bytes, more than the limit of {} bytes",
                text.len(),
                limits.max_bytes
            ),
            help: Some("split it into sub-patterns (`pattern` steps)".into()),
        }]);
    }
    let syntax = |message: String| {
        vec![Problem {
            path: String::new(),
            message,
            help: None,
        }]
    };
    let value: Value = if text.trim_start().starts_with(['{', '[']) {
        serde_json::from_str(text).map_err(|e| syntax(format!("not JSON: {e}")))?
    } else {
        // YAML's anchors and aliases are expanded by the reader within its own bounds, and its
        // nesting is bounded (128 levels): no document makes it loop or overflow the stack.
        serde_norway::from_str(text).map_err(|e| syntax(format!("not YAML (nor JSON): {e}")))?
    };
    from_value(&value, limits)
}

/// Reads a pattern from a JSON value (already parsed, e.g. from a request body).
pub fn from_value(value: &Value, limits: &Limits) -> Result<Pattern, Vec<Problem>> {
    let mut r = Reader {
        problems: Vec::new(),
        limits,
    };
    let pattern = r.pattern(value);
    if r.problems.is_empty() {
        Ok(pattern)
    } else {
        Err(r.problems)
    }
}

struct Reader<'a> {
    problems: Vec<Problem>,
    limits: &'a Limits,
}

fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Text as it may be quoted in a message: cut after 40 characters.
pub(crate) fn quote(s: &str) -> String {
    let cut: String = s.chars().take(40).collect();
    if cut.len() < s.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

impl Reader<'_> {
    fn problem(&mut self, path: String, message: String, help: Option<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                path,
                message,
                help,
            });
        }
    }

    fn wrong_type(&mut self, path: String, wanted: &str, got: &Value) {
        self.problem(
            path,
            format!("expected {wanted}, found {}", type_name(got)),
            None,
        );
    }

    fn unknown_keys(&mut self, path: &str, obj: &Map<String, Value>, known: &[&str]) {
        for k in obj.keys() {
            if !known.contains(&k.as_str()) {
                let help = quantd_expr::did_you_mean(k, known.iter().copied());
                self.problem(
                    at(path, &quote(k)),
                    format!("unknown field `{}`", quote(k)),
                    help.or_else(|| Some(format!("the fields here are {}", known.join(", ")))),
                );
            }
        }
    }

    fn name(&mut self, path: String, s: &str, what: &str) -> bool {
        let ok = !s.is_empty()
            && s.chars().count() <= self.limits.max_name_len
            && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.problem(
                path,
                format!("{what} `{}` is not a valid name", quote(s)),
                Some(format!(
                    "use 1–{} letters, digits and `_`, starting with a letter (templates name it as `{{{{ … }}}}` paths)",
                    self.limits.max_name_len
                )),
            );
        }
        ok
    }

    fn pattern(&mut self, v: &Value) -> Pattern {
        let empty = Pattern {
            description: None,
            inputs: BTreeMap::new(),
            steps: Vec::new(),
        };
        let Some(obj) = v.as_object() else {
            self.wrong_type(String::new(), "an object with `steps`", v);
            return empty;
        };
        self.unknown_keys("", obj, &["description", "inputs", "steps"]);
        let description = self.text(obj, "", "description");
        let inputs = match obj.get("inputs") {
            None => BTreeMap::new(),
            Some(v) => self.inputs(v),
        };
        let steps = match obj.get("steps") {
            None => {
                self.problem(
                    String::new(),
                    "a pattern needs `steps`".into(),
                    Some("add `\"steps\": [{\"id\": \"scan\", \"kind\": \"scan\", …}]`".into()),
                );
                Vec::new()
            }
            Some(Value::Array(items)) => {
                if items.is_empty() {
                    self.problem(
                        "steps".into(),
                        "a pattern needs at least one step".into(),
                        None,
                    );
                }
                if items.len() > self.limits.max_steps {
                    self.problem(
                        "steps".into(),
                        format!(
                            "{} steps, more than the limit of {}",
                            items.len(),
                            self.limits.max_steps
                        ),
                        Some("split the pattern into sub-patterns (`pattern` steps), or fan out with `for_each`".into()),
                    );
                    return Pattern {
                        description,
                        inputs,
                        steps: Vec::new(),
                    };
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| self.step(&format!("steps[{i}]"), s))
                    .collect()
            }
            Some(other) => {
                self.wrong_type("steps".into(), "a list of steps", other);
                Vec::new()
            }
        };
        Pattern {
            description,
            inputs,
            steps,
        }
    }

    fn text(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        match obj.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.wrong_type(at(path, key), "a string", other);
                None
            }
        }
    }

    fn whole(&mut self, obj: &Map<String, Value>, path: &str, key: &str) -> Option<u64> {
        let v = obj.get(key)?;
        let n = v.as_u64();
        if n.is_none() {
            self.wrong_type(at(path, key), "a whole number ≥ 0", v);
        }
        n
    }

    fn inputs(&mut self, v: &Value) -> BTreeMap<String, Input> {
        let Some(obj) = v.as_object() else {
            self.wrong_type("inputs".into(), "an object of inputs by name", v);
            return BTreeMap::new();
        };
        if obj.len() > self.limits.max_inputs {
            self.problem(
                "inputs".into(),
                format!(
                    "{} inputs, more than the limit of {}",
                    obj.len(),
                    self.limits.max_inputs
                ),
                None,
            );
            return BTreeMap::new();
        }
        let mut out = BTreeMap::new();
        for (name, spec) in obj {
            let path = format!("inputs.{}", quote(name));
            if !self.name(path.clone(), name, "input") {
                continue;
            }
            if let Some(input) = self.input(&path, spec) {
                out.insert(name.clone(), input);
            }
        }
        out
    }

    fn input(&mut self, path: &str, v: &Value) -> Option<Input> {
        let Some(obj) = v.as_object() else {
            self.wrong_type(path.into(), "an object such as {\"type\": \"string\"}", v);
            return None;
        };
        self.unknown_keys(path, obj, &["type", "default", "description"]);
        let description = self.text(obj, path, "description");
        let ty = match obj.get("type") {
            None => {
                self.problem(
                    path.into(),
                    "an input needs a `type`".into(),
                    Some(format!("one of {}", InputType::NAMES.join(", "))),
                );
                return None;
            }
            Some(Value::String(t)) => match InputType::parse(t) {
                Some(ty) => ty,
                None => {
                    let help = quantd_expr::did_you_mean(t, InputType::NAMES)
                        .unwrap_or_else(|| format!("one of {}", InputType::NAMES.join(", ")));
                    self.problem(
                        at(path, "type"),
                        format!("unknown type `{}`", quote(t)),
                        Some(help),
                    );
                    return None;
                }
            },
            Some(other) => {
                self.wrong_type(at(path, "type"), "a type name", other);
                return None;
            }
        };
        let default = obj.get("default").cloned();
        if let Some(d) = &default
            && !ty.admits(d)
        {
            self.problem(
                at(path, "default"),
                format!("the default is {}, not {}", type_name(d), ty.with_article()),
                (ty == InputType::Date).then(|| "write dates as \"YYYY-MM-DD\"".to_string()),
            );
        }
        Some(Input {
            ty,
            default,
            description,
        })
    }

    fn step(&mut self, path: &str, v: &Value) -> Option<Step> {
        let Some(obj) = v.as_object() else {
            self.wrong_type(path.into(), "a step object", v);
            return None;
        };
        let id = match obj.get("id") {
            Some(Value::String(s)) => {
                self.name(at(path, "id"), s, "step id");
                s.clone()
            }
            Some(other) => {
                self.wrong_type(at(path, "id"), "a step id (a string)", other);
                return None;
            }
            None => {
                self.problem(path.into(), "a step needs an `id`".into(), None);
                return None;
            }
        };
        let actions: Vec<&str> = ACTION_KEYS
            .iter()
            .copied()
            .filter(|k| obj.contains_key(*k))
            .collect();
        let action = match actions.as_slice() {
            [one] => self.action(path, obj, one)?,
            [] => {
                self.problem(
                    path.into(),
                    format!("step `{}` does nothing", quote(&id)),
                    Some("give it one of `kind` (scan, test, backtest, sweep, run), `select`, `call` or `pattern`".into()),
                );
                return None;
            }
            many => {
                self.problem(
                    path.into(),
                    format!(
                        "step `{}` has {}: a step does one thing",
                        quote(&id),
                        many.join(" and ")
                    ),
                    Some("split it into steps".into()),
                );
                return None;
            }
        };
        let needs = match obj.get("needs") {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, n)| match n {
                    Value::String(s) => Some(s.clone()),
                    other => {
                        self.wrong_type(format!("{path}.needs[{i}]"), "a step id", other);
                        None
                    }
                })
                .collect(),
            Some(other) => {
                self.wrong_type(at(path, "needs"), "a list of step ids", other);
                Vec::new()
            }
        };
        let retry = match obj.get("retry") {
            None => None,
            Some(Value::Object(m)) => Some(m.clone()),
            Some(other) => {
                self.wrong_type(at(path, "retry"), "an object of retry fields", other);
                None
            }
        };
        let for_each = obj.get("for_each").cloned();
        if let Some(f) = &for_each
            && !(f.is_array() || f.is_string())
        {
            self.wrong_type(
                at(path, "for_each"),
                "a list or a template that makes one",
                f,
            );
        }
        let flag = |r: &mut Self, key: &str| match obj.get(key) {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(other) => {
                r.wrong_type(at(path, key), "true or false", other);
                None
            }
        };
        let continue_on_error = flag(self, "continue_on_error").unwrap_or(false);
        let cache = flag(self, "cache");
        let narrow = |n: Option<u64>| n.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        let step = Step {
            action,
            needs,
            condition: self.text(obj, path, "if"),
            max_parallel: narrow(self.whole(obj, path, "max_parallel")),
            tolerated_failures: narrow(self.whole(obj, path, "tolerated_failures")),
            timeout: self.whole(obj, path, "timeout"),
            description: self.text(obj, path, "description"),
            retry,
            for_each,
            continue_on_error,
            cache,
            id,
        };
        if step.for_each.is_none() {
            for key in ["max_parallel", "tolerated_failures"] {
                if obj.contains_key(key) {
                    self.problem(
                        at(path, key),
                        format!("`{key}` applies only with `for_each`"),
                        None,
                    );
                }
            }
        }
        Some(step)
    }

    /// The step's action; for an execution the keys other than the step's own are its request.
    fn action(&mut self, path: &str, obj: &Map<String, Value>, key: &str) -> Option<Action> {
        let rest = |extra: &[&str]| -> Map<String, Value> {
            obj.iter()
                .filter(|(k, _)| !STEP_KEYS.contains(&k.as_str()) && !extra.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        match key {
            "kind" => {
                let kind = match &obj["kind"] {
                    Value::String(k) => match StepKind::parse(k) {
                        Some(kind) => kind,
                        None => {
                            let help = quantd_expr::did_you_mean(k, StepKind::NAMES).unwrap_or_else(|| {
                                format!(
                                    "a step runs one of {}; `select`, `call` and `pattern` are keys of their own",
                                    StepKind::NAMES.join(", ")
                                )
                            });
                            self.problem(
                                at(path, "kind"),
                                format!("unknown kind `{}`", quote(k)),
                                Some(help),
                            );
                            return None;
                        }
                    },
                    other => {
                        self.wrong_type(at(path, "kind"), "an execution kind", other);
                        return None;
                    }
                };
                Some(Action::Execute {
                    kind,
                    request: rest(&["kind"]),
                })
            }
            "select" | "call" => {
                let body = match &obj[key] {
                    Value::Object(m) => m.clone(),
                    other => {
                        self.wrong_type(at(path, key), "an object", other);
                        return None;
                    }
                };
                let known: Vec<&str> = STEP_KEYS.iter().copied().chain([key]).collect();
                self.unknown_keys(path, &rest(&[key]), &known);
                Some(if key == "select" {
                    Action::Select(body)
                } else {
                    Action::Call(body)
                })
            }
            _ => {
                let code = match &obj["pattern"] {
                    Value::String(s) => s.clone(),
                    other => {
                        self.wrong_type(
                            at(path, "pattern"),
                            "a stored pattern's name (`NAME` or `NAME@N`)",
                            other,
                        );
                        return None;
                    }
                };
                let inputs = match obj.get("inputs") {
                    None => Map::new(),
                    Some(Value::Object(m)) => m.clone(),
                    Some(other) => {
                        self.wrong_type(
                            at(path, "inputs"),
                            "an object of the sub-pattern's inputs",
                            other,
                        );
                        Map::new()
                    }
                };
                let known: Vec<&str> = STEP_KEYS
                    .iter()
                    .copied()
                    .chain(["pattern", "inputs"])
                    .collect();
                self.unknown_keys(path, &rest(&["pattern", "inputs"]), &known);
                Some(Action::Pattern { code, inputs })
            }
        }
    }
}

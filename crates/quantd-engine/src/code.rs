//! The code registry's rules: what a scanner or strategy source is, how it is validated before
//! it is stored, how `NAME[@N]` references resolve, which names are allowed.
//!
//! Expressions are checked here; Python is checked in the sandbox by `python -m quantd.validate`
//! (syntax, imports outside the allow-list, the decorated entry point and its `params`), through
//! the newest Python runner of the process ([`crate::python::Python::newest`]), and a stored
//! scanner or strategy must define exactly one entry point. Problems become the same
//! line-and-column diagnostics as expressions' ([`EngineError::Expression`]). Without a runner
//! (or a runtime) Python code is refused with the reason, never accepted unchecked.
//!
//! Names never look like a content id or its prefix (8 or more hex digits), nor like a path
//! (`.`, `..`, a leading dot): a name can never shadow an id.

use crate::error::{EngineError, Result};
use crate::python::Python;
use quantd_core::CodeVersionId;
use quantd_expr::Schema;
use quantd_sandbox::ValidationReport;
use quantd_store::Added;
use quantd_store::{CodeVersion, Page, Store};
use serde::{Deserialize, Serialize};

/// A strategy written in the expression language: entry and exit conditions, long and short.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StrategyExprs {
    /// Enter long when true.
    pub entry: String,
    /// Exit long when true.
    pub exit: String,
    /// Enter short when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_entry: Option<String>,
    /// Exit short when true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_exit: Option<String>,
}

impl StrategyExprs {
    /// The named expressions, for `compile_set`.
    pub fn named(&self) -> Vec<(&'static str, &str)> {
        let mut v = vec![("entry", self.entry.as_str()), ("exit", self.exit.as_str())];
        if let Some(s) = &self.short_entry {
            v.push(("short_entry", s));
        }
        if let Some(s) = &self.short_exit {
            v.push(("short_exit", s));
        }
        v
    }
}

/// Source code of a scanner or strategy.
#[derive(Debug, Clone, PartialEq)]
pub enum CodeSource {
    /// A scanner expression.
    Expr(String),
    /// A strategy of expressions.
    Strategy(StrategyExprs),
    /// A Python file defining one `@qd.scanner` or `@qd.strategy`.
    Python(String),
    /// A pattern document (JSON text; see quantd-pattern).
    Pattern(String),
}

impl CodeSource {
    /// The stored language tag.
    pub fn language(&self) -> &'static str {
        match self {
            CodeSource::Expr(_) => "expr",
            CodeSource::Strategy(_) => "strategy",
            CodeSource::Python(_) => "python",
            CodeSource::Pattern(_) => "pattern",
        }
    }

    /// The stored text.
    pub fn text(&self) -> String {
        match self {
            CodeSource::Expr(s) | CodeSource::Python(s) | CodeSource::Pattern(s) => s.clone(),
            CodeSource::Strategy(s) => serde_json::to_string(s).expect("strategy serializes"),
        }
    }

    /// Rebuilds a source from its stored form.
    pub fn from_stored(language: &str, text: &str) -> Result<CodeSource> {
        Ok(match language {
            "expr" => CodeSource::Expr(text.to_string()),
            "python" => CodeSource::Python(text.to_string()),
            "pattern" => CodeSource::Pattern(text.to_string()),
            "strategy" => CodeSource::Strategy(
                serde_json::from_str(text)
                    .map_err(|e| EngineError::Internal(format!("stored strategy: {e}")))?,
            ),
            other => {
                return Err(EngineError::Internal(format!(
                    "unknown code language `{other}`"
                )));
            }
        })
    }

    /// The content id: BLAKE3 of language and text.
    pub fn id(&self) -> CodeVersionId {
        let mut h = blake3::Hasher::new();
        h.update(self.language().as_bytes());
        h.update(b"\0");
        h.update(self.text().as_bytes());
        CodeVersionId::from_digest(*h.finalize().as_bytes())
    }

    /// Parses and type-checks expression code against `columns`, or validates Python code in
    /// the sandbox (blocking for one sandbox job; see the module docs); returns the parameters.
    /// Async callers use [`check`], which does the Python part off the runtime.
    pub fn validate(&self, columns: &[String]) -> Result<Vec<String>> {
        let schema = Schema::new(columns.iter().cloned());
        match self {
            CodeSource::Expr(src) => quantd_expr::check(src, &schema)
                .map(|info| info.params)
                .map_err(|e| EngineError::Expression {
                    rendered: e.render(src),
                    message: e.to_string(),
                    diagnostics: e.diagnostics,
                }),
            CodeSource::Strategy(s) => {
                let named = s.named();
                quantd_expr::check_set(&named, &schema)
                    .map(|info| info.params)
                    .map_err(|e| EngineError::Expression {
                        rendered: e.render_set(&named),
                        message: e.to_string(),
                        diagnostics: e.diagnostics,
                    })
            }
            CodeSource::Pattern(text) => {
                crate::pattern::check(text).map(|(p, _)| p.inputs.into_keys().collect())
            }
            CodeSource::Python(src) => {
                if src.trim().is_empty() {
                    return Err(EngineError::Invalid("the Python file is empty".into()));
                }
                let python = Python::newest().ok_or_else(|| {
                    EngineError::Internal(
                        "Python code is validated in the sandbox, and this process has no Python runner open (open the engine first)".into(),
                    )
                })?;
                python_params(src, &python.check_code(src)?)
            }
        }
    }
}

/// The parameters of validated Python code (its entry point's `params`), or its problems as
/// diagnostics: the validator's, and a missing or second entry point.
fn python_params(source: &str, report: &ValidationReport) -> Result<Vec<String>> {
    use quantd_expr::Diagnostic;
    let mut diagnostics: Vec<Diagnostic> = report
        .errors
        .iter()
        .map(|p| python_diagnostic(source, p.line, p.column, &p.message))
        .collect();
    // Code that does not parse has no entry points to count.
    let parsed = !report
        .errors
        .iter()
        .any(|e| e.message.starts_with("syntax error"));
    match report.entry_points.as_slice() {
        [entry] if diagnostics.is_empty() => return Ok(entry.params.keys().cloned().collect()),
        [_] => {}
        [] if !parsed => {}
        [] => diagnostics.push(Diagnostic {
            help: Some(
                "decorate the function that takes the bars with `@qd.scanner(params={...})` or `@qd.strategy(params={...})`".into(),
            ),
            ..python_diagnostic(source, None, None, "no entry point: the code defines no `@qd.scanner` or `@qd.strategy` function")
        }),
        [first, second, ..] => {
            let names: Vec<&str> = report.entry_points.iter().map(|e| e.name.as_str()).collect();
            diagnostics.push(Diagnostic {
                help: Some(format!(
                    "keep `{}` here and store the others under their own names",
                    first.name
                )),
                ..python_diagnostic(
                    source,
                    Some(second.line),
                    Some(1),
                    &format!(
                        "{} entry points ({}); stored code defines exactly one",
                        names.len(),
                        names.join(", ")
                    ),
                )
            });
        }
    }
    let rendered: Vec<String> = diagnostics.iter().map(|d| d.render(source)).collect();
    let message = diagnostics
        .first()
        .map_or_else(String::new, |d| match &d.location {
            Some(l) => format!("{}:{}: {}", l.line, l.column, d.message),
            None => d.message.clone(),
        });
    Err(EngineError::Expression {
        rendered: rendered.join("\n"),
        message,
        diagnostics,
    })
}

/// One of the Python validator's problems (1-based line and column, when it has them) as a
/// diagnostic pointing at that place of `source`: the word there is underlined, and a message
/// of the form `what (how)` gives its help line.
fn python_diagnostic(
    source: &str,
    line: Option<u32>,
    column: Option<u32>,
    message: &str,
) -> quantd_expr::Diagnostic {
    let (message, help) = match message.split_once(" (allowed: ") {
        Some((what, allowed)) => (
            what.to_string(),
            Some(format!(
                "the sandbox allows only these imports: {}",
                allowed.trim_end_matches(')')
            )),
        ),
        None => (message.to_string(), None),
    };
    let location = line.map(|line| {
        let lines = source.split_inclusive('\n').count().max(1);
        let line = (line as usize).clamp(1, lines);
        let start: usize = source
            .split_inclusive('\n')
            .take(line - 1)
            .map(str::len)
            .sum();
        let text = source[start..].lines().next().unwrap_or("");
        let column = (column.unwrap_or(1) as usize).clamp(1, text.chars().count() + 1);
        let at = start
            + text
                .char_indices()
                .nth(column - 1)
                .map_or(text.len(), |(i, _)| i);
        let rest = &source[at..];
        let word = match rest.find(|c: char| !(c.is_alphanumeric() || c == '_')) {
            Some(0) => rest.chars().next().map_or(0, char::len_utf8),
            Some(n) => n,
            None => rest.len(),
        };
        quantd_expr::Location {
            span: quantd_expr::Span::new(at, at + word),
            line,
            column,
        }
    });
    quantd_expr::Diagnostic {
        message,
        location,
        help,
        origin: None,
        limit: None,
    }
}

/// A reference to stored code: `NAME` (current version) or `NAME@N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeRefText {
    /// The name.
    pub name: String,
    /// The version, when given.
    pub version: Option<u32>,
}

impl std::str::FromStr for CodeRefText {
    type Err = EngineError;
    fn from_str(s: &str) -> Result<Self> {
        let (name, version) = match s.split_once('@') {
            Some((n, v)) => {
                let v: u32 = v.parse().ok().filter(|&v| v >= 1).ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "`{s}`: the version after `@` must be a number from 1, e.g. `{n}@2`"
                    ))
                })?;
                (n, Some(v))
            }
            None => (s, None),
        };
        check_reference_name(name)?;
        Ok(CodeRefText {
            name: name.to_string(),
            version,
        })
    }
}

/// The characters of a code name, and its length: 1–64 letters, digits, `-`, `_`, `.`.
fn name_chars_ok(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Hex digits from which on a name could be taken for a content id or an id prefix.
const ID_LIKE_HEX: usize = 8;

/// A new code name: 1–64 letters, digits, `-`, `_`, `.`; not starting with `.` (so never `.` or
/// `..`); not 8 or more hex digits only, which could be read as a code version's id or its
/// prefix.
pub fn check_code_name(name: &str) -> Result<()> {
    let shown = crate::python::shown(name, 64);
    let why = if !name_chars_ok(name) {
        "use 1–64 letters, digits, `-`, `_` or `.`"
    } else if name.starts_with('.') {
        "names do not start with `.` (`.` and `..` read as paths); start with a letter or digit"
    } else if name.len() >= ID_LIKE_HEX && name.bytes().all(|b| b.is_ascii_hexdigit()) {
        "it could be read as a content id or an id prefix (8 or more hex digits); add a letter outside a–f, e.g. a prefix such as `s-`"
    } else {
        return Ok(());
    };
    Err(EngineError::Invalid(format!(
        "code name `{shown}` is not allowed: {why}"
    )))
}

/// A name in a reference to stored code: the characters of a name only, so that code stored
/// under an older, laxer rule stays reachable.
fn check_reference_name(name: &str) -> Result<()> {
    if name_chars_ok(name) {
        return Ok(());
    }
    Err(EngineError::Invalid(format!(
        "code name `{}` is not allowed; use 1–64 letters, digits, `-`, `_` or `.`",
        crate::python::shown(name, 64)
    )))
}

/// The columns code may use: OHLCV and every column of any pack in the catalog.
pub async fn known_columns(store: &impl Store) -> Result<Vec<String>> {
    let mut cols: Vec<String> = quantd_data::bars::BASE_COLUMNS
        .iter()
        .map(|s| s.to_string())
        .collect();
    for p in store.list_packs(&Page::all()).await?.items {
        for c in p.columns {
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
    }
    Ok(cols)
}

/// Validates code without storing it (what `POST /v1/validate` answers): its parameters, or its
/// problems with line and column. Python is validated in the sandbox, off the async runtime.
pub async fn check(store: &impl Store, source: &CodeSource) -> Result<Vec<String>> {
    let columns = known_columns(store).await?;
    match source {
        CodeSource::Python(_) => {
            let source = source.clone();
            crate::packs::blocking(move || source.validate(&columns)).await?
        }
        _ => source.validate(&columns),
    }
}

/// Validates and stores a version of `name` in `workspace`; invalid code or an invalid name
/// changes nothing.
pub async fn add(
    store: &impl Store,
    workspace: &str,
    name: &str,
    source: &CodeSource,
) -> Result<Added> {
    check_code_name(name)?;
    let params = check(store, source).await?;
    Ok(store
        .add_code(
            workspace,
            name,
            &source.id(),
            source.language(),
            &source.text(),
            &params,
        )
        .await?)
}

/// Resolves `NAME[@N]` in `workspace` to a stored version, or says what exists there.
pub async fn resolve(store: &impl Store, workspace: &str, reference: &str) -> Result<CodeVersion> {
    let r: CodeRefText = reference.parse()?;
    if let Some(v) = store.code_version(workspace, &r.name, r.version).await? {
        return Ok(v);
    }
    let versions = store
        .code_versions(workspace, &r.name, &Page::all())
        .await?
        .items;
    let hint = match (versions.is_empty(), r.version) {
        (true, _) => {
            let names: Vec<String> = store
                .code_names(workspace, &Page::first(20))
                .await?
                .items
                .into_iter()
                .map(|n| n.name)
                .collect();
            if names.is_empty() {
                "; add code with `quantd code add NAME --expr EXPR`".to_string()
            } else {
                format!("; stored code: {}", names.join(", "))
            }
        }
        (false, Some(_)) => format!("; `{}` has versions 1 to {}", r.name, versions.len()),
        (false, None) => format!(
            "; `{}` was removed; its versions are still `{}@1` to `{}@{}`",
            r.name,
            r.name,
            r.name,
            versions.len()
        ),
    };
    Err(EngineError::NotFound {
        what: format!("code `{reference}`"),
        hint,
    })
}

/// Points `name` (in `workspace`) at an earlier version: `to`, or the one before the current.
pub async fn rollback(
    store: &impl Store,
    workspace: &str,
    name: &str,
    to: Option<u32>,
) -> Result<CodeVersion> {
    let current = resolve(store, workspace, name).await?;
    let target = match to {
        Some(v) => v,
        None if current.version > 1 => current.version - 1,
        None => {
            return Err(EngineError::Invalid(format!(
                "`{name}` is at version 1; there is nothing to roll back to"
            )));
        }
    };
    if !store.set_current_code(workspace, name, target).await? {
        return Err(EngineError::NotFound {
            what: format!("version {target} of `{name}`"),
            hint: format!(
                "; it has versions 1 to {}",
                store
                    .code_versions(workspace, name, &Page::all())
                    .await?
                    .items
                    .len()
            ),
        });
    }
    resolve(store, workspace, name).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_with_clear_errors() {
        let r: CodeRefText = "rsi-dip@3".parse().unwrap();
        assert_eq!((r.name.as_str(), r.version), ("rsi-dip", Some(3)));
        assert_eq!("x".parse::<CodeRefText>().unwrap().version, None);
        assert!(
            "x@0"
                .parse::<CodeRefText>()
                .unwrap_err()
                .to_string()
                .contains("number from 1")
        );
        assert!("a b".parse::<CodeRefText>().is_err());
    }

    #[test]
    fn ids_depend_on_language_and_text() {
        let a = CodeSource::Expr("close > 1".into());
        assert_eq!(a.id(), CodeSource::Expr("close > 1".into()).id());
        assert_ne!(a.id(), CodeSource::Expr("close > 2".into()).id());
        assert_ne!(a.id(), CodeSource::Python("close > 1".into()).id());
        let s = CodeSource::Strategy(StrategyExprs {
            entry: "close > 1".into(),
            exit: "close < 1".into(),
            ..Default::default()
        });
        assert_eq!(CodeSource::from_stored("strategy", &s.text()).unwrap(), s);
    }

    #[test]
    fn validation_finds_errors_before_storing() {
        let cols: Vec<String> = ["open", "high", "low", "close", "volume"]
            .map(String::from)
            .to_vec();
        let err = CodeSource::Expr("close > smaa(close, 5)".into())
            .validate(&cols)
            .unwrap_err();
        assert!(err.to_string().contains("did you mean `sma`"), "{err}");
        let params = CodeSource::Expr("rsi(close, 14) < $rsi_max".into())
            .validate(&cols)
            .unwrap();
        assert_eq!(params, ["rsi_max"]);
    }

    #[test]
    fn names_that_look_like_ids_or_paths_are_refused() {
        for bad in [
            ".",
            "..",
            ".hidden",
            "a/b",
            "../etc",
            "a\nb",
            "nul\0",
            "deadbeef",
            "DEADBEEF01",
            "0123456789ab",
            &"a".repeat(64),
            "",
            &"x".repeat(65),
        ] {
            let e = check_code_name(bad).unwrap_err().to_string();
            assert!(e.starts_with("code name `"), "{bad:?}: {e}");
            assert!(!e.contains('\n') && !e.contains('\0'), "escaped: {e}");
        }
        let e = check_code_name("c0ffee42").unwrap_err().to_string();
        assert!(e.contains("content id or an id prefix"), "{e}");
        let e = check_code_name("..").unwrap_err().to_string();
        assert!(e.contains("do not start with `.`"), "{e}");
        for good in [
            "rsi-dip",
            "v1.2",
            "deadbee",
            "s-deadbeef",
            "dead_beef",
            "x",
            "sma_cross",
        ] {
            check_code_name(good).unwrap();
        }
        // Code stored under the older rule stays reachable by reference.
        assert_eq!(
            "deadbeef@2".parse::<CodeRefText>().unwrap().name,
            "deadbeef"
        );
    }

    fn report(
        errors: &[(Option<u32>, Option<u32>, &str)],
        entries: &[(&str, u32)],
    ) -> ValidationReport {
        ValidationReport {
            ok: errors.is_empty(),
            errors: errors
                .iter()
                .map(|&(line, column, message)| quantd_sandbox::CodeProblem {
                    line,
                    column,
                    message: message.into(),
                })
                .collect(),
            entry_points: entries
                .iter()
                .map(|&(name, line)| quantd_sandbox::EntryPointInfo {
                    name: name.into(),
                    kind: "scanner".into(),
                    params: [("n".to_string(), serde_json::json!(20))]
                        .into_iter()
                        .collect(),
                    line,
                    style: None,
                })
                .collect(),
            elapsed: std::time::Duration::ZERO,
        }
    }

    fn diagnostics(source: &str, r: &ValidationReport) -> (String, Vec<quantd_expr::Diagnostic>) {
        match python_params(source, r).unwrap_err() {
            EngineError::Expression {
                rendered,
                diagnostics,
                ..
            } => (rendered, diagnostics),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn python_problems_become_diagnostics_with_line_and_column() {
        let src = "import quantd as qd\nimport os\n\n@qd.scanner(params={})\ndef s(bars):\n    return bars.close > 0\n";
        assert_eq!(
            python_params(src, &report(&[], &[("s", 5)])).unwrap(),
            ["n"]
        );
        let allowed = "import of 'os' is not allowed (allowed: numpy, pandas)";
        let (rendered, d) = diagnostics(src, &report(&[(Some(2), Some(1), allowed)], &[("s", 5)]));
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].message, "import of 'os' is not allowed");
        assert_eq!(
            d[0].help.as_deref(),
            Some("the sandbox allows only these imports: numpy, pandas")
        );
        let loc = d[0].location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (2, 1));
        assert_eq!(&src[loc.span.start..loc.span.end], "import");
        assert!(rendered.contains("2 | import os"), "{rendered}");

        // A syntax error at the end of the last line (Python may say the line after it).
        let bad = "def (";
        let (_, d) = diagnostics(
            bad,
            &report(&[(Some(2), Some(9), "syntax error: invalid syntax")], &[]),
        );
        let loc = d[0].location.as_ref().unwrap();
        assert_eq!((loc.line, loc.column), (1, 6));
        assert_eq!(loc.span.start, bad.len());
        assert_eq!(
            d.len(),
            1,
            "code that does not parse has no entry points to count: {d:?}"
        );
    }

    #[test]
    fn stored_python_code_defines_exactly_one_entry_point() {
        let (_, d) = diagnostics("x = 1\n", &report(&[], &[]));
        assert!(d[0].message.starts_with("no entry point"), "{d:?}");
        assert!(d[0].location.is_none());
        assert!(d[0].help.as_deref().unwrap().contains("@qd.scanner"));
        let two = "import quantd as qd\n@qd.scanner()\ndef a(bars):\n    return bars.close > 0\n@qd.scanner()\ndef b(bars):\n    return bars.close > 1\n";
        let (_, d) = diagnostics(two, &report(&[], &[("a", 3), ("b", 6)]));
        assert_eq!(
            d[0].message,
            "2 entry points (a, b); stored code defines exactly one"
        );
        assert_eq!(d[0].location.as_ref().unwrap().line, 6);
    }
}

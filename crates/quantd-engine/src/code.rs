//! The code registry's rules: what a scanner or strategy source is, how it is validated before
//! it is stored, how `NAME[@N]` references resolve.

use crate::error::{EngineError, Result};
use quantd_core::CodeVersionId;
use quantd_expr::Schema;
use quantd_store::code::Added;
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
    /// A Python file (runs once the sandbox lands; stored and hashed now).
    Python(String),
}

impl CodeSource {
    /// The stored language tag.
    pub fn language(&self) -> &'static str {
        match self {
            CodeSource::Expr(_) => "expr",
            CodeSource::Strategy(_) => "strategy",
            CodeSource::Python(_) => "python",
        }
    }

    /// The stored text.
    pub fn text(&self) -> String {
        match self {
            CodeSource::Expr(s) | CodeSource::Python(s) => s.clone(),
            CodeSource::Strategy(s) => serde_json::to_string(s).expect("strategy serializes"),
        }
    }

    /// Rebuilds a source from its stored form.
    pub fn from_stored(language: &str, text: &str) -> Result<CodeSource> {
        Ok(match language {
            "expr" => CodeSource::Expr(text.to_string()),
            "python" => CodeSource::Python(text.to_string()),
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

    /// Parses and type-checks expression code against `columns`; returns the parameters used.
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
            CodeSource::Python(src) => {
                if src.trim().is_empty() {
                    return Err(EngineError::Invalid("the Python file is empty".into()));
                }
                Ok(vec![])
            }
        }
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
        check_code_name(name)?;
        Ok(CodeRefText {
            name: name.to_string(),
            version,
        })
    }
}

/// Code names: letters, digits, `-`, `_`, `.`.
pub fn check_code_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(EngineError::Invalid(format!(
            "code name `{name}` is not allowed; use 1–64 letters, digits, `-`, `_` or `.`"
        )))
    }
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

/// Validates and stores a version of `name` in `workspace`.
pub async fn add(
    store: &impl Store,
    workspace: &str,
    name: &str,
    source: &CodeSource,
) -> Result<Added> {
    check_code_name(name)?;
    let params = source.validate(&known_columns(store).await?)?;
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
}

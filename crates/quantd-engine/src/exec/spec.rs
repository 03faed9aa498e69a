//! What the engine stores after resolving a request's names: each kind's resolved spec (in its
//! module under [`super::kinds`]) holds the code text and its version id, the pack id, the
//! parameters. A stored spec alone is enough to run the execution again after a crash, and its
//! fingerprint names the result: same fingerprint, same results.
//!
//! Stored, a spec is one JSON object: `{"kind": "scan", ...the kind's fields}`.

use super::ENGINE_VERSION;
use super::request::SubmitRequest;
use crate::code;
use crate::code::StrategyExprs;
use crate::error::{EngineError, Result};
use quantd_core::ExecutionKind;
use quantd_store::Store;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Stored code an execution runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeInfo {
    /// Its name.
    pub name: String,
    /// Its version number.
    pub version: u32,
    /// Its content id.
    pub id: String,
}

/// A kind's resolved spec as stored with its execution: the kind's fields with `kind` added.
pub(crate) fn stored(kind: ExecutionKind, spec: &impl Serialize) -> Value {
    let mut value = serde_json::to_value(spec).expect("specs serialize");
    if let Some(obj) = value.as_object_mut() {
        obj.insert(
            "kind".into(),
            serde_json::to_value(kind).expect("kinds serialize"),
        );
    }
    value
}

/// Hash of everything that decides the results: the engine version and the whole stored spec
/// (code text, pack, parameters, tickers, dates, …) except the code's name and number, which do
/// not change what runs.
pub(crate) fn fingerprint(stored: &Value) -> String {
    let mut spec = stored.clone();
    if let Some(obj) = spec.as_object_mut() {
        obj.remove("code");
        if let Some(b) = obj.get_mut("backtest").and_then(|b| b.as_object_mut()) {
            b.remove("code");
        }
    }
    let input = serde_json::json!({ "engine": ENGINE_VERSION, "spec": spec });
    blake3::hash(input.to_string().as_bytes())
        .to_hex()
        .to_string()
}

/// Where a scanner's code comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum CodeChoice {
    /// Expression text given inline.
    Inline(String),
    /// Stored code: `NAME` or `NAME@N`.
    Stored(String),
    /// Python scanner source given inline; runs in the sandbox.
    Python(String),
}

impl CodeChoice {
    /// Exactly one of a request's `code`, `expr` or `python`.
    pub(crate) fn of(request: &mut SubmitRequest) -> Result<CodeChoice> {
        match (
            request.code.take(),
            request.expr.take(),
            request.python.take(),
        ) {
            (Some(c), None, None) => Ok(CodeChoice::Stored(c)),
            (None, Some(e), None) => Ok(CodeChoice::Inline(e)),
            (None, None, Some(p)) => Ok(CodeChoice::Python(p)),
            _ => Err(EngineError::Invalid(
                "give exactly one of `code`, `expr` or `python` for a scanner".into(),
            )),
        }
    }
}

/// Where a strategy comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StrategyChoice {
    /// Expressions given inline.
    Inline(StrategyExprs),
    /// Stored strategy code: `NAME` or `NAME@N`.
    Stored(String),
    /// Python strategy source given inline; runs in the sandbox.
    Python(String),
}

impl StrategyChoice {
    /// Exactly one of a request's `code`, `strategy` or `python`.
    pub(crate) fn of(request: &mut SubmitRequest) -> Result<StrategyChoice> {
        match (
            request.code.take(),
            request.strategy.take(),
            request.python.take(),
        ) {
            (Some(c), None, None) => Ok(StrategyChoice::Stored(c)),
            (None, Some(s), None) => Ok(StrategyChoice::Inline(s)),
            (None, None, Some(p)) => Ok(StrategyChoice::Python(p)),
            _ => Err(EngineError::Invalid(
                "give exactly one of `code`, `strategy` or `python` for a strategy".into(),
            )),
        }
    }
}

/// Resolves a code choice to expression or Python text, whether it is Python, and the stored
/// version it came from.
pub(crate) async fn scanner_text(
    store: &impl Store,
    workspace: &str,
    choice: CodeChoice,
) -> Result<(String, bool, Option<CodeInfo>)> {
    match choice {
        CodeChoice::Inline(text) => Ok((text, false, None)),
        CodeChoice::Python(text) => Ok((text, true, None)),
        CodeChoice::Stored(reference) => {
            let v = code::resolve(store, workspace, &reference).await?;
            if v.language != "expr" && v.language != "python" {
                return Err(EngineError::Invalid(format!(
                    "`{reference}` is {} code, not a scanner (an expression or a Python file)",
                    v.language
                )));
            }
            Ok((
                v.source.clone(),
                v.language == "python",
                Some(CodeInfo {
                    name: v.name,
                    version: v.version,
                    id: v.id.to_string(),
                }),
            ))
        }
    }
}

/// Resolves a strategy choice to its expressions or Python source (and the stored version it
/// came from).
pub(crate) async fn strategy_exprs(
    store: &impl Store,
    workspace: &str,
    choice: StrategyChoice,
) -> Result<(StrategyExprs, Option<String>, Option<CodeInfo>)> {
    match choice {
        StrategyChoice::Inline(s) => Ok((s, None, None)),
        StrategyChoice::Python(text) => Ok((StrategyExprs::default(), Some(text), None)),
        StrategyChoice::Stored(reference) => {
            let v = code::resolve(store, workspace, &reference).await?;
            let info = CodeInfo {
                name: v.name.clone(),
                version: v.version,
                id: v.id.to_string(),
            };
            match code::CodeSource::from_stored(&v.language, &v.source)? {
                code::CodeSource::Python(text) => {
                    Ok((StrategyExprs::default(), Some(text), Some(info)))
                }
                code::CodeSource::Strategy(s) => Ok((s, None, Some(info))),
                _ => Err(EngineError::Invalid(format!(
                    "`{reference}` is {} code, not a strategy; add one with `quantd code add NAME --entry .. --exit ..`",
                    v.language
                ))),
            }
        }
    }
}

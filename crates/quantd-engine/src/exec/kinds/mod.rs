//! Execution kinds, one module each: what a kind takes from a [`SubmitRequest`], how it
//! resolves names into the spec stored with its executions, the job that runs its shards, the
//! summary stored when it completes and its results as a [`Table`]. The engine knows kinds only
//! through the [`Kind`] trait and [`with_kind!`], the one place that maps an
//! [`ExecutionKind`] to its module.
//!
//! Adding a kind: a variant of [`ExecutionKind`] (quantd-core), a module here implementing
//! [`Kind`], and its line in [`with_kind!`]; `every_kind_has_its_module` fails until the line
//! is there.

pub mod backtest;
pub mod check;
pub mod evaluate;
pub mod import;
pub mod live;
pub mod paper;
pub mod pattern;
pub mod run;
pub mod scan;
pub mod sweep;
pub mod test;

use super::Engine;
use super::jobs::Job;
use super::request::SubmitRequest;
use super::spec::CodeInfo;
use crate::error::{EngineError, Result};
use crate::results::Writing;
use crate::views::{TABLE_PRECISION, Table};
use quantd_core::{ExecutionId, ExecutionKind};
use quantd_data::PackReader;
use quantd_store::{ExecutionRecord, PackRecord, Store};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::io::Write;
use std::sync::Arc;

/// What one kind of execution does, from its request to its results.
pub(crate) trait Kind {
    /// The kind.
    const KIND: ExecutionKind;
    /// The [`SubmitRequest`] fields this kind takes besides `kind`, `pack`, `params`,
    /// `options` and `reuse`; a request of this kind with any other field is refused, naming it.
    const FIELDS: &'static [&'static str];
    /// Whether its executions read a pack (all but imports, which make one, and patterns, whose
    /// steps do).
    const READS_PACK: bool = true;
    /// Whether the engine, not a shard's commit, ends its executions (a pattern, which has no
    /// shards: its steps are child executions).
    const ORCHESTRATED: bool = false;
    /// The resolved spec stored with each execution (names resolved to content: code text and
    /// version, pack id), enough to run it again after a crash.
    type Spec: Serialize + DeserializeOwned + Send + Sync;

    /// Checks what depends on the request alone and resolves its names (stored code of
    /// `workspace`) against `pack` (the input pack of kinds that read one).
    fn resolve<S: Store>(
        engine: &Engine<S>,
        workspace: &str,
        pack: Option<&PackRecord>,
        request: SubmitRequest,
    ) -> impl Future<Output = Result<Self::Spec>> + Send;

    /// Marks the spec of a pattern step's child as nested `depth` levels deep (patterns refuse
    /// to nest deeper than [`pattern::MAX_DEPTH`]); other kinds ignore it.
    fn nest(_spec: &mut Self::Spec, _depth: u32) -> Result<()> {
        Ok(())
    }

    /// The stored code the spec runs, if any.
    fn code(_spec: &Self::Spec) -> Option<&CodeInfo> {
        None
    }

    /// The name the execution is listed under in history.
    fn name(spec: &Self::Spec) -> Option<String> {
        Self::code(spec).map(|c| c.name.clone())
    }

    /// True when the spec's code runs in the sandbox (Python), so `options.sandbox` applies.
    fn sandboxed(_spec: &Self::Spec) -> bool {
        false
    }

    /// The job of execution `id`: code compiled, work checked against the limits, shards
    /// planned from `reader` (`None` only for kinds that read no pack); its sandboxed jobs get
    /// the limits `sandbox` asks for.
    fn build<S: Store>(
        engine: &Engine<S>,
        id: &ExecutionId,
        spec: &Self::Spec,
        reader: Option<Arc<PackReader>>,
        sandbox: &crate::exec::sandbox::SandboxRequest,
    ) -> Result<Arc<dyn Job>>;

    /// Stores the summary of a completed execution (what `history`, `summary` and the API
    /// read without decoding results).
    fn finalize<S: Store>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
    ) -> impl Future<Output = Result<()>> + Send;

    /// What a completed execution gives the pattern step that ran it (`state.<step>.outputs`),
    /// as docs/patterns.md lists for each kind. Default: its stored summary.
    fn outputs<S: Store>(
        _engine: &Engine<S>,
        rec: &ExecutionRecord,
    ) -> impl Future<Output = Result<serde_json::Value>> + Send {
        let summary = rec.summary.clone().unwrap_or(serde_json::Value::Null);
        async move { Ok(summary) }
    }

    /// What the execution produced so far as a table.
    fn table<S: Store>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
    ) -> impl Future<Output = Result<Table>> + Send;

    /// Writes what the execution produced so far as `how` asks (its table, unless the kind
    /// streams its rows). Rights are decided before: see [`Engine::export`].
    fn write_results<S: Store, W: Write + Send>(
        engine: &Engine<S>,
        rec: &ExecutionRecord,
        how: &Writing<'_>,
        out: W,
    ) -> impl Future<Output = Result<()>> + Send {
        async move {
            Self::table(engine, rec)
                .await?
                .write_marked(how.format, TABLE_PRECISION, out, how.mark)
        }
    }
}

/// Runs `$body` with `$K` naming the [`Kind`] module of `$kind`: the one map from an
/// [`ExecutionKind`] to its module. Used where a function returns [`Result`].
macro_rules! with_kind {
    ($kind:expr, |$K:ident| $body:expr) => {{
        use quantd_core::ExecutionKind as EK;
        use $crate::exec::kinds as k;
        #[allow(unused_imports)]
        use $crate::exec::kinds::Kind as _;
        match $kind {
            EK::Scan => {
                type $K = k::scan::Scan;
                $body
            }
            EK::Test => {
                type $K = k::test::Test;
                $body
            }
            EK::Backtest => {
                type $K = k::backtest::Backtest;
                $body
            }
            EK::Sweep => {
                type $K = k::sweep::Sweep;
                $body
            }
            EK::Run => {
                type $K = k::run::Run;
                $body
            }
            EK::Import => {
                type $K = k::import::Import;
                $body
            }
            EK::Pattern => {
                type $K = k::pattern::PatternKind;
                $body
            }
            EK::Check => {
                type $K = k::check::Check;
                $body
            }
            EK::Evaluate => {
                type $K = k::evaluate::Evaluate;
                $body
            }
            EK::Paper => {
                type $K = k::paper::Paper;
                $body
            }
            EK::Live => {
                type $K = k::live::Live;
                $body
            }
            other => {
                return Err($crate::error::EngineError::Internal(format!(
                    "no module runs executions of kind `{other}`"
                ))
                .into());
            }
        }
    }};
}
pub(crate) use with_kind;

/// A kind's resolved spec as stored with its execution (`{"kind": …, fields}`), its fingerprint,
/// and what history lists beside it.
pub(crate) struct StoredSpec {
    pub(crate) kind: ExecutionKind,
    pub(crate) name: Option<String>,
    pub(crate) code_version: Option<String>,
    pub(crate) orchestrated: bool,
    pub(crate) value: serde_json::Value,
    pub(crate) fingerprint: String,
}

impl StoredSpec {
    /// The stored form of `spec`, a spec of kind `K`.
    pub(crate) fn of<K: Kind>(spec: &K::Spec) -> StoredSpec {
        let value = super::spec::stored(K::KIND, spec);
        StoredSpec {
            kind: K::KIND,
            name: K::name(spec),
            code_version: K::code(spec).map(|c| c.id.clone()),
            orchestrated: K::ORCHESTRATED,
            fingerprint: super::spec::fingerprint(&value),
            value,
        }
    }
}

/// The spec of `rec`, an execution of kind `K`; an error naming both kinds otherwise.
pub(crate) fn spec_of<K: Kind>(rec: &ExecutionRecord) -> Result<K::Spec> {
    if rec.kind != K::KIND {
        return Err(EngineError::Invalid(format!(
            "execution {} is a {}, not a {}",
            rec.id,
            rec.kind,
            K::KIND
        )));
    }
    serde_json::from_value(rec.spec.clone())
        .map_err(|e| EngineError::Internal(format!("stored spec of {}: {e}", rec.id)))
}

impl<S: Store> Engine<S> {
    /// The results of an execution whose shards each store a JSON list (test reports, backtests,
    /// checks), concatenated in shard order; `what` names them in the error of an unreadable one.
    pub(crate) async fn shard_lists<T: DeserializeOwned>(
        &self,
        id: &ExecutionId,
        what: &str,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        for idx in self.store().result_shards(id).await? {
            if let Some(body) = self.store().shard_result(id, idx).await? {
                let part: Vec<T> = serde_json::from_slice(&body)
                    .map_err(|e| EngineError::Internal(format!("stored {what} results: {e}")))?;
                out.extend(part);
            }
        }
        Ok(out)
    }
}

/// The pack reader of a kind that reads one.
pub(crate) fn reader_of(reader: Option<Arc<PackReader>>) -> Result<Arc<PackReader>> {
    reader.ok_or_else(|| EngineError::Internal("this kind reads a pack; none was opened".into()))
}

/// Refuses the fields of `request` that are not among `fields` (its kind's), naming them.
/// The fields a request of `kind` may set besides `kind`: the kind's own ([`Kind::FIELDS`])
/// and those every kind takes (`pack`, `params`, `options`, `reuse`). Pattern steps are checked
/// against it.
pub fn request_fields(kind: quantd_core::ExecutionKind) -> Vec<&'static str> {
    let own = (|| -> Result<&'static [&'static str]> { with_kind!(kind, |K| Ok(K::FIELDS)) })()
        .unwrap_or(&[]);
    let mut all = vec!["pack", "params", "options", "reuse"];
    all.extend_from_slice(own);
    all
}

pub(crate) fn check_fields(request: &SubmitRequest, fields: &[&str]) -> Result<()> {
    let stray: Vec<&str> = request
        .kind_fields()
        .into_iter()
        .filter(|f| !fields.contains(f))
        .collect();
    if stray.is_empty() {
        return Ok(());
    }
    Err(EngineError::Invalid(format!(
        "{} {} not for kind `{}`; remove {}",
        stray
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if stray.len() == 1 { "is" } else { "are" },
        request.kind,
        if stray.len() == 1 { "it" } else { "them" }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module_of(kind: ExecutionKind) -> Result<ExecutionKind> {
        with_kind!(kind, |K| Ok(K::KIND))
    }

    #[test]
    fn every_kind_has_its_module() {
        for kind in ExecutionKind::ALL {
            assert_eq!(module_of(kind).unwrap(), kind, "with_kind! maps {kind}");
        }
    }

    #[test]
    fn fields_of_one_kind_name_request_fields() {
        let every = SubmitRequest::FIELDS;
        for kind in ExecutionKind::ALL {
            let fields: &[&str] = with_kind_fields(kind);
            for f in fields {
                assert!(every.contains(f), "{kind} takes `{f}`, not a request field");
            }
        }
    }

    fn with_kind_fields(kind: ExecutionKind) -> &'static [&'static str] {
        (|| -> Result<&'static [&'static str]> { with_kind!(kind, |K| Ok(K::FIELDS)) })().unwrap()
    }
}

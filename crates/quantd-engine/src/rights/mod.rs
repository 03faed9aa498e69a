//! Data rights in the engine (docs/rights.md): the registry of providers, the terms of each pack
//! and of each execution, and the one decision every export of results passes through,
//! [`Engine::release`], which refuses or watermarks derived data as the terms say and records
//! both in the audit trail. The rules themselves are `quantd_core::rights`'s; how each format
//! carries a watermark is [`mark`]'s.
//!
//! An execution reads one pack (by content id); a pack id imported under several names with
//! different rights gets the most restrictive of them. A pack naming a provider takes the
//! provider's terms; a pack without one keeps the terms it was imported with.

pub mod mark;

use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::records::{ExecutionRecord, PackRecord};
use quantd_core::{Disclosure, ExecutionKind, PackId, Provider, SourceTerms, Terms, Verdict};
use quantd_store::{AuditEntry, AuditFilter, NewAuditEntry, Page, Paged, Store};
use serde::Serialize;

pub use mark::Watermark;

/// Longest licence or attribution text, in bytes.
pub const MAX_TERMS_TEXT: usize = 1_000;
/// Most environments one provider may name.
pub const MAX_ENVIRONMENTS: usize = 16;

/// Who reads or acts, for the audit trail: the workspace and the actor (`token <id> (<name>)`,
/// `cli <user>`, `no-auth`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// The workspace the request is in.
    pub workspace: String,
    /// Who made it.
    pub actor: String,
}

impl Reader {
    /// The local user of the CLI, in `workspace`.
    pub fn cli(workspace: &str) -> Reader {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".into());
        Reader {
            workspace: workspace.to_string(),
            actor: format!("cli {user}"),
        }
    }

    /// A caller of the API (or MCP over HTTP) with bearer token `token` (`None` with
    /// `--no-auth`).
    pub fn token(workspace: &str, token: Option<&str>) -> Reader {
        Reader {
            workspace: workspace.to_string(),
            actor: token.map_or_else(|| "no-auth".to_string(), |t| format!("token {t}")),
        }
    }
}

/// What an export may carry, decided by [`Engine::release`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Release {
    /// The terms the output inherits.
    pub terms: Terms,
    /// The watermark the export must carry (policy `watermark`, derived data).
    pub watermark: Option<Watermark>,
}

impl Release {
    /// Every attribution of the terms, joined.
    pub fn attribution(&self) -> Option<String> {
        self.terms.attribution()
    }
}

impl<S: Store> Engine<S> {
    /// The providers of the rights registry, by name.
    pub async fn providers(&self) -> Result<Vec<Provider>> {
        providers(self.store()).await
    }

    /// Adds or replaces a provider; true when it is new.
    pub async fn put_provider(&self, p: &Provider) -> Result<bool> {
        check_provider(p)?;
        let body = serde_json::to_value(p).expect("a provider serializes");
        Ok(self
            .store()
            .put_provider(&p.name, &body, self.clock().now_ms())
            .await?)
    }

    /// Removes a provider (refused while a pack names it), recorded as `deleted` by `reader`;
    /// false when there was none.
    pub async fn remove_provider(&self, reader: &Reader, name: &str) -> Result<bool> {
        let removed = self.store().remove_provider(name).await?;
        if removed {
            self.record_removal(reader, &format!("provider `{name}`"))
                .await;
        }
        Ok(removed)
    }

    /// Makes pack `name` (every import of it) name `provider`, or none; refuses an unknown
    /// provider or pack.
    pub async fn assign_provider(&self, pack: &str, provider: Option<&str>) -> Result<()> {
        if let Some(p) = provider {
            self.provider(p).await?;
        }
        let changed = self.store().set_pack_provider(pack, provider).await?;
        if changed == 0 {
            return Err(EngineError::NotFound {
                what: format!("pack `{pack}`"),
                hint: "; `quantd data list` shows the packs".into(),
            });
        }
        Ok(())
    }

    /// Provider `name`, or a not-found error listing the known ones.
    pub async fn provider(&self, name: &str) -> Result<Provider> {
        provider(self.store(), name).await
    }

    /// The terms of one catalog row: its provider's, or its own.
    pub async fn pack_terms(&self, rec: &PackRecord) -> Result<Terms> {
        pack_terms(self.store(), rec).await
    }

    /// A catalog row as surfaces show it, with the terms that apply to it.
    pub async fn pack_view(&self, rec: PackRecord) -> Result<crate::views::model::PackView> {
        let terms = self.pack_terms(&rec).await?;
        Ok(crate::views::model::PackView::new(rec, &terms))
    }

    /// [`Engine::pack_view`] of each row.
    pub async fn pack_views(
        &self,
        recs: Vec<PackRecord>,
    ) -> Result<Vec<crate::views::model::PackView>> {
        let registry = providers(self.store()).await?;
        recs.into_iter()
            .map(|rec| {
                let terms = match &rec.rights.provider {
                    Some(name) => match registry.iter().find(|p| &p.name == name) {
                        Some(p) => Terms::of(p.terms()),
                        None => return Err(missing_provider(name, &registry)),
                    },
                    None => own_terms(&rec),
                };
                Ok(crate::views::model::PackView::new(rec, &terms))
            })
            .collect()
    }

    /// The terms of everything derived from pack `id`: the most restrictive of every catalog
    /// row holding it.
    pub async fn terms_of_pack(&self, id: &PackId) -> Result<Terms> {
        let mut terms = Terms::default();
        for rec in self.store().packs_by_id(id).await? {
            terms = terms.combine(pack_terms(self.store(), &rec).await?);
        }
        Ok(terms)
    }

    /// The terms an execution's outputs inherit (those of the pack it read; none for an
    /// execution that read no pack).
    pub async fn terms_of(&self, rec: &ExecutionRecord) -> Result<Terms> {
        match rec.pack_id.parse::<PackId>() {
            Ok(id) => self.terms_of_pack(&id).await,
            Err(_) => Ok(Terms::default()),
        }
    }

    /// What an execution's results hold: scan rows with `let` (or Python indicator) columns
    /// and a run's output lines are derived; every other result is signals or statistics.
    pub async fn disclosure_of(&self, rec: &ExecutionRecord) -> Result<Disclosure> {
        Ok(match rec.kind {
            ExecutionKind::Scan if !self.scan_columns(&rec.id).await?.is_empty() => {
                Disclosure::Derived
            }
            ExecutionKind::Run => Disclosure::Derived,
            _ => Disclosure::Signals,
        })
    }

    /// The one decision of every export: `what` of `rec`'s outputs, read by `reader`, described
    /// by `detail` (`scan rows as csv`). Refused exports are an `EngineError::Policy` naming the
    /// provider; refused and watermarked ones are recorded in the audit trail first.
    pub async fn release(
        &self,
        rec: &ExecutionRecord,
        reader: &Reader,
        what: Disclosure,
        detail: &str,
    ) -> Result<Release> {
        let terms = self.terms_of(rec).await?;
        decide(
            self.store(),
            terms,
            Subject::Execution(rec),
            reader,
            what,
            detail,
            self.clock().now_ms(),
        )
        .await
    }

    /// [`Engine::release`] for a pack's own bars (`data export`, the dashboard's candles).
    pub async fn release_pack(
        &self,
        rec: &PackRecord,
        reader: &Reader,
        detail: &str,
    ) -> Result<Release> {
        let terms = self.pack_terms(rec).await?;
        decide(
            self.store(),
            terms,
            Subject::Pack(rec),
            reader,
            Disclosure::Derived,
            detail,
            self.clock().now_ms(),
        )
        .await
    }

    /// Appends an action on an execution to the audit trail (who created, paused, resumed,
    /// cancelled, retried or deleted it).
    pub async fn audit_action(
        &self,
        reader: &Reader,
        action: &str,
        rec: &ExecutionRecord,
        detail: &str,
    ) -> Result<()> {
        self.append_action(reader, action, Some(&rec.id), detail)
            .await
    }

    /// Appends `action` by `reader` (on `execution`, if any) to the audit trail.
    pub(crate) async fn append_action(
        &self,
        reader: &Reader,
        action: &str,
        execution: Option<&quantd_core::ExecutionId>,
        detail: &str,
    ) -> Result<()> {
        self.store()
            .append_audit(&NewAuditEntry {
                at: self.clock().now_ms(),
                workspace: reader.workspace.clone(),
                actor: reader.actor.clone(),
                action: action.to_string(),
                execution: execution.cloned(),
                provider: None,
                detail: detail.to_string(),
            })
            .await?;
        Ok(())
    }

    /// The audit trail, newest first: `workspace`'s (or every workspace's with `None`),
    /// optionally one execution's or only the refused and watermarked exports.
    pub async fn audit(&self, filter: &AuditFilter, page: &Page) -> Result<Paged<AuditEntry>> {
        Ok(self.store().audit(filter, page).await?)
    }

    /// Refuses a submission whose events stream derived data as it happens (a paper session's
    /// fills and equity) over a pack whose terms deny derived data: no later export decision
    /// could take those events back.
    pub(crate) async fn check_live_derived(&self, pack: &PackRecord) -> Result<()> {
        let terms = self.pack_terms(pack).await?;
        if terms.export() != quantd_core::ExportPolicy::Deny {
            return Ok(());
        }
        Err(EngineError::Policy {
            provider: terms.binding_names(),
            message: format!(
                "pack `{}`: its data rights ({}) deny exporting derived data, and a paper session streams its fills and equity as they happen; backtest on it instead (statistics stay readable), or trade on paper over another pack",
                pack.name,
                terms.binding_names()
            ),
        })
    }

    /// Whether live streams leave out `rec`'s derived events (a paper session's order and
    /// trading-day events: prices of its pack) because its pack's terms deny derived data now.
    /// Unknown terms withhold.
    pub async fn live_derived_withheld(&self, rec: &ExecutionRecord) -> bool {
        if !matches!(rec.kind, ExecutionKind::Paper | ExecutionKind::Live) {
            return false;
        }
        match self.terms_of(rec).await {
            Ok(terms) => terms.export() == quantd_core::ExportPolicy::Deny,
            Err(_) => true,
        }
    }

    /// Refuses a submission over a pack whose licence does not cover this server's environment
    /// (`QUANTD_ENVIRONMENT`, default `development`).
    pub(crate) async fn check_environment(&self, pack: &PackId) -> Result<()> {
        let env = environment();
        if let Some(s) = self.terms_of_pack(pack).await?.outside(&env) {
            return Err(EngineError::Policy {
                provider: s.provider.clone(),
                message: format!(
                    "the licence of provider {} covers the environments {}, not `{env}` (this \
                     server's QUANTD_ENVIRONMENT); run it where the licence applies, or ask an \
                     operator to extend the provider's environments",
                    s.provider,
                    s.environments.join(", ")
                ),
            });
        }
        Ok(())
    }
}

/// What an export is of: an execution's results, or a pack's bars.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An execution's results.
    Execution(&'a ExecutionRecord),
    /// A pack's bars.
    Pack(&'a PackRecord),
}

/// The decision on exporting `what` of `subject` under `terms` for `reader`: refused and
/// watermarked exports are recorded in `store`'s audit trail before the answer.
pub(crate) async fn decide<S: Store>(
    store: &S,
    terms: Terms,
    subject: Subject<'_>,
    reader: &Reader,
    what: Disclosure,
    detail: &str,
    now_ms: i64,
) -> Result<Release> {
    let verdict = Verdict::of(&terms, what);
    let provider = terms.binding_names();
    let log = |action: &str| NewAuditEntry {
        at: now_ms,
        workspace: reader.workspace.clone(),
        actor: reader.actor.clone(),
        action: action.to_string(),
        execution: match subject {
            Subject::Execution(rec) => Some(rec.id.clone()),
            Subject::Pack(_) => None,
        },
        provider: Some(provider.clone()),
        detail: detail.to_string(),
    };
    match verdict {
        Verdict::Allowed => Ok(Release {
            terms,
            watermark: None,
        }),
        Verdict::Watermarked => {
            store.append_audit(&log("export.watermarked")).await?;
            let watermark = Watermark::new(&terms, reader, subject, now_ms);
            Ok(Release {
                terms,
                watermark: Some(watermark),
            })
        }
        Verdict::Refused => {
            store.append_audit(&log("export.refused")).await?;
            let (of, hint) = match subject {
                Subject::Execution(rec) => (
                    format!("execution {}", rec.id),
                    if rec.kind == ExecutionKind::Scan {
                        " — ask for the signals only (API `?columns=signals`, CLI \
                         `--signals-only`, MCP `signals_only: true`)"
                    } else {
                        ""
                    },
                ),
                Subject::Pack(p) => (format!("pack `{}`", p.name), ""),
            };
            Err(EngineError::Policy {
                message: format!(
                    "{detail} ({of}): the terms of provider {provider} deny exporting data \
                     derived from its bars (bar values, `let` columns, trades, equity, run \
                     output); counts, signals and statistics stay readable{hint}"
                ),
                provider,
            })
        }
    }
}

/// The providers of the rights registry in `store`, by name.
async fn providers<S: Store>(store: &S) -> Result<Vec<Provider>> {
    store
        .providers()
        .await?
        .into_iter()
        .map(|(name, body)| {
            serde_json::from_value(body).map_err(|e| {
                EngineError::Internal(format!("stored provider `{name}` does not read: {e}"))
            })
        })
        .collect()
}

/// Provider `name` of `store`, or a not-found error listing the known ones.
pub(crate) async fn provider<S: Store>(store: &S, name: &str) -> Result<Provider> {
    let all = providers(store).await?;
    match all.iter().position(|p| p.name == name) {
        Some(i) => Ok(all.into_iter().nth(i).expect("found")),
        None => Err(missing_provider(name, &all)),
    }
}

/// The error of a provider `name` that `registry` does not hold.
fn missing_provider(name: &str, registry: &[Provider]) -> EngineError {
    let names: Vec<&str> = registry.iter().map(|p| p.name.as_str()).collect();
    EngineError::NotFound {
        what: format!("provider `{name}`"),
        hint: if names.is_empty() {
            "; add one with `quantd rights add NAME --export allow|watermark|deny`".into()
        } else {
            format!("; known providers: {}", names.join(", "))
        },
    }
}

/// The terms a pack without a provider carries itself.
fn own_terms(rec: &PackRecord) -> Terms {
    let r = &rec.rights;
    Terms::of(SourceTerms {
        provider: r
            .source
            .clone()
            .unwrap_or_else(|| format!("pack {}", rec.name)),
        license: r.license.clone(),
        attribution: r.attribution.clone(),
        export: r.export,
        environments: vec![],
    })
}

/// The terms of one catalog row of `store`: its provider's, or its own.
pub(crate) async fn pack_terms<S: Store>(store: &S, rec: &PackRecord) -> Result<Terms> {
    Ok(match &rec.rights.provider {
        Some(name) => Terms::of(provider(store, name).await?.terms()),
        None => own_terms(rec),
    })
}

/// The environment this process runs in: `QUANTD_ENVIRONMENT`, default `development`.
pub fn environment() -> String {
    std::env::var("QUANTD_ENVIRONMENT")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "development".into())
}

fn check_provider(p: &Provider) -> Result<()> {
    crate::packs::check_name(&p.name).map_err(|_| {
        EngineError::Invalid(format!(
            "provider name `{}` is not allowed; use 1–64 letters, digits, `-`, `_` or `.`",
            quantd_data::text::cut(&p.name, 64)
        ))
    })?;
    for (field, text) in [("license", &p.license), ("attribution", &p.attribution)] {
        if let Some(t) = text
            && (t.len() > MAX_TERMS_TEXT || t.chars().any(char::is_control))
        {
            return Err(EngineError::Invalid(format!(
                "provider `{}`: `{field}` must be one line of at most {MAX_TERMS_TEXT} bytes",
                p.name
            )));
        }
    }
    if p.environments.len() > MAX_ENVIRONMENTS
        || p.environments
            .iter()
            .any(|e| crate::packs::check_name(e).is_err())
    {
        return Err(EngineError::Invalid(format!(
            "provider `{}`: `environments` takes at most {MAX_ENVIRONMENTS} names of letters, \
             digits, `-`, `_` or `.`",
            p.name
        )));
    }
    Ok(())
}

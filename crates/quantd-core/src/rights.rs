//! Data rights: where a pack's data came from and what may leave quantd of it.
//!
//! A pack carries [`Rights`]: its own terms, or the name of a [`Provider`] of the rights
//! registry whose terms then apply. An execution reads one pack; everything it derives from the
//! pack row by row (see [`Disclosure`]) inherits the pack's [`Terms`], and outputs built from
//! several packs take the most restrictive of theirs ([`Terms::combine`]). The rules here are
//! pure: the engine resolves terms, decides and records each export ([`AuditAction`]).

use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// What may be done with data derived from a provider's bars, most permissive first (the
/// order is restrictiveness: `Allow < Watermark < Deny`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ExportPolicy {
    /// Exports are free.
    #[default]
    Allow,
    /// Exports carry the attribution and a watermark naming provider, workspace, execution and
    /// time; each one is recorded in the audit log.
    Watermark,
    /// Derived data is never exported; only counts, signals and statistics leave. Each refusal
    /// is recorded in the audit log.
    Deny,
}

impl ExportPolicy {
    /// The policy's name: `allow`, `watermark` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportPolicy::Allow => "allow",
            ExportPolicy::Watermark => "watermark",
            ExportPolicy::Deny => "deny",
        }
    }

    /// Parses a policy name.
    pub fn parse(s: &str) -> Option<ExportPolicy> {
        match s.to_ascii_lowercase().as_str() {
            "allow" => Some(ExportPolicy::Allow),
            "watermark" => Some(ExportPolicy::Watermark),
            "deny" => Some(ExportPolicy::Deny),
            _ => None,
        }
    }
}

impl fmt::Display for ExportPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a pack's data came from and what may be done with it, stored with the pack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Rights {
    /// The provider of the rights registry whose terms apply (they win over the fields below).
    pub provider: Option<String>,
    /// Where the data came from (a vendor, a file, `synthetic`).
    pub source: Option<String>,
    /// The license the data is under.
    pub license: Option<String>,
    /// Attribution text to show wherever the data or results derived from it are shown.
    pub attribution: Option<String>,
    /// What may leave quantd of the bars and of what is derived from them.
    pub export: ExportPolicy,
}

impl<'de> Deserialize<'de> for Rights {
    /// Reads rights stored before the registry too: `export_allowed: false` is `deny`.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Stored {
            #[serde(default)]
            provider: Option<String>,
            #[serde(default)]
            source: Option<String>,
            #[serde(default)]
            license: Option<String>,
            #[serde(default)]
            attribution: Option<String>,
            #[serde(default)]
            export: Option<ExportPolicy>,
            #[serde(default)]
            export_allowed: Option<bool>,
        }
        let s = Stored::deserialize(d)?;
        let export = s.export.unwrap_or(match s.export_allowed {
            Some(false) => ExportPolicy::Deny,
            _ => ExportPolicy::Allow,
        });
        Ok(Rights {
            provider: s.provider,
            source: s.source,
            license: s.license,
            attribution: s.attribution,
            export,
        })
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        if let Some(p) = &self.provider {
            return write!(f, "provider: {p}");
        }
        write!(
            f,
            "source: {}, license: {}, attribution: {}, export: {}",
            or_dash(&self.source),
            or_dash(&self.license),
            or_dash(&self.attribution),
            self.export
        )
    }
}

/// A data source in the rights registry: its licence, attribution and export policy, inherited
/// by everything derived from the packs that name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// The provider's name (`polygon`, `acme-data`).
    pub name: String,
    /// The licence the data is under.
    #[serde(default)]
    pub license: Option<String>,
    /// Text to show with the data and everything derived from it.
    #[serde(default)]
    pub attribution: Option<String>,
    /// What may leave quantd.
    #[serde(default)]
    pub export: ExportPolicy,
    /// The environments the licence covers (`research`, `production`, …); empty: any.
    #[serde(default)]
    pub environments: Vec<String>,
}

impl Provider {
    /// The terms it puts on what is derived from its packs.
    pub fn terms(&self) -> SourceTerms {
        SourceTerms {
            provider: self.name.clone(),
            license: self.license.clone(),
            attribution: self.attribution.clone(),
            export: self.export,
            environments: self.environments.clone(),
        }
    }
}

/// The terms one source of data puts on an output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SourceTerms {
    /// The provider's name; a pack with its own terms is named `pack <name>`.
    pub provider: String,
    /// Its licence.
    pub license: Option<String>,
    /// Its attribution.
    pub attribution: Option<String>,
    /// Its export policy.
    pub export: ExportPolicy,
    /// The environments its licence covers; empty: any.
    pub environments: Vec<String>,
}

/// The terms an output inherits: those of every source it was derived from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Terms {
    /// One entry per source, in a stable order, without repeats.
    pub sources: Vec<SourceTerms>,
}

impl Terms {
    /// The terms of one source.
    pub fn of(source: SourceTerms) -> Terms {
        Terms {
            sources: vec![source],
        }
    }

    /// The terms of an output derived from both `self` and `other`.
    pub fn combine(mut self, other: Terms) -> Terms {
        for s in other.sources {
            if !self.sources.contains(&s) {
                self.sources.push(s);
            }
        }
        self
    }

    /// The most restrictive policy of all sources (`allow` with none).
    pub fn export(&self) -> ExportPolicy {
        self.sources
            .iter()
            .map(|s| s.export)
            .max()
            .unwrap_or_default()
    }

    /// The sources whose policy is the most restrictive: the ones a refusal or watermark names.
    pub fn binding(&self) -> Vec<&SourceTerms> {
        let p = self.export();
        self.sources.iter().filter(|s| s.export == p).collect()
    }

    /// The names of the binding sources, joined for messages: `acme, polygon`.
    pub fn binding_names(&self) -> String {
        let names: Vec<&str> = self.binding().iter().map(|s| s.provider.as_str()).collect();
        names.join(", ")
    }

    /// Every attribution, one per source that has one, joined with `; `; `None` without any.
    pub fn attribution(&self) -> Option<String> {
        let parts: Vec<&str> = self
            .sources
            .iter()
            .filter_map(|s| s.attribution.as_deref())
            .filter(|a| !a.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }

    /// The first source whose licence does not cover `environment`, if any.
    pub fn outside(&self, environment: &str) -> Option<&SourceTerms> {
        self.sources.iter().find(|s| {
            !s.environments.is_empty() && !s.environments.iter().any(|e| e == environment)
        })
    }
}

/// What an output holds, for the rights rules (docs/rights.md says which output is which).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    /// Counts, signals (ticker and bar time), verdicts and statistics: readable whatever the
    /// terms.
    Signals,
    /// Bar values or values computed from them row by row (scan `let` columns, trades, equity
    /// curves, a run's output lines, the bars themselves): governed by the export policy.
    Derived,
}

/// What happened to an export, as the audit log records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Served as asked.
    Allowed,
    /// Served with the attribution and a watermark.
    Watermarked,
    /// Refused.
    Refused,
}

impl Verdict {
    /// The verdict of exporting `what` under `terms`.
    pub fn of(terms: &Terms, what: Disclosure) -> Verdict {
        match (what, terms.export()) {
            (Disclosure::Signals, _) | (_, ExportPolicy::Allow) => Verdict::Allowed,
            (Disclosure::Derived, ExportPolicy::Watermark) => Verdict::Watermarked,
            (Disclosure::Derived, ExportPolicy::Deny) => Verdict::Refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(name: &str, export: ExportPolicy, attribution: Option<&str>) -> SourceTerms {
        SourceTerms {
            provider: name.into(),
            license: None,
            attribution: attribution.map(String::from),
            export,
            environments: vec![],
        }
    }

    #[test]
    fn combined_terms_take_the_most_restrictive_policy_and_every_attribution() {
        let a = Terms::of(source("a", ExportPolicy::Watermark, Some("Data: A")));
        let b = Terms::of(source("b", ExportPolicy::Allow, Some("Data: B")));
        let both = a.clone().combine(b.clone());
        assert_eq!(both.export(), ExportPolicy::Watermark);
        assert_eq!(both.binding_names(), "a");
        assert_eq!(both.attribution().as_deref(), Some("Data: A; Data: B"));
        let denied = both.combine(Terms::of(source("c", ExportPolicy::Deny, None)));
        assert_eq!(denied.export(), ExportPolicy::Deny);
        assert_eq!(denied.binding_names(), "c");
        assert_eq!(Terms::default().export(), ExportPolicy::Allow);
        assert_eq!(a.clone().combine(a.clone()).sources.len(), 1, "no repeats");
    }

    #[test]
    fn only_derived_data_is_refused_or_watermarked() {
        let deny = Terms::of(source("d", ExportPolicy::Deny, None));
        let mark = Terms::of(source("w", ExportPolicy::Watermark, None));
        assert_eq!(Verdict::of(&deny, Disclosure::Derived), Verdict::Refused);
        assert_eq!(Verdict::of(&deny, Disclosure::Signals), Verdict::Allowed);
        assert_eq!(
            Verdict::of(&mark, Disclosure::Derived),
            Verdict::Watermarked
        );
        assert_eq!(Verdict::of(&mark, Disclosure::Signals), Verdict::Allowed);
        assert_eq!(
            Verdict::of(&Terms::default(), Disclosure::Derived),
            Verdict::Allowed
        );
    }

    #[test]
    fn rights_stored_before_the_registry_still_read() {
        let old: Rights = serde_json::from_str(
            r#"{"source":"x","license":null,"attribution":"A","export_allowed":false}"#,
        )
        .unwrap();
        assert_eq!(old.export, ExportPolicy::Deny);
        assert_eq!(old.provider, None);
        let new: Rights = serde_json::from_value(serde_json::to_value(&old).unwrap()).unwrap();
        assert_eq!(new, old);
    }

    #[test]
    fn a_licence_limited_to_environments_names_the_source_outside_them() {
        let mut s = source("r", ExportPolicy::Allow, None);
        s.environments = vec!["research".into()];
        let t = Terms::of(s);
        assert!(t.outside("research").is_none());
        assert_eq!(
            t.outside("production").map(|s| s.provider.as_str()),
            Some("r")
        );
    }
}

//! How an export carries its watermark (docs/rights.md): a first line in CSV (`# …`), Markdown
//! (`> …`) and terminal tables; a first object in NDJSON; an object around the rows in JSON
//! (`{"watermark": {…}, "rows": […]}`); key-value metadata in Parquet (`quantd.watermark`, JSON).
//! Each names the provider, the workspace, the execution and the time, with the attribution.

use super::{Reader, Subject};
use crate::results::Format;
use quantd_core::Terms;
use serde::Serialize;

/// The watermark of one export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Watermark {
    /// The provider (or providers) whose terms ask for it.
    pub provider: String,
    /// The workspace that exported.
    pub workspace: String,
    /// Who exported.
    pub actor: String,
    /// The execution whose results these are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution: Option<String>,
    /// The pack whose bars these are (`name (id)`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pack: Option<String>,
    /// When, RFC 3339 in UTC.
    pub exported_at: String,
    /// The attribution of every source, if any.
    pub attribution: Option<String>,
}

impl Watermark {
    /// The watermark of exporting `subject` under `terms` for `reader` at `now_ms`.
    pub fn new(terms: &Terms, reader: &Reader, subject: Subject<'_>, now_ms: i64) -> Watermark {
        let (execution, pack) = match subject {
            Subject::Execution(rec) => (Some(rec.id.to_string()), None),
            Subject::Pack(p) => (None, Some(format!("{} ({})", p.name, p.id.short()))),
        };
        Watermark {
            provider: terms.binding_names(),
            workspace: reader.workspace.clone(),
            actor: reader.actor.clone(),
            execution,
            pack,
            exported_at: chrono::DateTime::from_timestamp_millis(now_ms)
                .unwrap_or_default()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            attribution: terms.attribution(),
        }
    }

    /// The watermark as one line of text.
    pub fn line(&self) -> String {
        let what = match (&self.execution, &self.pack) {
            (Some(e), _) => format!("execution {e}"),
            (None, Some(p)) => format!("pack {p}"),
            (None, None) => "-".into(),
        };
        let mut s = format!(
            "quantd watermark: provider {}; workspace {}; {what}; exported {} by {}",
            self.provider, self.workspace, self.exported_at, self.actor
        );
        if let Some(a) = &self.attribution {
            s.push_str("; ");
            s.push_str(a);
        }
        s
    }

    /// What goes before the rows in `format` (`None` for Parquet, which takes metadata).
    pub fn preamble(&self, format: Format) -> Option<String> {
        let json = || serde_json::to_string(self).expect("a watermark serializes");
        match format {
            Format::Csv => Some(format!("# {}\n", self.line())),
            Format::Md => Some(format!("> {}\n\n", self.line())),
            Format::Table => Some(format!("{}\n", self.line())),
            Format::Ndjson => Some(format!("{{\"watermark\":{}}}\n", json())),
            Format::Json => Some(format!("{{\"watermark\":{},\"rows\":", json())),
            Format::Parquet => None,
        }
    }

    /// What goes after the rows in `format`: the JSON object's end.
    pub fn epilogue(&self, format: Format) -> Option<&'static str> {
        (format == Format::Json).then_some("}")
    }

    /// Parquet key-value metadata: `quantd.watermark` (this, as JSON) and `quantd.attribution`.
    pub fn parquet_metadata(&self) -> Vec<parquet::file::metadata::KeyValue> {
        let mut kv = vec![parquet::file::metadata::KeyValue::new(
            "quantd.watermark".to_string(),
            serde_json::to_string(self).expect("a watermark serializes"),
        )];
        if let Some(a) = &self.attribution {
            kv.push(parquet::file::metadata::KeyValue::new(
                "quantd.attribution".to_string(),
                a.clone(),
            ));
        }
        kv
    }

    /// Wraps a JSON value of rows as a watermarked export: `{"watermark": …, "rows": value}`.
    pub fn wrap(&self, rows: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"watermark": self, "rows": rows})
    }
}

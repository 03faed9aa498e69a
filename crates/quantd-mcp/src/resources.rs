//! Resources: the documents an agent reads before it writes code — the expression language,
//! Python scanners and strategies, backtest settings — embedded in the binary, so they are the
//! ones this version of quantd runs — and the JSON Schema of pattern documents.

use rmcp::ErrorData as McpError;
use rmcp::model::{ReadResourceResult, Resource, ResourceContents};

/// One embedded document.
struct Doc {
    uri: &'static str,
    name: &'static str,
    description: &'static str,
    text: &'static str,
}

const DOCS: [Doc; 5] = [
    Doc {
        uri: "quantd://docs/expressions",
        name: "expressions",
        description: "The expression language of scanners and strategies: columns, `let`, parameters, every function and indicator, warm-up and NaN rules, examples.",
        text: include_str!("../../../docs/expressions.md"),
    },
    Doc {
        uri: "quantd://docs/python",
        name: "python",
        description: "Python scanners (`@qd.scanner`), strategies (`@qd.strategy`) and bot scripts: the `quantd` SDK, what the sandbox allows, its limits.",
        text: include_str!("../../../docs/python.md"),
    },
    Doc {
        uri: "quantd://docs/backtesting",
        name: "backtesting",
        description: "Backtest and sweep settings (the `config` and `grid` of start_execution): cash, commission, fills, sizing, stops, statistics.",
        text: include_str!("../../../docs/backtesting.md"),
    },
    Doc {
        uri: "quantd://docs/patterns",
        name: "patterns",
        description: "Pattern documents: inputs, steps, templates, the checks made before they are stored.",
        text: include_str!("../../../docs/patterns.md"),
    },
    Doc {
        uri: "quantd://schemas/pattern",
        name: "pattern-schema",
        description: "The JSON Schema of pattern documents.",
        text: quantd_engine::pattern::JSON_SCHEMA,
    },
];

fn mime(d: &Doc) -> &'static str {
    if d.uri.starts_with("quantd://schemas/") {
        "application/schema+json"
    } else {
        "text/markdown"
    }
}

/// Every resource, as listed.
pub fn list() -> Vec<Resource> {
    DOCS.iter()
        .map(|d| {
            Resource::new(d.uri, d.name)
                .with_description(d.description)
                .with_mime_type(mime(d))
        })
        .collect()
}

/// The contents of `uri`; an unknown one is "resource not found" naming the known ones.
pub fn read(uri: &str) -> Result<ReadResourceResult, McpError> {
    let doc = DOCS.iter().find(|d| d.uri == uri).ok_or_else(|| {
        McpError::resource_not_found(
            format!(
                "no resource `{}`; the resources are {}",
                quantd_engine::data::cut(uri, 100),
                DOCS.iter().map(|d| d.uri).collect::<Vec<_>>().join(", ")
            ),
            None,
        )
    })?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(doc.text, doc.uri).with_mime_type(mime(doc)),
    ]))
}

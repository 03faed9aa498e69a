//! Tool errors: what an agent can act on, as a tool result with `isError: true` (never a
//! protocol error, which clients hide from the model). The structured content is
//! `{"error": {"type", "message", "class", …}}` plus, for invalid code, the diagnostics with
//! line, column and help, and for a warming pack when it should be ready.

use quantd_engine::EngineError;
use quantd_engine::records::StoreError;
use quantd_engine::views::model::CodeDiagnostic;
use serde_json::{Value, json};

/// A failed tool call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolError {
    /// A stable slug: `invalid-arguments`, `invalid-code`, `not-found`, `conflict`, …
    pub kind: &'static str,
    /// What went wrong and how to fix it.
    pub message: String,
    /// The structured content sent with it.
    pub content: Value,
}

impl ToolError {
    /// An error with only a kind and a message.
    pub fn new(kind: &'static str, message: impl Into<String>) -> ToolError {
        let message = message.into();
        let content = json!({"error": {"type": kind, "message": message}});
        ToolError {
            kind,
            message,
            content,
        }
    }

    /// An error whose structured content is `content` (e.g. a [`crate::args::Validation`]).
    pub fn with_content(kind: &'static str, message: String, content: Value) -> ToolError {
        ToolError {
            kind,
            message,
            content,
        }
    }

    /// The arguments do not fit the tool's input schema. serde quotes the offending value in its
    /// message, so the message is cut: an argument of megabytes is not echoed back.
    pub fn arguments(e: serde_json::Error) -> ToolError {
        let detail = quantd_engine::data::cut(&e.to_string(), 300).into_owned();
        ToolError::new(
            "invalid-arguments",
            format!("invalid arguments: {detail}; the tool's input schema lists its fields"),
        )
    }

    /// A request the engine would refuse the same way.
    pub fn invalid(message: impl Into<String>) -> ToolError {
        ToolError::new("invalid-request", message)
    }

    /// A failure of the server, logged; the agent learns only that it happened.
    pub fn internal(detail: String) -> ToolError {
        tracing::error!(error = %detail, "MCP tool failed");
        ToolError::new(
            "internal",
            "the server failed to handle this call; it has been logged",
        )
    }
}

impl From<EngineError> for ToolError {
    fn from(e: EngineError) -> ToolError {
        let class = e.class().as_str();
        let (kind, extra) = match &e {
            EngineError::NotFound { .. } => ("not-found", json!({})),
            EngineError::Invalid(_) | EngineError::Store(StoreError::BadCursor(_)) => {
                ("invalid-request", json!({}))
            }
            EngineError::Limit { limit, .. } => ("limit-exceeded", json!({"limit": limit})),
            EngineError::Expression {
                rendered,
                diagnostics,
                ..
            } => (
                "invalid-code",
                json!({
                    "diagnostics": diagnostics.iter().map(CodeDiagnostic::from).collect::<Vec<_>>(),
                    "rendered": rendered,
                }),
            ),
            EngineError::Pattern {
                rendered, problems, ..
            } => (
                "invalid-code",
                json!({
                    "diagnostics": problems.iter().map(CodeDiagnostic::from).collect::<Vec<_>>(),
                    "rendered": rendered,
                }),
            ),
            EngineError::PackNotReady {
                estimated_ready: Some(t),
                ..
            } => (
                "pack-warming",
                json!({
                    "estimated_ready": t,
                    "retry_after_seconds": (*t - chrono::Utc::now()).num_seconds().clamp(1, 3600),
                }),
            ),
            EngineError::PackNotReady { .. } => ("pack-unusable", json!({})),
            EngineError::Data(_) | EngineError::Backtest(_) | EngineError::Sandbox(_) => {
                ("failed", json!({}))
            }
            EngineError::Cancelled => ("cancelled", json!({})),
            EngineError::Policy { provider, .. } => ("policy", json!({"provider": provider})),
            EngineError::NotAllowed(_) => ("not-allowed", json!({})),
            EngineError::Store(_)
            | EngineError::Io { .. }
            | EngineError::Eval(_)
            | EngineError::Internal(_) => return ToolError::internal(e.to_string()),
        };
        let message = match &e {
            EngineError::Expression { message, .. } | EngineError::Pattern { message, .. } => {
                message.clone()
            }
            other => other.to_string(),
        };
        let mut error = json!({"type": kind, "message": message, "class": class});
        if let (Value::Object(m), Value::Object(x)) = (&mut error, extra) {
            m.extend(x);
        }
        ToolError {
            kind,
            message,
            content: json!({ "error": error }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_cursor_is_the_callers_mistake_not_an_internal_error() {
        // Found by the tool-argument fuzz test: `list_code` with `"cursor": ""`.
        let e = ToolError::from(EngineError::Store(StoreError::BadCursor(String::new())));
        assert_eq!(e.kind, "invalid-request");
        assert!(e.message.contains("page cursor"), "{}", e.message);
    }
}

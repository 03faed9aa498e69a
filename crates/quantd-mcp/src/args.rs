//! The tools' arguments and the results that are not one engine view as it is. Arguments
//! refuse unknown fields (a misspelt field is a tool error naming it, never ignored);
//! `start_execution` takes the engine's own [`SubmitRequest`](quantd_engine::exec::request::SubmitRequest)
//! plus `wait_seconds`.

use quantd_core::ExecutionKind;
use quantd_engine::code::StrategyExprs;
use quantd_engine::exec::Control;
use quantd_engine::views::model::{CodeBody, CodeDiagnostic, CodeNameView, CodeVersionView};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `deploy_code`: a name and exactly one of `expr`, `python`, `strategy`, `pattern`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployArgs {
    /// The name to store it under: 1–64 letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// A scanner expression.
    #[serde(default)]
    pub expr: Option<String>,
    /// A Python file's source (a `@qd.scanner` or `@qd.strategy`).
    #[serde(default)]
    pub python: Option<String>,
    /// A strategy of expressions.
    #[serde(default)]
    pub strategy: Option<StrategyExprs>,
    /// A pattern document: `inputs` and `steps`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub pattern: Option<serde_json::Value>,
}

impl DeployArgs {
    /// The code part, as the engine takes it.
    pub fn body(self) -> (String, CodeBody) {
        (
            self.name,
            CodeBody {
                expr: self.expr,
                python: self.python,
                strategy: self.strategy,
                pattern: self.pattern,
            },
        )
    }
}

/// `validate_code`'s result.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Validation {
    /// Whether the code is valid.
    pub valid: bool,
    /// `expr`, `strategy` or `python`.
    pub language: String,
    /// Parameter names the code uses (`$name`), when valid.
    pub params: Vec<String>,
    /// The content id it would be stored under, when valid.
    pub id: Option<String>,
    /// What is wrong, with line, column and help, when invalid.
    pub errors: Vec<CodeDiagnostic>,
    /// The diagnostics drawn under the source lines, when invalid.
    pub rendered: Option<String>,
}

/// `list_code`: every name, or one name's versions; `rollback_to` first points the name back.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListCodeArgs {
    /// A name: list its versions instead of all names.
    #[serde(default)]
    pub name: Option<String>,
    /// With `name`: make this version current again (a rollback), then list.
    #[serde(default)]
    #[schema(minimum = 1)]
    pub rollback_to: Option<u32>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// At most this many (1–100, default 50).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// `list_code`'s result: `names` without a name; with one, its `current` version and `versions`.
#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct CodeIndex {
    /// The workspace's names and their current versions (without `name`).
    pub names: Vec<CodeNameView>,
    /// The name asked for.
    pub name: Option<String>,
    /// The version the name resolves to (with `name`).
    pub current: Option<u32>,
    /// Its versions, oldest first (with `name`).
    pub versions: Vec<CodeVersionView>,
    /// The cursor of the next page, `null` on the last.
    pub next: Option<String>,
}

/// `get_execution`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdArgs {
    /// The execution id (`ex_…`), as `start_execution` or `list_executions` returned it.
    pub id: String,
}

/// `list_executions`: the workspace's executions, newest first.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListExecutionsArgs {
    /// Only this kind.
    #[serde(default)]
    pub kind: Option<ExecutionKind>,
    /// Only this state: pending, running, paused, completed, failed or cancelled.
    #[serde(default)]
    pub state: Option<String>,
    /// Only executions of this code name.
    #[serde(default)]
    pub name: Option<String>,
    /// At most this many (1–100, default 20).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// Only the step executions of this pattern execution (by default, executions patterns
    /// ran for their steps are not listed).
    #[serde(default)]
    pub parent: Option<String>,
}

/// `control_execution`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlArgs {
    /// The execution id.
    pub id: String,
    /// `pause` (pending or running), `resume` (paused) or `cancel` (not finished).
    pub action: Control,
}

/// How much of each row `get_results` returns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    /// Up to 50 rows a page, text cut to 200 characters, a page under about 60 KB (≈ 15k tokens).
    #[default]
    Concise,
    /// Up to 500 rows a page, full text, a page under about 1 MB.
    Detailed,
}

/// `get_results`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResultsArgs {
    /// The execution id.
    pub id: String,
    /// `concise` (default) or `detailed`.
    #[serde(default)]
    pub format: Detail,
    /// Only rows of this ticker.
    #[serde(default)]
    pub ticker: Option<String>,
    /// At most this many rows (default and maximum depend on `format`).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
    /// A scan's signals alone (ticker and bar, without `let` columns): readable whatever the
    /// data's rights (docs/rights.md).
    #[serde(default)]
    pub signals_only: bool,
}

/// `get_orders`: a page of a paper session's record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrdersArgs {
    /// The paper session's execution id.
    pub id: String,
    /// Only events after this sequence number (the `next` of the previous page).
    #[serde(default)]
    pub after: Option<u64>,
    /// At most this many events (1–500, default 200).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

/// What `get_orders` returns.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrdersPage {
    /// Order events (`type: order`: bar, time, status accepted|rejected|filled|cancelled|
    /// expired, order, ticker, size, price, reason…) and trading days (`type: session-day`:
    /// date, equity, cash, pnl, open_trades, fills, positions), oldest first.
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
    /// The `after` of the next page, `null` on the last so far (a running session adds more).
    pub next: Option<u64>,
    /// The attribution the data's providers ask to show with it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<String>,
    /// The watermark of derived data whose provider asks for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<quantd_engine::rights::Watermark>,
}

/// `list_packs`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListPacksArgs {
    /// At most this many (1–100, default 50).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

//! The tool catalog: each tool's name, a description written for a model (what it does, when
//! to use it, one example), its input schema and its output schema — made from the engine's
//! request and view types, so they match the HTTP API's document.

use crate::args::*;
use crate::schema;
use quantd_engine::exec::request::{EvaluateRequest, LookaheadRequest, SubmitRequest};
use quantd_engine::views::model::{
    CodeAdded, CodeBody, ExecutionList, ExecutionView, PackList, Submitted,
};
use quantd_engine::views::page::ResultPage;
use serde_json::{Map, Value, json};

/// One tool as listed.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    /// Its name.
    pub name: &'static str,
    /// A short title for people.
    pub title: &'static str,
    /// For a model: what, when, an example.
    pub description: &'static str,
    /// The arguments' JSON Schema.
    pub input: Map<String, Value>,
    /// The structured result's JSON Schema.
    pub output: Map<String, Value>,
    /// Only reads (no state changes).
    pub read_only: bool,
    /// May destroy work (cancel).
    pub destructive: bool,
}

/// The tools' names, in the order they are listed.
pub const NAMES: [&str; 12] = [
    "validate_code",
    "deploy_code",
    "list_code",
    "start_execution",
    "check_lookahead",
    "evaluate_code",
    "get_execution",
    "list_executions",
    "control_execution",
    "get_results",
    "get_orders",
    "list_packs",
];

fn spec(
    name: &'static str,
    title: &'static str,
    description: &'static str,
    input: Map<String, Value>,
    output: Map<String, Value>,
) -> ToolSpec {
    ToolSpec {
        name,
        title,
        description,
        input,
        output,
        read_only: matches!(
            name,
            "validate_code"
                | "list_code"
                | "get_execution"
                | "list_executions"
                | "get_results"
                | "get_orders"
                | "list_packs"
        ),
        destructive: name == "control_execution",
    }
}

/// `start_execution`'s input: the `SubmitRequest` schema with `wait_seconds`.
fn start_input() -> Map<String, Value> {
    with_wait(schema::of::<SubmitRequest>())
}

/// A request's schema with `wait_seconds`.
fn with_wait(request: Map<String, Value>) -> Map<String, Value> {
    schema::with_property(
        request,
        "wait_seconds",
        json!({
            "type": ["integer", "null"],
            "minimum": 0,
            "maximum": crate::ops::MAX_WAIT_SECONDS,
            "description": "Wait up to this many seconds for the execution to end (default 0: return at once). While waiting, progress notifications report shards done."
        }),
    )
}

/// Every tool, in [`NAMES`] order.
pub fn catalog() -> Vec<ToolSpec> {
    vec![
        spec(
            "validate_code",
            "Validate code",
            "Check a scanner expression, a strategy of expressions, Python code or a pattern document without storing \
or running it. Use it before deploy_code or start_execution, and after every edit: invalid code comes back as an \
error whose `errors` list each problem with `line`, `column` (a pattern's: its JSON `path`), `message` and `help`. Read the resource quantd://docs/expressions \
for the language. Example: {\"expr\": \"let r = rsi(close, 14); r < 30 and close > sma(close, 200)\"}.",
            schema::of::<CodeBody>(),
            schema::of::<Validation>(),
        ),
        spec(
            "deploy_code",
            "Deploy code",
            "Store code under a name as a new version (validated first), so executions can run it by name and \
history can tell versions apart. Deploying unchanged code returns the current version (`unchanged: true`). \
Use `NAME@N` in start_execution to run an older version. Example: {\"name\": \"dip\", \"expr\": \"rsi(close, 14) < 30\"}.",
            schema::of::<DeployArgs>(),
            schema::of::<CodeAdded>(),
        ),
        spec(
            "list_code",
            "List code",
            "Without arguments: the workspace's code names with their current version and language. With `name`: \
that name's versions (oldest first) and which is current. With `name` and `rollback_to`: make that version current \
again, then list. Example: {\"name\": \"dip\", \"rollback_to\": 1}.",
            schema::of::<ListCodeArgs>(),
            schema::of::<CodeIndex>(),
        ),
        spec(
            "start_execution",
            "Start an execution",
            "Run work on a pack: `kind` is scan (a scanner over a universe), test (an A+ test of a scanner on \
`examples` with expected hits), backtest or sweep (a strategy, sweep over a parameter `grid`), paper (a class \
strategy traded bar by bar on a pack replayed at `speed`, e.g. \"600x\"; read its orders with get_orders), or run \
(a Python bot script); not live (real orders: a person starts those). Arguments are those of POST /v1/executions; each kind takes its own fields and names the ones it does \
not. Returns the execution at once (state `pending`/`running`; poll get_execution, then get_results), or with \
`wait_seconds` when it ends or the wait does, sending progress notifications meanwhile. Example: {\"kind\": \"test\", \
\"code\": \"dip\", \"examples\": [{\"ticker\": \"AAPL\", \"date\": \"2024-03-01\"}], \"wait_seconds\": 60}.",
            start_input(),
            schema::of::<Submitted>(),
        ),
        spec(
            "check_lookahead",
            "Check for look-ahead",
            "Check a scanner or strategy (stored `code`, or inline `expr`, `strategy` or `python`) for look-ahead bias: \
whether its output at a bar changes when the bars after it are removed (prefix invariance at every signal bar and \
at sampled other bars) or made extreme (perturbation). Use it before trusting code you or another agent wrote, \
especially Python using pandas (`shift(-1)`, `rolling(center=True)`, `bfill`, whole-series min/max, resampling). \
Starts an execution of kind `check`; with `wait_seconds` returns when it ends: its `summary` is the report with \
`verdict` (clean, biased, inconclusive), `reasons`, and `first` (ticker, bar date, column, both values, how many bars \
ahead it looks). Example: {\"python\": \"import quantd as qd\\n@qd.scanner\\ndef s(bars):\\n    return bars.close.shift(-1) > bars.close\", \
\"wait_seconds\": 60}.",
            with_wait(schema::of::<LookaheadRequest>()),
            schema::of::<Submitted>(),
        ),
        spec(
            "evaluate_code",
            "Evaluate code",
            "Evaluate a scanner or strategy (stored `code`, or inline `expr`, `strategy` or `python`) before trusting it: \
static checks, runs on a sample of tickers, sanity (signals neither never nor always on, enough trades, finite and \
plausible statistics, no look-ahead) and robustness (in- vs out-of-sample, one step of each parameter either way, \
buy-and-hold), with a score 0-100 and a status (passed, warnings, failed). Evaluating stored code records the status \
of that version. With `wait_seconds` returns when done: the execution's `summary` is the evaluation (`status`, `score`, \
`reasons`, `stages`). Example: {\"code\": \"smacross\", \"params\": {\"fast\": 10, \"slow\": 30}, \"wait_seconds\": 60}.",
            with_wait(schema::of::<EvaluateRequest>()),
            schema::of::<Submitted>(),
        ),
        spec(
            "get_execution",
            "Get an execution",
            "One execution of this workspace: state, progress (shards done of total), health, summary when \
completed, and `error_class`/`error_message` when it failed. Use it to poll a started execution until its \
state is completed, failed or cancelled. Example: {\"id\": \"ex_01J…\"}.",
            schema::of::<IdArgs>(),
            schema::of::<ExecutionView>(),
        ),
        spec(
            "list_executions",
            "List executions",
            "The workspace's executions, newest first, filtered by kind, state and code name, in pages: pass \
`next` back as `cursor`. Use it to find earlier runs before starting the same work again. Example: \
{\"kind\": \"backtest\", \"state\": \"completed\", \"limit\": 10}.",
            schema::of::<ListExecutionsArgs>(),
            schema::of::<ExecutionList>(),
        ),
        spec(
            "control_execution",
            "Pause, resume or cancel",
            "Pause a pending or running execution (running shards stop within a second and wait in the queue), \
resume a paused one, or cancel one that has not finished (results committed so far stay readable). A change \
the state does not allow is an error that says why. Example: {\"id\": \"ex_01J…\", \"action\": \"pause\"}.",
            schema::of::<ControlArgs>(),
            schema::of::<ExecutionView>(),
        ),
        spec(
            "get_results",
            "Get results",
            "One page of what an execution produced: scan signal rows (ticker, date, the scanner's `let` \
columns), backtest statistics per ticker, sweep parameter sets, A+ test verdicts, a run's log lines. `concise` \
(default) keeps a page small (≤ 50 rows, about 15k tokens at most); `detailed` returns up to 500 full rows. \
Pass `next` back as `cursor` for the next page; filter with `ticker`. The summary (totals, statistics) comes \
with every page. Example: {\"id\": \"ex_01J…\", \"ticker\": \"AAPL\"}.",
            schema::of::<ResultsArgs>(),
            schema::of::<ResultPage>(),
        ),
        spec(
            "get_orders",
            "Get a paper session's orders",
            "A paper session's record so far (kind `paper`: a class strategy traded bar by bar on a replayed or \
followed pack): every order event — accepted, rejected with the reason, filled with ticker, signed size and price, \
cancelled, expired — and each trading day's account (equity, cash, P&L, positions by ticker), oldest first. Use it \
while the session runs to see what it did; pass `next` back as `after` for the next page. Its statistics and trades \
come from get_results once it completes. Example: {\"id\": \"ex_01J…\", \"limit\": 100}.",
            schema::of::<OrdersArgs>(),
            schema::of::<OrdersPage>(),
        ),
        spec(
            "list_packs",
            "List packs",
            "The market data packs every workspace can read: name, id, state (fresh, warming, stale, error), \
first and last date, number of tickers, columns and data rights. Use it to pick the `pack` of start_execution \
(default: the newest fresh pack). Example: {}.",
            schema::of::<ListPacksArgs>(),
            schema::of::<PackList>(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_is_listed_once_with_object_schemas_whose_references_resolve() {
        let tools = catalog();
        let names: Vec<&str> = tools.iter().map(|t| t.name).collect();
        assert_eq!(names, NAMES);
        for t in &tools {
            for (which, s) in [("input", &t.input), ("output", &t.output)] {
                assert_eq!(
                    s["type"], "object",
                    "{} {which} schema is an object",
                    t.name
                );
                let v = Value::Object(s.clone());
                let mut refs = Vec::new();
                schema::refs(&v, &mut refs);
                for r in refs {
                    let name = r.strip_prefix("#/$defs/").unwrap_or_else(|| panic!("{r}"));
                    assert!(
                        s.get("$defs").and_then(|d| d.get(name)).is_some(),
                        "{} {which}: {r} dangles",
                        t.name
                    );
                }
            }
            assert!(
                t.description.contains("Example: {"),
                "{} has an example",
                t.name
            );
        }
        let start = &tools[3].input["properties"];
        for field in [
            "kind",
            "code",
            "expr",
            "pack",
            "examples",
            "grid",
            "wait_seconds",
        ] {
            assert!(start.get(field).is_some(), "start_execution takes {field}");
        }
    }
}

//! The MCP server: [`QuantdMcp`] answers `tools/list`, `tools/call`, `resources/list`,
//! `resources/read` and the tasks extension's `tasks/*`, mapping [`crate::ops`] results to tool
//! results (structured content plus the same JSON as text) and tool errors (`isError: true`).
//!
//! The workspace is fixed for stdio (`quantd mcp --workspace`); over HTTP it is the one the
//! server's bearer-token check put into the request's extensions ([`Workspace`]), so each call
//! acts for the token it came with, whatever the session.

use crate::error::ToolError;
use crate::ops::{Ops, Progress};
use crate::resources;
use crate::tools::{self, ToolSpec};
use quantd_engine::rights::Reader;
use rmcp::model::*;
use rmcp::service::RequestContext;
use rmcp::task_manager::{TaskContext, TaskExit, TaskManager, TaskOptions};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde_json::{Map, Value};
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc;

/// The workspace a request acts for, put into the HTTP request's extensions by the server's
/// authentication layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace(pub String);

/// Who a request comes from (`token <id>`), put into the HTTP request's extensions next to its
/// [`Workspace`], for the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor(pub String);

/// quantd's MCP server over one engine. Cheap to clone (HTTP sessions each get a clone).
#[derive(Clone)]
pub struct QuantdMcp {
    ops: Ops,
    workspace: Option<String>,
    tasks: TaskManager,
}

/// What the server says about itself at `initialize`.
const INSTRUCTIONS: &str = "quantd runs stock scanners and trading strategies over market data packs. \
Typical flow: read quantd://docs/expressions, validate_code, deploy_code, start_execution (kind test with \
A+ examples, then scan, backtest or sweep), get_execution until it ends, get_results page by page. \
Executions are durable: pause, resume or cancel them with control_execution.";

fn listed() -> &'static [Tool] {
    static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
    TOOLS.get_or_init(|| tools::catalog().into_iter().map(to_tool).collect())
}

fn to_tool(t: ToolSpec) -> Tool {
    Tool::new(t.name, t.description, Arc::new(t.input))
        .with_title(t.title)
        .with_raw_output_schema(Arc::new(t.output))
        .with_annotations(
            ToolAnnotations::new()
                .read_only(t.read_only)
                .destructive(t.destructive)
                .idempotent(t.read_only)
                .open_world(false),
        )
}

/// A tool result: the JSON as text and as structured content.
fn success(v: Value) -> CallToolResult {
    let mut r = CallToolResult::success(vec![ContentBlock::text(v.to_string())]);
    r.structured_content = Some(v);
    r
}

/// A tool error: the message first (what a model reads), then the structured JSON.
fn failure(e: ToolError) -> CallToolResult {
    let mut r = CallToolResult::error(vec![
        ContentBlock::text(format!("{}: {}", e.kind, e.message)),
        ContentBlock::text(e.content.to_string()),
    ]);
    r.structured_content = Some(e.content);
    r
}

impl QuantdMcp {
    /// A server over `ops`; `workspace` fixes the workspace (stdio), `None` reads it from each
    /// HTTP request.
    pub fn new(ops: Ops, workspace: Option<String>) -> QuantdMcp {
        QuantdMcp {
            ops,
            workspace,
            tasks: TaskManager::default(),
        }
    }

    fn workspace(&self, context: &RequestContext<RoleServer>) -> Result<Reader, ToolError> {
        if let Some(w) = &self.workspace {
            return Ok(Reader {
                workspace: w.clone(),
                actor: "mcp stdio".into(),
            });
        }
        let parts = context.extensions.get::<http::request::Parts>();
        let workspace = parts
            .and_then(|p| p.extensions.get::<Workspace>())
            .map(|w| w.0.clone())
            .ok_or_else(|| ToolError::internal("an MCP request without a workspace".into()))?;
        let actor = parts
            .and_then(|p| p.extensions.get::<Actor>())
            .map_or_else(|| "mcp".to_string(), |a| format!("mcp {}", a.0));
        Ok(Reader { workspace, actor })
    }

    /// Runs tool `name` for `reader` (its workspace and who it is); `progress` receives reports
    /// of a waiting call.
    pub async fn call(
        &self,
        name: &str,
        reader: &Reader,
        args: Option<Map<String, Value>>,
        progress: Option<mpsc::UnboundedSender<Progress>>,
    ) -> Result<Value, ToolError> {
        let ops = &self.ops;
        let ws = reader.workspace.as_str();
        match name {
            "validate_code" => ops.validate_code(ws, args).await,
            "deploy_code" => ops.deploy_code(ws, args).await,
            "list_code" => ops.list_code(ws, args).await,
            "start_execution" => ops.start_execution(reader, args, progress).await,
            "check_lookahead" => ops.check_lookahead(reader, args, progress).await,
            "evaluate_code" => ops.evaluate_code(reader, args, progress).await,
            "get_execution" => ops.get_execution(ws, args).await,
            "list_executions" => ops.list_executions(ws, args).await,
            "control_execution" => ops.control_execution(reader, args).await,
            "get_results" => ops.get_results(reader, args).await,
            "get_orders" => ops.get_orders(reader, args).await,
            "list_packs" => ops.list_packs(args).await,
            other => Err(ToolError::new(
                "unknown-tool",
                format!(
                    "there is no tool `{}`; the tools are {}",
                    quantd_engine::data::cut(other, 60),
                    tools::NAMES.join(", ")
                ),
            )),
        }
    }

    /// `start_execution` as a task: submitted now (a refused request is an error at once), the
    /// task ends when the execution does; cancelling the task cancels the execution.
    async fn start_task(&self, reader: &Reader, mut args: Map<String, Value>) -> CallToolResponse {
        if !args.contains_key("wait_seconds") {
            args.insert("wait_seconds".into(), crate::ops::MAX_WAIT_SECONDS.into());
        }
        let started = match self.ops.submit(reader, Some(args)).await {
            Ok(s) => s,
            Err(e) => return failure(e).into(),
        };
        let ops = self.ops.clone();
        let options = TaskOptions::new().with_poll_interval_ms(1_000);
        let task = self.tasks.spawn(options, move |ctx: TaskContext| {
            Box::pin(async move {
                let rec = started.execution.clone();
                tokio::select! {
                    out = ops.finish(started, None) => Ok(match out {
                        Ok(v) => success(v),
                        Err(e) => failure(e),
                    }),
                    () = ctx.cancelled() => {
                        let _ = ops.engine().control(&rec, quantd_engine::exec::Control::Cancel).await;
                        Err(TaskExit::Cancelled)
                    }
                }
            })
        });
        CallToolResponse::Task(CreateTaskResult::new(task))
    }
}

impl QuantdMcp {
    async fn call_tool_in(
        &self,
        name: String,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let ws = match self.workspace(&context) {
            Ok(ws) => ws,
            Err(e) => return Ok(failure(e).into()),
        };
        let tasks = context
            .client_capabilities()
            .is_some_and(|c| c.supports_tasks());
        if tasks && name == "start_execution" {
            return Ok(self
                .start_task(&ws, request.arguments.unwrap_or_default())
                .await);
        }
        let (progress, forwarder) = match context.meta.get_progress_token() {
            Some(token) => {
                let (tx, mut rx) = mpsc::unbounded_channel::<Progress>();
                let peer = context.peer.clone();
                let forwarder = tokio::spawn(async move {
                    while let Some(p) = rx.recv().await {
                        let n = ProgressNotificationParam::new(token.clone(), f64::from(p.done))
                            .with_total(f64::from(p.total))
                            .with_message(p.message);
                        if peer.notify_progress(n).await.is_err() {
                            return;
                        }
                    }
                });
                (Some(tx), Some(forwarder))
            }
            None => (None, None),
        };
        let call = self.call(&name, &ws, request.arguments, progress);
        let out = tokio::select! {
            out = call => out,
            () = context.ct.cancelled() => Err(ToolError::new("cancelled", "the call was cancelled by the client; an execution it started keeps running (cancel it with control_execution)")),
        };
        // Every report goes out before the result (the call dropped its sender).
        if let Some(f) = forwarder {
            let _ = f.await;
        }
        Ok(match out {
            Ok(v) => success(v),
            Err(e) => failure(e),
        }
        .into())
    }
}

impl ServerHandler for QuantdMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new("quantd", env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(listed().to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        listed().iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.to_string();
        let span = tracing::info_span!("mcp_tool", tool = %quantd_engine::data::cut(&name, 60));
        tracing::Instrument::instrument(self.call_tool_in(name, request, context), span).await
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(resources::list()))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        resources::read(&request.uri).map(Into::into)
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, McpError> {
        Ok(GetTaskResult::new(self.tasks.get_task(&request.task_id)?))
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        self.tasks.cancel_task(&request.task_id)
    }
}

//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! model's `ToSchema` derives, served at `/v1/openapi.json`.

use crate::error::{CodeDiagnostic, Problem};
use crate::model::*;
use crate::routes::patterns::RetryBody;
use crate::routes::rights::{AuditPage, PackProvider, ProviderBody};
use crate::routes::{agents, code, executions, health, packs, patterns, policy, rights, webhooks};
use crate::{metrics, stream, ws};
use axum::Json;
use quantd_core::{
    ErrorClass, Event, EventRecord, ExecutionKind, ExecutionState, ExportPolicy, PackState,
    Provider,
};
use quantd_engine::agents::{AgentSpec, AgentView};
use quantd_engine::code::StrategyExprs;
use quantd_engine::exec::ShardFailurePolicy;
use quantd_engine::exec::request::{
    ExampleRequest, LookaheadRequest, RequestOptions, SubmitRequest,
};
use quantd_engine::exec::retry::ClassRetry;
use quantd_engine::exec::sandbox::SandboxRequest;
use quantd_engine::policy::WorkspacePolicy;
use quantd_engine::webhooks::{
    AttemptView, DeliveryView, WebhookPayload, WebhookSpec, WebhookView,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::{Modify, OpenApi};

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("qdt_<id>_<secret>")
                    .build(),
            ),
        );
        // The probes answer without a token (and say nothing about any workspace).
        for path in ["/health", "/health/ready"] {
            if let Some(op) = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.get.as_mut())
            {
                op.security = Some(vec![SecurityRequirement::default()]);
            }
        }
    }
}

/// The API description.
#[derive(OpenApi)]
#[openapi(
    info(title = "quantd API", description = "Run trading code against market data: stored code, durable executions with live progress, packs, history. Errors are RFC 9457 problem documents. Every id-taking route answers 404 for another workspace's ids. JSON bodies must be `application/json`; a request that changes anything with a body typed `text/plain`, `application/x-www-form-urlencoded` or `multipart/form-data` is refused (415). A server run with `--no-auth` answers only requests addressed to its loopback address and port, from its own origin if any (403 otherwise). `/metrics` needs an admin token."),
    modifiers(&Security),
    security(("bearer" = [])),
    paths(
        health::live, health::ready, health::pack, metrics::serve, serve,
        code::list, code::add, code::show, code::remove, code::version, code::rollback, code::validate,
        code::pattern_schema,
        executions::submit, executions::check_lookahead, executions::list, executions::show, executions::pause, executions::resume,
        executions::cancel, executions::results, executions::summary, executions::report,
        executions::trades, executions::equity, executions::orders, executions::history, executions::run_summary,
        patterns::execute, patterns::retry, agents::list, agents::add, agents::remove,
        policy::show, policy::set, webhooks::list, webhooks::add, webhooks::remove, webhooks::deliveries,
        stream::execution_sse, ws::execution_ws, stream::workspace_sse,
        packs::list, packs::upload, packs::show,
        rights::list, rights::add, rights::remove, rights::set_pack_provider, rights::log,
    ),
    components(schemas(
        Problem, CodeDiagnostic, CodeBody, StrategyExprs, RollbackBody, CodeVersionView, CodeAdded,
        CodeNameView, CodeList, Validated, SubmitRequest, LookaheadRequest, ExecutionKind, ShardFailurePolicy,
        RequestOptions, SandboxRequest, ExampleRequest, ExecutionView, ProgressView, HealthView, Submitted, ExecutionList, PackView,
        RightsView, PackList, UploadAccepted, PackHealth, Live, Ready, Executed, RetryBody, AgentSpec, AgentView,
        Provider, ExportPolicy, ProviderBody, PackProvider, AuditPage,
        WebhookSpec, WebhookView, DeliveryView, AttemptView, WebhookPayload, WorkspacePolicy, ClassRetry,
        EventRecord, Event, ErrorClass, ExecutionState, PackState,
    )),
    tags(
        (name = "code", description = "Stored scanners and strategies of the workspace"),
        (name = "executions", description = "Durable executions: start, watch, pause, resume, cancel"),
        (name = "results", description = "What executions produced"),
        (name = "events", description = "Live progress over SSE and WebSocket"),
        (name = "packs", description = "Market data, shared by every workspace"),
        (name = "history", description = "Past executions and totals"),
        (name = "agents", description = "Agents that pattern `call` steps reach, behind circuit breakers"),
        (name = "rights", description = "Data rights: providers, their export policies, the audit trail of exports"),
        (name = "webhooks", description = "URLs told when the workspace's executions end: signed, retried, logged (docs/webhooks.md)"),
        (name = "health", description = "Liveness, readiness, pack freshness, metrics"),
    ),
)]
pub struct ApiDoc;

/// The OpenAPI document itself.
#[utoipa::path(get, path = "/v1/openapi.json", operation_id = "openapi", tag = "health", security(()),
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

//! `/mcp`: the MCP tools (quantd-mcp) over streamable HTTP, behind the same bearer tokens and
//! workspace isolation as the REST API. Every request's token is checked here and its
//! workspace handed to the tools ([`quantd_mcp::Workspace`]), so a call acts for the token it
//! came with and another workspace's ids are "not found". The MCP service itself checks `Host`
//! (DNS rebinding) and `Origin` against [`ServerOptions::mcp`](crate::ServerOptions) and limits
//! bodies to the API's body limit.

use crate::AppState;
use crate::auth::Caller;
use axum::Router;
use axum::extract::{FromRequestParts, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use quantd_mcp::{Actor, HttpOptions, Ops, QuantdMcp, Workspace};

/// The router serving `/mcp`.
pub fn router(state: &AppState) -> Router<AppState> {
    let ops = Ops::new(state.inner.engine.clone(), Some(state.workers().clone()));
    let options = HttpOptions {
        body_limit: state.options().body_limit,
        ..state.options().mcp.clone()
    };
    let mut stop = state.shutdown_signal();
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let service = quantd_mcp::http_service(QuantdMcp::new(ops, None), &options, shutdown);
    Router::new().nest_service(crate::MCP_PATH, service).layer(
        axum::middleware::from_fn_with_state(state.clone(), authorize),
    )
}

/// Checks the bearer token (401 with a problem document without one) and passes its workspace on.
async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => {
            if let Some(token) = &caller.token {
                parts.extensions.insert(Actor(format!("token {token}")));
            }
            parts.extensions.insert(Workspace(caller.workspace));
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => e.into_response(),
    }
}

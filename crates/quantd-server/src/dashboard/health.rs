//! The health page: the figures of `/health` and `/health/ready` (version, store, workers,
//! shutdown), the queue (shards waiting and running; executions by kind and state, for admin
//! sessions only, since they count every workspace), and the circuit breakers of the viewer's
//! agents.

use super::page::{self, Section, Viewer, html_response, layout};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use maud::html;

/// `GET /status`: health for people (`/health` itself stays the JSON liveness probe).
pub async fn show(State(state): State<AppState>, viewer: Viewer) -> Response {
    let stats = state.engine().records().queue_stats().await;
    let store_ok = stats.is_ok();
    let workers = state.workers().alive();
    let configured = state.options().workers;
    let shutting_down = *state.shutdown_signal().borrow();
    let breakers: Vec<_> = state
        .engine()
        .breaker_states()
        .into_iter()
        .filter(|(ws, _)| ws == viewer.workspace())
        .map(|(_, s)| s)
        .collect();
    let admin = viewer.session.caller.admin;
    let main = html! {
        h1 { "Health" }
        dl.facts #health-figures {
            div { dt { "Version" } dd { (env!("CARGO_PKG_VERSION")) } }
            div { dt { "Store" } dd { (page::state_badge(if store_ok { "ok" } else { "unreachable" })) } }
            div { dt { "Workers" } dd #workers { (workers) " alive of " (configured) } }
            div { dt { "Shutting down" } dd { (if shutting_down { "yes" } else { "no" }) } }
            @if let Ok(s) = &stats {
                div { dt { "Shards waiting" } dd #pending { (page::int(s.pending_shards)) } }
                div { dt { "Shards running" } dd { (page::int(s.running_shards)) } }
            }
        }
        @if admin {
            @if let Ok(s) = &stats {
                h2 { "Executions by kind and state (all workspaces)" }
                table.mini {
                    thead { tr { th { "Kind" } th { "State" } th { "Executions" } } }
                    tbody { @for (k, st, n) in &s.executions { tr { td { (k) } td { (page::state_badge(&st.to_string())) } td.num { (page::int(*n)) } } } }
                }
            }
        }
        h2 { "Circuit breakers" }
        @if breakers.is_empty() {
            p.empty { "No agent has been called in this workspace since the server started. Register agents with " code { "quantd agents add" } "." }
        } @else {
            table #breakers {
                thead { tr { th { "Agent" } th { "State" } th { "Capabilities" } th { "URL" } } }
                tbody { @for b in &breakers { tr {
                    td { (b.name) } td { (page::state_badge(b.state.as_str())) }
                    td { (b.capabilities.join(", ")) } td { code { (b.url) } }
                } } }
            }
        }
    };
    html_response(
        StatusCode::OK,
        layout("Health", Section::Health, Some(&viewer), main),
    )
}

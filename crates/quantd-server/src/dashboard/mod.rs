//! The dashboard: quantd's web UI for people, served by `quantd serve` at `/` next to the API.
//!
//! Server-rendered HTML (maud) with htmx and its SSE extension for live parts, and two small
//! chart libraries (uPlot, TradingView Lightweight Charts), all embedded in the binary
//! ([`assets`]). Every page is a few engine calls made as the signed-in workspace, the same
//! calls the API routes make; another workspace's ids are not found, as in the API.
//!
//! - [`session`]: sign in with a workspace token (or `--no-auth`), session cookie, CSRF;
//! - [`executions`] and [`live`]: the live list with filters in the URL and bulk actions;
//! - [`execution`] and [`results`]: one execution, its live events and results by kind;
//! - [`code`], [`packs`], [`health`]: stored code, packs with candles, the server's health.
//!
//! Charts and the live event log read the API's own GET routes (`/v1/executions/{id}/events`,
//! `/equity`, `/trades`, `/results?format=`), which accept the session cookie for GET only: a
//! state-changing call still needs a bearer token (API) or a CSRF token (dashboard forms).

pub mod assets;
pub mod code;
pub mod execution;
pub mod executions;
pub mod health;
pub mod live;
pub mod packs;
pub mod page;
pub mod results;
pub mod session;
pub mod signin;

use crate::AppState;
use axum::Router;
use axum::response::Redirect;
use axum::routing::{get, post};

/// The dashboard's router (its CSRF check included); the server adds the `--no-auth` Host and
/// Origin rule around it.
pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/executions") }))
        .route("/signin", get(signin::form).post(signin::submit))
        .route("/signout", post(signin::signout))
        .route("/assets/{name}", get(assets::serve))
        .route("/executions", get(executions::list))
        .route("/executions/bulk", post(executions::bulk))
        .route(
            "/executions/new",
            get(executions::new_form).post(executions::start),
        )
        .route("/executions/{id}", get(execution::show))
        .route("/executions/{id}/head", get(execution::head_fragment))
        .route("/executions/{id}/{action}", post(execution::act))
        .route("/live/executions", get(live::executions))
        .route("/code", get(code::list))
        .route("/code/validate", post(code::validate))
        .route("/code/deploy", post(code::deploy))
        .route("/code/{name}", get(code::show))
        .route("/code/{name}/rollback", post(code::rollback))
        .route("/code/{name}/check", post(code::check))
        .route("/code/{name}/evaluate", post(code::evaluate))
        .route("/packs", get(packs::list))
        .route("/packs/{key}", get(packs::show))
        .route("/packs/{key}/candles", get(packs::candles))
        .route("/status", get(health::show))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::check_csrf,
        ))
}

//! `/v1/executions/{id}/ws`: an execution's events as WebSocket text messages, and commands.
//!
//! The server sends the events of [`crate::stream::execution_events`] as JSON, then
//! `{"type": "done", "state"}`. The client may send `{"resume_after": N}` (restart the stream
//! after N, within `0..=i64::MAX`) and `{"command": "pause"|"resume"|"cancel"}`. Every client
//! message re-checks the token the socket was opened with before anything is done; once the
//! token is revoked (noticed by a message or by [`crate::authority`]'s poll) the server sends an
//! `unauthorized` problem and closes the socket with code 1008 (policy violation).

use crate::AppState;
use crate::auth::Caller;
use crate::authority::{self, TokenWatch};
use crate::error::{AppError, Problem};
use crate::extract::ApiQuery;
use crate::metrics::{StreamKind, Subscriber};
use crate::routes::{executions::change_owned, owned};
use crate::stream::{AfterQuery, Item, MAX_SEQ, check_seq, execution_events};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use quantd_core::ExecutionId;
use quantd_engine::exec::Control;
use serde::Deserialize;
use std::pin::Pin;

/// What a WebSocket client may send.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage {
    /// Restart the stream after this sequence number.
    #[serde(default)]
    resume_after: Option<u64>,
    /// `pause`, `resume` or `cancel`.
    #[serde(default)]
    command: Option<String>,
}

/// Live events of one execution over WebSocket; the client may send `{"resume_after": N}` and
/// `{"command": "pause"|"resume"|"cancel"}`.
#[utoipa::path(get, path = "/v1/executions/{id}/ws", tag = "events",
    params(("id" = String, Path, description = "Execution id"), AfterQuery),
    responses(
        (status = 101, description = "WebSocket: JSON messages — events (`seq`, `type`, …), `{\"type\":\"done\"}`, command acknowledgements and problems; closed with 1008 once the token is revoked"),
        (status = 400, description = "Not a WebSocket upgrade, or `after` out of range", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such execution in this workspace", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn execution_ws(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<AfterQuery>,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, AppError> {
    let rec = owned(&state, &caller, &id).await?;
    let ws = ws.map_err(|e| AppError::BadRequest(format!("expected a WebSocket upgrade: {e}")))?;
    let after = check_seq(q.after.unwrap_or(0), "after")?;
    let watch = authority::watch(&state, &caller);
    Ok(ws
        .on_upgrade(move |socket| {
            Connection {
                socket,
                state,
                caller,
                watch,
                id: rec.id,
            }
            .serve(after)
        })
        .into_response())
}

fn ws_json(v: &impl serde::Serialize) -> Message {
    match serde_json::to_string(v) {
        Ok(text) => Message::Text(text.into()),
        Err(e) => {
            tracing::error!(error = %e, "a WebSocket message did not serialize");
            Message::Text("{\"type\":\"error\"}".into())
        }
    }
}

type Events = Pin<Box<dyn Stream<Item = Item> + Send>>;

/// What a client message asks of the connection.
enum Reply {
    /// Send this and go on.
    Send(Message),
    /// Restart the events after this sequence number.
    Restart(u64),
    /// Send this problem and close the socket (the token was revoked).
    Close(Problem),
}

/// One open socket.
struct Connection {
    socket: WebSocket,
    state: AppState,
    caller: Caller,
    watch: Option<TokenWatch>,
    id: ExecutionId,
}

impl Connection {
    fn events(&self, after: u64) -> Events {
        Box::pin(execution_events(self.state.clone(), self.id.clone(), after))
    }

    async fn serve(mut self, after: u64) {
        let _alive = Subscriber::open(StreamKind::Ws);
        let mut events = self.events(after);
        let mut finished = false;
        loop {
            tokio::select! {
                () = revoked(&mut self.watch) => {
                    self.close(authority::revoked().problem()).await;
                    return;
                }
                item = events.next(), if !finished => {
                    let msg = match item {
                        Some(Item::Event(e)) => ws_json(&e),
                        Some(Item::Done(s)) => {
                            finished = true;
                            ws_json(&serde_json::json!({"type": "done", "state": s}))
                        }
                        Some(Item::Revoked) => {
                            self.close(authority::revoked().problem()).await;
                            return;
                        }
                        Some(Item::Shutdown) | None => {
                            let _ = self.socket.send(ws_json(&serde_json::json!({"type": "shutdown"}))).await;
                            let _ = self.socket.send(Message::Close(None)).await;
                            return;
                        }
                    };
                    if self.socket.send(msg).await.is_err() {
                        return;
                    }
                }
                msg = self.socket.recv() => {
                    let text = match msg {
                        Some(Ok(Message::Text(t))) => t.to_string(),
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                        Some(Ok(_)) => continue,
                    };
                    let reply = on_message(&self.state, &self.caller, self.watch.as_ref(), &self.id, &text).await;
                    match reply {
                        Reply::Send(m) => {
                            if self.socket.send(m).await.is_err() {
                                return;
                            }
                        }
                        Reply::Restart(n) => {
                            events = self.events(n);
                            finished = false;
                        }
                        Reply::Close(p) => {
                            self.close(p).await;
                            return;
                        }
                    }
                }
            }
        }
    }

    /// Sends `problem` and closes with 1008 (policy violation).
    async fn close(&mut self, problem: Problem) {
        let _ = self.socket.send(ws_json(&problem)).await;
        let _ = self
            .socket
            .send(Message::Close(Some(CloseFrame {
                code: close_code::POLICY,
                reason: "token revoked".into(),
            })))
            .await;
    }
}

/// Checks the token, then acts on one client message.
async fn on_message(
    state: &AppState,
    caller: &Caller,
    watch: Option<&TokenWatch>,
    id: &ExecutionId,
    text: &str,
) -> Reply {
    if let Err(e) = authority::reauthorize(state, caller, watch).await {
        return match e {
            AppError::Unauthorized(_) => Reply::Close(e.problem()),
            // The store could not answer: refuse this message, keep the socket.
            other => Reply::Send(ws_json(&other.problem())),
        };
    }
    let bad = |m: String| Reply::Send(ws_json(&AppError::BadRequest(m).problem()));
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage {
            resume_after: Some(n),
            command: None,
        }) => match check_seq(n, "resume_after") {
            Ok(n) => Reply::Restart(n),
            Err(e) => Reply::Send(ws_json(&e.problem())),
        },
        Ok(ClientMessage {
            resume_after: None,
            command: Some(c),
        }) => Reply::Send(command(state, caller, id, &c).await),
        Ok(_) => bad(format!(
            "send `{{\"resume_after\": N}}` (N from 0 to {MAX_SEQ}) or `{{\"command\": \"pause\"|\"resume\"|\"cancel\"}}`"
        )),
        Err(e) => bad(format!("invalid message: {e}")),
    }
}

/// Resolves once the watched token is revoked; never without a watch (`--no-auth`).
async fn revoked(watch: &mut Option<TokenWatch>) {
    match watch {
        Some(w) => w.revoked().await,
        None => std::future::pending().await,
    }
}

async fn command(state: &AppState, caller: &Caller, id: &ExecutionId, c: &str) -> Message {
    let to = match c {
        "pause" => Control::Pause,
        "resume" => Control::Resume,
        "cancel" => Control::Cancel,
        other => {
            return ws_json(
                &AppError::BadRequest(format!("command `{other}`: use pause, resume or cancel"))
                    .problem(),
            );
        }
    };
    let result = async {
        let rec = owned(state, caller, id.as_str()).await?;
        change_owned(state, caller, rec, to).await
    }
    .await;
    match result {
        Ok(v) => ws_json(&serde_json::json!({"type": "ack", "command": c, "state": v.state})),
        Err(e) => ws_json(&e.problem()),
    }
}

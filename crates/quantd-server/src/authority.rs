//! Authority checked on every message, not only when a stream opens.
//!
//! An open SSE stream or WebSocket holds a [`TokenWatch`] on the token it was opened with. One
//! task per server polls the store every [`crate::ServerOptions::revocation_poll`] for which of
//! the watched tokens are still live — one indexed query for all open streams, none while no
//! stream is open — and wakes the streams of a revoked token, which then close. A revocation by
//! another process on the same data directory (`quantd tokens revoke`) is seen the same way,
//! since the poll reads the store, not this process's memory.
//!
//! Acting on a message does not wait for the poll: [`reauthorize`] re-reads the token from the
//! store before each WebSocket command, so a command sent right after a revocation is refused.

use crate::auth::Caller;
use crate::error::AppError;
use crate::{AppState, Inner};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::watch;

/// The tokens of the open streams, each with the flag its streams wait on.
#[derive(Debug, Default)]
pub struct Revocations {
    watched: Mutex<HashMap<String, Watched>>,
    /// Whether the poll task runs (it starts with the first stream).
    polling: AtomicBool,
}

#[derive(Debug)]
struct Watched {
    /// Open streams of this token.
    streams: usize,
    /// `true` once the token was found revoked.
    revoked: watch::Sender<bool>,
}

/// One stream's hold on its token; dropping it ends the watch.
#[derive(Debug)]
pub struct TokenWatch {
    state: AppState,
    token: String,
    revoked: watch::Receiver<bool>,
}

impl TokenWatch {
    /// Resolves once the token is revoked (at once if it already is).
    pub async fn revoked(&mut self) {
        if self.revoked.wait_for(|r| *r).await.is_err() {
            // The flag lives as long as any watch of it; unreachable, but never end a stream
            // for it.
            std::future::pending::<()>().await;
        }
    }

    /// Whether the token was found revoked.
    pub fn is_revoked(&self) -> bool {
        *self.revoked.borrow()
    }
}

impl Drop for TokenWatch {
    fn drop(&mut self) {
        let mut watched = lock(&self.state.inner.revocations.watched);
        if let Some(w) = watched.get_mut(&self.token) {
            w.streams -= 1;
            if w.streams == 0 {
                watched.remove(&self.token);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The maps stay consistent whatever panicked while holding them.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Watches the caller's token for as long as the returned guard lives; `None` with `--no-auth`.
pub fn watch(state: &AppState, caller: &Caller) -> Option<TokenWatch> {
    let token = caller.token.clone()?;
    let revocations = &state.inner.revocations;
    let revoked = {
        let mut watched = lock(&revocations.watched);
        let w = watched.entry(token.clone()).or_insert_with(|| Watched {
            streams: 0,
            revoked: watch::Sender::new(false),
        });
        w.streams += 1;
        w.revoked.subscribe()
    };
    if !revocations.polling.swap(true, Ordering::SeqCst) {
        tokio::spawn(poll(Arc::downgrade(&state.inner)));
    }
    Some(TokenWatch {
        state: state.clone(),
        token,
        revoked,
    })
}

/// The poll task: ends when the server's state is dropped.
async fn poll(inner: Weak<Inner>) {
    let every = match inner.upgrade() {
        Some(i) => i.options.revocation_poll,
        None => return,
    };
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        check(&inner).await;
    }
}

/// One poll: marks every watched token that is no longer live.
async fn check(inner: &Inner) {
    let ids: Vec<String> = lock(&inner.revocations.watched)
        .iter()
        .filter(|(_, w)| !*w.revoked.borrow())
        .map(|(id, _)| id.clone())
        .collect();
    if ids.is_empty() {
        return;
    }
    let live = match inner.engine.tokens().live(&ids).await {
        Ok(live) => live,
        Err(e) => {
            tracing::warn!(error = %e, "checking the tokens of open streams failed");
            return;
        }
    };
    let watched = lock(&inner.revocations.watched);
    for id in ids.iter().filter(|id| !live.contains(*id)) {
        if let Some(w) = watched.get(id) {
            tracing::info!(token = %id, streams = w.streams, "token revoked: closing its streams");
            w.revoked.send_replace(true);
        }
    }
}

/// Re-reads the caller's token before acting on a message of a long-lived connection: `Ok`
/// while it is live (always with `--no-auth`), 401 once it was revoked.
pub async fn reauthorize(
    state: &AppState,
    caller: &Caller,
    watch: Option<&TokenWatch>,
) -> Result<(), AppError> {
    let Some(id) = &caller.token else {
        return Ok(());
    };
    let live = !watch.is_some_and(TokenWatch::is_revoked)
        && state
            .engine()
            .tokens()
            .workspace_of(id)
            .await?
            .is_some_and(|workspace| workspace == caller.workspace);
    if live { Ok(()) } else { Err(revoked()) }
}

/// The problem sent when a connection's token was revoked.
pub fn revoked() -> AppError {
    AppError::Unauthorized(
        "the token this connection was opened with has been revoked; reconnect with a valid token"
            .into(),
    )
}

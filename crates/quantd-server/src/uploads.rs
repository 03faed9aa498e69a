//! Pack uploads on the host's disk: bounded, and never left behind.
//!
//! An upload is streamed into a file under `<data>/uploads` (never held whole in memory) and
//! counted against [`crate::ServerOptions::upload_budget`] from its first byte until its import
//! has ended and the file is gone; an upload that would go over the budget is refused (503 with
//! `Retry-After`) before a byte is written. Its file is removed by whichever comes first:
//!
//! - a refusal or failure while receiving (too large, the client went away): the temporary file
//!   removes itself;
//! - the end of its import execution, whatever the outcome (the engine removes a file it imported
//!   or refused for its content; one that failed for any other reason, or was cancelled, is
//!   removed here);
//! - the next start of a server, for a file whose import ended while no server watched it, or
//!   which no import owns (a crash while receiving) and has not changed for [`ORPHAN_AGE`].

use crate::AppState;
use crate::error::AppError;
use axum::extract::Request;
use axum::http::header;
use futures::StreamExt;
use quantd_core::{ExecutionId, ExecutionKind};
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::sync::broadcast::error::RecvError;

/// How often a watched import's state is re-read when no event says it ended (another process
/// may run it).
const POLL: Duration = Duration::from_secs(1);

/// A file in `uploads/` that no unfinished import owns is removed at startup once it has not
/// changed for this long (younger ones may be arriving in another server on the same data
/// directory).
pub const ORPHAN_AGE: Duration = Duration::from_secs(600);

/// Bytes held by uploads: received, being received, or waiting for their import.
#[derive(Debug, Default)]
pub struct Budget {
    used: Mutex<u64>,
}

/// Bytes held for one upload; released when dropped.
#[derive(Debug)]
pub struct Hold {
    state: AppState,
    bytes: u64,
}

impl Hold {
    /// Holds only `bytes` from now on (the upload turned out smaller than reserved).
    fn shrink(&mut self, bytes: u64) {
        let freed = self.bytes.saturating_sub(bytes);
        *lock(&self.state.inner.uploads.used) -= freed;
        self.bytes -= freed;
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut used = lock(&self.state.inner.uploads.used);
        *used = used.saturating_sub(self.bytes);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reserves `bytes` of the upload budget, or refuses with 503 when they do not fit.
fn reserve(state: &AppState, bytes: u64) -> Result<Hold, AppError> {
    let budget = state.options().upload_budget as u64;
    let mut used = lock(&state.inner.uploads.used);
    if used.saturating_add(bytes) > budget {
        return Err(AppError::Unavailable(format!(
            "uploads in flight already hold {used} of the {budget} bytes the server allows at once (upload_budget, `quantd serve --upload-budget`), and this one needs {bytes}; retry when the running imports have ended"
        )));
    }
    *used += bytes;
    Ok(Hold {
        state: state.clone(),
        bytes,
    })
}

/// Counts bytes already on disk (a file adopted at startup), over the budget if need be.
fn hold_anyway(state: &AppState, bytes: u64) -> Hold {
    *lock(&state.inner.uploads.used) += bytes;
    Hold {
        state: state.clone(),
        bytes,
    }
}

/// An upload saved under `uploads/`, with its share of the budget.
#[derive(Debug)]
pub struct Received {
    /// The file.
    pub path: PathBuf,
    /// Its bytes, held until the file is removed.
    pub hold: Hold,
}

/// Streams the body of `req` into a new file `uploads/upload-*.{ext}`: 413 over
/// [`crate::ServerOptions::upload_limit`] (at once when `Content-Length` says so), 503 when the
/// budget cannot hold it. On any error, and if the request is dropped, the file is removed.
pub async fn receive(state: &AppState, req: Request, ext: &str) -> Result<Received, AppError> {
    let limit = state.options().upload_limit as u64;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(AppError::PayloadTooLarge(limit as usize));
    }
    let mut hold = reserve(state, declared.unwrap_or(limit))?;
    let dir = state.engine().packs().dir().uploads();
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| AppError::Internal(format!("creating {}: {e}", dir.display())))?;
    let file = tempfile::Builder::new()
        .prefix("upload-")
        .suffix(&format!(".{ext}"))
        .tempfile_in(&dir)
        .map_err(|e| AppError::Internal(format!("creating an upload file: {e}")))?;
    let written = write_body(req, file.as_file(), limit).await?;
    hold.shrink(written);
    let path = file
        .into_temp_path()
        .keep()
        .map_err(|e| AppError::Internal(format!("keeping the upload: {e}")))?;
    Ok(Received { path, hold })
}

/// Copies the body into `file`; the byte count, or 413 past `limit`.
async fn write_body(req: Request, file: &std::fs::File, limit: u64) -> Result<u64, AppError> {
    let handle = file
        .try_clone()
        .map_err(|e| AppError::Internal(format!("opening the upload file: {e}")))?;
    let mut out = tokio::fs::File::from_std(handle);
    let mut body = req.into_body().into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| AppError::BadRequest(format!("reading the upload: {e}")))?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(AppError::PayloadTooLarge(limit as usize));
        }
        out.write_all(&chunk)
            .await
            .map_err(|e| AppError::Internal(format!("writing the upload: {e}")))?;
    }
    out.flush()
        .await
        .map_err(|e| AppError::Internal(format!("writing the upload: {e}")))?;
    Ok(written)
}

/// Removes an upload's file (already gone is fine).
pub async fn remove(path: &Path) {
    match tokio::fs::remove_file(path).await {
        Ok(()) => tracing::debug!(file = %path.display(), "upload removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(file = %path.display(), error = %e, "could not remove an upload"),
    }
}

/// Removes the upload once import `id` has ended, then releases its bytes. If the server
/// stops first, the file stays for the import, which continues at the next start.
pub fn remove_when_ended(state: &AppState, id: ExecutionId, received: Received) {
    let state = state.clone();
    tokio::spawn(async move {
        if wait_end(&state, &id).await {
            remove(&received.path).await;
        }
        drop(received.hold);
    });
}

/// Waits until execution `id` is in a final state: `false` if the server stops first.
async fn wait_end(state: &AppState, id: &ExecutionId) -> bool {
    let mut events = state.engine().subscribe();
    let mut shutdown = state.shutdown_signal();
    let mut tick = tokio::time::interval(POLL);
    loop {
        if crate::stream::ended(state, id).await.is_some() {
            return true;
        }
        // Wait for a reason to look again: its final event, a missed event, or the poll.
        loop {
            tokio::select! {
                r = events.recv() => match r {
                    Ok(e) if e.execution == *id && e.event.is_final() => break,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return false,
                },
                _ = tick.tick() => break,
                _ = shutdown.wait_for(|s| *s) => return false,
            }
        }
    }
}

/// At startup: watches the uploads of unfinished imports (their bytes count against the
/// budget) and removes files no unfinished import owns once they are [`ORPHAN_AGE`] old.
pub async fn adopt(state: &AppState) {
    let dir = state.engine().packs().dir().uploads();
    let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
        return;
    };
    let owners = match unfinished_imports(state).await {
        Ok(o) => o,
        Err(e) => {
            tracing::warn!(error = %e, "listing unfinished imports failed; uploads/ left as is");
            return;
        }
    };
    while let Ok(Some(entry)) = entries.next_entry().await {
        let Ok(meta) = entry.metadata().await else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let path = entry.path();
        match owners.get(&entry.file_name()) {
            Some(id) => {
                let hold = hold_anyway(state, meta.len());
                remove_when_ended(state, id.clone(), Received { path, hold });
            }
            None => {
                let age = meta.modified().ok().and_then(|m| m.elapsed().ok());
                if age.is_some_and(|a| a >= ORPHAN_AGE) {
                    tracing::info!(file = %path.display(), "removing an upload no import owns");
                    remove(&path).await;
                }
            }
        }
    }
}

/// The file names of the uploads unfinished imports own.
async fn unfinished_imports(state: &AppState) -> Result<HashMap<OsString, ExecutionId>, AppError> {
    let mut owners = HashMap::new();
    for rec in state.engine().records().unfinished().await? {
        if rec.kind != ExecutionKind::Import {
            continue;
        }
        if let Some(upload) = quantd_engine::exec::import::upload_of(&rec)
            && let Some(name) = upload.file_name()
        {
            owners.insert(name.to_os_string(), rec.id.clone());
        }
    }
    Ok(owners)
}

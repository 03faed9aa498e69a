//! Waiting for an execution to end, for surfaces that answer with its result when it comes
//! soon enough (MCP's `start_execution` with `wait_seconds`, the API's `POST /v1/execute`):
//! woken by the execution's events, reading its record again at least once a second (its work
//! may run in another process, whose events this one does not see).

use super::*;
use std::time::Duration;

/// How often a waiter reads the record when no event woke it.
const POLL: Duration = Duration::from_secs(1);

impl<S: Store> Engine<S> {
    /// Waits until `rec` ends or `wait` passes; `on_change` sees the record each time it is read
    /// (for progress). Returns the record as last read; a completed one with its summary (made
    /// here when the worker that completed it has not stored it yet).
    pub async fn wait_for_end(
        &self,
        rec: ExecutionRecord,
        wait: Duration,
        mut on_change: impl FnMut(&ExecutionRecord) + Send,
    ) -> Result<ExecutionRecord> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut events = self.subscribe();
        let id = rec.id.clone();
        loop {
            // Read after subscribing: an event between the two is seen by one or the other.
            let rec = self.execution(&id).await?;
            on_change(&rec);
            if rec.state == ExecutionState::Completed && rec.summary.is_none() {
                self.finalize(&rec).await?;
                return self.execution(&id).await;
            }
            if rec.state.is_terminal() || tokio::time::Instant::now() >= deadline {
                return Ok(rec);
            }
            let poll = tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + POLL));
            tokio::pin!(poll);
            loop {
                tokio::select! {
                    () = &mut poll => break,
                    got = events.recv() => match got {
                        Ok(e) if e.execution == id => break,
                        Ok(_) => {}
                        Err(broadcast::error::RecvError::Lagged(_)) => break,
                        Err(broadcast::error::RecvError::Closed) => return Ok(rec),
                    },
                }
            }
        }
    }
}

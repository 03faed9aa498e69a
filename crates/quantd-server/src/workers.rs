//! The engine's worker pool inside the server process ([`quantd_engine::exec::pool`]). The pool
//! itself (supervised workers, heartbeats, health snapshots, cancellations from other
//! processes) is the engine's: the same scheduler every process uses; the engine also counts
//! its shards, durations and retries through the `metrics` facade ([`crate::metrics`]).

use crate::AppState;
use std::time::Duration;

/// The running pool.
pub struct Running {
    pool: quantd_engine::exec::pool::Running,
}

impl Running {
    /// Waits up to `grace` for running shards to commit, then gives the rest back to the queue.
    pub async fn join(self, grace: Duration) {
        self.pool.join(grace).await;
    }
}

/// Starts the pool's workers.
pub fn start(state: AppState) -> Running {
    Running {
        pool: state.workers().start(),
    }
}

//! The engine's worker pool inside the server process ([`quantd_engine::exec::pool`]), with the
//! server's metrics observing it: shard outcomes and durations, and retries (counted from the
//! engine's events). The pool itself (supervised workers, heartbeats, health snapshots,
//! cancellations from other processes) is the engine's: the same scheduler every process uses.

use crate::AppState;
use crate::metrics::Metrics;
use quantd_core::Event;
use quantd_engine::exec::pool::PoolObserver;
use std::time::Duration;
use tokio::task::JoinHandle;

impl PoolObserver for Metrics {
    fn shard(&self, outcome: &'static str, took: Duration) {
        self.observe_shard(outcome, took);
    }
}

/// The running pool and its retry counter.
pub struct Running {
    pool: quantd_engine::exec::pool::Running,
    retries: JoinHandle<()>,
}

impl Running {
    /// Waits up to `grace` for running shards to commit, then gives the rest back to the queue.
    pub async fn join(self, grace: Duration) {
        self.pool.join(grace).await;
        self.retries.abort();
    }
}

/// Starts the pool's workers and the task that counts retries for `/metrics`.
pub fn start(state: AppState) -> Running {
    let pool = state.workers().start();
    let mut events = state.engine().subscribe();
    let retries = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(rec) => {
                    if let Event::ShardRetrying { class, .. } = rec.event {
                        state.metrics().observe_retry(class.as_str());
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    Running { pool, retries }
}

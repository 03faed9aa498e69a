//! Events of other processes, relayed: on a store that announces writes (Postgres `NOTIFY`, see
//! `quantd_store`'s `event_wakeups`), each wake-up names an execution; the relay reads its events
//! after the last one relayed and broadcasts them as if committed here, so every API node streams
//! every execution's events whichever worker wrote them, without waiting for a stream's poll.
//! Subscribers drop what they already have (sequence numbers), so events this process committed
//! and relays again are harmless. Without announcements the relay does nothing and streams poll.

use super::Engine;
use crate::error::Result;
use quantd_core::ExecutionId;
use quantd_store::Store;
use std::collections::HashMap;
use std::sync::Arc;

/// Events read per wake-up at most (a stream fills a larger gap from the store itself).
const BATCH: u32 = 1000;
/// Executions whose last relayed event is remembered; past this the memory starts afresh.
const REMEMBERED: usize = 10_000;

impl<S: Store> Engine<S> {
    /// Starts relaying events other processes write, when the store announces them; returns
    /// whether it started. The relay ends with the last handle on the engine.
    pub async fn relay_events(self: &Arc<Self>) -> Result<bool> {
        let Some(mut wakeups) = self.store().event_wakeups().await? else {
            return Ok(false);
        };
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut last: HashMap<ExecutionId, u64> = HashMap::new();
            while let Some(id) = wakeups.recv().await {
                let Some(engine) = engine.upgrade() else {
                    return;
                };
                if last.len() > REMEMBERED {
                    last.clear();
                }
                let after = last.get(&id).copied().unwrap_or(0);
                match engine.store().events_after(&id, after, BATCH).await {
                    Ok(events) => {
                        if let Some(e) = events.last() {
                            last.insert(id, e.seq);
                        }
                        engine.broadcast(events);
                    }
                    Err(e) => tracing::warn!(execution = %id, error = %e, "relaying events failed"),
                }
            }
        });
        Ok(true)
    }
}

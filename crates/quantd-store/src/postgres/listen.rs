//! Event wake-ups across processes: a trigger on `events` runs `pg_notify('quantd_events', id)`
//! for every execution that gets events (one per id per transaction), and [`event_wakeups`]
//! listens on that channel and hands the ids on. Only ids travel, never events: a listener reads
//! the rows, so a lost notification delays an event but never changes it. A lost connection is
//! re-opened by the listener; what was announced meanwhile is lost, which is why readers also
//! poll.

use crate::error::Result;
use quantd_core::ExecutionId;
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::mpsc;

/// The channel the `events_notify` trigger announces on.
pub const CHANNEL: &str = "quantd_events";
/// Wake-ups held for a slow reader; more are dropped (it polls too).
const QUEUE: usize = 1024;
/// Pause after a failed receive before listening again.
const RETRY: Duration = Duration::from_secs(1);

/// Listens on [`CHANNEL`] with a connection of its own (opened here, so an unreachable server is
/// an error now) and sends each announced execution id until the receiver is dropped.
pub async fn event_wakeups(pool: &PgPool) -> Result<mpsc::Receiver<ExecutionId>> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(async move {
        while !tx.is_closed() {
            match listener.try_recv().await {
                Ok(Some(n)) => match n.payload().parse::<ExecutionId>() {
                    Ok(id) => {
                        let _ = tx.try_send(id);
                    }
                    Err(_) => {
                        tracing::warn!(payload = n.payload(), "not an execution id on {CHANNEL}")
                    }
                },
                Ok(None) => tracing::warn!(
                    "the connection listening for events was lost and is re-opened; events \
                     announced meantime arrive by polling"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "listening for events failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    });
    Ok(rx)
}

//! Events: the numbered, appended record of what happened to an execution. They drive live
//! progress (SSE, WebSocket, CLI bars) and replay; the store appends them in the same transaction
//! as the state change they describe.

use crate::error::ErrorClass;
use crate::ids::ExecutionId;
use serde::{Deserialize, Serialize};

/// One thing that happened to an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Event {
    /// The execution was accepted and planned into `shards` shards.
    ExecutionCreated {
        /// Number of shards in the plan.
        shards: u32,
    },
    /// The first shard started.
    ExecutionStarted,
    /// No new shards will start until resumed.
    ExecutionPaused,
    /// Shards may start again.
    ExecutionResumed,
    /// Every shard finished.
    ExecutionCompleted {
        /// Shards that failed under an `on-shard-failure continue` policy.
        failed_shards: u32,
    },
    /// The execution ended with an error.
    ExecutionFailed {
        /// The error's class.
        class: ErrorClass,
        /// What went wrong, for the user.
        message: String,
    },
    /// The execution was cancelled; committed results stay readable.
    ExecutionCancelled,
    /// A worker claimed a shard.
    ShardStarted {
        /// Shard index.
        shard: u32,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// A shard's results were committed.
    ShardCompleted {
        /// Shard index.
        shard: u32,
        /// Result rows the shard committed.
        rows: u64,
    },
    /// A shard failed for good.
    ShardFailed {
        /// Shard index.
        shard: u32,
        /// The error's class.
        class: ErrorClass,
        /// What went wrong.
        message: String,
    },
    /// A shard failed and will be retried after `delay_ms`.
    ShardRetrying {
        /// Shard index.
        shard: u32,
        /// The attempt that will run next.
        attempt: u32,
        /// Backoff before the next attempt.
        delay_ms: u64,
        /// The error's class.
        class: ErrorClass,
    },
    /// Progress counters.
    Progress {
        /// Shards done (or failed for good).
        done: u32,
        /// Shards in the plan.
        total: u32,
        /// Bars processed so far.
        bars: u64,
        /// Result rows (signals, trades, …) so far.
        rows: u64,
        /// Estimated time to completion, when known.
        eta_ms: Option<u64>,
    },
    /// Progress inside a running shard, for work that is one long step (a pack import):
    /// `done` of `total` units (0: unknown) of its current `phase`.
    Phase {
        /// The step under way (`parse`, `validate`, `write`, ...).
        phase: String,
        /// Units done in this phase.
        done: u64,
        /// Units in this phase; 0 when unknown.
        total: u64,
    },
    /// A pattern's step started: its child execution was created (or, for a `select` or a
    /// `call`, its work began).
    StepStarted {
        /// The step (`scan`, `bt[3]` for an item of a `for_each`).
        step: String,
        /// Its child execution, when it runs one.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        child: Option<ExecutionId>,
        /// The step's attempt, from 1 (`retry --from` runs a step again as its next attempt).
        attempt: u32,
    },
    /// A pattern's step completed; its outputs are in the pattern's report.
    StepCompleted {
        /// The step.
        step: String,
        /// Its child execution, when it ran one.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        child: Option<ExecutionId>,
        /// The step's attempt.
        attempt: u32,
        /// How long it took.
        duration_ms: u64,
        /// A completed identical run was reused (the step cache).
        cached: bool,
    },
    /// A pattern's step was skipped: its condition was false, or a step it needs failed or was
    /// skipped.
    StepSkipped {
        /// The step.
        step: String,
        /// Why.
        reason: String,
    },
    /// A pattern's step failed.
    StepFailed {
        /// The step.
        step: String,
        /// Its child execution, when it ran one.
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        child: Option<ExecutionId>,
        /// The step's attempt.
        attempt: u32,
        /// How long it took.
        duration_ms: u64,
        /// The error's class.
        class: ErrorClass,
        /// What went wrong.
        message: String,
    },
    /// Something happened to an order of a paper session (`paper` executions): the broker took,
    /// refused, filled, cancelled or expired it on bar `bar`.
    Order {
        /// The session's bar (0-based, in its window of the pack).
        bar: u64,
        /// The bar's time, as the pack's calendar writes it.
        time: String,
        /// `accepted`, `rejected`, `filled`, `cancelled` or `expired`.
        status: String,
        /// The broker's order id (0 for an order refused before it got one).
        order: u64,
        /// The strategy's own id of the order, when it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_id: Option<u64>,
        /// The ticker filled (fills only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticker: Option<String>,
        /// Signed units filled (fills only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<f64>,
        /// Fill price (fills only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price: Option<f64>,
        /// The trade the fill opened or reduced (fills only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trade: Option<u64>,
        /// Whether part of the order is still open (fills only).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        partial: bool,
        /// Why it was refused or cancelled.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A paper session's trading day ended: its account after the day's last bar.
    SessionDay {
        /// The day, `YYYY-MM-DD` in the pack's zone.
        date: String,
        /// The day's last bar.
        bar: u64,
        /// Cash plus open trades marked at the close.
        equity: f64,
        /// Cash: the equity less the open positions' value at the close (what is not invested;
        /// negative when bought on margin).
        cash: f64,
        /// Equity change since the previous day's end (since the start on the first day).
        pnl: f64,
        /// Trades open after the day.
        open_trades: u32,
        /// Fills during the day.
        fills: u32,
        /// Units held after the day by ticker (negative: short), tickers held only.
        #[serde(default)]
        positions: std::collections::BTreeMap<String, f64>,
    },
    /// A live session (`live` executions) starts mirroring its book to the broker account from
    /// bar `bar` on: the bars before are history the strategy warms up on. What the strategy's
    /// book gains from then on (over `book`) is added to what the account held (`held`).
    LiveStart {
        /// The first bar whose trades reach the account (0-based, in the session's window).
        bar: u64,
        /// Units the account held or had on order by ticker when the session started.
        held: std::collections::BTreeMap<String, f64>,
        /// The strategy's book then: units of its open trades and waiting market orders.
        #[serde(default)]
        book: std::collections::BTreeMap<String, f64>,
    },
    /// An order of a live session at the broker: placed by the session on bar `bar` to bring
    /// the account to the strategy's book (`submitted`), or what the broker said about it
    /// (`accepted`, `filled`, `rejected`, `cancelled`, `expired`).
    LiveOrder {
        /// The session's bar when it was placed or heard of.
        bar: u64,
        /// The bar's time, as the pack's calendar writes it.
        time: String,
        /// `submitted`, `accepted`, `filled`, `rejected`, `cancelled` or `expired`.
        status: String,
        /// The ticker.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ticker: Option<String>,
        /// Signed units ordered (`submitted`) or filled (`filled`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<f64>,
        /// The broker's fill price (fills only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        price: Option<f64>,
        /// The bar the order was placed on (broker events; read from its client order id).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        placed: Option<u64>,
        /// Why the broker refused or cancelled it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// A health snapshot.
    Health {
        /// Score from 0 to 100.
        score: u8,
        /// `excellent`, `good`, `degraded` or `critical`.
        band: String,
    },
}

impl Event {
    /// Whether this event ends the execution's stream.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            Event::ExecutionCompleted { .. }
                | Event::ExecutionFailed { .. }
                | Event::ExecutionCancelled
        )
    }

    /// Whether this event belongs to a paper or live session's record (orders, fills, days, and
    /// a live session's broker orders): what `/orders` pages and what rights may withhold.
    pub fn is_session_record(&self) -> bool {
        matches!(
            self,
            Event::Order { .. }
                | Event::SessionDay { .. }
                | Event::LiveStart { .. }
                | Event::LiveOrder { .. }
        )
    }

    /// The pattern step this event is about (`step-started`, `-completed`, `-skipped`,
    /// `-failed`).
    pub fn step(&self) -> Option<&str> {
        match self {
            Event::StepStarted { step, .. }
            | Event::StepCompleted { step, .. }
            | Event::StepSkipped { step, .. }
            | Event::StepFailed { step, .. } => Some(step),
            _ => None,
        }
    }
}

/// An event as stored: its execution, its sequence number within that execution (from 1, no
/// gaps) and when it was appended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventRecord {
    /// The execution the event belongs to.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub execution: ExecutionId,
    /// Per-execution sequence number, from 1.
    pub seq: u64,
    /// When it was appended (RFC 3339, UTC).
    pub at: chrono::DateTime<chrono::Utc>,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_a_kebab_case_type_tag() {
        let e = Event::ShardRetrying {
            shard: 3,
            attempt: 2,
            delay_ms: 500,
            class: ErrorClass::Network,
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "shard-retrying");
        assert_eq!(json["class"], "network");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn only_terminal_events_are_final() {
        assert!(Event::ExecutionCancelled.is_final());
        assert!(Event::ExecutionCompleted { failed_shards: 0 }.is_final());
        assert!(!Event::ExecutionPaused.is_final());
        assert!(!Event::ShardCompleted { shard: 0, rows: 1 }.is_final());
    }
}

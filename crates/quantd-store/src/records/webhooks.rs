//! Webhooks and their deliveries as stored: a webhook (URL, events, secret) of a workspace; a
//! delivery of one execution's terminal state to one webhook, written by the store in the same
//! transaction as that state; and each attempt to send it.

use super::executions::Millis;
use serde_json::Value;

/// A webhook to store.
#[derive(Clone, PartialEq)]
pub struct NewWebhook {
    /// Its id (made by the engine).
    pub id: String,
    /// The workspace whose executions it hears about.
    pub workspace: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The terminal states it is told about: `completed`, `failed`, `cancelled`.
    pub events: Vec<String>,
    /// The HMAC-SHA256 key deliveries are signed with.
    pub secret: String,
    /// When it was created.
    pub created_at: Millis,
}

/// A stored webhook, with its secret (the engine signs with it and never returns it).
#[derive(Clone, PartialEq)]
pub struct WebhookRecord {
    /// Its id.
    pub id: String,
    /// Its workspace.
    pub workspace: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The terminal states it is told about.
    pub events: Vec<String>,
    /// The HMAC-SHA256 key.
    pub secret: String,
    /// When it was created.
    pub created_at: Millis,
}

impl std::fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewWebhook")
            .field("id", &self.id)
            .field("workspace", &self.workspace)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl std::fmt::Debug for WebhookRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRecord")
            .field("id", &self.id)
            .field("workspace", &self.workspace)
            .field("url", &self.url)
            .field("events", &self.events)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its first attempt, for its backoff, or with an attempt in flight.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Every attempt failed.
    Failed,
}

impl DeliveryState {
    /// Its name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }
}

/// One attempt to send a delivery.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    /// Its number: 1, 2, …
    pub n: u32,
    /// When it started.
    pub at: Millis,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    /// Why it failed; `None` when delivered.
    pub error: Option<String>,
    /// How long it took, in ms.
    pub duration_ms: u64,
}

/// A delivery with its attempts, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    /// Its id (the same on every attempt).
    pub id: String,
    /// Its webhook.
    pub webhook_id: String,
    /// The execution it is about.
    pub execution_id: String,
    /// `completed`, `failed` or `cancelled`.
    pub event: String,
    /// The execution as the terminal change left it (JSON object written by the store).
    pub execution: Value,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts started.
    pub attempts: u32,
    /// When pending: not sent before this time.
    pub next_at: Millis,
    /// When the terminal change happened.
    pub created_at: Millis,
    /// When it was delivered or failed for good.
    pub finished_at: Option<Millis>,
    /// Its attempts, in order.
    pub log: Vec<DeliveryAttempt>,
}

/// A delivery claimed for one attempt, with what sending needs.
#[derive(Clone, PartialEq)]
pub struct DueDelivery {
    /// The delivery.
    pub id: String,
    /// Its attempt number (fences [`crate::WebhookStore::record_delivery_attempt`]).
    pub attempt: u32,
    /// Its webhook.
    pub webhook_id: String,
    /// The webhook's URL.
    pub url: String,
    /// The webhook's key.
    pub secret: String,
    /// `completed`, `failed` or `cancelled`.
    pub event: String,
    /// The execution as the terminal change left it.
    pub execution: Value,
    /// When the terminal change happened.
    pub created_at: Millis,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("id", &self.id)
            .field("attempt", &self.attempt)
            .field("webhook_id", &self.webhook_id)
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("event", &self.event)
            .finish_non_exhaustive()
    }
}

/// What follows an attempt (the engine's retry policy decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryNext {
    /// It was delivered.
    Delivered,
    /// Try again at this time.
    RetryAt(Millis),
    /// No attempt is left: it failed.
    Failed,
}

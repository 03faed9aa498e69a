//! Webhooks of a workspace (docs/webhooks.md): URLs told when an execution ends (`completed`,
//! `failed`, `cancelled`), by a JSON POST signed with HMAC-SHA256.
//!
//! The store writes a delivery (an outbox row) in the same transaction that ends the execution,
//! so an end never commits without its deliveries, and sending is never on the execution's
//! path: the worker pool runs [`Engine::deliver_due`] in its own task, a receiver that hangs or
//! fails costs that task a timeout and nothing else. Each attempt is logged (status, error,
//! duration); a failed one is retried with exponential backoff on the engine's clock, up to
//! [`WebhookOptions::max_attempts`], then the delivery is `failed`.
//!
//! Secrets are stored (they must sign) but returned only once, in the answer that created the
//! webhook; they never reach a log or a listing.

use crate::error::{EngineError, Result};
use crate::exec::Engine;
use chrono::{DateTime, Utc};
use quantd_agents::{AgentClient, ClientOptions, Notification, NotifyError};
use quantd_store::{
    DeliveryAttempt, DeliveryNext, DeliveryRecord, DueDelivery, Millis, NewWebhook, Store,
    WebhookRecord,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The events a webhook can ask for: the terminal states of an execution.
pub const EVENTS: [&str; 3] = ["completed", "failed", "cancelled"];
/// The header naming the event.
pub const EVENT_HEADER: &str = "x-quantd-event";
/// The header with the delivery's id (the same on every attempt: receivers deduplicate by it).
pub const DELIVERY_HEADER: &str = "x-quantd-delivery";
pub use quantd_agents::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign, verify_signature};

/// How webhooks are delivered and what they may be; every field is documented in
/// docs/limits.md and docs/webhooks.md.
#[derive(Debug, Clone)]
pub struct WebhookOptions {
    /// Webhooks a workspace may have (default 20).
    pub max_per_workspace: u32,
    /// Longest URL, in bytes (default 2,048).
    pub max_url_bytes: usize,
    /// Shortest and longest secret a caller may give, in bytes (default 16 and 256).
    pub secret_bytes: (usize, usize),
    /// Largest body POSTed, in bytes: a longer execution error message is cut to fit
    /// (default 64 KiB).
    pub max_body_bytes: usize,
    /// How long one attempt waits for a 2xx answer, in ms (default 10,000).
    pub timeout_ms: u64,
    /// Attempts per delivery, the first included (default 8).
    pub max_attempts: u32,
    /// Wait before the second attempt, in ms (default 5,000); each further wait is multiplied
    /// by `backoff_coefficient` up to `max_backoff_ms`.
    pub initial_backoff_ms: u64,
    /// The backoff's multiplier (default 2).
    pub backoff_coefficient: f64,
    /// The longest wait between attempts, in ms (default 10 minutes).
    pub max_backoff_ms: u64,
    /// Deliveries in flight at once per process (default 16).
    pub concurrency: u32,
    /// How often the delivery loop looks for due deliveries when nothing woke it, in ms
    /// (default 1,000).
    pub poll_ms: u64,
}

impl Default for WebhookOptions {
    fn default() -> Self {
        WebhookOptions {
            max_per_workspace: 20,
            max_url_bytes: 2048,
            secret_bytes: (16, 256),
            max_body_bytes: 64 << 10,
            timeout_ms: 10_000,
            max_attempts: 8,
            initial_backoff_ms: 5_000,
            backoff_coefficient: 2.0,
            max_backoff_ms: 600_000,
            concurrency: 16,
            poll_ms: 1_000,
        }
    }
}

impl WebhookOptions {
    /// The wait after failed attempt `n` (1-based): `initial × coefficient^(n-1)`, capped.
    pub fn backoff_ms(&self, n: u32) -> u64 {
        let exp = i32::try_from(n.saturating_sub(1)).unwrap_or(i32::MAX);
        let ms = self.initial_backoff_ms as f64 * self.backoff_coefficient.powi(exp);
        if ms.is_finite() {
            (ms as u64).min(self.max_backoff_ms)
        } else {
            self.max_backoff_ms
        }
    }
}

/// A webhook to register (`quantd webhooks add`, `POST /v1/webhooks`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WebhookSpec {
    /// Where deliveries are POSTed: `http://` or `https://`, without credentials.
    pub url: String,
    /// The events it is told about, among `completed`, `failed`, `cancelled`; all three when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<String>>,
    /// The HMAC-SHA256 key deliveries are signed with (16 to 256 bytes); generated when
    /// absent. Returned once, in the answer that creates the webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// A webhook as listed (its secret only in the answer that created it).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    /// Its id (`wh_…`).
    pub id: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// The events it is told about.
    pub events: Vec<String>,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// The signing secret: only in the answer to its creation, never again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptView {
    /// Its number: 1, 2, …
    pub n: u32,
    /// When it started.
    pub at: DateTime<Utc>,
    /// The HTTP status, when one came back.
    pub status: Option<u16>,
    /// Why it failed; null when delivered.
    pub error: Option<String>,
    /// How long it took, in ms.
    pub duration_ms: u64,
}

/// A delivery: one execution's end told to one webhook, with its attempts.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryView {
    /// Its id: the `X-Quantd-Delivery` header, the same on every attempt.
    pub id: String,
    /// Its webhook.
    pub webhook_id: String,
    /// The execution it is about.
    pub execution_id: String,
    /// `completed`, `failed` or `cancelled`.
    pub event: String,
    /// `pending`, `delivered` or `failed` (every attempt failed).
    pub state: String,
    /// Attempts started.
    pub attempts: u32,
    /// When pending: the next attempt is not before this time.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the execution ended.
    pub created_at: DateTime<Utc>,
    /// When it was delivered or failed for good.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its attempts, in order.
    pub log: Vec<AttemptView>,
}

/// The JSON body of a delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookPayload {
    /// The delivery's id (as `X-Quantd-Delivery`).
    pub id: String,
    /// `completed`, `failed` or `cancelled` (as `X-Quantd-Event`).
    pub event: String,
    /// The execution as it ended: `id`, `kind`, `name`, `state`, `error_class`,
    /// `error_message`, `shards_total`, `shards_done`, `shards_failed`, `rows`, `fingerprint`,
    /// `created_at`, `started_at`, `finished_at` (RFC 3339).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub execution: Value,
    /// When it ended (RFC 3339).
    pub at: DateTime<Utc>,
}

/// What the engine keeps for deliveries: the HTTP client, made on first use.
#[derive(Default)]
pub(crate) struct WebhookState {
    client: OnceLock<AgentClient>,
}

fn ms(t: Millis) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

fn invalid(msg: impl Into<String>) -> EngineError {
    EngineError::Invalid(msg.into())
}

impl WebhookView {
    fn of(r: WebhookRecord, secret: Option<String>) -> Self {
        WebhookView {
            id: r.id,
            url: r.url,
            events: r.events,
            created_at: ms(r.created_at),
            secret,
        }
    }
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(d: DeliveryRecord) -> Self {
        let pending = d.state == quantd_store::DeliveryState::Pending;
        DeliveryView {
            id: d.id,
            webhook_id: d.webhook_id,
            execution_id: d.execution_id,
            event: d.event,
            state: d.state.as_str().to_string(),
            attempts: d.attempts,
            next_attempt_at: pending.then(|| ms(d.next_at)),
            created_at: ms(d.created_at),
            finished_at: d.finished_at.map(ms),
            log: d
                .log
                .into_iter()
                .map(|a| AttemptView {
                    n: a.n,
                    at: ms(a.at),
                    status: a.status,
                    error: a.error,
                    duration_ms: a.duration_ms,
                })
                .collect(),
        }
    }
}

/// Checks a spec against `o`; returns its events (all when absent).
fn check(spec: &WebhookSpec, o: &WebhookOptions) -> Result<Vec<String>> {
    if spec.url.len() > o.max_url_bytes {
        return Err(invalid(format!(
            "`url` is {} bytes, over the limit of {} (docs/limits.md)",
            spec.url.len(),
            o.max_url_bytes
        )));
    }
    quantd_agents::check_notify_url(&spec.url).map_err(|e| invalid(e.to_string()))?;
    let events = match &spec.events {
        None => EVENTS.iter().map(|e| e.to_string()).collect(),
        Some(list) if list.is_empty() => {
            return Err(invalid(
                "`events` is empty: name at least one of completed, failed, cancelled (or leave it out for all three)",
            ));
        }
        Some(list) => {
            for (i, e) in list.iter().enumerate() {
                if !EVENTS.contains(&e.as_str()) {
                    return Err(invalid(format!(
                        "`events[{i}]` is `{}`: use completed, failed or cancelled",
                        quantd_data::text::cut(e, 32)
                    )));
                }
                if list[..i].contains(e) {
                    return Err(invalid(format!("`events[{i}]` repeats `{e}`")));
                }
            }
            list.clone()
        }
    };
    if let Some(secret) = &spec.secret {
        let (min, max) = o.secret_bytes;
        if secret.len() < min || secret.len() > max {
            return Err(invalid(format!(
                "`secret` is {} bytes: give {min} to {max} bytes, or leave it out to have one generated",
                secret.len()
            )));
        }
        if secret.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(invalid(
                "`secret` has whitespace or control characters: use printable characters only",
            ));
        }
    }
    Ok(events)
}

/// The body of a delivery, at most `max` bytes (a long error message is cut to fit).
fn payload(d: &DueDelivery, max: usize) -> Vec<u8> {
    let mut execution = d.execution.clone();
    if let Value::Object(map) = &mut execution {
        for key in ["created_at", "started_at", "finished_at"] {
            if let Some(t) = map.get(key).and_then(Value::as_i64) {
                map.insert(key.into(), Value::String(ms(t).to_rfc3339()));
            }
        }
    }
    let mut body = WebhookPayload {
        id: d.id.clone(),
        event: d.event.clone(),
        execution,
        at: ms(d.created_at),
    };
    let mut bytes = serde_json::to_vec(&body).expect("payloads serialize");
    // Cut the error message until the body fits: first by the excess, then by halves (JSON
    // escapes make the bytes of a character vary); a few rounds at most, whatever the sizes.
    const NOTE: &str = "… (cut to fit the webhook body limit)";
    for round in 0..16 {
        let Some(Value::String(message)) = body.execution.get_mut("error_message") else {
            break;
        };
        if bytes.len() <= max || message.is_empty() {
            break;
        }
        let chars = message.chars().count();
        let keep = if round == 0 {
            chars.saturating_sub(bytes.len() - max + NOTE.len())
        } else {
            chars / 2
        };
        let end = message
            .char_indices()
            .nth(keep)
            .map_or(message.len(), |(i, _)| i);
        message.truncate(end);
        if round == 0 {
            message.push_str(NOTE);
        }
        bytes = serde_json::to_vec(&body).expect("payloads serialize");
    }
    bytes
}

impl<S: Store> Engine<S> {
    /// Registers a webhook of `workspace`; the view carries its secret, this once.
    pub async fn add_webhook(&self, workspace: &str, spec: &WebhookSpec) -> Result<WebhookView> {
        let o = &self.options().webhooks;
        let events = check(spec, o)?;
        let secret = match &spec.secret {
            Some(s) => s.clone(),
            None => format!(
                "whsec_{}",
                crate::services::random_hex(24)
                    .map_err(|e| EngineError::Internal(format!("generating a secret: {e}")))?
            ),
        };
        let id = format!(
            "wh_{}",
            crate::services::random_hex(8)
                .map_err(|e| EngineError::Internal(format!("generating an id: {e}")))?
        );
        let w = NewWebhook {
            id,
            workspace: workspace.to_string(),
            url: spec.url.clone(),
            events,
            secret: secret.clone(),
            created_at: self.clock().now_ms(),
        };
        if !self.store().create_webhook(&w, o.max_per_workspace).await? {
            return Err(invalid(format!(
                "this workspace already has {} webhooks, the limit (docs/limits.md): remove one first (`quantd webhooks remove ID`)",
                o.max_per_workspace
            )));
        }
        tracing::info!(workspace, webhook = %w.id, events = ?w.events, "webhook registered");
        let record = WebhookRecord {
            id: w.id,
            workspace: w.workspace,
            url: w.url,
            events: w.events,
            secret: w.secret,
            created_at: w.created_at,
        };
        Ok(WebhookView::of(record, Some(secret)))
    }

    /// The webhooks of `workspace`, oldest first, without their secrets.
    pub async fn webhooks(&self, workspace: &str) -> Result<Vec<WebhookView>> {
        Ok(self
            .store()
            .webhooks(workspace)
            .await?
            .into_iter()
            .map(|w| WebhookView::of(w, None))
            .collect())
    }

    /// Removes webhook `id` of `reader`'s workspace with its deliveries, recorded as `deleted`.
    pub async fn remove_webhook(&self, reader: &crate::rights::Reader, id: &str) -> Result<()> {
        if !self.store().remove_webhook(&reader.workspace, id).await? {
            return Err(not_found(id));
        }
        self.record_removal(reader, &format!("webhook {id}")).await;
        Ok(())
    }

    /// Up to `limit` (1 to 500) deliveries of webhook `id` of `workspace`, newest first, with
    /// their attempts.
    pub async fn webhook_deliveries(
        &self,
        workspace: &str,
        id: &str,
        limit: u32,
    ) -> Result<Vec<DeliveryView>> {
        if !(1..=500).contains(&limit) {
            return Err(invalid(format!("`limit` is {limit}: give 1 to 500")));
        }
        match self
            .store()
            .webhook_deliveries(workspace, id, limit)
            .await?
        {
            Some(list) => Ok(list.into_iter().map(DeliveryView::from).collect()),
            None => Err(not_found(id)),
        }
    }

    fn webhook_client(&self) -> Result<&AgentClient> {
        if let Some(c) = self.webhooks.client.get() {
            return Ok(c);
        }
        let c = AgentClient::new(ClientOptions::default())
            .map_err(|e| EngineError::Internal(format!("the webhook client: {e}")))?;
        Ok(self.webhooks.client.get_or_init(|| c))
    }

    /// Claims up to `limit` due deliveries for one attempt each (held for the attempt's timeout
    /// and a minute, so a process that dies while sending leaves them to another).
    pub(crate) async fn claim_deliveries(&self, limit: u32) -> Result<Vec<DueDelivery>> {
        let now = self.clock().now_ms();
        let hold = self.options().webhooks.timeout_ms.saturating_add(60_000);
        Ok(self
            .store()
            .claim_deliveries(now, now.saturating_add_unsigned(hold), limit)
            .await?)
    }

    /// Sends one claimed delivery and records the attempt and what follows; returns what
    /// follows (`None` when the record was refused: the webhook was removed meanwhile).
    #[tracing::instrument(level = "debug", skip(self, d), fields(webhook = %d.webhook_id, delivery = %d.id, attempt = d.attempt))]
    pub(crate) async fn send_delivery(&self, d: &DueDelivery) -> Result<Option<DeliveryNext>> {
        let o = &self.options().webhooks;
        let body = payload(d, o.max_body_bytes);
        let at = self.clock().now_ms();
        let started = Instant::now();
        let headers = [
            (EVENT_HEADER, d.event.as_str()),
            (DELIVERY_HEADER, d.id.as_str()),
        ];
        let note = Notification {
            url: &d.url,
            secret: d.secret.as_bytes(),
            headers: &headers,
            body: &body,
            now_ms: at,
        };
        let sent = self
            .webhook_client()?
            .notify(&note, Duration::from_millis(o.timeout_ms))
            .await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let now = self.clock().now_ms();
        let (status, error, next) = match &sent {
            Ok(status) => (Some(*status), None, DeliveryNext::Delivered),
            Err(e) => {
                let next = if d.attempt >= o.max_attempts {
                    DeliveryNext::Failed
                } else {
                    DeliveryNext::RetryAt(now.saturating_add_unsigned(o.backoff_ms(d.attempt)))
                };
                (e.status(), Some(describe(e)), next)
            }
        };
        match &error {
            None => {
                tracing::info!(webhook = %d.webhook_id, delivery = %d.id, attempt = d.attempt, status, duration_ms, "webhook delivered")
            }
            Some(e) => {
                tracing::warn!(webhook = %d.webhook_id, delivery = %d.id, attempt = d.attempt, status, duration_ms, error = %e, next = ?next, "webhook attempt failed")
            }
        }
        let attempt = DeliveryAttempt {
            n: d.attempt,
            at,
            status,
            error,
            duration_ms,
        };
        let recorded = self
            .store()
            .record_delivery_attempt(&d.id, &attempt, next, now)
            .await?;
        Ok(recorded.then_some(next))
    }

    /// One pass of the delivery loop, for tests and tools that step it: claims up to
    /// [`WebhookOptions::concurrency`] due deliveries, sends them concurrently, records each
    /// attempt; returns how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize> {
        let due = self
            .claim_deliveries(self.options().webhooks.concurrency)
            .await?;
        let n = due.len();
        let sends = due.iter().map(|d| self.send_delivery(d));
        for r in crate::exec::join_all(sends).await {
            r?;
        }
        Ok(n)
    }
}

fn not_found(id: &str) -> EngineError {
    EngineError::NotFound {
        what: format!("webhook `{}`", quantd_data::text::cut(id, 64)),
        hint: "; list this workspace's webhooks with `quantd webhooks list`".into(),
    }
}

/// An attempt's error for the log.
fn describe(e: &NotifyError) -> String {
    e.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(url: &str) -> WebhookSpec {
        WebhookSpec {
            url: url.into(),
            events: None,
            secret: None,
        }
    }

    #[test]
    fn bad_specs_name_the_field() {
        let o = WebhookOptions::default();
        let err = |s: WebhookSpec| check(&s, &o).unwrap_err().to_string();
        assert!(err(spec("ftp://x/")).contains("`url` must be http:// or https://"));
        assert!(err(spec("http://u:p@x/")).contains("credentials"));
        assert!(
            err(spec(&format!("http://x/{}", "a".repeat(3000)))).contains("over the limit of 2048")
        );
        let e = err(WebhookSpec {
            events: Some(vec!["completed".into(), "done".into()]),
            ..spec("http://x/")
        });
        assert!(e.contains("`events[1]` is `done`"), "{e}");
        let e = err(WebhookSpec {
            events: Some(vec![]),
            ..spec("http://x/")
        });
        assert!(e.contains("`events` is empty"), "{e}");
        let e = err(WebhookSpec {
            secret: Some("short".into()),
            ..spec("http://x/")
        });
        assert!(e.contains("`secret` is 5 bytes: give 16 to 256"), "{e}");
        assert_eq!(check(&spec("https://hooks.example/q"), &o).unwrap(), EVENTS);
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let o = WebhookOptions {
            initial_backoff_ms: 1_000,
            max_backoff_ms: 5_000,
            ..WebhookOptions::default()
        };
        let waits: Vec<u64> = (1..=5).map(|n| o.backoff_ms(n)).collect();
        assert_eq!(waits, [1_000, 2_000, 4_000, 5_000, 5_000]);
    }

    #[test]
    fn a_long_error_message_is_cut_to_fit_the_body() {
        let d = DueDelivery {
            id: "dlv_1".into(),
            attempt: 1,
            webhook_id: "wh_1".into(),
            url: "http://x/".into(),
            secret: "s".repeat(16),
            event: "failed".into(),
            execution: serde_json::json!({"id": "e", "error_message": "x".repeat(10_000), "finished_at": 1_700_000_000_000i64}),
            created_at: 1_700_000_000_000,
        };
        let body = payload(&d, 2_000);
        assert!(body.len() <= 2_000, "{}", body.len());
        let v: WebhookPayload = serde_json::from_slice(&body).unwrap();
        assert!(
            v.execution["error_message"]
                .as_str()
                .unwrap()
                .starts_with("xxxx")
        );
        assert_eq!(v.execution["finished_at"], "2023-11-14T22:13:20+00:00");
        assert!(
            payload(&d, 1 << 20).len() > 10_000,
            "untouched under the limit"
        );
        let escaped = DueDelivery {
            execution: serde_json::json!({"id": "e", "error_message": "\u{1}é\n".repeat(5_000)}),
            ..d.clone()
        };
        assert!(
            payload(&escaped, 2_000).len() <= 2_000,
            "escapes and multi-byte characters"
        );
        assert!(
            payload(&escaped, 10).len() > 10,
            "a body that cannot fit ends the cutting"
        );
    }
}

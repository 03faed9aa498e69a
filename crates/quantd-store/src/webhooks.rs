//! The webhook area of the contract: webhooks of each workspace, and their deliveries (an
//! outbox). A backend writes one pending delivery per subscribed webhook in the same
//! transaction that moves an execution to `completed`, `failed` or `cancelled`, whatever
//! method does it; the engine claims due deliveries, sends them outside any execution's path,
//! and records each attempt with what follows (its retry policy decides, not the store).

use crate::error::Result;
use crate::records::{
    DeliveryAttempt, DeliveryNext, DeliveryRecord, DueDelivery, Millis, NewWebhook, WebhookRecord,
};
use std::future::Future;

/// Webhooks and their deliveries.
pub trait WebhookStore {
    /// Stores a webhook; `false` (nothing stored) when its workspace already has
    /// `max_per_workspace` webhooks.
    fn create_webhook(
        &self,
        w: &NewWebhook,
        max_per_workspace: u32,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// The webhooks of `workspace`, oldest first (with their secrets, for the engine only).
    fn webhooks(&self, workspace: &str) -> impl Future<Output = Result<Vec<WebhookRecord>>> + Send;

    /// Removes webhook `id` of `workspace` and its deliveries; `false` when there was none.
    fn remove_webhook(
        &self,
        workspace: &str,
        id: &str,
    ) -> impl Future<Output = Result<bool>> + Send;

    /// Up to `limit` deliveries of webhook `id` of `workspace`, newest first, each with its
    /// attempts; `None` when the workspace has no such webhook.
    fn webhook_deliveries(
        &self,
        workspace: &str,
        id: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Option<Vec<DeliveryRecord>>>> + Send;

    /// Claims up to `limit` pending deliveries due at `now` (oldest due first) for one attempt
    /// each: counts the attempt and holds the delivery until `lease_until`, so no other process
    /// sends it meanwhile (one whose sender died is sent again after that).
    fn claim_deliveries(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<DueDelivery>>> + Send;

    /// Logs attempt `attempt.n` of delivery `id` and applies `next`, in one transaction;
    /// `false` (nothing written) when the delivery is gone, no longer pending, or was claimed
    /// again since that attempt.
    fn record_delivery_attempt(
        &self,
        id: &str,
        attempt: &DeliveryAttempt,
        next: DeliveryNext,
        now: Millis,
    ) -> impl Future<Output = Result<bool>> + Send;
}

//! Webhooks and their deliveries in Postgres. Deliveries are written by the `webhook_outbox`
//! trigger in the transaction that ends an execution; here they are claimed for an attempt
//! (`FOR UPDATE SKIP LOCKED`, so one process sends each) and their attempts logged.

use super::PgStore;
use super::rows::{corrupt, text};
use crate::error::Result;
use crate::records::{
    DeliveryAttempt, DeliveryNext, DeliveryRecord, DeliveryState, DueDelivery, Millis, NewWebhook,
    WebhookRecord,
};
use crate::webhooks::WebhookStore;
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use std::collections::HashMap;

fn webhook_from_row(r: &PgRow) -> Result<WebhookRecord> {
    let events: String = r.try_get("events")?;
    Ok(WebhookRecord {
        id: r.try_get("id")?,
        workspace: r.try_get("workspace")?,
        url: r.try_get("url")?,
        events: serde_json::from_str(&events).map_err(|e| corrupt("webhooks", e))?,
        secret: r.try_get("secret")?,
        created_at: r.try_get("created_at")?,
    })
}

fn json(column: &str, r: &PgRow) -> Result<Value> {
    let s: String = r.try_get(column)?;
    serde_json::from_str(&s).map_err(|e| corrupt("webhook_deliveries", e))
}

fn delivery_state(s: &str) -> Result<DeliveryState> {
    Ok(match s {
        "pending" => DeliveryState::Pending,
        "delivered" => DeliveryState::Delivered,
        "failed" => DeliveryState::Failed,
        other => {
            return Err(corrupt(
                "webhook_deliveries",
                format!("unknown state `{other}`"),
            ));
        }
    })
}

fn attempt_from_row(a: &PgRow) -> Result<DeliveryAttempt> {
    Ok(DeliveryAttempt {
        n: a.try_get::<i64, _>("n")? as u32,
        at: a.try_get("at")?,
        status: a.try_get::<Option<i64>, _>("status")?.map(|s| s as u16),
        error: a.try_get("error")?,
        duration_ms: a.try_get::<i64, _>("duration_ms")?.max(0) as u64,
    })
}

impl WebhookStore for PgStore {
    async fn create_webhook(&self, w: &NewWebhook, max_per_workspace: u32) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        // One creation per workspace at a time, so two cannot both pass the limit.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('webhooks'), hashtext($1))")
            .bind(&w.workspace)
            .execute(&mut *tx)
            .await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhooks WHERE workspace = $1")
            .bind(&w.workspace)
            .fetch_one(&mut *tx)
            .await?;
        if n >= i64::from(max_per_workspace) {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhooks (id, workspace, url, events, secret, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&w.id)
        .bind(&w.workspace)
        .bind(&w.url)
        .bind(serde_json::to_string(&w.events).expect("strings serialize"))
        .bind(&w.secret)
        .bind(w.created_at)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn webhooks(&self, workspace: &str) -> Result<Vec<WebhookRecord>> {
        sqlx::query("SELECT * FROM webhooks WHERE workspace = $1 ORDER BY created_at, id")
            .bind(workspace)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(webhook_from_row)
            .collect()
    }

    async fn remove_webhook(&self, workspace: &str, id: &str) -> Result<bool> {
        // Deliveries and their attempts go with it (ON DELETE CASCADE).
        let r = sqlx::query("DELETE FROM webhooks WHERE workspace = $1 AND id = $2")
            .bind(workspace)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(r.rows_affected() > 0)
    }

    async fn webhook_deliveries(
        &self,
        workspace: &str,
        id: &str,
        limit: u32,
    ) -> Result<Option<Vec<DeliveryRecord>>> {
        let mut tx = self.pool.begin().await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM webhooks WHERE workspace = $1 AND id = $2)",
        )
        .bind(workspace)
        .bind(id)
        .fetch_one(&mut *tx)
        .await?;
        if !exists {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT * FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2",
        )
        .bind(id)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get("id"))
            .collect::<Result<_, _>>()?;
        let attempts = sqlx::query(
            "SELECT * FROM webhook_attempts WHERE delivery_id = ANY($1) ORDER BY delivery_id, n",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut logs: HashMap<String, Vec<DeliveryAttempt>> = HashMap::new();
        for a in &attempts {
            logs.entry(a.try_get("delivery_id")?)
                .or_default()
                .push(attempt_from_row(a)?);
        }
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                let state: String = r.try_get("state")?;
                Ok(DeliveryRecord {
                    log: logs.remove(&id).unwrap_or_default(),
                    id,
                    webhook_id: r.try_get("webhook_id")?,
                    execution_id: r.try_get("execution_id")?,
                    event: r.try_get("event")?,
                    execution: json("execution", r)?,
                    state: delivery_state(&state)?,
                    attempts: r.try_get::<i64, _>("attempts")? as u32,
                    next_at: r.try_get("next_at")?,
                    created_at: r.try_get("created_at")?,
                    finished_at: r.try_get("finished_at")?,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    async fn claim_deliveries(
        &self,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> Result<Vec<DueDelivery>> {
        let claimed = sqlx::query(
            "UPDATE webhook_deliveries d SET attempts = d.attempts + 1, next_at = $1 FROM webhooks w \
             WHERE w.id = d.webhook_id AND d.id IN (SELECT id FROM webhook_deliveries \
             WHERE state = 'pending' AND next_at <= $2 ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
             RETURNING d.id, d.attempts, d.webhook_id, d.event, d.execution, d.created_at, w.url, w.secret",
        )
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        let mut out = claimed
            .iter()
            .map(|r| {
                Ok(DueDelivery {
                    attempt: r.try_get::<i64, _>("attempts")? as u32,
                    webhook_id: r.try_get("webhook_id")?,
                    url: r.try_get("url")?,
                    secret: r.try_get("secret")?,
                    event: r.try_get("event")?,
                    execution: json("execution", r)?,
                    created_at: r.try_get("created_at")?,
                    id: r.try_get("id")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(out)
    }

    async fn record_delivery_attempt(
        &self,
        id: &str,
        attempt: &DeliveryAttempt,
        next: DeliveryNext,
        now: Millis,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let (state, next_at, finished_at) = match next {
            DeliveryNext::Delivered => (DeliveryState::Delivered, now, Some(now)),
            DeliveryNext::Failed => (DeliveryState::Failed, now, Some(now)),
            DeliveryNext::RetryAt(at) => (DeliveryState::Pending, at, None),
        };
        let updated = sqlx::query(
            "UPDATE webhook_deliveries SET state = $1, next_at = $2, finished_at = $3 \
             WHERE id = $4 AND state = 'pending' AND attempts = $5 \
             AND NOT EXISTS (SELECT 1 FROM webhook_attempts WHERE delivery_id = $4 AND n = $5)",
        )
        .bind(state.as_str())
        .bind(next_at)
        .bind(finished_at)
        .bind(id)
        .bind(i64::from(attempt.n))
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            tx.rollback().await?;
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO webhook_attempts (delivery_id, n, at, status, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(i64::from(attempt.n))
        .bind(attempt.at)
        .bind(attempt.status.map(i64::from))
        .bind(attempt.error.as_deref().map(|e| text(e).into_owned()))
        .bind(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

//! The audit trail's door (docs/rights.md, "Audit trail"): surfaces start and control executions
//! through [`Engine::submit_as`] and [`Engine::control_as`], which act as
//! [`Engine::submit_request`] and [`Engine::control`] do and record who did it (`created`,
//! `paused`, `resumed`, `cancelled`, `retried`), and remove stored things through
//! [`Engine::remove_code`], [`Engine::remove_webhook`], [`Engine::remove_agent`] and
//! [`Engine::remove_provider`], which record `deleted` with what was removed. Exports are
//! recorded by [`Engine::release`]. The action has happened when its entry is written: a failed
//! write is logged, never reported as the action's failure.

use crate::error::Result;
use crate::exec::{Control, Engine, Submitted, request::SubmitRequest};
use crate::records::ExecutionRecord;
use crate::rights::Reader;
use quantd_store::Store;

impl<S: Store> Engine<S> {
    /// [`Engine::submit_request`] in `reader`'s workspace, recorded as `created` (a reused
    /// execution is not recorded: nothing was created).
    pub async fn submit_as(&self, reader: &Reader, request: SubmitRequest) -> Result<Submitted> {
        let kind = request.kind;
        let sub = self.submit_request(&reader.workspace, request).await?;
        if !sub.reused {
            self.record(
                reader,
                "created",
                &sub.execution,
                &format!("{kind} execution"),
            )
            .await;
        }
        Ok(sub)
    }

    /// [`Engine::control`], recorded as `paused`, `resumed` or `cancelled`.
    pub async fn control_as(
        &self,
        reader: &Reader,
        rec: &ExecutionRecord,
        action: Control,
    ) -> Result<ExecutionRecord> {
        let done = self.control(rec, action).await?;
        let verb = match action {
            Control::Pause => "paused",
            Control::Resume => "resumed",
            Control::Cancel => "cancelled",
        };
        self.record(reader, verb, &done, &format!("was {}", rec.state))
            .await;
        Ok(done)
    }

    /// Removes the code name `name` of `reader`'s workspace (its versions stay, for the
    /// executions that ran them), recorded as `deleted`; `false` when there was no such name.
    pub async fn remove_code(&self, reader: &Reader, name: &str) -> Result<bool> {
        let removed = self.code(&reader.workspace).remove(name).await?;
        if removed {
            self.record_removal(reader, &format!("code `{name}`")).await;
        }
        Ok(removed)
    }

    /// Records that `reader` removed `what` (something other than an execution: code, a
    /// webhook, an agent, a provider); a failed write is logged.
    pub(crate) async fn record_removal(&self, reader: &Reader, what: &str) {
        if let Err(e) = self.append_action(reader, "deleted", None, what).await {
            tracing::error!(what, error = %e, "writing the audit trail failed");
        }
    }

    /// Records `action` on `rec` by `reader`; a failed write is logged.
    pub async fn record(&self, reader: &Reader, action: &str, rec: &ExecutionRecord, detail: &str) {
        if let Err(e) = self.audit_action(reader, action, rec, detail).await {
            tracing::error!(execution = %rec.id, action, error = %e, "writing the audit trail failed");
        }
    }
}

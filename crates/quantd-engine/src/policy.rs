//! The policies of a workspace: defaults its executions start from (`quantd policy`,
//! `/v1/policy`): retries per error class, which a request's `options.retry` overrides class by
//! class, whether code must pass an evaluation before it runs ([`require_evaluation`]), and
//! whether the workspace may trade live ([`live_trading`], changed by an admin only).
//! Stored whole; checked at the door like a request's own.
//!
//! [`require_evaluation`]: WorkspacePolicy::require_evaluation
//! [`live_trading`]: WorkspacePolicy::live_trading

use crate::error::{EngineError, Result};
use crate::exec::Engine;
use crate::exec::request::SubmitRequest;
use crate::exec::retry::{ClassPolicies, check_classes, merge_classes};
use quantd_store::Store;
use serde::{Deserialize, Serialize};

/// A workspace's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct WorkspacePolicy {
    /// Retries per error class for every execution of the workspace, e.g.
    /// `{"network": {"maximum_attempts": 5}, "execution": {"maximum_attempts": 1}}`; a
    /// request's `options.retry` overrides them class by class.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub retry: ClassPolicies,
    /// Scans, tests, backtests and sweeps run only stored code whose version passed its newest
    /// evaluation (`passed` or `warnings`; docs/evaluation.md); inline code, unevaluated and
    /// failed versions are refused at the door.
    #[serde(default)]
    pub require_evaluation: bool,
    /// The workspace may start `live` sessions (real orders at the broker account of the
    /// workers' `APCA_API_KEY_ID`). Off by default; only an admin token (or the local CLI) turns
    /// it on or off, so a workspace's own callers cannot allow themselves.
    #[serde(default)]
    pub live_trading: bool,
}

impl<S: Store> Engine<S> {
    /// The policy of `workspace` (empty when none was set).
    pub async fn workspace_policy(&self, workspace: &str) -> Result<WorkspacePolicy> {
        match self.store().workspace_policy(workspace).await? {
            None => Ok(WorkspacePolicy::default()),
            Some(body) => serde_json::from_value(body)
                .map_err(|e| EngineError::Internal(format!("stored workspace policy: {e}"))),
        }
    }

    /// Replaces the policy of `workspace` after checking it (attempts within the server's
    /// `max_attempts`, a timeout multiplier only on `timeout`, 1 to 10).
    /// `admin`: the caller may change what only admins change (`live_trading`).
    pub async fn set_workspace_policy(
        &self,
        workspace: &str,
        policy: &WorkspacePolicy,
        admin: bool,
    ) -> Result<WorkspacePolicy> {
        check_classes(&policy.retry, self.options().limits.max_attempts, "retry")
            .map_err(EngineError::Invalid)?;
        if !admin && policy.live_trading != self.workspace_policy(workspace).await?.live_trading {
            return Err(EngineError::NotAllowed(
                "`live_trading`: only an admin token (or `quantd policy set --live-trading` on the server's machine) turns live trading on or off (a body that changes other settings keeps it by sending its stored value): live sessions place real orders".into(),
            ));
        }
        let body = serde_json::to_value(policy).expect("policies serialize");
        self.store()
            .put_workspace_policy(workspace, &body, self.clock().now_ms())
            .await?;
        tracing::info!(workspace, retry = ?policy.retry, require_evaluation = policy.require_evaluation, live_trading = policy.live_trading, "workspace policy set");
        Ok(policy.clone())
    }

    /// `request` with the workspace's defaults under its own settings.
    pub(crate) async fn with_workspace_defaults(
        &self,
        workspace: &str,
        mut request: SubmitRequest,
    ) -> Result<SubmitRequest> {
        let policy = self.workspace_policy(workspace).await?;
        if !policy.retry.is_empty() {
            request.options.retry = merge_classes(&policy.retry, &request.options.retry);
        }
        Ok(request)
    }

    /// Refuses work of `kind` on code that has not passed an evaluation, when `workspace`
    /// requires one: inline code, a version never evaluated, or one whose newest evaluation
    /// failed. Evaluations, checks, runs, imports and patterns (whose steps are checked one by
    /// one) are not refused.
    pub(crate) async fn check_evaluated(
        &self,
        workspace: &str,
        kind: quantd_core::ExecutionKind,
        name: Option<&str>,
        version: Option<&str>,
    ) -> Result<()> {
        use quantd_core::ExecutionKind as K;
        if !matches!(kind, K::Scan | K::Test | K::Backtest | K::Sweep)
            || !self.workspace_policy(workspace).await?.require_evaluation
        {
            return Ok(());
        }
        let (Some(name), Some(version)) = (name, version) else {
            return Err(EngineError::Invalid(
                "this workspace runs only evaluated code (policy `require_evaluation`): store the code (`quantd code add`) and evaluate it (`quantd evaluate NAME`) first".into(),
            ));
        };
        match self.evaluation_of(workspace, name, version).await? {
            None => Err(EngineError::Invalid(format!(
                "`{name}` (version {}) has not been evaluated and this workspace runs only evaluated code: run `quantd evaluate {name}` first",
                &version[..version.len().min(12)]
            ))),
            Some((id, e)) if e.status == crate::evaluate::Status::Failed => {
                Err(EngineError::Invalid(format!(
                    "`{name}` failed its evaluation ({id}: {}/100; {}) and this workspace runs only code that passed: fix it, deploy a new version and evaluate that",
                    e.score,
                    e.reasons.first().map_or("", String::as_str)
                )))
            }
            Some(_) => Ok(()),
        }
    }
}

//! The policies of a workspace: defaults its executions start from (`quantd policy`,
//! `/v1/policy`). Today: retries per error class, which a request's `options.retry` overrides
//! class by class. Stored whole; checked at the door like a request's own.

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
    pub async fn set_workspace_policy(
        &self,
        workspace: &str,
        policy: &WorkspacePolicy,
    ) -> Result<WorkspacePolicy> {
        check_classes(&policy.retry, self.options().limits.max_attempts, "retry")
            .map_err(EngineError::Invalid)?;
        let body = serde_json::to_value(policy).expect("policies serialize");
        self.store()
            .put_workspace_policy(workspace, &body, self.clock().now_ms())
            .await?;
        tracing::info!(workspace, retry = ?policy.retry, "workspace policy set");
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
}

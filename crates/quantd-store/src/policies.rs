//! The workspace-policy area of the contract: one body per workspace (the engine's JSON of the
//! defaults its executions start from), replaced as a whole.

use crate::error::Result;
use crate::records::Millis;
use serde_json::Value;
use std::future::Future;

/// The policies of each workspace.
pub trait WorkspacePolicies {
    /// Stores (or replaces) the policy of `workspace`.
    fn put_workspace_policy(
        &self,
        workspace: &str,
        body: &Value,
        now: Millis,
    ) -> impl Future<Output = Result<()>> + Send;

    /// The policy of `workspace`, if one was stored.
    fn workspace_policy(
        &self,
        workspace: &str,
    ) -> impl Future<Output = Result<Option<Value>>> + Send;
}

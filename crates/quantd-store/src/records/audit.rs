//! The audit trail's rows: who did what to which execution, and every export the rights rules
//! refused or watermarked ([`AuditEntry`], written as [`NewAuditEntry`], read by [`AuditFilter`]).

use super::Millis;
use quantd_core::ExecutionId;
use serde::Serialize;

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEntry {
    /// When, in Unix milliseconds.
    pub at: Millis,
    /// The workspace the action was taken in.
    pub workspace: String,
    /// Who: `token <id> (<name>)`, `cli <user>` or `no-auth`.
    pub actor: String,
    /// What: `created`, `paused`, `resumed`, `cancelled`, `retried`, `deleted`,
    /// `export.refused`, `export.watermarked`.
    pub action: String,
    /// The execution acted on, if any.
    pub execution: Option<ExecutionId>,
    /// The provider whose terms decided an export.
    pub provider: Option<String>,
    /// What exactly (`scan rows as csv`, …).
    pub detail: String,
}

/// A stored entry: what was appended, numbered in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Position in the log: 1, 2, 3, … across workspaces.
    pub seq: i64,
    /// When, in Unix milliseconds.
    pub at: Millis,
    /// The workspace.
    pub workspace: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// The execution, if any.
    pub execution: Option<String>,
    /// The provider, for exports.
    pub provider: Option<String>,
    /// What exactly.
    pub detail: String,
}

/// Which entries to read, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this workspace's (`None`: every workspace, for operators).
    pub workspace: Option<String>,
    /// Only this execution's.
    pub execution: Option<ExecutionId>,
    /// Only refused and watermarked exports.
    pub exports_only: bool,
}

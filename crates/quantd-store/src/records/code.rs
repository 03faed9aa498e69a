//! The code registry's rows: immutable, content-addressed versions of scanners and strategies
//! ([`CodeVersion`]) under names that belong to a workspace ([`CodeName`]).

use chrono::{DateTime, Utc};
use quantd_core::CodeVersionId;
use serde::Serialize;

/// One stored version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeVersion {
    /// The name it was added under.
    pub name: String,
    /// Its number under that name, from 1.
    pub version: u32,
    /// Content hash of (language, source).
    pub id: CodeVersionId,
    /// `expr`, `strategy` or `python`.
    pub language: String,
    /// The source text.
    pub source: String,
    /// Parameter names the code uses.
    pub params: Vec<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// A name and where it points.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeName {
    /// The name.
    pub name: String,
    /// The version `NAME` resolves to.
    pub current: u32,
    /// How many versions exist.
    pub versions: u32,
    /// The current version's language.
    pub language: String,
    /// When the name last changed.
    pub updated_at: DateTime<Utc>,
}

/// What adding code did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Added {
    /// The version `NAME` now resolves to.
    pub version: CodeVersion,
    /// Whether the name's current version already had this content (nothing was added).
    pub unchanged: bool,
}

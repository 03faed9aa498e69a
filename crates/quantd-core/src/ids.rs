//! Identifiers. Content-addressed ones ([`PackId`], [`CodeVersionId`]) are BLAKE3 hashes in
//! lowercase hex; [`ExecutionId`] is time-ordered and minted by the engine; a [`ShardId`] is an
//! execution id plus the shard's index.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Length of a full content hash in hex characters (256-bit BLAKE3).
pub const HASH_HEX_LEN: usize = 64;
/// Length of the short form shown in tables (as `git` shows abbreviated commits).
pub const SHORT_LEN: usize = 12;

/// A malformed id, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} id `{value}`: {expected}")]
pub struct IdError {
    /// Which id type was being parsed.
    pub kind: &'static str,
    /// The rejected text.
    pub value: String,
    /// What a valid id looks like.
    pub expected: &'static str,
}

fn check_hex(kind: &'static str, s: &str) -> Result<(), IdError> {
    if s.len() == HASH_HEX_LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(IdError {
            kind,
            value: s.to_string(),
            expected: "64 lowercase hex characters",
        })
    }
}

macro_rules! hash_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Builds the id from a 32-byte digest.
            pub fn from_digest(digest: [u8; 32]) -> Self {
                use std::fmt::Write;
                let mut s = String::with_capacity(HASH_HEX_LEN);
                for b in digest {
                    let _ = write!(s, "{b:02x}");
                }
                Self(s)
            }
            /// The full hex id.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The abbreviated form shown in tables.
            pub fn short(&self) -> &str {
                &self.0[..SHORT_LEN]
            }
        }
        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                check_hex($kind, s)?;
                Ok(Self(s.to_string()))
            }
        }
        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                check_hex($kind, &s)?;
                Ok(Self(s))
            }
        }
        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

hash_id!(
    /// A pack's id: the BLAKE3 hash of its canonical content (bars only; not its name or rights).
    PackId,
    "pack"
);
hash_id!(
    /// A code version's id: the BLAKE3 hash of its language and source text.
    CodeVersionId,
    "code version"
);

/// An execution's id: `ex_` followed by a time-ordered base-32 value, so ids sort by creation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ExecutionId(String);

const CROCKFORD: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

impl ExecutionId {
    /// Builds an id from milliseconds since the Unix epoch and 80 random bits (a ULID layout).
    /// The caller supplies both: this crate reads neither the clock nor a random source.
    pub fn from_parts(unix_millis: u64, random: u128) -> Self {
        let value = ((unix_millis as u128 & ((1 << 48) - 1)) << 80) | (random & ((1 << 80) - 1));
        let mut s = String::with_capacity(29);
        s.push_str("ex_");
        for i in (0..26).rev() {
            s.push(CROCKFORD[((value >> (i * 5)) & 31) as usize] as char);
        }
        Self(s)
    }
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ExecutionId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = s
            .strip_prefix("ex_")
            .is_some_and(|rest| rest.len() == 26 && rest.bytes().all(|b| CROCKFORD.contains(&b)));
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(IdError {
                kind: "execution",
                value: s.to_string(),
                expected: "`ex_` followed by 26 base-32 characters",
            })
        }
    }
}
impl TryFrom<String> for ExecutionId {
    type Error = IdError;
    fn try_from(s: String) -> Result<Self, IdError> {
        s.parse()
    }
}
impl From<ExecutionId> for String {
    fn from(id: ExecutionId) -> String {
        id.0
    }
}
impl fmt::Display for ExecutionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A shard: its execution and its index within that execution's plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ShardId {
    /// The execution the shard belongs to.
    pub execution: ExecutionId,
    /// Position in the execution's plan, from 0.
    pub index: u32,
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.execution, self.index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_id_round_trips_and_rejects_bad_text() {
        let id = PackId::from_digest([0xab; 32]);
        assert_eq!(id.as_str().len(), HASH_HEX_LEN);
        assert_eq!(id.short(), "abababababab");
        assert_eq!(id.as_str().parse::<PackId>().unwrap(), id);
        let err = "ABAB".parse::<PackId>().unwrap_err();
        assert_eq!(err.kind, "pack");
        assert!(err.to_string().contains("64 lowercase hex"));
    }

    #[test]
    fn execution_ids_sort_by_time() {
        let a = ExecutionId::from_parts(1_000, u128::MAX);
        let b = ExecutionId::from_parts(1_001, 0);
        assert!(a < b);
        assert_eq!(a.as_str().parse::<ExecutionId>().unwrap(), a);
        assert!("ex_short".parse::<ExecutionId>().is_err());
        assert!(
            "xx_0000000000000000000000000"
                .parse::<ExecutionId>()
                .is_err()
        );
    }

    #[test]
    fn serde_rejects_malformed_ids() {
        let bad: Result<PackId, _> = serde_json::from_str("\"nothex\"");
        assert!(bad.is_err());
    }
}

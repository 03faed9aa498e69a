//! What the surfaces (CLI, HTTP API, MCP) read and change besides executions, through the
//! engine: stored code ([`Code`]), access tokens ([`Tokens`]) and the records of executions
//! ([`Records`]). Each is a thin view over the store that [`Packs`] (and so [`Engine`]) holds,
//! so no surface opens the store itself, and a store chosen at run time serves them all alike.
//!
//! [`Engine`]: crate::exec::Engine

use crate::code::{self, CodeSource};
use crate::error::{EngineError, Result};
use crate::packs::Packs;
use quantd_core::{EventRecord, ExecutionId};
use quantd_store::{
    Added, CodeName, CodeVersion, ExecutionFilter, ExecutionRecord, IdempotencyRecord, NewToken,
    Page, Paged, QueueStats, ShardRecord, Store, TokenRecord,
};
use std::collections::HashSet;
use std::io::Read;

impl<S: Store> Packs<S> {
    /// Stored code, scoped to a workspace.
    pub fn code<'a>(&'a self, workspace: &'a str) -> Code<'a, S> {
        Code {
            store: self.store(),
            workspace,
        }
    }

    /// Access tokens and idempotency keys.
    pub fn tokens(&self) -> Tokens<'_, S> {
        Tokens {
            store: self.store(),
        }
    }

    /// The records of executions: lists, shards, events, queue counts, summaries.
    pub fn records(&self) -> Records<'_, S> {
        Records {
            store: self.store(),
            dir: self.dir(),
        }
    }
}

/// Stored code of one workspace: names point at immutable, hashed versions.
#[derive(Debug)]
pub struct Code<'a, S> {
    store: &'a S,
    workspace: &'a str,
}

impl<S: Store> Code<'_, S> {
    /// Validates and stores a version of `name` (invalid code or name changes nothing).
    pub async fn add(&self, name: &str, source: &CodeSource) -> Result<Added> {
        code::add(self.store, self.workspace, name, source).await
    }

    /// Checks code without storing it: its parameters, or its problems with line and column.
    pub async fn check(&self, source: &CodeSource) -> Result<Vec<String>> {
        code::check(self.store, source).await
    }

    /// Resolves `NAME` or `NAME@N`.
    pub async fn resolve(&self, reference: &str) -> Result<CodeVersion> {
        code::resolve(self.store, self.workspace, reference).await
    }

    /// Points `name` at an earlier version (`to`, or the one before the current).
    pub async fn rollback(&self, name: &str, to: Option<u32>) -> Result<CodeVersion> {
        code::rollback(self.store, self.workspace, name, to).await
    }

    /// Removes a name (its versions stay, for the executions that ran them). `false` when there
    /// was no such name.
    pub async fn remove(&self, name: &str) -> Result<bool> {
        Ok(self.store.remove_code(self.workspace, name).await?)
    }

    /// Names, one page.
    pub async fn names(&self, page: &Page) -> Result<Paged<CodeName>> {
        Ok(self.store.code_names(self.workspace, page).await?)
    }

    /// Every version of `name`, one page, oldest first.
    pub async fn versions(&self, name: &str, page: &Page) -> Result<Paged<CodeVersion>> {
        Ok(self.store.code_versions(self.workspace, name, page).await?)
    }

    /// The columns code may use: OHLCV and every column of any pack.
    pub async fn known_columns(&self) -> Result<Vec<String>> {
        code::known_columns(self.store).await
    }
}

/// A token just created: the secret text (shown once) and what was stored.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    /// `qdt_<id>_<secret>`, to put in `Authorization: Bearer …`.
    pub token: String,
    /// The stored row (id, workspace, name, hash).
    pub record: NewToken,
}

/// Who a valid token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHolder {
    /// The token's public id.
    pub id: String,
    /// Its workspace.
    pub workspace: String,
    /// Whether it may change what every workspace shares (upload packs, read metrics).
    pub admin: bool,
}

/// Bearer tokens: `qdt_<id>_<secret>`. `id` (16 hex characters) finds the stored row; `secret`
/// (64 hex characters, 256 random bits) is checked against the stored SHA-256 with a
/// constant-time comparison. The store never holds a secret.
#[derive(Debug)]
pub struct Tokens<'a, S> {
    store: &'a S,
}

impl<S: Store> Tokens<'_, S> {
    /// Creates a token for `workspace` and stores its hash; returns the token text (show it
    /// once).
    pub async fn create(
        &self,
        workspace: &str,
        name: Option<&str>,
        admin: bool,
    ) -> Result<CreatedToken> {
        check_workspace(workspace)?;
        let random = |bytes| {
            random_hex(bytes).map_err(|e| EngineError::Internal(format!("reading randomness: {e}")))
        };
        let id = random(8)?;
        let secret = random(32)?;
        let record = NewToken {
            id: id.clone(),
            workspace: workspace.to_string(),
            name: name.map(str::to_string),
            secret_hash: sha256_hex(&secret),
            admin,
        };
        self.store.create_token(&record).await?;
        Ok(CreatedToken {
            token: format!("qdt_{id}_{secret}"),
            record,
        })
    }

    /// Who `token` stands for, or `None` when it is not a valid, unrevoked token.
    pub async fn verify(&self, token: &str) -> Result<Option<TokenHolder>> {
        use subtle::ConstantTimeEq;
        let Some((id, secret)) = token
            .strip_prefix("qdt_")
            .and_then(|rest| rest.split_once('_'))
        else {
            return Ok(None);
        };
        let Some(row) = self.store.token(id).await? else {
            // Hash anyway so that unknown ids and wrong secrets take the same time.
            let _ = sha256_hex(secret);
            return Ok(None);
        };
        let given = sha256_hex(secret);
        let ok: bool = given.as_bytes().ct_eq(row.secret_hash.as_bytes()).into();
        Ok(ok.then_some(TokenHolder {
            id: row.id,
            workspace: row.workspace,
            admin: row.admin,
        }))
    }

    /// The workspace of the token with public id `id`, or `None` when it is unknown or
    /// revoked.
    pub async fn workspace_of(&self, id: &str) -> Result<Option<String>> {
        Ok(self.store.token(id).await?.map(|row| row.workspace))
    }

    /// Tokens (of `workspace`, when given), without secrets.
    pub async fn list(&self, workspace: Option<&str>) -> Result<Vec<TokenRecord>> {
        Ok(self.store.list_tokens(workspace).await?)
    }

    /// Revokes a token by its id; `false` when there was none to revoke.
    pub async fn revoke(&self, id: &str) -> Result<bool> {
        Ok(self.store.revoke_token(id).await?)
    }

    /// Which of `ids` are still valid (not revoked), in one query.
    pub async fn live(&self, ids: &[String]) -> Result<HashSet<String>> {
        Ok(self.store.live_tokens(ids).await?)
    }

    /// The execution an idempotency key of `workspace` created, if any.
    pub async fn idempotency_key(
        &self,
        workspace: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>> {
        Ok(self.store.idempotency_key(workspace, key).await?)
    }

    /// Remembers that `key` created `execution` (with its request's hash); `false` when the key
    /// was already taken (the stored record wins).
    pub async fn save_idempotency_key(
        &self,
        workspace: &str,
        key: &str,
        request_hash: &str,
        execution: &ExecutionId,
        now_ms: i64,
    ) -> Result<bool> {
        Ok(self
            .store
            .save_idempotency_key(workspace, key, request_hash, execution, now_ms)
            .await?)
    }
}

/// Workspace names: 1–64 letters, digits, `-`, `_`.
pub fn check_workspace(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        return Ok(());
    }
    Err(EngineError::Invalid(format!(
        "workspace `{}` is not allowed; use 1–64 letters, digits, `-` or `_`",
        crate::python::shown(name, 64)
    )))
}

/// `bytes` random bytes from the operating system, as lower-case hex (token secrets, session ids).
pub fn random_hex(bytes: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// How many of an execution's newest events [`Records::bars_so_far`] looks through for a
/// `progress` event (a running execution records one a second, between its other events).
const PROGRESS_LOOKBACK: u32 = 32;

/// The records of executions, as stored.
#[derive(Debug)]
pub struct Records<'a, S> {
    store: &'a S,
    dir: &'a crate::DataDir,
}

impl<S: Store> Records<'_, S> {
    /// Whether `rec` (with its `shards`) is interrupted: it says `running`, but no live process
    /// will finish it — every shard it was running is held by a worker process that is gone
    /// (`kill -9`, a crash) or was given back to the queue, and no queue worker (`serve`,
    /// `worker`) runs on this data directory. `quantd resume ID` (or starting a `serve` or
    /// `worker`) continues it. Never on a store shared across hosts: workers elsewhere leave no
    /// lock file here, and any worker requeues a shard whose lease expired.
    pub fn interrupted(&self, rec: &ExecutionRecord, shards: &[ShardRecord]) -> bool {
        !self.store.shared_across_hosts() && crate::exec::interrupted(&self.dir.tmp(), rec, shards)
    }

    /// Execution `id` (as a caller sent it) if it belongs to `workspace`, else "not found": a
    /// malformed id and another workspace's id are simply not found, so ids do not leak across
    /// workspaces.
    pub async fn owned(&self, workspace: &str, id: &str) -> Result<ExecutionRecord> {
        let not_found = || crate::EngineError::NotFound {
            what: format!("execution `{}`", quantd_data::text::cut(id, 40)),
            hint: String::new(),
        };
        let id: ExecutionId = id.parse().map_err(|_| not_found())?;
        match self.store.execution(&id).await? {
            Some(r) if r.workspace == workspace => Ok(r),
            _ => Err(not_found()),
        }
    }

    /// The view of `rec` with its health, computed from its shards now.
    pub async fn view(&self, rec: ExecutionRecord) -> Result<crate::views::model::ExecutionView> {
        let shards = self.store.shards(&rec.id).await?;
        let now = chrono::Utc::now().timestamp_millis();
        let health = crate::exec::health::Health::of(&rec, &shards, now);
        Ok(crate::views::model::ExecutionView::new(rec, Some(health)))
    }

    /// One execution, or `None`.
    pub async fn get(&self, id: &ExecutionId) -> Result<Option<ExecutionRecord>> {
        Ok(self.store.execution(id).await?)
    }

    /// Executions newest first, filtered, one page.
    pub async fn list(&self, filter: &ExecutionFilter) -> Result<Paged<ExecutionRecord>> {
        Ok(self.store.list_executions(filter).await?)
    }

    /// Executions not finished (pending, running, paused), oldest first.
    pub async fn unfinished(&self) -> Result<Vec<ExecutionRecord>> {
        Ok(self.store.unfinished_executions().await?)
    }

    /// An execution's shards, in plan order.
    pub async fn shards(&self, id: &ExecutionId) -> Result<Vec<ShardRecord>> {
        Ok(self.store.shards(id).await?)
    }

    /// An execution's events after sequence number `after`, at most `limit`.
    pub async fn events_after(
        &self,
        id: &ExecutionId,
        after: u64,
        limit: u32,
    ) -> Result<Vec<EventRecord>> {
        Ok(self.store.events_after(id, after, limit).await?)
    }

    /// The newest `limit` events of an execution, oldest first (the tail of its log).
    pub async fn tail_events(&self, id: &ExecutionId, limit: u32) -> Result<Vec<EventRecord>> {
        let mut events = self.store.events_before(id, u64::MAX, limit).await?;
        events.reverse();
        Ok(events)
    }

    /// Bars processed so far: the committed ones, or for a running execution those its newest
    /// `progress` event counts — which include shards still running, in this process or another
    /// (engines record one a second while shards run) — when that is more.
    pub async fn bars_so_far(&self, rec: &ExecutionRecord) -> Result<u64> {
        if rec.state != quantd_core::ExecutionState::Running {
            return Ok(rec.bars);
        }
        let tail = self
            .store
            .events_before(&rec.id, u64::MAX, PROGRESS_LOOKBACK)
            .await?;
        let live = tail.iter().find_map(|e| match e.event {
            quantd_core::Event::Progress { bars, .. } => Some(bars),
            _ => None,
        });
        Ok(live.map_or(rec.bars, |b| b.max(rec.bars)))
    }

    /// Counts for monitoring: executions by kind and state, shards waiting and running.
    pub async fn queue_stats(&self) -> Result<QueueStats> {
        Ok(self.store.queue_stats().await?)
    }

    /// Totals over the executions of `workspace` (of code `name`, when given).
    pub async fn summary(
        &self,
        workspace: &str,
        name: Option<&str>,
    ) -> Result<crate::history::RunSummary> {
        crate::history::summarize(self.store, workspace, name).await
    }
}

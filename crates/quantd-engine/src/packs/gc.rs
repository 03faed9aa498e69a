//! Garbage collection of pack files no catalog row names (`quantd data gc`).
//!
//! An import registers its pack `warming` before it writes anything and marks it `fresh` only
//! after the files are complete, so files without a usable row come only from an import that
//! failed or died (its row is `error`) or from rows removed by hand. Collection removes, from
//! the pack store and from this host's data directory, every pack folder whose id no `warming`,
//! `fresh` or `stale` row names. A `warming` row's files are kept: its import may still be
//! running on another host.

use super::Packs;
use crate::error::Result;
use quantd_core::PackState;
use quantd_store::{Page, Store};
use serde::Serialize;
use std::collections::HashSet;

/// Catalog rows read per page while collecting.
const PAGE: u32 = 500;

/// What a collection removed (or, dry, would remove).
#[derive(Debug, Clone, Default, Serialize)]
pub struct GcReport {
    /// Whether nothing was removed (a dry run).
    pub dry_run: bool,
    /// Pack folders removed from the pack store.
    pub store: Vec<Removed>,
    /// Pack folders removed from this host's data directory.
    pub local: Vec<Removed>,
    /// Pack folders kept, because a catalog row names them.
    pub kept: usize,
}

/// One pack folder removed.
#[derive(Debug, Clone, Serialize)]
pub struct Removed {
    /// The folder's name (a pack id).
    pub id: String,
    /// Its size.
    pub bytes: u64,
    /// Whether its manifest was there (a complete pack) or not (an interrupted upload).
    pub complete: bool,
}

impl GcReport {
    /// Bytes removed in all.
    pub fn bytes(&self) -> u64 {
        self.store.iter().chain(&self.local).map(|r| r.bytes).sum()
    }
}

impl<S: Store> Packs<S> {
    /// Removes every pack folder no usable catalog row names, from the pack store and the data
    /// directory; with `dry_run`, only reports them.
    pub async fn gc(&self, dry_run: bool) -> Result<GcReport> {
        let named = self.named_ids().await?;
        let mut report = GcReport {
            dry_run,
            ..GcReport::default()
        };
        if let Some(shared) = &self.shared {
            for folder in shared.remote.list().await? {
                if named.contains(&folder.id) {
                    report.kept += 1;
                    continue;
                }
                if !dry_run {
                    shared.remote.remove(&folder.id).await?;
                }
                report.store.push(Removed {
                    id: folder.id,
                    bytes: folder.bytes,
                    complete: folder.complete,
                });
            }
        }
        let packs = self.dir.packs();
        for entry in std::fs::read_dir(&packs).into_iter().flatten().flatten() {
            // Pack folders only: a stray file there is not ours to judge.
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let id = entry.file_name().to_string_lossy().to_string();
            if named.contains(&id) {
                report.kept += 1;
                continue;
            }
            let dir = entry.path();
            let files: Vec<_> = std::fs::read_dir(&dir)
                .into_iter()
                .flatten()
                .flatten()
                .collect();
            let removed = Removed {
                bytes: files
                    .iter()
                    .filter_map(|f| f.metadata().ok())
                    .map(|m| m.len())
                    .sum(),
                complete: dir.join(quantd_data::format::MANIFEST_FILE).exists(),
                id: id.clone(),
            };
            if !dry_run {
                std::fs::remove_dir_all(&dir)
                    .map_err(|e| crate::EngineError::io("removing", &dir, e))?;
                self.readers
                    .lock()
                    .expect("reader cache lock")
                    .retain(|k, _| k.as_str() != id);
            }
            report.local.push(removed);
        }
        tracing::info!(
            dry_run,
            store = report.store.len(),
            local = report.local.len(),
            bytes = report.bytes(),
            "pack files collected"
        );
        Ok(report)
    }

    /// The ids every warming, fresh or stale catalog row names.
    async fn named_ids(&self) -> Result<HashSet<String>> {
        let mut named = HashSet::new();
        let mut page = Page::first(PAGE);
        loop {
            let got = self.store.list_packs(&page).await?;
            named.extend(
                got.items
                    .iter()
                    .filter(|r| r.state != PackState::Error)
                    .map(|r| r.id.as_str().to_string()),
            );
            match got.next {
                Some(next) => page = Page::after(next, PAGE),
                None => return Ok(named),
            }
        }
    }
}

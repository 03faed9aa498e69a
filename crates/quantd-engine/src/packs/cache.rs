//! The data directory's `packs/` as this host's cache of the pack store.
//!
//! A pack a job needs and this host lacks is downloaded into `tmp/` (under a held lock, so a
//! crash leaves only a directory the next start removes), checked — its bars must hash to the
//! pack's id, the same hash an import computes — and renamed into `packs/<id>`. A pack that fails
//! the check never enters the cache. Every read marks its pack used (the directory's mtime); when
//! the cache holds more than its cap, the least recently used packs are removed (a job still
//! reading one keeps its mapping: the files go when it lets go).

use super::{Packs, blocking};
use crate::error::{EngineError, Result};
use crate::pack_store::PackStore;
use quantd_core::PackId;
use quantd_data::PackReader;
use quantd_store::{PackRecord, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use tracing::Instrument;

/// The cache's cap when none is configured: 20 GiB.
pub const DEFAULT_CAP_MIB: u64 = 20 * 1024;

/// A pack store and this host's cache of it.
#[derive(Debug, Clone)]
pub(super) struct Shared {
    pub(super) remote: PackStore,
    cap_bytes: u64,
    /// One download at a time per process: two jobs needing the same pack wait for one copy.
    fetching: Arc<tokio::sync::Mutex<()>>,
}

impl Shared {
    pub(super) fn new(remote: PackStore, cap_mib: u64) -> Shared {
        Shared {
            remote,
            cap_bytes: cap_mib.saturating_mul(1 << 20),
            fetching: Default::default(),
        }
    }

    /// Marks the cached pack in `dir` used now.
    pub(super) fn touch(&self, dir: &Path) {
        if let Ok(f) = std::fs::File::open(dir) {
            let _ = f.set_modified(SystemTime::now());
        }
    }
}

/// One pack in the cache.
struct Cached {
    dir: PathBuf,
    id: String,
    bytes: u64,
    used: SystemTime,
}

impl<S: Store> Packs<S> {
    /// Makes pack `rec` readable from the data directory: with a pack store and the pack missing
    /// here, downloads it, verifies it and caches it.
    pub(super) async fn ensure_local(&self, rec: &PackRecord) -> Result<()> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let dir = self.dir.packs().join(rec.id.as_str());
        let complete = |d: &Path| d.join(quantd_data::format::MANIFEST_FILE).exists();
        if complete(&dir) {
            return Ok(());
        }
        let _one = shared.fetching.lock().await;
        if complete(&dir) {
            return Ok(());
        }
        let span = tracing::info_span!("pack.fetch", pack = %rec.name, id = %rec.id.short());
        let token = crate::locks::new_token("fetch");
        let tmp_root = self.dir.tmp();
        let lock = crate::locks::HeldLock::acquire(&tmp_root, &token)?;
        let tmp = tmp_root.join(&token);
        let fetched = self
            .fetch_verified(shared, rec, &tmp)
            .instrument(span)
            .await;
        let placed = fetched.and_then(|()| place(&tmp, &dir));
        let _ = std::fs::remove_dir_all(&tmp);
        drop(lock);
        placed?;
        tracing::info!(pack = %rec.name, id = %rec.id.short(), url = shared.remote.url(), "pack downloaded and verified");
        self.evict(shared, &rec.id);
        Ok(())
    }

    /// Downloads pack `rec` into `tmp` and checks that its bars hash to its id.
    async fn fetch_verified(&self, shared: &Shared, rec: &PackRecord, tmp: &Path) -> Result<()> {
        shared.remote.download(&rec.id, tmp).await?;
        let dir = tmp.to_path_buf();
        let found = blocking(move || -> Result<PackId> {
            let reader = PackReader::open(&dir)?;
            Ok(quantd_data::hash::pack_id(&reader.to_table()?))
        })
        .await?;
        let damaged = |why: String| EngineError::PackNotReady {
            message: format!(
                "pack `{}` ({}) in the pack store {} is damaged: {why}; it was not used. \
                 Import the pack again (`quantd data import`), or restore {}/{} from a backup",
                rec.name,
                rec.id.short(),
                shared.remote.url(),
                shared.remote.url(),
                rec.id
            ),
            estimated_ready: None,
        };
        match found {
            Ok(id) if id == rec.id => Ok(()),
            Ok(id) => Err(damaged(format!(
                "its bars hash to {}, not to its id",
                id.short()
            ))),
            Err(e) => Err(damaged(e.to_string())),
        }
    }

    /// Removes the least recently used packs (never `keep`) while the cache is over its cap.
    pub(super) fn evict(&self, shared: &Shared, keep: &PackId) {
        let mut cached = cached_packs(&self.dir.packs());
        let mut total: u64 = cached.iter().map(|c| c.bytes).sum();
        cached.sort_by_key(|c| c.used);
        for c in cached {
            if total <= shared.cap_bytes {
                break;
            }
            if c.id == keep.as_str() {
                continue;
            }
            if std::fs::remove_dir_all(&c.dir).is_ok() {
                total -= c.bytes;
                self.readers
                    .lock()
                    .expect("reader cache lock")
                    .retain(|id, _| id.as_str() != c.id);
                tracing::info!(id = %c.id, bytes = c.bytes, "pack evicted from the cache");
            }
        }
    }
}

/// Moves a verified download into place (keeping a copy another process placed first).
fn place(tmp: &Path, dir: &Path) -> Result<()> {
    match std::fs::rename(tmp, dir) {
        Ok(()) => Ok(()),
        Err(_) if dir.join(quantd_data::format::MANIFEST_FILE).exists() => Ok(()),
        Err(e) => Err(EngineError::io("renaming into", dir, e)),
    }
}

/// The packs in the cache directory `packs`, with their sizes and last use.
fn cached_packs(packs: &Path) -> Vec<Cached> {
    let Ok(entries) = std::fs::read_dir(packs) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let dir = e.path();
            let used = e.metadata().ok()?.modified().ok()?;
            let bytes = std::fs::read_dir(&dir)
                .ok()?
                .flatten()
                .filter_map(|f| f.metadata().ok())
                .map(|m| m.len())
                .sum();
            Some(Cached {
                id: e.file_name().to_string_lossy().to_string(),
                dir,
                bytes,
                used,
            })
        })
        .collect()
}

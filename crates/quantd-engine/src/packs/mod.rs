//! The pack lifecycle: import and synthesize (warming → fresh, previous fresh → stale), resolve a
//! name or id to a readable pack, export, and recovery of imports whose process died.
//!
//! An import runs in this order, so that a failure at any step changes nothing visible:
//! 1. parse and validate the input, compute the content id (nothing written; bad input stops here);
//! 2. register the pack `warming` with the token of a lock file this process holds;
//! 3. write it into `tmp/`, fsync, rename to `packs/<id>` (quantd-data);
//! 4. mark it `fresh` and the name's previous fresh pack `stale` in one transaction.
//!
//! A process that dies in 3 leaves a warming row whose lock is free: the next start
//! ([`Packs::open`]) marks it `error` and removes its temporary directory.
//!
//! With a pack store ([`crate::pack_store`], `--pack-store`), step 3 also uploads the pack
//! there before step 4, and the data directory's `packs/` is this host's cache of the store
//! ([`cache`]): a pack missing from it is downloaded, checked against its id and kept, the least
//! recently used evicted beyond the cache's cap. [`gc`] removes what no catalog row names.

mod cache;
pub mod gc;

use crate::error::{EngineError, Result};
use crate::pack_store::PackStore;
use chrono::{Duration, Utc};
use quantd_core::{PackId, PackState, Progress, Rights};
use quantd_data::{BarTable, ImportOptions, PackReader, SynthSpec, hash, synth};
use quantd_store::{AnyStore, NewPack, PackRecord, Page, Paged, Store, StoreConfig};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The layout of a data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }
    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// Where complete packs live, one directory per id.
    pub fn packs(&self) -> PathBuf {
        self.root.join("packs")
    }
    /// Where imports write before they rename.
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    /// Where uploaded files wait for their import execution (see [`crate::exec::import`]).
    pub fn uploads(&self) -> PathBuf {
        self.root.join("uploads")
    }
    fn create(&self) -> Result<()> {
        for d in [self.root.clone(), self.packs(), self.tmp(), self.uploads()] {
            std::fs::create_dir_all(&d).map_err(|e| EngineError::io("creating", &d, e))?;
        }
        Ok(())
    }
}

/// What an import or synthesis did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The catalog row, as it is now.
    pub pack: PackRecord,
    /// Data rows read from the input (bars generated, for synth).
    pub rows_read: u64,
    /// Rows dropped by `--lenient`.
    pub rows_dropped: u64,
    /// Whether the same name already had exactly this content (nothing was written).
    pub unchanged: bool,
}

/// The pack operations over one data directory.
#[derive(Debug, Clone)]
pub struct Packs<S = AnyStore> {
    store: S,
    dir: DataDir,
    /// Packs already mapped, by id: packs are immutable, so one mapping serves every reader and
    /// its pages stay mapped between executions.
    readers: Arc<std::sync::Mutex<std::collections::HashMap<PackId, Arc<PackReader>>>>,
    /// Where packs are shared, with `packs/` as this host's cache of it.
    shared: Option<cache::Shared>,
}

impl Packs<AnyStore> {
    /// Opens the data directory (creating it) with its own store (the SQLite file in it),
    /// migrates it, and fails imports whose process is gone.
    pub async fn open(dir: DataDir) -> Result<Packs> {
        Packs::open_with(&StoreConfig::in_data_dir(dir.root())).await
    }

    /// Opens `config.data_dir` (creating it) with the store `config` names, migrates it, and
    /// fails imports whose process is gone. A configuration that names no store this build can
    /// open is refused before anything is created.
    pub async fn open_with(config: &StoreConfig) -> Result<Packs> {
        let remote = match config.pack_store.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => Some(PackStore::open(url)?),
            _ => None,
        };
        let dir = DataDir::new(&config.data_dir);
        let store = if config.database_in_data_dir() {
            dir.create()?;
            AnyStore::open(config).await?
        } else {
            // A store elsewhere opens first: a configuration it refuses creates nothing.
            let store = AnyStore::open(config).await?;
            dir.create()?;
            store
        };
        let packs = Packs::with_store(dir, store).await?;
        Ok(match remote {
            Some(remote) => packs.sharing(
                remote,
                config.pack_cache_mib.unwrap_or(cache::DEFAULT_CAP_MIB),
            ),
            None => packs,
        })
    }
}

impl<S: Store> Packs<S> {
    /// The pack operations over `dir` with catalog rows kept in `store`; fails imports whose
    /// process is gone.
    pub async fn with_store(dir: DataDir, store: S) -> Result<Packs<S>> {
        dir.create()?;
        let packs = Packs {
            store,
            dir,
            readers: Default::default(),
            shared: None,
        };
        packs.recover().await?;
        Ok(packs)
    }

    /// These packs, shared through `remote`, with the data directory's `packs/` as a cache of at
    /// most `cache_mib` MiB.
    pub fn sharing(mut self, remote: PackStore, cache_mib: u64) -> Self {
        self.shared = Some(cache::Shared::new(remote, cache_mib));
        self
    }

    /// The pack store packs are shared through, if any.
    pub fn pack_store(&self) -> Option<&PackStore> {
        self.shared.as_ref().map(|s| &s.remote)
    }

    /// The data directory.
    pub fn dir(&self) -> &DataDir {
        &self.dir
    }

    /// The store. Surfaces never reach it (they use the engine's services); tests and the
    /// benchmark harness may, with the `test-support` feature.
    #[cfg(feature = "test-support")]
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store.
    #[cfg(not(feature = "test-support"))]
    pub(crate) fn store(&self) -> &S {
        &self.store
    }

    /// Marks orphaned warming packs `error` and removes temporary directories nobody holds.
    async fn recover(&self) -> Result<()> {
        let tmp = self.dir.tmp();
        let failed = self
            .store
            // An import of another host (one database, many hosts) is judged by that host.
            .fail_orphaned_imports(|token| {
                !crate::locks::made_here(token) || crate::locks::is_held(&tmp, token)
            })
            .await?;
        for rec in &failed {
            tracing::warn!(pack = %rec.name, id = %rec.id.short(), "import was interrupted; pack marked error");
        }
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if let Some(token) = name.strip_suffix(".lock")
                    && !crate::locks::is_held(&tmp, token)
                {
                    let _ = std::fs::remove_dir_all(tmp.join(token));
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    /// Imports a CSV or Parquet file as pack `name`.
    pub async fn import_file(
        &self,
        path: &Path,
        name: &str,
        opts: ImportOptions,
        rights: Rights,
        progress: Arc<dyn Progress>,
    ) -> Result<ImportReport> {
        let origin = path.file_name().map_or_else(
            || path.display().to_string(),
            |f| f.to_string_lossy().to_string(),
        );
        self.import_file_as(path, &origin, name, opts, rights, progress)
            .await
    }

    /// [`Packs::import_file`] of a file the user knows by another name (an upload): `origin`
    /// is recorded as where the pack came from.
    pub async fn import_file_as(
        &self,
        path: &Path,
        origin: &str,
        name: &str,
        opts: ImportOptions,
        rights: Rights,
        progress: Arc<dyn Progress>,
    ) -> Result<ImportReport> {
        check_name(name)?;
        let path_owned = path.to_path_buf();
        let p = progress.clone();
        let imported =
            blocking(move || quantd_data::import_file(&path_owned, &opts, p.as_ref())).await??;
        let origin = origin.to_owned();
        self.register(
            name,
            imported.table,
            origin,
            rights,
            imported.rows_read,
            imported.rows_dropped,
            progress,
        )
        .await
    }

    /// Generates a synthetic universe as pack `name`.
    pub async fn synth(
        &self,
        name: &str,
        spec: SynthSpec,
        progress: Arc<dyn Progress>,
    ) -> Result<ImportReport> {
        check_name(name)?;
        if spec.tickers == 0 || spec.days == 0 {
            return Err(EngineError::Invalid(
                "--tickers and --days must be at least 1".into(),
            ));
        }
        spec.check(&quantd_data::ImportLimits::default())?;
        let mut origin = format!(
            "synth --tickers {} --days {} --seed {} --start {}",
            spec.tickers, spec.days, spec.seed, spec.start
        );
        if spec.interval != quantd_data::time::Interval::Day1 {
            origin.push_str(&format!(" --interval {}", spec.interval));
        }
        let p = progress.clone();
        let table = blocking(move || synth::generate(&spec, p.as_ref())).await?;
        let rights = Rights {
            source: Some("synthetic (quantd GBM generator)".into()),
            license: Some("public domain".into()),
            ..Rights::default()
        };
        let rows = table.len() as u64;
        self.register(name, table, origin, rights, rows, 0, progress)
            .await
    }

    /// Resamples pack `rec` to the coarser interval `to` as pack `name`: open first, high max,
    /// low min, close last, volume sum, per bucket of the exchange's wall clock. The new pack
    /// keeps the source's rights (its bars are derived from the source's) and its origin names
    /// the source pack's id.
    pub async fn resample(
        &self,
        rec: &PackRecord,
        to: quantd_data::time::Interval,
        name: &str,
        progress: Arc<dyn Progress>,
    ) -> Result<ImportReport> {
        check_name(name)?;
        let reader = self.reader(rec).await?;
        progress.phase("resample", 0);
        let table = blocking(move || quantd_data::resample::resample_pack(&reader, to)).await??;
        let origin = format!("resample of pack {} ({}) to {to}", rec.id, rec.name);
        let rows = table.len() as u64;
        self.register(name, table, origin, rec.rights.clone(), rows, 0, progress)
            .await
    }

    /// Steps 1–4 of the module docs, from a validated table.
    #[allow(clippy::too_many_arguments)]
    async fn register(
        &self,
        name: &str,
        table: BarTable,
        origin: String,
        rights: Rights,
        rows_read: u64,
        rows_dropped: u64,
        progress: Arc<dyn Progress>,
    ) -> Result<ImportReport> {
        if let Some(p) = &rights.provider {
            crate::rights::provider(&self.store, p).await?;
        }
        progress.phase("hash", 0);
        let table = Arc::new(table);
        let t = table.clone();
        let id = blocking(move || hash::pack_id(&t)).await?;
        let report = |pack, unchanged| ImportReport {
            pack,
            rows_read,
            rows_dropped,
            unchanged,
        };
        if let Some(existing) = self.row(name, &id).await? {
            let on_disk = self.stored(&id).await?;
            match existing.state {
                PackState::Fresh if on_disk => return Ok(report(existing, true)),
                PackState::Stale if on_disk => {
                    self.store.make_fresh(name, &id, Some(&rights)).await?;
                    return Ok(report(self.expect_row(name, &id).await?, false));
                }
                _ => {}
            }
        }
        quantd_data::failpoint::hit("import-before-register");
        let manifest = quantd_data::format::manifest_for(&table, &id);
        let token = crate::locks::new_token("import");
        let tmp_root = self.dir.tmp();
        let lock = crate::locks::HeldLock::acquire(&tmp_root, &token)?;
        let tmp_dir = tmp_root.join(&token);
        std::fs::create_dir(&tmp_dir).map_err(|e| EngineError::io("creating", &tmp_dir, e))?;
        let bytes = table.len() as i64 * (8 + 8 * table.columns.len() as i64);
        let new = NewPack {
            name: name.to_string(),
            id: id.clone(),
            import_token: token.clone(),
            estimated_ready: Utc::now() + Duration::milliseconds(500 + bytes / 200_000),
            tickers: table.tickers.len() as u64,
            bars: table.len() as u64,
            first_date: manifest.first_date,
            last_date: manifest.last_date,
            timing: quantd_store::PackTiming {
                interval: manifest.calendar.interval.to_string(),
                zone: manifest.calendar.zone.to_string(),
                first_bar: manifest.calendar.format(manifest.first_bar),
                last_bar: manifest.calendar.format(manifest.last_bar),
            },
            columns: manifest.columns.clone(),
            rows_dropped,
            origin,
            rights,
        };
        let cleanup = |tmp_dir: &Path| {
            let _ = std::fs::remove_dir_all(tmp_dir);
        };
        if let Err(e) = self.store.begin_import(&new).await {
            cleanup(&tmp_dir);
            return Err(e.into());
        }
        let packs_dir = self.dir.packs();
        let (t, tmp, i, p) = (table.clone(), tmp_dir.clone(), id.clone(), progress.clone());
        let written =
            blocking(move || quantd_data::format::write_pack(&packs_dir, &tmp, &t, &i, p.as_ref()))
                .await;
        let written: Result<()> = match written {
            Ok(Ok(dir)) => match &self.shared {
                Some(shared) => {
                    progress.phase("upload", 0);
                    let uploaded = shared.remote.upload(&dir, &id).await;
                    quantd_data::failpoint::hit("import-after-upload");
                    uploaded
                }
                None => Ok(()),
            },
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(e),
        };
        match written {
            Ok(()) => {
                self.store.make_fresh(name, &id, None).await?;
                drop(lock);
                cleanup(&tmp_dir);
                progress.finish();
                if let Some(shared) = &self.shared {
                    self.evict(shared, &id);
                }
                Ok(report(self.expect_row(name, &id).await?, false))
            }
            Err(e) => {
                self.store.fail_import(name, &id, &e.to_string()).await?;
                cleanup(&tmp_dir);
                Err(e)
            }
        }
    }

    async fn row(&self, name: &str, id: &PackId) -> Result<Option<PackRecord>> {
        Ok(self
            .store
            .find_packs(name)
            .await?
            .into_iter()
            .find(|r| r.name == name && &r.id == id))
    }

    async fn expect_row(&self, name: &str, id: &PackId) -> Result<PackRecord> {
        self.row(name, id).await?.ok_or_else(|| {
            EngineError::Internal(format!(
                "pack {name} {} vanished from the catalog",
                id.short()
            ))
        })
    }

    /// Catalog rows, newest first, one page.
    pub async fn list(&self, page: &Page) -> Result<Paged<PackRecord>> {
        Ok(self.store.list_packs(page).await?)
    }

    /// Finds the catalog row for a name, an id or an id prefix (≥ 8 characters). A name gives its
    /// fresh pack (or its newest row when none is fresh). `None` gives the newest fresh pack.
    pub async fn find(&self, key: Option<&str>) -> Result<PackRecord> {
        let Some(key) = key else {
            return self.store.newest_fresh_pack().await?.ok_or_else(|| EngineError::NotFound {
                what: "a fresh pack".into(),
                hint: "; create one with `quantd data synth --name demo --tickers 50 --days 500` or `quantd data import FILE --name NAME`".into(),
            });
        };
        let rows = self.store.find_packs(key).await?;
        // Ids (and id prefixes) first: content is never shadowed by a name.
        let mut ids: Vec<&PackRecord> = if looks_like_id(key) {
            rows.iter()
                .filter(|r| r.id.as_str().starts_with(&key.to_ascii_lowercase()))
                .collect()
        } else {
            Vec::new()
        };
        ids.dedup_by(|a, b| a.id == b.id);
        let by_name: Vec<&PackRecord> = rows.iter().filter(|r| r.name == key).collect();
        if ids.is_empty()
            && let Some(first) = by_name.first()
        {
            return Ok(by_name
                .iter()
                .find(|r| r.state == PackState::Fresh)
                .copied()
                .unwrap_or(first)
                .clone());
        }
        match ids.as_slice() {
            [one] => Ok((*one).clone()),
            [] => {
                let names: Vec<String> = self
                    .list(&Page::first(50))
                    .await?
                    .items
                    .into_iter()
                    .map(|r| r.name)
                    .collect();
                let hint = if names.is_empty() {
                    "; the catalog is empty: `quantd data import` or `quantd data synth` first"
                        .to_string()
                } else {
                    format!(
                        "; known packs: {}{}",
                        dedup(names).join(", "),
                        if key.len() < 8 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
                            " (an id prefix needs 8 or more characters)"
                        } else {
                            ""
                        }
                    )
                };
                Err(EngineError::NotFound {
                    what: format!("pack `{key}`"),
                    hint,
                })
            }
            many => Err(EngineError::Invalid(format!(
                "`{key}` matches {} pack ids; give more characters of the id",
                many.len()
            ))),
        }
    }

    /// The catalog row of exactly this content id (an execution's recorded pack: never a name,
    /// never a prefix).
    pub async fn by_id(&self, id: &str) -> Result<PackRecord> {
        self.store
            .find_packs(id)
            .await?
            .into_iter()
            .find(|r| r.id.as_str() == id)
            .ok_or_else(|| EngineError::NotFound {
                what: format!("pack {id}"),
                hint: "; the pack this execution read is gone from the catalog".into(),
            })
    }

    /// Whether pack `id` is stored where imports put packs: the pack store when there is one,
    /// else the data directory.
    async fn stored(&self, id: &PackId) -> Result<bool> {
        match &self.shared {
            Some(shared) => shared.remote.contains(id).await,
            None => Ok(self
                .dir
                .packs()
                .join(id.as_str())
                .join(quantd_data::format::MANIFEST_FILE)
                .exists()),
        }
    }

    /// Opens a pack for reading (as [`Packs::open_reader`]), first downloading it from the pack
    /// store into this host's cache when it is not there yet.
    pub async fn reader(&self, rec: &PackRecord) -> Result<Arc<PackReader>> {
        if self.shared.is_some() && matches!(rec.state, PackState::Fresh | PackState::Stale) {
            // Boxed as a trait object: the download is rare and its future deep, and callers'
            // futures (the API's) stay small and quick to prove `Send`.
            let fetch: std::pin::Pin<Box<dyn Future<Output = Result<()>> + Send + '_>> =
                Box::pin(self.ensure_local(rec));
            fetch.await?;
        }
        self.open_reader(rec)
    }

    /// Opens a pack of this host's data directory for reading, refusing warming and error packs
    /// with the reason. With a pack store, use [`Packs::reader`], which fetches it first.
    pub fn open_reader(&self, rec: &PackRecord) -> Result<Arc<PackReader>> {
        match rec.state {
            PackState::Warming => Err(EngineError::PackNotReady {
                message: format!(
                    "pack `{}` is still warming (being imported); try again shortly",
                    rec.name
                ),
                estimated_ready: rec.estimated_ready,
            }),
            PackState::Error => Err(EngineError::PackNotReady {
                message: format!(
                    "pack `{}` ({}) is unusable: {}",
                    rec.name,
                    rec.id.short(),
                    rec.error.as_deref().unwrap_or("import failed")
                ),
                estimated_ready: None,
            }),
            PackState::Fresh | PackState::Stale => {
                let mut readers = self.readers.lock().expect("reader cache lock");
                if let Some(shared) = &self.shared {
                    shared.touch(&self.dir.packs().join(rec.id.as_str()));
                }
                if let Some(r) = readers.get(&rec.id) {
                    return Ok(r.clone());
                }
                let reader = Arc::new(PackReader::open(&self.dir.packs().join(rec.id.as_str()))?);
                if reader.manifest().id != rec.id {
                    return Err(EngineError::Internal(format!(
                        "the files of pack {} hold pack {}; the data directory is damaged",
                        rec.id,
                        reader.manifest().id
                    )));
                }
                readers.insert(rec.id.clone(), reader.clone());
                Ok(reader)
            }
        }
    }

    /// Exports a pack's bars to CSV or Parquet for `reader`, as its rights allow: refused under
    /// `deny`, watermarked under `watermark` (both recorded in the audit trail).
    pub async fn export(
        &self,
        rec: &PackRecord,
        out: &Path,
        reader: &crate::rights::Reader,
        progress: Arc<dyn Progress>,
    ) -> Result<Option<String>> {
        let terms = crate::rights::pack_terms(&self.store, rec).await?;
        let detail = format!("bars as {}", out.display());
        let release = crate::rights::decide(
            &self.store,
            terms,
            crate::rights::Subject::Pack(rec),
            reader,
            quantd_core::Disclosure::Derived,
            &detail,
            chrono::Utc::now().timestamp_millis(),
        )
        .await?;
        let mut layout = quantd_data::export::ParquetLayout::default();
        if let Some(w) = &release.watermark {
            layout.watermark = Some(w.line());
            layout.metadata = w
                .parquet_metadata()
                .into_iter()
                .filter_map(|kv| Some((kv.key, kv.value?)))
                .collect();
        }
        let reader = self.reader(rec).await?;
        let out = out.to_path_buf();
        blocking(move || {
            progress.phase("read", 0);
            let table = reader.to_table()?;
            quantd_data::export::export(&table, &out, layout, progress.as_ref())
        })
        .await??;
        Ok(release.attribution())
    }
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.retain(|s| seen.insert(s.clone()));
    v
}

/// Checks a pack name: letters, digits, `-`, `_`, `.`; not empty; not starting with `.`.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.');
    if !ok {
        let shown: String = name
            .chars()
            .take(64)
            .collect::<String>()
            .escape_debug()
            .to_string();
        return Err(EngineError::Invalid(format!(
            "pack name \"{shown}\"{} is not allowed; use 1–64 letters, digits, `-`, `_` or `.`",
            if name.chars().count() > 64 { "…" } else { "" }
        )));
    }
    if looks_like_id(name) {
        return Err(EngineError::Invalid(format!(
            "pack name `{name}` looks like a pack id (8 or more hex digits), and ids always mean \
             content; use a name with a letter beyond a–f, e.g. `{name}-pack`"
        )));
    }
    Ok(())
}

/// Whether `key` could be a pack id or an id prefix (8 or more hex digits): such a key is
/// resolved as an id, and no pack may be named like one.
pub fn looks_like_id(key: &str) -> bool {
    key.len() >= 8 && key.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Runs CPU-bound or blocking work off the async runtime.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EngineError::Internal(format!("worker task failed: {e}")))
}

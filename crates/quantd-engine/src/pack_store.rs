//! Packs on shared object storage: where complete packs live when many hosts read them.
//!
//! A pack is immutable and named by its content hash, so it is stored once, under its id, in an
//! object store named by a URL (`--pack-store`; the [`object_store`] crate):
//!
//! ```text
//! <url>/<id>/bars.arrow      the bars file, as in a data directory
//! <url>/<id>/manifest.json   written last: a pack whose manifest is there is complete
//! ```
//! `file:///DIR` (a shared directory), `s3://BUCKET/PREFIX` (any S3-compatible server),
//! `gs://BUCKET/PREFIX`, `az://CONTAINER/PREFIX` and `memory://` (one process, for tests) are
//! understood. Credentials and options come from the usual variables of each service
//! (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT`, `AWS_ALLOW_HTTP`, `GOOGLE_SERVICE_ACCOUNT`,
//! `AZURE_STORAGE_ACCOUNT_NAME`, …), never from the URL, so they are never printed.
//!
//! What is stored here is not trusted: the data directory's `packs/` is each host's cache of this
//! store ([`crate::packs`]), and a pack enters the cache only after its bars hash to its id.

use crate::error::{EngineError, Result};
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreScheme};
use quantd_core::PackId;
use quantd_data::format::{BARS_FILE, MANIFEST_FILE};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// The variables whose values configure an object store (lower-cased, they are its option keys).
const OPTION_PREFIXES: [&str; 3] = ["AWS_", "GOOGLE_", "AZURE_"];

/// An object store that holds packs, one folder per id.
#[derive(Debug, Clone)]
pub struct PackStore {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    url: String,
}

/// One pack folder found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPack {
    /// The folder's name: a pack id when the folder is one of ours.
    pub id: String,
    /// Bytes of every object in the folder.
    pub bytes: u64,
    /// Whether the manifest (written last) is there.
    pub complete: bool,
}

impl PackStore {
    /// The pack store at `url`, configured from the process environment.
    pub fn open(url: &str) -> Result<PackStore> {
        PackStore::open_with(url, std::env::vars())
    }

    /// The pack store at `url` with options from `vars` (environment variables: those starting
    /// with `AWS_`, `GOOGLE_` or `AZURE_` are passed on; others are ignored).
    pub fn open_with(
        url: &str,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<PackStore> {
        let parsed = url::Url::parse(url);
        // Messages show the URL without anything before an `@` (credentials never printed).
        let shown = match &parsed {
            Ok(u) if !u.username().is_empty() || u.password().is_some() => {
                let mut u = u.clone();
                let _ = u.set_username("");
                let _ = u.set_password(None);
                u.to_string()
            }
            Ok(_) => url.to_string(),
            Err(_) => url.rsplit('@').next().unwrap_or_default().to_string(),
        };
        let bad = |why: String| {
            EngineError::Invalid(format!(
                "--pack-store `{shown}`: {why}; write file:///DIR, s3://BUCKET/PREFIX, \
                 gs://BUCKET/PREFIX or az://CONTAINER/PREFIX"
            ))
        };
        let parsed = parsed.map_err(|e| bad(e.to_string()))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(bad(
                "credentials do not belong in the URL (they would be printed); \
                 set them in the service's variables, e.g. AWS_ACCESS_KEY_ID"
                    .into(),
            ));
        }
        let (scheme, _) = ObjectStoreScheme::parse(&parsed).map_err(|e| bad(e.to_string()))?;
        if matches!(scheme, ObjectStoreScheme::Http) {
            return Err(bad("plain HTTP(S) servers are read-only here".into()));
        }
        if matches!(scheme, ObjectStoreScheme::Local) {
            let dir = parsed
                .to_file_path()
                .map_err(|()| bad("not a local path".into()))?;
            std::fs::create_dir_all(&dir).map_err(|e| EngineError::io("creating", &dir, e))?;
        }
        let options: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| OPTION_PREFIXES.iter().any(|p| k.starts_with(p)))
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
        let (store, prefix) =
            object_store::parse_url_opts(&parsed, options).map_err(|e| bad(e.to_string()))?;
        Ok(PackStore {
            store: Arc::from(store),
            prefix,
            url: url.trim_end_matches('/').to_string(),
        })
    }

    /// The store's URL, as configured (it holds no credentials).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn object(&self, id: &str, file: &str) -> ObjectPath {
        self.prefix.child(id).child(file)
    }

    /// Where an object is, for messages.
    fn place(&self, id: &str, file: &str) -> PathBuf {
        PathBuf::from(format!("{}/{id}/{file}", self.url))
    }

    fn failed(&self, action: &'static str, id: &str, file: &str, e: impl ToString) -> EngineError {
        EngineError::io(
            action,
            &self.place(id, file),
            std::io::Error::other(e.to_string()),
        )
    }

    /// Whether the store holds pack `id` complete (its manifest is there).
    pub async fn contains(&self, id: &PackId) -> Result<bool> {
        match self
            .store
            .head(&self.object(id.as_str(), MANIFEST_FILE))
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.failed("looking up", id.as_str(), MANIFEST_FILE, e)),
        }
    }

    /// Uploads the pack directory `dir` as pack `id`: the bars first, the manifest last, so a
    /// pack is never seen complete before its bars are all there. Uploading a pack the store
    /// already holds is a no-op.
    pub async fn upload(&self, dir: &Path, id: &PackId) -> Result<()> {
        if self.contains(id).await? {
            return Ok(());
        }
        for file in [BARS_FILE, MANIFEST_FILE] {
            self.upload_file(&dir.join(file), id.as_str(), file).await?;
        }
        Ok(())
    }

    async fn upload_file(&self, from: &Path, id: &str, file: &str) -> Result<()> {
        let mut src = tokio::fs::File::open(from)
            .await
            .map_err(|e| EngineError::io("reading", from, e))?;
        let mut dst =
            object_store::buffered::BufWriter::new(self.store.clone(), self.object(id, file));
        let copied = tokio::io::copy(&mut src, &mut dst).await;
        match copied {
            Ok(_) => dst
                .shutdown()
                .await
                .map_err(|e| self.failed("uploading", id, file, e)),
            Err(e) => {
                let _ = dst.abort().await;
                Err(self.failed("uploading", id, file, e))
            }
        }
    }

    /// Downloads pack `id` into the directory `into` (created; the caller owns it and verifies
    /// what it holds). A pack the store does not hold complete is [`EngineError::NotFound`].
    pub async fn download(&self, id: &PackId, into: &Path) -> Result<()> {
        if !self.contains(id).await? {
            return Err(EngineError::NotFound {
                what: format!("pack {id} in the pack store {}", self.url),
                hint: "; its import did not finish, or the object was removed: import it again"
                    .into(),
            });
        }
        tokio::fs::create_dir_all(into)
            .await
            .map_err(|e| EngineError::io("creating", into, e))?;
        for file in [MANIFEST_FILE, BARS_FILE] {
            self.download_file(id.as_str(), file, &into.join(file))
                .await?;
        }
        Ok(())
    }

    async fn download_file(&self, id: &str, file: &str, to: &Path) -> Result<()> {
        let got = self
            .store
            .get(&self.object(id, file))
            .await
            .map_err(|e| self.failed("downloading", id, file, e))?;
        let mut out = tokio::fs::File::create(to)
            .await
            .map_err(|e| EngineError::io("creating", to, e))?;
        let mut chunks = got.into_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| self.failed("downloading", id, file, e))?;
            out.write_all(&chunk)
                .await
                .map_err(|e| EngineError::io("writing", to, e))?;
        }
        out.sync_all()
            .await
            .map_err(|e| EngineError::io("syncing", to, e))
    }

    /// Every pack folder in the store, by id, with its size and whether it is complete.
    pub async fn list(&self) -> Result<Vec<StoredPack>> {
        let mut found: BTreeMap<String, StoredPack> = BTreeMap::new();
        let mut objects = self.store.list(Some(&self.prefix));
        while let Some(meta) = objects.next().await {
            let meta = meta.map_err(|e| self.failed("listing", "", "", e))?;
            let Some(rest) = meta.location.prefix_match(&self.prefix) else {
                continue;
            };
            let parts: Vec<String> = rest.map(|p| p.as_ref().to_string()).collect();
            let [id, file] = parts.as_slice() else {
                continue;
            };
            let entry = found.entry(id.clone()).or_insert_with(|| StoredPack {
                id: id.clone(),
                bytes: 0,
                complete: false,
            });
            entry.bytes += meta.size;
            entry.complete |= file == MANIFEST_FILE;
        }
        Ok(found.into_values().collect())
    }

    /// Removes pack folder `id`: the manifest first, so a half-removed pack reads as incomplete.
    pub async fn remove(&self, id: &str) -> Result<()> {
        for file in [MANIFEST_FILE, BARS_FILE] {
            match self.store.delete(&self.object(id, file)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.failed("removing", id, file, e)),
            }
        }
        Ok(())
    }

    /// Overwrites one object of pack `id` (tests: a damaged copy in the store).
    #[cfg(feature = "test-support")]
    pub async fn overwrite(&self, id: &PackId, file: &str, bytes: Vec<u8>) -> Result<()> {
        self.store
            .put(&self.object(id.as_str(), file), bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| self.failed("uploading", id.as_str(), file, e))
    }
}

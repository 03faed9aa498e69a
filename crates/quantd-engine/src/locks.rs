//! Liveness by lock files: a process that does work others must not mistake for abandoned
//! (an import, a worker holding shard leases) holds an exclusive lock on a file named by its
//! token. The kernel drops the lock when the process dies, however it dies, so "is the lock
//! held?" answers "is the owner alive?" without clocks.

use crate::error::{EngineError, Result};
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// A held lock; dropping it releases the lock and removes the file.
#[derive(Debug)]
pub struct HeldLock {
    file: Option<File>,
    path: PathBuf,
}

impl HeldLock {
    /// Creates `dir/<token>.lock` and locks it.
    pub fn acquire(dir: &Path, token: &str) -> Result<HeldLock> {
        let path = dir.join(format!("{token}.lock"));
        let file = File::create(&path).map_err(|e| EngineError::io("creating", &path, e))?;
        file.try_lock()
            .map_err(|e| EngineError::Internal(format!("locking {}: {e}", path.display())))?;
        Ok(HeldLock {
            file: Some(file),
            path,
        })
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        drop(self.file.take());
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether some process holds the lock of `token` in `dir`.
pub fn is_held(dir: &Path, token: &str) -> bool {
    let Ok(file) = File::open(dir.join(format!("{token}.lock"))) else {
        return false;
    };
    match file.try_lock() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => false,
    }
}

/// A token unique to this process and moment: `prefix-pid-random`.
pub fn new_token(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{prefix}-{}-{:016x}", std::process::id(), h.finish())
}

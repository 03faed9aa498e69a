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
    /// Creates `dir/<token>.lock`, locked. The file is locked under a name no observer looks
    /// at and then renamed into place, so no other process ever sees it unlocked: one that
    /// cleans up unheld lock files (or asks [`is_held`]) between the creation and the lock would
    /// otherwise remove it, or take the lock for a moment, and take a live owner for dead.
    pub fn acquire(dir: &Path, token: &str) -> Result<HeldLock> {
        let path = dir.join(format!("{token}.lock"));
        let staging = dir.join(format!("{token}.locking"));
        let file = File::create(&staging).map_err(|e| EngineError::io("creating", &staging, e))?;
        file.try_lock()
            .map_err(|e| EngineError::Internal(format!("locking {}: {e}", staging.display())))?;
        std::fs::rename(&staging, &path).map_err(|e| EngineError::io("renaming", &staging, e))?;
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

/// A token unique to this process and moment: `prefix-pid-random@host`.
pub fn new_token(prefix: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!(
        "{prefix}-{}-{:016x}@{}",
        std::process::id(),
        h.finish(),
        host()
    )
}

/// This host's name as tokens carry it (letters, digits, `.` and `-`; at most 64).
pub fn host() -> String {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let clean: String = name
            .trim()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'))
            .take(64)
            .collect();
        if clean.is_empty() {
            "localhost".into()
        } else {
            clean
        }
    })
    .clone()
}

/// Whether `token` was made on this host, so that its lock file, if any, is here to ask
/// ([`is_held`]). Tokens made before tokens named their host count as this host's.
pub fn made_here(token: &str) -> bool {
    token.rsplit_once('@').is_none_or(|(_, h)| h == host())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a process opening a data directory does: removes the lock files nobody holds.
    fn clean_up(dir: &Path) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            if let Some(token) = name.strip_suffix(".lock")
                && !is_held(dir, token)
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    #[test]
    fn a_lock_being_taken_is_never_seen_free() {
        let dir = tempfile::tempdir().unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    clean_up(dir.path());
                }
            });
            // Collected first and checked after the cleaner stops, so a failure cannot hang it.
            let held: Vec<(Result<HeldLock>, String)> = (0..500)
                .map(|i| {
                    let token = format!("worker-{i}");
                    (HeldLock::acquire(dir.path(), &token), token)
                })
                .collect();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            for (lock, token) in &held {
                assert!(lock.is_ok(), "{token}: {lock:?}");
                assert!(is_held(dir.path(), token), "{token} was taken for dead");
            }
        });
    }

    #[test]
    fn a_dropped_lock_is_free_and_gone() {
        let dir = tempfile::tempdir().unwrap();
        let lock = HeldLock::acquire(dir.path(), "t").unwrap();
        assert!(is_held(dir.path(), "t"));
        drop(lock);
        assert!(!is_held(dir.path(), "t"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

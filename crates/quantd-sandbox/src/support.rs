//! What this host's kernel offers the sandbox, for `quantd runtime doctor` and logs.

use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// How job memory is limited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MemoryLimit {
    /// A delegated cgroup v2: each job gets a child cgroup with its own `memory.max`.
    CgroupV2 {
        /// The delegated cgroup directory.
        dir: PathBuf,
    },
    /// `RLIMIT_AS` per process (numeric libraries pinned to one thread so that they stay under
    /// it), because no delegated cgroup v2 is available (`why`).
    Rlimit {
        /// Why cgroup v2 is not used.
        why: String,
    },
}

/// The sandbox features this kernel has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostSupport {
    /// The Landlock ABI version; `None` when absent or disabled (jobs then run without it).
    pub landlock_abi: Option<u32>,
    /// Whether seccomp filters are available (`Seccomp:` in `/proc/self/status`).
    pub seccomp: bool,
    /// How memory is limited.
    pub memory: MemoryLimit,
    /// The kernel release.
    pub kernel: String,
}

/// Probes the kernel. Cheap: a syscall and a few file reads.
pub fn host_support() -> HostSupport {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    HostSupport {
        landlock_abi: crate::sys::landlock_abi(),
        seccomp: status.lines().any(|l| l.starts_with("Seccomp:")),
        memory: memory_limit(),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

/// How jobs' memory is limited on this host, deciding (once per process) whether a delegated
/// cgroup v2 is used: named by [`crate::QUANTD_CGROUP`], or for a non-root user its own cgroup
/// when writable. A usable one is prepared ([`crate::prepare_cgroup`]) on first call.
pub fn memory_limit() -> MemoryLimit {
    static DECIDED: OnceLock<MemoryLimit> = OnceLock::new();
    DECIDED
        .get_or_init(|| {
            let named = std::env::var_os(crate::QUANTD_CGROUP).map(PathBuf::from);
            let decided = match delegated_cgroup(Path::new("/sys/fs/cgroup"), named.as_deref()) {
                Ok(dir) => match crate::prepare_cgroup(&dir) {
                    Ok(()) => MemoryLimit::CgroupV2 { dir },
                    Err(e) => MemoryLimit::Rlimit {
                        why: format!("could not prepare the cgroup {}: {e}", dir.display()),
                    },
                },
                Err(why) => MemoryLimit::Rlimit { why },
            };
            match &decided {
                MemoryLimit::CgroupV2 { dir } => {
                    tracing::info!(cgroup = %dir.display(), "job memory limited by cgroup v2 memory.max")
                }
                MemoryLimit::Rlimit { why } => {
                    tracing::debug!(%why, "job memory limited by RLIMIT_AS per process")
                }
            }
            decided
        })
        .clone()
}

/// The delegated cgroup v2 directory to use, or why there is none. `named` is the
/// [`crate::QUANTD_CGROUP`] value; `mount` the cgroup2 mount point.
fn delegated_cgroup(mount: &Path, named: Option<&Path>) -> Result<PathBuf, String> {
    let dir = match named {
        Some(dir) => dir.to_path_buf(),
        None => {
            if !mount.join("cgroup.controllers").is_file() {
                return Err(format!(
                    "no cgroup v2 hierarchy at {} (cgroup v1 or hybrid)",
                    mount.display()
                ));
            }
            if crate::sys::geteuid() == 0 {
                return Err(format!(
                    "running as root: name a delegated cgroup with {}=/sys/fs/cgroup/…",
                    crate::QUANTD_CGROUP
                ));
            }
            let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            let rel = own
                .lines()
                .find_map(|l| l.strip_prefix("0::"))
                .unwrap_or("/")
                .trim_start_matches('/');
            mount.join(rel)
        }
    };
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers"))
        .map_err(|e| format!("{} is not a cgroup v2 directory ({e})", dir.display()))?;
    if !controllers.split_whitespace().any(|c| c == "memory") {
        return Err(format!(
            "the memory controller is not delegated to {}",
            dir.display()
        ));
    }
    if !crate::sys::access_writable(&dir.join("cgroup.subtree_control")) {
        return Err(format!(
            "{} is not writable (no delegated cgroup)",
            dir.display()
        ));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delegated_cgroup_needs_v2_the_memory_controller_and_write_access() {
        let d = tempfile::tempdir().unwrap();
        let v1 = d.path().join("v1");
        std::fs::create_dir(&v1).unwrap();
        let why = delegated_cgroup(&v1, None).unwrap_err();
        assert!(why.contains("cgroup v1 or hybrid"), "{why}");

        let named = d.path().join("delegated");
        std::fs::create_dir(&named).unwrap();
        let why = delegated_cgroup(&v1, Some(&named)).unwrap_err();
        assert!(why.contains("not a cgroup v2 directory"), "{why}");
        std::fs::write(named.join("cgroup.controllers"), "cpu pids\n").unwrap();
        let why = delegated_cgroup(&v1, Some(&named)).unwrap_err();
        assert!(why.contains("memory controller is not delegated"), "{why}");
        std::fs::write(named.join("cgroup.controllers"), "cpu memory pids\n").unwrap();
        std::fs::write(named.join("cgroup.subtree_control"), "").unwrap();
        assert_eq!(delegated_cgroup(&v1, Some(&named)).unwrap(), named);
    }
}

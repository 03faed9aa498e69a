//! What this host's kernel offers the sandbox, for `quantd runtime doctor` and logs.

use serde::Serialize;
use std::path::{Path, PathBuf};

/// How job memory is limited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MemoryLimit {
    /// A delegated, writable cgroup v2 directory exists (`memory.max` could be set per job).
    CgroupV2 {
        /// The writable cgroup directory.
        dir: PathBuf,
    },
    /// `RLIMIT_AS` per process (numeric libraries pinned to one thread so that they stay under
    /// it), because cgroup v2 is absent (`why`).
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
        memory: memory_limit(Path::new("/sys/fs/cgroup")),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_owned(),
    }
}

fn memory_limit(mount: &Path) -> MemoryLimit {
    if !mount.join("cgroup.controllers").is_file() {
        return MemoryLimit::Rlimit {
            why: "no cgroup v2 hierarchy at /sys/fs/cgroup (cgroup v1 or hybrid)".into(),
        };
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let rel = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .trim_start_matches('/');
    let dir = mount.join(rel);
    let controllers = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    if !controllers.split_whitespace().any(|c| c == "memory") {
        return MemoryLimit::Rlimit {
            why: format!(
                "the memory controller is not delegated to {}",
                dir.display()
            ),
        };
    }
    let writable = std::fs::metadata(&dir).is_ok_and(|m| !m.permissions().readonly())
        && crate::sys::access_writable(&dir.join("cgroup.subtree_control"));
    if writable {
        MemoryLimit::CgroupV2 { dir }
    } else {
        MemoryLimit::Rlimit {
            why: format!("{} is not writable (no delegated cgroup)", dir.display()),
        }
    }
}

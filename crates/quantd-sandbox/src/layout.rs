//! What a job's sandbox is made of, shared by cold and warm jobs: its directory on the host, the
//! read-only binds of its root, the tmpfs places, its argv and environment, its rlimits.

use crate::config::{SDK_MOUNT, SandboxConfig};
use crate::run::{JOB_DIR_ENV, Job, OUT_DIR_ENV};
use crate::shim::{Bind, ShimLimits};
use crate::sys;
use crate::{Limits, Result, SandboxError};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Prepares a job's directory (in `parent`, else the scratch dir): `job/` with the job's files,
/// `out/` for what it writes back when it runs without the sandbox.
pub(crate) fn prepare_dir(
    config: &SandboxConfig,
    job: &Job,
    parent: Option<&Path>,
) -> Result<tempfile::TempDir> {
    let scratch = parent
        .map(Path::to_path_buf)
        .or_else(|| config.scratch_dir.clone())
        .unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new()
        .prefix("quantd-job-")
        .tempdir_in(&scratch)
        .map_err(|e| SandboxError::io(format!("create a job dir in {}", scratch.display()), e))?;
    let io = |what: &str, e| SandboxError::io(what.to_owned(), e);
    let job_dir = dir.path().join("job");
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&job_dir).map_err(|e| io("create job dir", e))?;
    std::fs::create_dir(&out_dir).map_err(|e| io("create out dir", e))?;
    for (name, content) in &job.files {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(SandboxError::Config(format!(
                "job file name {name:?} must be a plain name"
            )));
        }
        let path = job_dir.join(name);
        std::fs::write(&path, content).map_err(|e| io("write job file", e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| io("chmod job file", e))?;
    }
    for (name, src) in &job.host_files {
        if name.is_empty() || name.contains('/') || name.starts_with('.') {
            return Err(SandboxError::Config(format!(
                "job file name {name:?} must be a plain name"
            )));
        }
        let path = job_dir.join(name);
        // A hard link costs nothing; across file systems, copy.
        if std::fs::hard_link(src, &path).is_err() {
            std::fs::copy(src, &path)
                .map_err(|e| io(&format!("copy {} into the job dir", src.display()), e))?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))
            .map_err(|e| io("chmod job file", e))?;
    }
    if parent.is_some() {
        // The zygote opens the job's directories as its own (unprivileged) uid: let it traverse.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))
            .map_err(|e| io("chmod job root", e))?;
    }
    std::fs::set_permissions(&job_dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io("chmod job dir", e))?;
    // Sandboxed jobs write to a tmpfs of their own (see `Limits::out_bytes`), never here; this
    // directory is `/out` only without the sandbox.
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| io("chmod out dir", e))?;
    Ok(dir)
}

/// The places every job gets a fresh, size-limited tmpfs at ([`Limits::tmpfs_bytes`]).
pub(crate) const JOB_TMPFS: [&str; 3] = ["/tmp", "/work", "/dev/shm"];

/// Whether `path` is at or under one of [`JOB_TMPFS`] (a bind there must be made after the
/// tmpfs, or the tmpfs hides it).
pub(crate) fn under_job_tmpfs(path: &Path) -> bool {
    JOB_TMPFS.iter().any(|t| path.starts_with(t))
}

/// The read-only binds every sandbox has (system library trees, the runtime, extra binds, the
/// SDK) and the top-level symlinks (`/lib -> usr/lib` on merged-/usr systems).
pub(crate) type RootLayout = (Vec<Bind>, Vec<(PathBuf, PathBuf)>);

pub(crate) fn root_layout(config: &SandboxConfig) -> Result<RootLayout> {
    let mut binds = Vec::new();
    let mut symlinks = Vec::new();
    let mut covered: Vec<PathBuf> = Vec::new();
    for sys_dir in [
        "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
    ] {
        let path = Path::new(sys_dir);
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => {
                let target =
                    std::fs::read_link(path).map_err(|e| SandboxError::io("readlink", e))?;
                symlinks.push((path.to_path_buf(), target));
            }
            Ok(m) if m.is_dir() => {
                covered.push(path.to_path_buf());
                binds.push(Bind {
                    src: path.to_path_buf(),
                    dst: path.to_path_buf(),
                    writable: false,
                });
            }
            _ => {}
        }
    }
    for d in config.runtime_dirs()? {
        visible_place(
            &d,
            "the runtime directory",
            "move the runtime (its venv and base interpreter) elsewhere, e.g. under /opt or /var/lib",
        )?;
        if !covered.iter().any(|c| d.starts_with(c)) {
            covered.push(d.clone());
            binds.push(Bind {
                src: d.clone(),
                dst: d,
                writable: false,
            });
        }
    }
    for (src, dst) in &config.ro_binds {
        visible_place(
            dst,
            "the bind target",
            "bind it somewhere else in the sandbox",
        )?;
        binds.push(Bind {
            src: src.clone(),
            dst: dst.clone(),
            writable: false,
        });
    }
    if let Some(sdk) = &config.sdk_dir {
        binds.push(Bind {
            src: sdk.clone(),
            dst: SDK_MOUNT.into(),
            writable: false,
        });
    }
    Ok((binds, symlinks))
}

/// Places the sandbox fills itself, where nothing of the host can be made visible.
const SANDBOX_OWN: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Refuses a bind at a place the sandbox mounts its own file system on (`/proc`, `/sys`, `/dev`
/// other than `/dev/shm`): the job would never see it. Places under the job's tmpfs (`/tmp`,
/// `/work`, `/dev/shm`) are fine: binds are made on top of them.
fn visible_place(path: &Path, what: &str, fix: &str) -> Result<()> {
    let own = SANDBOX_OWN.iter().find(|p| path.starts_with(p));
    match own {
        Some(own) if !under_job_tmpfs(path) => Err(SandboxError::Config(format!(
            "{what} {} cannot be made visible in the sandbox, which mounts its own {own} there; {fix}",
            path.display()
        ))),
        _ => Ok(()),
    }
}

/// The host uid and gid that root inside the sandbox maps to.
pub(crate) fn host_ids(config: &SandboxConfig) -> (u32, u32) {
    if sys::geteuid() == 0 {
        (config.root_host_uid, config.root_host_uid)
    } else {
        (sys::geteuid(), sys::getegid())
    }
}

/// The shim limits for `limits`; `memory_bytes` is 0 (no `RLIMIT_AS`) when the job's cgroup
/// limits its memory.
pub(crate) fn shim_limits(limits: &Limits, cgroup: bool) -> ShimLimits {
    ShimLimits {
        cpu_secs: limits.cpu.as_secs().max(1),
        memory_bytes: if cgroup { 0 } else { limits.memory_bytes },
        processes: limits.processes,
        file_size_bytes: limits.file_size_bytes,
        open_files: limits.open_files,
        tmpfs_bytes: limits.tmpfs_bytes,
        out_bytes: limits.out_bytes,
    }
}

/// The job's environment and argv (after the interpreter) as the sandbox sees them.
pub(crate) fn job_argv_env(
    config: &SandboxConfig,
    job: &Job,
    job_dir: &Path,
    out_dir: &Path,
    isolate: bool,
) -> (Vec<String>, Vec<(String, String)>) {
    let argv = job
        .args
        .iter()
        .map(|a| {
            if isolate {
                return a.clone();
            }
            // Without the sandbox's mounts, `/job/..` and `/out/..` are the host directories.
            if let Some(rest) = a.strip_prefix("/job/") {
                job_dir.join(rest).to_string_lossy().into_owned()
            } else if let Some(rest) = a.strip_prefix("/out/") {
                out_dir.join(rest).to_string_lossy().into_owned()
            } else {
                a.clone()
            }
        })
        .collect();
    let mut env = config.job_env(&job.env);
    if let Some(sdk) = &config.sdk_dir {
        let path = if isolate {
            PathBuf::from(SDK_MOUNT)
        } else {
            sdk.clone()
        };
        env.retain(|(k, _)| k != "PYTHONPATH");
        env.push(("PYTHONPATH".into(), path.to_string_lossy().into_owned()));
    }
    env.push((JOB_DIR_ENV.into(), job_dir.to_string_lossy().into_owned()));
    env.push((OUT_DIR_ENV.into(), out_dir.to_string_lossy().into_owned()));
    (argv, env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShimCommand;

    #[test]
    fn binds_where_the_sandbox_mounts_its_own_are_refused_and_under_tmp_are_not() {
        let mut c = SandboxConfig::new("/usr/bin/python3", ShimCommand::new("/bin/true"));
        for (dst, ok) in [
            ("/proc/data", false),
            ("/sys/x", false),
            ("/dev/venv", false),
            ("/dev/shm/venv", true),
            ("/tmp/qd/venv", true),
            ("/work/data", true),
            ("/srv/data", true),
        ] {
            c.ro_binds = vec![("/srv".into(), dst.into())];
            match root_layout(&c) {
                Ok(_) => assert!(ok, "{dst} accepted"),
                Err(e) => {
                    assert!(!ok, "{dst}: {e}");
                    assert!(e.to_string().contains("mounts its own"), "{e}");
                }
            }
        }
    }
}

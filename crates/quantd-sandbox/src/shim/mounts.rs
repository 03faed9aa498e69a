//! Building the job's root file system inside its mount namespace (run by S1).
//!
//! The new root is a small tmpfs holding: read-only binds of the system library trees, the
//! runtime (venv, interpreter prefix) and the job directory; size-limited tmpfs at `/tmp`,
//! `/work`, `/dev/shm` and `/out` (the outputs, handed to the host as a directory fd: see
//! [`super::Report::Out`]); a fresh `/proc`; a `/dev`
//! with only null, zero, full, random and urandom; a three-file `/etc`. After `pivot_root` the old
//! root is detached and the new root and `/dev` are remounted read-only.
//!
//! The tmpfs mounts come first and the binds after, so that a bind whose place is under one of
//! them (a runtime or data directory under `/tmp`) lands on top of the job's tmpfs instead of
//! being hidden by it.

use super::{Fail, ShimConfig, Stage};
use crate::sys::{self, Fd};
use std::ffi::{CStr, CString};
use std::path::{Component, Path, PathBuf};

/// Where the new root is assembled before `pivot_root` (a private copy of the host's mount
/// point; the host never sees it).
const STAGING: &str = "/tmp";

fn c(path: &Path) -> Result<CString, Fail> {
    sys::cpath(path).stage(format!("path {}", path.display()))
}

fn inside(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    Path::new(STAGING).join(rel)
}

fn mkdir_p(path: &Path) -> Result<(), Fail> {
    let mut cur = PathBuf::from("/");
    for comp in path.components() {
        if let Component::Normal(n) = comp {
            cur.push(n);
            sys::mkdir(&c(&cur)?, 0o755).stage(format!("mkdir {}", cur.display()))?;
        }
    }
    Ok(())
}

fn tmpfs(target: &Path, size: u64, mode: &str) -> Result<(), Fail> {
    mkdir_p(target)?;
    let data = CString::new(format!("size={size},mode={mode}")).expect("no NUL");
    sys::mount(
        Some(c"tmpfs"),
        &c(target)?,
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(&data),
    )
    .stage(format!("mount tmpfs {}", target.display()))
}

fn bind_fd(fd: Fd, target: &Path, writable: bool) -> Result<(), Fail> {
    let src = CString::new(format!("/proc/self/fd/{fd}")).expect("no NUL");
    let dst = c(target)?;
    sys::mount(Some(&src), &dst, None, libc::MS_BIND | libc::MS_REC, None)
        .stage(format!("bind {}", target.display()))?;
    sys::make_readonly_recursive(&dst, !writable).stage(format!("restrict {}", target.display()))
}

fn bind_file(src: &CStr, target: &Path) -> Result<(), Fail> {
    let dst = c(target)?;
    sys::open(&dst, libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC)
        .map(sys::close)
        .stage(format!("create {}", target.display()))?;
    sys::mount(Some(src), &dst, None, libc::MS_BIND, None)
        .stage(format!("bind {}", target.display()))
}

fn remount_ro(target: &CStr) -> Result<(), Fail> {
    sys::mount(
        None,
        target,
        None,
        libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
        None,
    )
    .stage(format!("remount {target:?} read-only"))
}

fn symlink(target: &str, link: &Path) -> Result<(), Fail> {
    let t = CString::new(target).expect("no NUL");
    sys::symlink(&t, &c(link)?).stage(format!("symlink {}", link.display()))
}

pub(super) fn build_root(cfg: &ShimConfig, src_fds: &[Fd]) -> Result<(), Fail> {
    sys::mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None).stage("make / private")?;
    let root = Path::new(STAGING);
    sys::mount(
        Some(c"tmpfs"),
        &c(root)?,
        Some(c"tmpfs"),
        libc::MS_NOSUID | libc::MS_NODEV,
        Some(c"size=1m,mode=0755"),
    )
    .stage("mount root tmpfs")?;

    for (link, target) in &cfg.symlinks {
        let target = target.to_str().ok_or_else(|| Fail {
            stage: "symlink".into(),
            err: std::io::Error::other("non-UTF-8 symlink target"),
        })?;
        symlink(target, &inside(link))?;
    }
    let proc_dir = root.join("proc");
    mkdir_p(&proc_dir)?;
    sys::mount(
        Some(c"proc"),
        &c(&proc_dir)?,
        Some(c"proc"),
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        None,
    )
    .stage("mount /proc")?;

    let dev = root.join("dev");
    tmpfs(&dev, 64 << 10, "0755")?;
    for name in ["null", "zero", "full", "random", "urandom"] {
        let src = CString::new(format!("/dev/{name}")).expect("no NUL");
        bind_file(&src, &dev.join(name))?;
    }
    symlink("/proc/self/fd", &dev.join("fd"))?;
    symlink("/proc/self/fd/0", &dev.join("stdin"))?;
    symlink("/proc/self/fd/1", &dev.join("stdout"))?;
    symlink("/proc/self/fd/2", &dev.join("stderr"))?;
    tmpfs(&dev.join("shm"), cfg.limits.tmpfs_bytes, "1777")?;
    tmpfs(&root.join("tmp"), cfg.limits.tmpfs_bytes, "1777")?;
    tmpfs(&root.join("work"), cfg.limits.tmpfs_bytes, "0755")?;
    if !cfg.zygote {
        // The job's outputs: bounded in total, in memory, never on the host's disk.
        tmpfs(&root.join("out"), cfg.limits.out_bytes, "0755")?;
    }

    for (b, fd) in cfg.binds.iter().zip(src_fds) {
        let dst = inside(&b.dst);
        mkdir_p(&dst)?;
        bind_fd(*fd, &dst, b.writable)?;
    }

    for m in &cfg.mountpoints {
        mkdir_p(&inside(m))?;
    }

    let etc = root.join("etc");
    mkdir_p(&etc)?;
    for (name, text) in [
        ("passwd", "root:x:0:0:sandbox:/work:/bin/false\n"),
        ("group", "root:x:0:\n"),
        ("hosts", "127.0.0.1 localhost\n::1 localhost\n"),
    ] {
        std::fs::write(etc.join(name), text).stage(format!("write /etc/{name}"))?;
    }

    let old = root.join(".old");
    mkdir_p(&old)?;
    sys::pivot_root(&c(root)?, &c(&old)?).stage("pivot_root")?;
    sys::chdir(c"/").stage("chdir /")?;
    sys::umount_detach(c"/.old").stage("detach old root")?;
    let _ = std::fs::remove_dir("/.old");
    remount_ro(c"/dev")?;
    remount_ro(c"/")?;
    Ok(())
}

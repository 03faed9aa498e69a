//! Landlock for cold-started jobs (S2, after `no_new_privs` and before seccomp).
//!
//! The same rule set the warm zygote applies to its jobs (`python/quantd/_sandbox.py`): the whole
//! new root readable and executable; writes only beneath the job's writable places (`/tmp`,
//! `/work`, `/dev/shm`, `/out`) and to the device files in `/dev`; with ABI 4+ no TCP bind
//! or connect at all; with ABI 6+ no abstract Unix socket and no signal outside the job's domain.
//! Mounts already make most of the tree read-only; Landlock is the second wall should a mount
//! flag be lost, and the one that closes abstract sockets, which mounts cannot.

use crate::sys::{self, Fd};
use std::ffi::CStr;
use std::io;

// Access rights (include/uapi/linux/landlock.h).
const EXECUTE: u64 = 1 << 0;
const WRITE_FILE: u64 = 1 << 1;
const READ_FILE: u64 = 1 << 2;
const READ_DIR: u64 = 1 << 3;
const REFER: u64 = 1 << 13;
const TRUNCATE: u64 = 1 << 14;
const IOCTL_DEV: u64 = 1 << 15;
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;
const RULE_PATH_BENEATH: libc::c_int = 1;

/// The places a job may write beneath (paths inside the new root), besides the device files.
pub(super) const WRITABLE: [&CStr; 4] = [c"/tmp", c"/work", c"/dev/shm", c"/out"];

/// `struct landlock_ruleset_attr` (the kernel takes a prefix of it by size).
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed: 12 bytes).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The file-system rights ABI `abi` can handle.
fn handled_fs(abi: u32) -> u64 {
    let mut fs = (1u64 << 13) - 1;
    if abi >= 2 {
        fs |= REFER;
    }
    if abi >= 3 {
        fs |= TRUNCATE;
    }
    if abi >= 5 {
        fs |= IOCTL_DEV;
    }
    fs
}

/// The ruleset attribute for `abi` and how many of its bytes that ABI understands.
fn ruleset_attr(abi: u32) -> (RulesetAttr, usize) {
    let attr = RulesetAttr {
        handled_access_fs: handled_fs(abi),
        handled_access_net: if abi >= 4 {
            NET_BIND_TCP | NET_CONNECT_TCP
        } else {
            0
        },
        scoped: if abi >= 6 {
            SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        } else {
            0
        },
    };
    let size = match abi {
        0..=3 => 8,
        4 | 5 => 16,
        _ => 24,
    };
    (attr, size)
}

/// Confines the calling process with Landlock: reads everywhere, writes beneath `writable` and
/// the device files of `/dev`. Returns the ABI applied, 0 when the kernel has no Landlock
/// (nothing is done). Requires `no_new_privs`.
pub(super) fn restrict(writable: &[&CStr]) -> io::Result<u32> {
    let Some(abi) = sys::landlock_abi() else {
        return Ok(0);
    };
    let (attr, size) = ruleset_attr(abi);
    let fs = attr.handled_access_fs;
    // SAFETY: `attr` is a live, correctly laid out struct and `size` does not exceed it.
    let ruleset = sys::cvt(unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            size,
            0u32,
        )
    })? as Fd;
    let result = (|| {
        let read = EXECUTE | READ_FILE | READ_DIR;
        add_rule(ruleset, c"/", read)?;
        add_rule(ruleset, c"/dev", read | WRITE_FILE | (fs & IOCTL_DEV))?;
        for path in writable {
            add_rule(ruleset, path, fs)?;
        }
        // SAFETY: plain fd and flags.
        sys::cvt(unsafe { libc::syscall(libc::SYS_landlock_restrict_self, ruleset, 0u32) })
    })();
    sys::close(ruleset);
    result.map(|_| abi)
}

fn add_rule(ruleset: Fd, path: &CStr, access: u64) -> io::Result<()> {
    let fd = sys::open(path, libc::O_PATH | libc::O_CLOEXEC).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("landlock rule {}: {e}", path.to_string_lossy()),
        )
    })?;
    let rule = PathBeneathAttr {
        allowed_access: access,
        parent_fd: fd,
    };
    // SAFETY: `rule` is a live packed struct of the layout the kernel expects.
    let r = sys::cvt(unsafe {
        libc::syscall(
            libc::SYS_landlock_add_rule,
            ruleset,
            RULE_PATH_BENEATH,
            &rule as *const PathBeneathAttr,
            0u32,
        )
    });
    sys::close(fd);
    r.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_sizes_follow_the_abi() {
        assert_eq!(std::mem::size_of::<PathBeneathAttr>(), 12);
        assert_eq!(ruleset_attr(1).1, 8);
        assert_eq!(ruleset_attr(4).1, 16);
        assert_eq!(ruleset_attr(7).1, 24);
        assert_eq!(ruleset_attr(3).0.handled_access_fs, (1 << 15) - 1);
        assert_eq!(ruleset_attr(5).0.handled_access_fs, (1 << 16) - 1);
        assert_eq!(ruleset_attr(3).0.handled_access_net, 0);
        assert_eq!(ruleset_attr(6).0.scoped, 0b11);
    }
}

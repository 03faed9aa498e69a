//! Thin wrappers over the Linux system calls the shim and the host side need. Each wrapper turns
//! a `-1`/errno return into `io::Result`; the `unsafe` is limited to passing valid pointers.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(crate) type Fd = RawFd;

pub(crate) fn cvt(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn cvt_i(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// A path as a C string (paths with NUL bytes are rejected).
pub(crate) fn cpath(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL byte in path"))
}

fn opt_ptr(s: Option<&CStr>) -> *const libc::c_char {
    s.map_or(std::ptr::null(), CStr::as_ptr)
}

pub(crate) fn mount(
    source: Option<&CStr>,
    target: &CStr,
    fstype: Option<&CStr>,
    flags: libc::c_ulong,
    data: Option<&CStr>,
) -> io::Result<()> {
    // SAFETY: every pointer is either null or a valid NUL-terminated string that outlives the call.
    let r = unsafe {
        libc::mount(
            opt_ptr(source),
            target.as_ptr(),
            opt_ptr(fstype),
            flags,
            opt_ptr(data).cast(),
        )
    };
    cvt_i(r).map(drop)
}

/// `struct mount_attr` of `mount_setattr(2)`.
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const MOUNT_ATTR_NOSUID: u64 = 0x2;
const MOUNT_ATTR_NODEV: u64 = 0x4;
const AT_RECURSIVE: libc::c_uint = 0x8000;

/// Makes the mount at `path` and every mount below it nosuid, nodev and (with `readonly`)
/// read-only.
pub(crate) fn make_readonly_recursive(path: &CStr, readonly: bool) -> io::Result<()> {
    let ro = if readonly { MOUNT_ATTR_RDONLY } else { 0 };
    let attr = MountAttr {
        attr_set: ro | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `path` is a valid C string, `attr` a valid `mount_attr` whose size we pass.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            path.as_ptr(),
            AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    cvt(r).map(drop)
}

pub(crate) fn pivot_root(new_root: &CStr, put_old: &CStr) -> io::Result<()> {
    // SAFETY: both arguments are valid C strings.
    let r = unsafe { libc::syscall(libc::SYS_pivot_root, new_root.as_ptr(), put_old.as_ptr()) };
    cvt(r).map(drop)
}

pub(crate) fn umount_detach(target: &CStr) -> io::Result<()> {
    // SAFETY: `target` is a valid C string.
    cvt_i(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) }).map(drop)
}

pub(crate) fn chdir(path: &CStr) -> io::Result<()> {
    // SAFETY: `path` is a valid C string.
    cvt_i(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

pub(crate) fn prctl(option: libc::c_int, arg2: libc::c_ulong) -> io::Result<()> {
    // SAFETY: the prctl options used here take integer arguments only.
    cvt_i(unsafe {
        libc::prctl(
            option,
            arg2,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .map(drop)
}

pub(crate) fn setrlimit(
    resource: libc::__rlimit_resource_t,
    soft: u64,
    hard: u64,
) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: `lim` is a valid rlimit.
    cvt_i(unsafe { libc::setrlimit(resource, &lim) }).map(drop)
}

/// Closes (or, with `cloexec`, marks close-on-exec) every fd from `first` up.
pub(crate) fn close_from(first: libc::c_uint, cloexec: bool) -> io::Result<()> {
    let flags = if cloexec {
        libc::CLOSE_RANGE_CLOEXEC
    } else {
        0
    };
    // SAFETY: close_range takes plain integers; no memory is involved.
    cvt(unsafe { libc::syscall(libc::SYS_close_range, first, libc::c_uint::MAX, flags) }).map(drop)
}

pub(crate) fn dup2(from: Fd, to: Fd) -> io::Result<()> {
    // SAFETY: plain fd numbers.
    cvt_i(unsafe { libc::dup2(from, to) }).map(drop)
}

pub(crate) fn set_cloexec(fd: Fd) -> io::Result<()> {
    // SAFETY: plain fd number and flag.
    cvt_i(unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) }).map(drop)
}

pub(crate) fn close(fd: Fd) {
    // SAFETY: the caller owns `fd` and never uses it again.
    unsafe { libc::close(fd) };
}

pub(crate) fn open(path: &CStr, flags: libc::c_int) -> io::Result<Fd> {
    // SAFETY: `path` is a valid C string; the mode is only read with O_CREAT.
    cvt_i(unsafe { libc::open(path.as_ptr(), flags, 0o644 as libc::c_uint) })
}

pub(crate) fn pipe() -> io::Result<(Fd, Fd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    cvt_i(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    Ok((fds[0], fds[1]))
}

pub(crate) fn write_all(fd: Fd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// Reads one byte; `Ok(false)` on end of file.
pub(crate) fn read_byte(fd: Fd) -> io::Result<bool> {
    let mut b = 0u8;
    loop {
        // SAFETY: `b` is valid for one byte.
        let n = unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(n == 1);
    }
}

/// `fork(2)`. Only called from the single-threaded shim.
pub(crate) fn fork() -> io::Result<libc::pid_t> {
    // SAFETY: the shim is single-threaded (a fresh exec that starts no thread), so the child is a
    // faithful copy with no lock held by a vanished thread.
    cvt_i(unsafe { libc::fork() })
}

/// `clone(2)` without a new stack, i.e. a fork that also enters new namespaces.
pub(crate) fn clone_fork(flags: libc::c_int) -> io::Result<libc::pid_t> {
    // SAFETY: as for `fork`: a null stack makes the child continue on a copy of the parent's
    // stack, which is sound because the shim is single-threaded. The other arguments are unused.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (flags | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    cvt(r).map(|p| p as libc::pid_t)
}

/// How a waited-for process ended, with its resource usage.
pub(crate) struct WaitStatus {
    pub pid: libc::pid_t,
    pub status: libc::c_int,
    pub rusage: libc::rusage,
}

/// `wait4(pid, ..., 0)`, retried on EINTR.
pub(crate) fn wait4(pid: libc::pid_t) -> io::Result<WaitStatus> {
    loop {
        let mut status = 0;
        // SAFETY: zeroed rusage is a valid value of this plain C struct.
        let mut rusage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: both out-pointers are valid.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut rusage) };
        if r == -1 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        return Ok(WaitStatus {
            pid: r,
            status,
            rusage,
        });
    }
}

pub(crate) fn kill(pid: libc::pid_t, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: plain integers.
    cvt_i(unsafe { libc::kill(pid, sig) }).map(drop)
}

pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<std::os::fd::OwnedFd> {
    // SAFETY: plain integers.
    let fd = cvt(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) })? as Fd;
    // SAFETY: the kernel just returned this fd, and nothing else owns it.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// Waits until `fd` is readable (or hung up) or `timeout_ms` passes; `Ok(true)` when ready.
pub(crate) fn poll_one(fd: Fd, timeout_ms: i32) -> io::Result<bool> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let r = cvt_i(unsafe { libc::poll(&mut p, 1, timeout_ms) })?;
    Ok(r > 0)
}

pub(crate) fn getppid() -> libc::pid_t {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getppid() }
}

pub(crate) fn geteuid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::geteuid() }
}

pub(crate) fn getegid() -> u32 {
    // SAFETY: no arguments, cannot fail.
    unsafe { libc::getegid() }
}

pub(crate) fn set_ids_to_root() -> io::Result<()> {
    // SAFETY: plain integers.
    cvt_i(unsafe { libc::setresgid(0, 0, 0) })?;
    // SAFETY: plain integers.
    cvt_i(unsafe { libc::setresuid(0, 0, 0) }).map(drop)
}

/// Drops supplementary groups; fails with EPERM where `setgroups` is denied (unprivileged host).
pub(crate) fn clear_groups() -> io::Result<()> {
    // SAFETY: a zero-length list needs no pointer.
    cvt_i(unsafe { libc::setgroups(0, std::ptr::null()) }).map(drop)
}

pub(crate) fn setsid() {
    // SAFETY: no arguments; failure (already a leader) is harmless.
    unsafe { libc::setsid() };
}

pub(crate) fn sethostname(name: &[u8]) -> io::Result<()> {
    // SAFETY: `name` is valid for its length.
    cvt_i(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) }).map(drop)
}

pub(crate) fn alarm(secs: u32) {
    // SAFETY: plain integer.
    unsafe { libc::alarm(secs) };
}

pub(crate) fn mkdir(path: &CStr, mode: libc::mode_t) -> io::Result<()> {
    // SAFETY: valid C string.
    match cvt_i(unsafe { libc::mkdir(path.as_ptr(), mode) }) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
        r => r.map(drop),
    }
}

pub(crate) fn symlink(target: &CStr, link: &CStr) -> io::Result<()> {
    // SAFETY: valid C strings.
    cvt_i(unsafe { libc::symlink(target.as_ptr(), link.as_ptr()) }).map(drop)
}

/// Empties the capability bounding, ambient, effective, permitted and inheritable sets, so
/// nothing the job executes can hold a capability, even as uid 0 of its user namespace.
pub(crate) fn drop_all_capabilities() -> io::Result<()> {
    for cap in 0..64 {
        if let Err(e) = prctl(libc::PR_CAPBSET_DROP, cap)
            && e.raw_os_error() != Some(libc::EINVAL)
        {
            return Err(e);
        }
    }
    // SAFETY: integer-only prctl.
    cvt_i(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })?;
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let header = Header {
        version: 0x2008_0522, // _LINUX_CAPABILITY_VERSION_3
        pid: 0,
    };
    let data = [Data {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: version 3 capset reads one header and two data structs, which we pass.
    cvt(unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) })
        .map(drop)
}

/// Installs a classic-BPF seccomp filter (requires `no_new_privs`).
pub(crate) fn install_seccomp(filter: &[libc::sock_filter]) -> io::Result<()> {
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut libc::sock_filter,
    };
    // SAFETY: `prog` points at `filter`, which outlives the call; the kernel copies it.
    cvt_i(unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &prog as *const libc::sock_fprog as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .map(drop)
}

/// `execve(2)`; returns only on failure.
pub(crate) fn execve(program: &CStr, argv: &[CString], env: &[CString]) -> io::Error {
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut env_p: Vec<*const libc::c_char> = env.iter().map(|a| a.as_ptr()).collect();
    env_p.push(std::ptr::null());
    // SAFETY: both arrays are NULL-terminated and point at C strings that outlive the call.
    unsafe { libc::execve(program.as_ptr(), argv_p.as_ptr(), env_p.as_ptr()) };
    io::Error::last_os_error()
}

pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: `_exit` ends the process at once; no Rust destructor needs to run in the shim's
    // forked children (their stdio is unbuffered fds).
    unsafe { libc::_exit(code) }
}

pub(crate) fn set_nonblocking(fd: Fd) -> io::Result<()> {
    // SAFETY: plain fd and flags.
    let flags = cvt_i(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: plain fd and flags.
    cvt_i(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) }).map(drop)
}

/// `poll(2)` over `fds`; returns how many are ready.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: i32) -> io::Result<usize> {
    // SAFETY: `fds` is a valid slice of pollfd of the given length.
    match cvt_i(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) }) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        r => r.map(|n| n as usize),
    }
}

pub(crate) fn pidfd_send_signal(pidfd: Fd, sig: libc::c_int) -> io::Result<()> {
    // SAFETY: plain integers; a null siginfo is allowed.
    cvt(unsafe { libc::syscall(libc::SYS_pidfd_send_signal, pidfd, sig, 0usize, 0) }).map(drop)
}

/// A connected pair of close-on-exec `AF_UNIX` `SOCK_SEQPACKET` sockets (message boundaries are
/// kept, so one request is one message).
pub(crate) fn seqpacket_pair() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two fds socketpair writes.
    cvt_i(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: the kernel just returned these fds, and nothing else owns them.
    Ok(unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    })
}

/// Sends one message with `fds` attached (`SCM_RIGHTS`). The receiver gets its own copies.
pub(crate) fn send_with_fds(sock: Fd, data: &[u8], fds: &[Fd]) -> io::Result<()> {
    let fd_bytes = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    // u64 elements keep the control buffer aligned for `cmsghdr`.
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: zeroed msghdr is a valid value of this plain C struct.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if !fds.is_empty() {
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = space as _;
        // SAFETY: the control buffer is CMSG_SPACE(fd_bytes) long and aligned, so the first header
        // and its data (CMSG_LEN(fd_bytes)) fit; we copy exactly `fds.len()` ints into the data.
        unsafe {
            let cmsg = libc::CMSG_FIRSTHDR(&msg);
            (*cmsg).cmsg_level = libc::SOL_SOCKET;
            (*cmsg).cmsg_type = libc::SCM_RIGHTS;
            (*cmsg).cmsg_len = libc::CMSG_LEN(fd_bytes) as _;
            std::ptr::copy_nonoverlapping(
                fds.as_ptr(),
                libc::CMSG_DATA(cmsg).cast::<libc::c_int>(),
                fds.len(),
            );
        }
    }
    loop {
        // SAFETY: `msg` points at `iov` and `control`, both alive for the call.
        let r = unsafe { libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) };
        if r >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Most fds [`recv_with_fds`] takes from one message (more are closed by the kernel).
const MAX_RECV_FDS: usize = 4;

/// Receives into `buf` without blocking, moving any fds attached (`SCM_RIGHTS`, received
/// close-on-exec) into `fds`; `Ok(0)` at end of file.
pub(crate) fn recv_with_fds(
    sock: Fd,
    buf: &mut [u8],
    fds: &mut Vec<std::os::fd::OwnedFd>,
) -> io::Result<usize> {
    use std::os::fd::FromRawFd;
    let fd_bytes = (MAX_RECV_FDS * std::mem::size_of::<libc::c_int>()) as u32;
    // SAFETY: CMSG_SPACE only computes a size.
    let space = unsafe { libc::CMSG_SPACE(fd_bytes) } as usize;
    let mut control = vec![0u64; space.div_ceil(8)];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: zeroed msghdr is a valid value of this plain C struct.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    let n = loop {
        // SAFETY: `msg` points at `iov` (over `buf`) and `control`, both alive for the call.
        let r =
            unsafe { libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC | libc::MSG_DONTWAIT) };
        if r >= 0 {
            break r as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    // SAFETY: the kernel filled `msg`'s control buffer; the CMSG_* macros walk it within
    // `msg_controllen`, and each SCM_RIGHTS header holds `(cmsg_len - CMSG_LEN(0)) / 4` fds
    // that are now ours.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
                let count = ((*cmsg).cmsg_len as usize - libc::CMSG_LEN(0) as usize)
                    / std::mem::size_of::<libc::c_int>();
                for i in 0..count {
                    let fd = std::ptr::read_unaligned(data.add(i));
                    fds.push(std::os::fd::OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok(n)
}

/// `statfs.f_type` of tmpfs.
pub(crate) const TMPFS_MAGIC: i64 = 0x0102_1994;

/// The file system type of `fd` and its free and total blocks (`fstatfs`; works on `O_PATH`).
pub(crate) fn fstatfs(fd: Fd) -> io::Result<(i64, u64, u64)> {
    // SAFETY: zeroed statfs is a valid value of this plain C struct.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid out-pointer.
    cvt_i(unsafe { libc::fstatfs(fd, &mut st) })?;
    Ok((st.f_type as i64, st.f_bfree as u64, st.f_blocks as u64))
}

/// `openat(dir, name, flags)`.
pub(crate) fn openat(dir: Fd, name: &CStr, flags: libc::c_int) -> io::Result<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: `name` is a valid C string; no mode is read without O_CREAT.
    let fd = cvt_i(unsafe { libc::openat(dir, name.as_ptr(), flags | libc::O_CLOEXEC) })?;
    // SAFETY: the kernel just returned this fd, and nothing else owns it.
    Ok(unsafe { std::fs::File::from_raw_fd(fd) })
}

/// Receives one message (no fds) into `buf`; `Ok(0)` at end of file.
pub(crate) fn recv(sock: Fd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let r = unsafe { libc::recv(sock, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if r >= 0 {
            return Ok(r as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The Landlock ABI version the kernel offers, `None` when Landlock is absent or disabled.
pub(crate) fn landlock_abi() -> Option<u32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute, size 0 and the VERSION flag the call only returns a number.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    (r > 0).then_some(r as u32)
}

/// `flock(fd, LOCK_EX)`, waiting for the lock.
pub(crate) fn flock_exclusive(fd: Fd) -> io::Result<()> {
    loop {
        // SAFETY: plain fd and flag.
        match cvt_i(unsafe { libc::flock(fd, libc::LOCK_EX) }) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            r => return r.map(drop),
        }
    }
}

/// Whether this process may write `path` (`access(W_OK)`).
pub(crate) fn access_writable(path: &Path) -> bool {
    cpath(path).is_ok_and(|p| {
        // SAFETY: valid C string.
        unsafe { libc::access(p.as_ptr(), libc::W_OK) == 0 }
    })
}

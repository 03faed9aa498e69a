"""Linux system calls the zygote needs, over ctypes: namespaces, mounts, capabilities, seccomp,
Landlock, rlimits-adjacent prctls.

Only :mod:`quantd.zygote` uses this, inside the sandbox, to confine each job before its code
runs. Every wrapper raises :class:`OSError` (with the errno and what was attempted) on failure.
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Iterable, Sequence

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.capset.argtypes = [ctypes.c_void_p, ctypes.c_void_p]

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

_SYS_CLOSE_RANGE = 436
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), f"unshare({flags:#x})")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), f"mount {target}")


def umount(target: str) -> None:
    _check(_libc.umount2(_b(target), MNT_DETACH), f"umount {target}")


def prctl(option: int, arg2: int = 0) -> None:
    _check(_libc.prctl(option, arg2, 0, 0, 0), f"prctl({option})")


def close_from(first: int) -> None:
    """Closes every fd from ``first`` up."""
    if _libc.syscall(_SYS_CLOSE_RANGE, ctypes.c_uint(first), ctypes.c_uint(0xFFFFFFFF), ctypes.c_uint(0)) < 0:
        os.closerange(first, 1 << 20)


def write_id_maps() -> None:
    """After ``unshare(CLONE_NEWUSER)``: map root of the new namespace to our own ids."""
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write("0 0 1\n")
    with open("/proc/self/gid_map", "w") as f:
        f.write("0 0 1\n")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Empties the bounding, ambient, effective, permitted and inheritable sets."""
    for cap in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 and ctypes.get_errno() != 22:  # EINVAL: no such cap
            _check(-1, f"drop capability {cap}")
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), ctypes.byref(data)), "capset")


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(program: Sequence[Sequence[int]]) -> None:
    """Installs a classic-BPF filter given as ``[code, jt, jf, k]`` instructions (built by the
    Rust side); requires ``no_new_privs``."""
    raw = b"".join(struct.pack("=HBBI", *ins) for ins in program)
    buf = ctypes.create_string_buffer(raw, len(raw))
    prog = _SockFprog(len(program), ctypes.addressof(buf))
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog), 0, 0), "seccomp")


# Landlock access rights (include/uapi/linux/landlock.h).
_LL_EXECUTE, _LL_WRITE_FILE, _LL_READ_FILE, _LL_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_LL_REFER, _LL_TRUNCATE, _LL_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is absent or disabled."""
    r = _libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint(1))
    return max(r, 0)


def _handled_fs(abi: int) -> int:
    fs = (1 << 13) - 1
    if abi >= 2:
        fs |= _LL_REFER
    if abi >= 3:
        fs |= _LL_TRUNCATE
    if abi >= 5:
        fs |= _LL_IOCTL_DEV
    return fs


def landlock_restrict(writable: Iterable[str], devices: str = "/dev") -> int:
    """Confines this process (and what it starts) with Landlock: everything readable and
    executable, writes only beneath ``writable`` and to ``devices``; no TCP bind or connect
    (ABI 4+); no abstract Unix sockets or signals outside the job (ABI 6+). Returns the ABI used,
    0 when the kernel has no Landlock (nothing is done). Requires ``no_new_privs``."""
    abi = landlock_abi()
    if abi <= 0:
        return 0
    fs = _handled_fs(abi)
    if abi >= 6:
        attr = struct.pack("=QQQ", fs, 0b11, 0b11)
    elif abi >= 4:
        attr = struct.pack("=QQ", fs, 0b11)
    else:
        attr = struct.pack("=Q", fs)
    abuf = ctypes.create_string_buffer(attr, len(attr))
    rfd = _check(_libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, abuf, ctypes.c_size_t(len(attr)), ctypes.c_uint(0)), "landlock_create_ruleset")
    try:
        read = _LL_EXECUTE | _LL_READ_FILE | _LL_READ_DIR
        rules = [("/", read), (devices, read | _LL_WRITE_FILE | (fs & _LL_IOCTL_DEV))]
        rules += [(p, fs) for p in writable]
        for path, access in rules:
            pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = ctypes.create_string_buffer(struct.pack("=Qi", access, pfd), 12)
                _check(_libc.syscall(_SYS_LANDLOCK_ADD_RULE, ctypes.c_int(rfd), ctypes.c_int(1), rule, ctypes.c_uint(0)), f"landlock rule {path}")
            finally:
                os.close(pfd)
        _check(_libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(rfd), ctypes.c_uint(0)), "landlock_restrict_self")
    finally:
        os.close(rfd)
    return abi

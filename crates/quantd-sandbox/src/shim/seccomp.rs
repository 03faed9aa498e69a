//! The job's seccomp filter: a deny list over the native architecture.
//!
//! Forbidden system calls kill the whole process (`SECCOMP_RET_KILL_PROCESS`, seen by the host as
//! `SIGSYS`, hence [`crate::Verdict::PolicyViolation`]): tracing and reading other processes,
//! kernel attack surface (bpf, perf, io_uring, userfaultfd, keyrings), mounts and namespaces,
//! modules, reboot, clock setting, terminal injection (`TIOCSTI`, `TIOCLINUX`). Foreign
//! architectures and the x32 ABI are killed too, so no alternate numbering bypasses the list.
//! `clone3` answers `ENOSYS` (its flags live in memory a filter cannot read; libc falls back to
//! `clone`), and `clone` with any namespace flag is killed.
//!
//! Sockets are filtered by family with an **allow-list**: `socket` and `socketpair` work for
//! `AF_UNIX` only; every other family (`AF_INET`, `AF_INET6`, `AF_VSOCK`, `AF_NETLINK`,
//! `AF_PACKET`, `AF_ALG`, any number) answers `EAFNOSUPPORT`, as on a kernel built without it.
//! They fail rather than kill because creating a socket is not itself an attack: libc and Python
//! probe families on ordinary paths (`getaddrinfo`'s netlink probe, `socket.has_ipv6`), and the
//! documented behaviour of "no network" is an `OSError`. No other call creates a socket of a new
//! family here (`socketcall` exists only in the foreign ABIs killed above; `io_uring` is denied),
//! so the network namespace and Landlock are no longer the only walls: `AF_VSOCK`, which no
//! network namespace isolates, is refused before it reaches the hypervisor.

use libc::sock_filter;

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JEQ_K: u16 = 0x15;
const BPF_JGE_K: u16 = 0x35;
const BPF_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;

const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const fn off_arg_low(i: u32) -> u32 {
    16 + 8 * i
}

const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_ERRNO: u32 = 0x0005_0000;

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

const NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWCGROUP) as u32
    | 0x80; // CLONE_NEWTIME

/// System calls the job may never make.
pub(crate) fn denied_syscalls() -> Vec<libc::c_long> {
    let mut v = vec![
        libc::SYS_ptrace,
        libc::SYS_process_vm_readv,
        libc::SYS_process_vm_writev,
        libc::SYS_process_madvise,
        libc::SYS_pidfd_getfd,
        libc::SYS_kcmp,
        libc::SYS_bpf,
        libc::SYS_perf_event_open,
        libc::SYS_keyctl,
        libc::SYS_add_key,
        libc::SYS_request_key,
        libc::SYS_mount,
        libc::SYS_umount2,
        libc::SYS_pivot_root,
        libc::SYS_chroot,
        libc::SYS_unshare,
        libc::SYS_setns,
        libc::SYS_fsopen,
        libc::SYS_fsconfig,
        libc::SYS_fsmount,
        libc::SYS_fspick,
        libc::SYS_move_mount,
        libc::SYS_open_tree,
        libc::SYS_mount_setattr,
        libc::SYS_io_uring_setup,
        libc::SYS_io_uring_enter,
        libc::SYS_io_uring_register,
        libc::SYS_userfaultfd,
        libc::SYS_kexec_load,
        libc::SYS_kexec_file_load,
        libc::SYS_init_module,
        libc::SYS_finit_module,
        libc::SYS_delete_module,
        libc::SYS_reboot,
        libc::SYS_swapon,
        libc::SYS_swapoff,
        libc::SYS_acct,
        libc::SYS_quotactl,
        libc::SYS_open_by_handle_at,
        libc::SYS_name_to_handle_at,
        libc::SYS_syslog,
        libc::SYS_vhangup,
        libc::SYS_settimeofday,
        libc::SYS_clock_settime,
        libc::SYS_clock_adjtime,
        libc::SYS_adjtimex,
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([
        libc::SYS_iopl,
        libc::SYS_ioperm,
        libc::SYS_uselib,
        libc::SYS_lookup_dcookie,
    ]);
    v
}

const fn stmt(code: u16, k: u32) -> sock_filter {
    sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

const fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The socket families a job may create (`socket` and `socketpair`): `AF_UNIX` only.
pub(crate) const ALLOWED_SOCKET_FAMILIES: [u32; 1] = [libc::AF_UNIX as u32];

/// `socket(domain, ...)` and `socketpair(domain, ...)`: answer `EAFNOSUPPORT` unless `domain` is
/// in [`ALLOWED_SOCKET_FAMILIES`]. Expects the syscall number in the accumulator; leaves it there
/// for the rest of the program when the call is neither.
fn socket_families() -> Vec<sock_filter> {
    let allowed = ALLOWED_SOCKET_FAMILIES.len() as u8;
    let mut p = vec![
        jump(BPF_JEQ_K, libc::SYS_socket as u32, 1, 0),
        jump(BPF_JEQ_K, libc::SYS_socketpair as u32, 0, allowed + 3),
        // `domain` is an int: the kernel reads the low 32 bits of the register.
        stmt(BPF_LD_W_ABS, off_arg_low(0)),
    ];
    for (i, family) in ALLOWED_SOCKET_FAMILIES.iter().enumerate() {
        // Allowed: jump to the RET_ALLOW after the refusal.
        p.push(jump(BPF_JEQ_K, *family, allowed - i as u8, 0));
    }
    p.push(stmt(BPF_RET_K, RET_ERRNO | libc::EAFNOSUPPORT as u32));
    p.push(stmt(BPF_RET_K, RET_ALLOW));
    p
}

/// The filter program.
pub(crate) fn filter() -> Vec<sock_filter> {
    let mut p = vec![
        stmt(BPF_LD_W_ABS, OFF_ARCH),
        jump(BPF_JEQ_K, AUDIT_ARCH, 1, 0),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_LD_W_ABS, OFF_NR),
    ];
    #[cfg(target_arch = "x86_64")]
    p.extend([
        // The x32 ABI numbers syscalls from 0x4000_0000: refuse them all.
        jump(BPF_JGE_K, 0x4000_0000, 0, 1),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
    ]);
    for nr in denied_syscalls() {
        p.push(jump(BPF_JEQ_K, nr as u32, 0, 1));
        p.push(stmt(BPF_RET_K, RET_KILL_PROCESS));
    }
    p.extend(socket_families());
    p.extend([
        jump(BPF_JEQ_K, libc::SYS_clone3 as u32, 0, 1),
        stmt(BPF_RET_K, RET_ERRNO | libc::ENOSYS as u32),
        // clone: kill when any namespace flag is set.
        jump(BPF_JEQ_K, libc::SYS_clone as u32, 0, 4),
        stmt(BPF_LD_W_ABS, off_arg_low(0)),
        jump(BPF_JSET_K, NAMESPACE_FLAGS, 0, 1),
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_RET_K, RET_ALLOW),
        // ioctl: kill terminal input injection.
        jump(BPF_JEQ_K, libc::SYS_ioctl as u32, 0, 5),
        stmt(BPF_LD_W_ABS, off_arg_low(1)),
        jump(BPF_JEQ_K, libc::TIOCSTI as u32, 1, 0),
        jump(BPF_JEQ_K, 0x541c, 0, 1), // TIOCLINUX
        stmt(BPF_RET_K, RET_KILL_PROCESS),
        stmt(BPF_RET_K, RET_ALLOW),
        stmt(BPF_RET_K, RET_ALLOW),
    ]);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jumps_stay_inside_the_program() {
        let p = filter();
        assert!(p.len() < 4096);
        for (i, ins) in p.iter().enumerate() {
            if ins.code & 0x07 == 0x05 {
                assert!(
                    i + 1 + (ins.jt.max(ins.jf) as usize) < p.len(),
                    "jump at {i}"
                );
            }
        }
        assert_eq!(p.last().unwrap().code, BPF_RET_K);
    }

    /// Runs the filter the way the kernel does, for one system call on the native architecture.
    fn verdict(nr: libc::c_long, args: [u64; 6]) -> u32 {
        run(&filter(), AUDIT_ARCH, nr as u32, args)
    }

    /// A classic-BPF interpreter for the instructions [`filter`] uses, over `struct seccomp_data`.
    fn run(p: &[sock_filter], arch: u32, nr: u32, args: [u64; 6]) -> u32 {
        let word = |off: u32| -> u32 {
            match off {
                OFF_NR => nr,
                OFF_ARCH => arch,
                o if o >= 16 && (o - 16) % 8 == 0 => args[((o - 16) / 8) as usize] as u32,
                o if o >= 16 => (args[((o - 20) / 8) as usize] >> 32) as u32,
                o => panic!("unexpected load at offset {o}"),
            }
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let ins = p[pc];
            let jump = |taken: bool| pc + 1 + if taken { ins.jt } else { ins.jf } as usize;
            pc = match ins.code {
                BPF_LD_W_ABS => {
                    acc = word(ins.k);
                    pc + 1
                }
                BPF_JEQ_K => jump(acc == ins.k),
                BPF_JGE_K => jump(acc >= ins.k),
                BPF_JSET_K => jump(acc & ins.k != 0),
                BPF_RET_K => return ins.k,
                code => panic!("unexpected instruction {code:#x} at {pc}"),
            };
        }
    }

    const EAFNOSUPPORT: u32 = RET_ERRNO | libc::EAFNOSUPPORT as u32;

    #[test]
    fn socket_families_are_an_allow_list_of_af_unix() {
        let families = (0..=1100u64).chain([u32::MAX as u64, i32::MAX as u64, 1 << 32]);
        for family in families {
            for call in [libc::SYS_socket, libc::SYS_socketpair] {
                let want = if family as u32 == libc::AF_UNIX as u32 {
                    RET_ALLOW
                } else {
                    EAFNOSUPPORT
                };
                let types = [libc::SOCK_STREAM, libc::SOCK_DGRAM, libc::SOCK_RAW];
                for ty in types {
                    let got = verdict(call, [family, ty as u64, 0, 0, 0, 0]);
                    assert_eq!(got, want, "call {call} family {family} type {ty}");
                }
            }
        }
        for family in [
            libc::AF_INET,
            libc::AF_INET6,
            libc::AF_VSOCK,
            libc::AF_NETLINK,
            libc::AF_PACKET,
            libc::AF_ALG,
            libc::AF_BLUETOOTH,
            libc::AF_XDP,
            45,
        ] {
            assert_eq!(
                verdict(libc::SYS_socket, [family as u64, 1, 0, 0, 0, 0]),
                EAFNOSUPPORT
            );
        }
    }

    /// A job's channel ([`crate::Job::channel`], fd 3) is used with plain I/O, on any fd: reads,
    /// writes, polls and their socket forms are never in the filter's way.
    #[test]
    fn plain_io_and_polling_on_any_fd_are_allowed() {
        let mut calls = vec![
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_readv,
            libc::SYS_writev,
            libc::SYS_recvfrom,
            libc::SYS_sendto,
            libc::SYS_recvmsg,
            libc::SYS_sendmsg,
            libc::SYS_ppoll,
            libc::SYS_pselect6,
            libc::SYS_epoll_create1,
            libc::SYS_epoll_ctl,
            libc::SYS_epoll_pwait,
            libc::SYS_fstat,
            libc::SYS_fcntl,
            libc::SYS_shutdown,
            libc::SYS_close,
        ];
        #[cfg(target_arch = "x86_64")]
        calls.extend([libc::SYS_poll, libc::SYS_select, libc::SYS_epoll_wait]);
        for nr in calls {
            for fd in [0u64, 3, 4, 1023] {
                assert_eq!(
                    verdict(nr, [fd, 0, 0, 0, 0, 0]),
                    RET_ALLOW,
                    "syscall {nr} fd {fd}"
                );
            }
        }
    }

    #[test]
    fn the_rest_of_the_policy_is_unchanged_around_the_socket_rule() {
        for nr in denied_syscalls() {
            assert_eq!(verdict(nr, [0; 6]), RET_KILL_PROCESS, "syscall {nr}");
        }
        let allowed = [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_mmap,
            libc::SYS_openat,
            libc::SYS_connect,
            libc::SYS_sendmsg,
            libc::SYS_recvmsg,
        ];
        for nr in allowed {
            assert_eq!(verdict(nr, [2, 0, 0, 0, 0, 0]), RET_ALLOW, "syscall {nr}");
        }
        let enosys = RET_ERRNO | libc::ENOSYS as u32;
        assert_eq!(verdict(libc::SYS_clone3, [0; 6]), enosys);
        let newuser = (libc::CLONE_NEWUSER | libc::SIGCHLD) as u64;
        assert_eq!(
            verdict(libc::SYS_clone, [newuser, 0, 0, 0, 0, 0]),
            RET_KILL_PROCESS
        );
        let fork = libc::SIGCHLD as u64;
        assert_eq!(verdict(libc::SYS_clone, [fork, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(
            verdict(libc::SYS_ioctl, [0, libc::TIOCSTI, 0, 0, 0, 0]),
            RET_KILL_PROCESS
        );
        assert_eq!(run(&filter(), 0x4000_0003, 0, [0; 6]), RET_KILL_PROCESS);
        #[cfg(target_arch = "x86_64")]
        assert_eq!(
            verdict(0x4000_0000 + 41, [1, 1, 0, 0, 0, 0]),
            RET_KILL_PROCESS
        );
    }
}

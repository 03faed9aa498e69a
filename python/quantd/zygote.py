"""The warm zygote: imports numpy, pandas, pyarrow and the SDK once, then forks one confined
child per job.

    python -s -m quantd.zygote CONFIG_JSON        (started by the quantd sandbox shim, never by hand)

It runs inside the sandbox's namespaces (user, mount, PID, network, IPC, UTS; read-only root) as
the shim's S2, with its control socket on fd 4 (``SOCK_SEQPACKET``). Protocol:

- zygote -> host, once: ``{"t": "ready", "import_ms": ..., "landlock_abi": ...}``;
- host -> zygote, one message per job, the fixed word ``job`` with three fds attached
  (``SCM_RIGHTS``): the job socket, the stdout pipe and the stderr pipe, and a fourth, the job
  cgroup's ``cgroup.procs``, when memory is limited by a delegated cgroup v2; or the fixed word
  ``jobc`` for a job with a channel to its host: the same, with the channel (the job's end of a
  connected ``SOCK_STREAM`` Unix socket) as the fourth fd and the cgroup's, if any, as the fifth.
  Any other word or count is closed and ignored;
- host -> the job's keeper, on the job socket: the request, its length first (8 bytes,
  little-endian), then ``{"dir", "argv", "env", "cwd", "limits"}`` as JSON.

The zygote itself never reads a request: every job is a fork of it, so anything it had parsed
would be in every later job's memory (a job could scan its heap for an earlier job's argv). Only
the forked keeper reads its own job's request.

Per job the zygote forks **C1**, which reads the request, enters new mount, PID, IPC and network
namespaces, mounts a fresh size-limited tmpfs on ``/tmp``, ``/dev/shm`` and ``/work``, binds the job's own
directory at ``/job`` (read-only), hides ``/jobs``, mounts a tmpfs of the job's ``out_bytes`` on
``/out`` and hands it to the host (an ``O_PATH`` fd with an ``{"t": "out"}`` line on the job
socket: the host reads the outputs through it), and forks **C2**: PID 1 of the
job's PID namespace, which mounts its ``/proc``, enters a user namespace of its own (so the
process limit counts only the job), sets the job's rlimits, environment and fds 0-2, drops every
capability, sets ``no_new_privs``, Landlock (when the kernel has it) and the seccomp filter, and
runs the job's code (``SCRIPT``, ``-m MODULE`` or ``-c CODE``) as the interpreter would. C1 waits
for C2, kills it when the host writes to the job socket again (or closes it), and reports how it ended on
the job socket as one JSON line (``{"t": "exited", ...}``): when C2 (PID 1) is gone, the kernel
has already killed everything else in its namespace.

A job's channel, when it has one, is held by nothing but the job: the zygote closes its copy
after forking C1, C1 after forking C2, and C2 moves it to fd 3 (inheritable, so it survives
``close_from(4)`` and anything the job starts), sets ``QUANTD_CHANNEL_FD=3`` after the request's
environment, and confines itself as any job (the seccomp filter allows ``read``, ``write`` and
``poll``; Landlock does not govern an open socket). A job without one has no fd 3, and no
``QUANTD_CHANNEL_FD`` even if its request's environment named one.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import sys
import time
from typing import Any, NamedTuple, NoReturn

CTL_FD = 4
#: The fd a job sees its channel to the host as, and the variable that says so.
CHANNEL_FD = 3
CHANNEL_ENV = "QUANTD_CHANNEL_FD"
#: The control socket's fixed words: a job, and a job with a channel (its fourth fd).
JOB = b"job"
JOB_WITH_CHANNEL = b"jobc"
_T0 = time.perf_counter()
#: Largest request a keeper reads (argv and environment; the kernel's own argv limit is smaller).
MAX_REQUEST = 64 << 20


def _warm() -> None:
    """Imports what jobs use and touches pandas' lazy paths once, so children start warm."""
    import atexit  # noqa: F401
    import runpy  # noqa: F401
    import threading  # noqa: F401
    import traceback  # noqa: F401

    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.ipc  # noqa: F401

    import quantd  # noqa: F401
    import quantd.harness  # noqa: F401
    import quantd.lookahead  # noqa: F401
    import quantd.strategies  # noqa: F401
    import quantd.ta  # noqa: F401
    import quantd.validate  # noqa: F401
    from quantd import _sandbox  # noqa: F401

    days = np.arange(40).astype("datetime64[D]")
    t = pa.table({"date": pa.array(days), "close": np.linspace(1.0, 2.0, 40)})
    df = t.to_pandas(use_threads=False)
    s = df["close"]
    (s.rolling(5).mean() > s.ewm(span=5, adjust=False).mean()).fillna(False).astype(bool)
    d = s.diff().clip(lower=0).rolling(14).mean()
    pa.array(d.to_numpy())
    pd.DatetimeIndex(pd.to_datetime(df["date"]))


def _send(fd: int, report: dict[str, Any]) -> None:
    data = (json.dumps(report) + "\n").encode()
    try:
        while data:
            data = data[os.write(fd, data) :]
    except OSError:
        pass


def _setup_error(fd: int, stage: str, e: BaseException) -> None:
    errno = e.errno if isinstance(e, OSError) else None
    _send(fd, {"t": "setup_error", "stage": stage, "errno": errno, "message": f"{type(e).__name__}: {e}"})


class JobFds(NamedTuple):
    """The fds that came with one job on the control socket."""

    job: int
    out: int
    err: int
    channel: int | None
    cgroup: int | None


def _job_fds(msg: bytes, fds: list[int]) -> JobFds | None:
    """What ``fds`` are, from the fixed word they came with; None for a malformed request."""
    if msg == JOB and len(fds) in (3, 4):
        return JobFds(fds[0], fds[1], fds[2], None, fds[3] if len(fds) == 4 else None)
    if msg == JOB_WITH_CHANNEL and len(fds) in (4, 5):
        return JobFds(fds[0], fds[1], fds[2], fds[3], fds[4] if len(fds) == 5 else None)
    return None


def _reap(*_: Any) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> int:
    cfg = json.loads(sys.argv[1])
    _warm()
    from quantd import _sandbox

    landlock = _sandbox.landlock_abi() if cfg.get("landlock", True) else 0
    ctl = socket.socket(fileno=CTL_FD)
    tasks = len(os.listdir("/proc/self/task"))
    ctl.send(json.dumps({"t": "ready", "import_ms": (time.perf_counter() - _T0) * 1000, "landlock_abi": landlock, "tasks": tasks}).encode())
    signal.signal(signal.SIGCHLD, _reap)
    while True:
        # Only the fds and a fixed word: the request itself is read by the forked keeper.
        # Room for more fds than a request has, so a malformed one's extra fds are received
        # (and closed) rather than left to the kernel's truncation.
        msg, fds, _flags, _addr = socket.recv_fds(ctl, 16, 8)
        if not msg:
            return 0  # the host is gone: ending takes every job with us
        job = _job_fds(msg, fds)
        if job is None:
            for fd in fds:
                os.close(fd)
            print(f"quantd.zygote: a request came as {msg[:8]!r} with {len(fds)} fds; ignored", file=sys.stderr)
            continue
        pid = os.fork()
        if pid == 0:
            try:
                ctl.close()
                _c1(cfg, job, landlock)
            finally:
                os._exit(125)
        for fd in fds:
            os.close(fd)


def _read_exact(fd: int, n: int) -> bytes:
    parts = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the host closed the job socket before sending the whole request")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _read_request(fd: int) -> dict[str, Any]:
    """The job's request from the job socket: an 8-byte little-endian length, then JSON."""
    n = int.from_bytes(_read_exact(fd, 8), "little")
    if n > MAX_REQUEST:
        raise ValueError(f"a request of {n} bytes is larger than {MAX_REQUEST}")
    return json.loads(_read_exact(fd, n))


def _c1(cfg: dict[str, Any], fds: JobFds, landlock: int) -> NoReturn:
    """The job's keeper: reads the request, namespaces and mounts, then waits for C2 and
    reports its end."""
    from quantd import _sandbox as sb

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    job_fd, out_fd, err_fd = fds.job, fds.out, fds.err
    isolate = cfg["isolate"]
    stage = "read request"
    try:
        req = _read_request(job_fd)
        stage = "job cgroup"
        if fds.cgroup is not None:
            # The job's own cgroup (its cgroup.procs, opened by the host): move in before
            # anything of the job exists, so the whole tree is counted against memory.max.
            os.write(fds.cgroup, b"0")
            os.close(fds.cgroup)
        stage = "job namespaces"
        if isolate:
            sb.unshare(sb.CLONE_NEWNS | sb.CLONE_NEWPID | sb.CLONE_NEWIPC | sb.CLONE_NEWNET)
            stage = "job mounts"
            sb.mount(None, "/", None, sb.MS_REC | sb.MS_PRIVATE)
            # Runtime directories under a place that gets a fresh tmpfs (a venv under /tmp): hold
            # them open, and bind them again on top of the new tmpfs.
            held = [(path, os.open(path, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)) for path in cfg.get("rebind", [])]
            size = int(req["limits"]["tmpfs_bytes"])
            for path, mode in (("/tmp", "1777"), ("/dev/shm", "1777"), ("/work", "0755")):
                sb.mount("tmpfs", path, "tmpfs", sb.MS_NOSUID | sb.MS_NODEV, f"size={size},mode={mode}")
            for path, fd in held:
                os.makedirs(path, exist_ok=True)
                sb.mount(f"/proc/self/fd/{fd}", path, None, sb.MS_BIND | sb.MS_REC)
                sb.mount(None, path, None, sb.MS_REMOUNT | sb.MS_BIND | sb.MS_RDONLY | sb.MS_NOSUID | sb.MS_NODEV)
                os.close(fd)
            base = os.path.join(cfg["jobs_root"], req["dir"])
            sb.mount(f"{base}/job", "/job", None, sb.MS_BIND | sb.MS_REC)
            sb.mount(None, "/job", None, sb.MS_REMOUNT | sb.MS_BIND | sb.MS_NOSUID | sb.MS_NODEV | sb.MS_RDONLY)
            sb.umount(cfg["jobs_root"])
            # The job's outputs: a tmpfs bounded in total, never the host's disk; the host reads
            # them through the directory fd handed over here, after the job ends.
            out_size = int(req["limits"]["out_bytes"])
            sb.mount("tmpfs", "/out", "tmpfs", sb.MS_NOSUID | sb.MS_NODEV, f"size={out_size},mode=0755")
            stage = "hand /out to the host"
            _send_out_dir(job_fd)
        stage = "fork job"
        pid = os.fork()
    except BaseException as e:  # noqa: BLE001 - reported to the host, which gives the verdict
        _setup_error(job_fd, stage, e)
        os._exit(125)
    if pid == 0:
        _c2(cfg, req, fds, landlock)
    os.close(out_fd)
    os.close(err_fd)
    if fds.channel is not None:
        # Only the job holds its end now: the host sees EOF once the job is gone.
        os.close(fds.channel)
    killed = False
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(job_fd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    while True:
        ready = dict(poller.poll())
        if pidfd in ready:
            break
        if job_fd in ready and not killed:
            # Any byte, or the host hanging up, means: end the job now.
            _kill_job(pid, isolate)
            killed = True
            poller.unregister(job_fd)
    _, status, ru = os.wait4(pid, 0)
    if not isolate:
        _kill_group(pid)
    _send(
        job_fd,
        {
            "t": "exited",
            "code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "cpu_us": int((ru.ru_utime + ru.ru_stime) * 1_000_000),
            "max_rss_kb": int(ru.ru_maxrss),
        },
    )
    os._exit(0)


def _send_out_dir(job_fd: int) -> None:
    """Sends the job's ``/out`` to the host as an ``O_PATH`` fd with an ``{"t": "out"}`` line."""
    out = os.open("/out", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        with socket.socket(fileno=os.dup(job_fd)) as sock:
            socket.send_fds(sock, [b'{"t": "out"}\n'], [out])
    finally:
        os.close(out)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _kill_job(pid: int, isolate: bool) -> None:
    # C2 is PID 1 of the job's namespace: killing it kills everything in it.
    if not isolate:
        _kill_group(pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _c2(cfg: dict[str, Any], req: dict[str, Any], fds: JobFds, landlock: int) -> NoReturn:
    """The job: confine this process, then run the user's code in it."""
    import random
    import resource

    from quantd import _sandbox as sb

    isolate = cfg["isolate"]
    job_fd = fds.job
    stage = "start"
    try:
        stage = "pdeathsig"
        sb.prctl(sb.PR_SET_PDEATHSIG, signal.SIGKILL)
        if isolate:
            stage = "mount /proc"
            sb.mount("proc", "/proc", "proc", sb.MS_NOSUID | sb.MS_NODEV | sb.MS_NOEXEC)
        os.setsid()
        stage = "fds"
        devnull = os.open("/dev/null", os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(fds.out, 1)
        os.dup2(fds.err, 2)
        if fds.channel is not None:
            stage = "channel"
            if job_fd == CHANNEL_FD:
                job_fd = os.dup(job_fd)  # the lowest free fd: above 3, which is taken
            # Inheritable (no close-on-exec): the job's code may start processes that use it.
            os.dup2(fds.channel, CHANNEL_FD, inheritable=True)
            os.set_inheritable(CHANNEL_FD, True)  # dup2 onto itself changes no flag
        stage = "chdir"
        os.chdir(req["cwd"])
        if isolate:
            stage = "user namespace"
            sb.unshare(sb.CLONE_NEWUSER)
            sb.write_id_maps()
        stage = "environment"
        os.environ.clear()
        os.environ.update(dict(req["env"]))
        os.environ.pop(CHANNEL_ENV, None)
        if fds.channel is not None:
            os.environ[CHANNEL_ENV] = str(CHANNEL_FD)
        stage = "rlimits"
        lim = req["limits"]
        cpu = int(lim["cpu_secs"])
        mem = int(lim["memory_bytes"])  # 0: the job's cgroup limits memory instead
        for res, soft, hard in (
            (resource.RLIMIT_CPU, cpu, cpu + 1),
            (resource.RLIMIT_AS, mem or resource.RLIM_INFINITY, mem or resource.RLIM_INFINITY),
            (resource.RLIMIT_NPROC, lim["processes"] + 1, lim["processes"] + 1),
            (resource.RLIMIT_FSIZE, lim["file_size_bytes"], lim["file_size_bytes"]),
            (resource.RLIMIT_NOFILE, lim["open_files"], lim["open_files"]),
            (resource.RLIMIT_CORE, 0, 0),
            (resource.RLIMIT_MSGQUEUE, 0, 0),
            (resource.RLIMIT_MEMLOCK, 64 << 10, 64 << 10),
        ):
            resource.setrlimit(res, (int(soft), int(hard)))
        random.seed()
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        if isolate:
            stage = "drop capabilities"
            sb.drop_capabilities()
        stage = "no_new_privs"
        sb.prctl(sb.PR_SET_NO_NEW_PRIVS, 1)
        if isolate and landlock:
            stage = "landlock"
            sb.landlock_restrict(["/tmp", "/work", "/dev/shm", "/out"])
        if isolate:
            stage = "seccomp"
            sb.install_seccomp(cfg["seccomp"])
        stage = "close fds"
        sb.close_from(CHANNEL_FD + 1 if fds.channel is not None else 3)
    except BaseException as e:  # noqa: BLE001 - reported to the host, which gives the verdict
        _setup_error(job_fd, stage, e)
        os._exit(125)
    _execute(req["argv"])


def _exit_code(code: Any) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _run_user(argv: list[str]) -> None:
    import runpy

    if argv[:1] == ["-c"]:
        sys.argv = ["-c", *argv[2:]]
        sys.path[0] = ""
        main_globals = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(argv[1], "<string>", "exec"), main_globals)
    elif argv[:1] == ["-m"]:
        sys.argv = [argv[1], *argv[2:]]
        sys.path[0] = os.getcwd()
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
        runpy.run_path(argv[0], run_name="__main__")


def _execute(argv: list[str]) -> NoReturn:
    """Runs the job's code as ``python ARGV`` would, and exits with its status."""
    import atexit
    import runpy
    import threading
    import traceback

    try:
        _run_user(argv)
        code = 0
    except SystemExit as e:
        code = _exit_code(e.code)
    except BaseException as e:  # noqa: BLE001 - the interpreter's own behaviour
        tb = e.__traceback__
        ours = {runpy.__file__, __file__}
        while tb is not None and tb.tb_frame.f_code.co_filename in ours:
            tb = tb.tb_next
        traceback.print_exception(type(e), e, tb)
        code = 130 if isinstance(e, KeyboardInterrupt) else 1
    try:
        for t in threading.enumerate():
            if t is not threading.main_thread() and not t.daemon:
                t.join()
        atexit._run_exitfuncs()
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())

"""Fixtures: a live ``quantd serve`` on a loopback port with a temporary data directory,
synthetic packs, workspace tokens, and clients.

The binary comes from ``$QUANTD_BIN`` (crates/quantd/tests/client_python.rs sets it); Python
jobs run with ``$QUANTD_PYTHON`` (default: this interpreter, whose venv has numpy, pandas and
pyarrow). Nothing is skipped: a missing binary is a failure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "python"))

from quantd.client import Client  # noqa: E402

#: The workspace the tests work in, and another one (to check isolation).
WORKSPACE = "research"
OTHER_WORKSPACE = "other"


def quantd_bin() -> str:
    """The quantd binary under test."""
    path = os.environ.get("QUANTD_BIN")
    if not path or not os.access(path, os.X_OK):
        pytest.fail(f"QUANTD_BIN must name the quantd binary (got {path!r})", pytrace=False)
    return path


def quantd(data: Path, *args: str) -> str:
    """Runs ``quantd --data-dir DATA ARGS`` and returns its stdout; fails the test with stderr."""
    out = subprocess.run(
        [quantd_bin(), "--data-dir", str(data), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "QUANTD_LOG": "warn"},
    )
    if out.returncode != 0:
        pytest.fail(f"quantd {' '.join(args)} failed:\n{out.stderr}", pytrace=False)
    return out.stdout


def new_token(data: Path, workspace: str, admin: bool = False) -> str:
    """A token of ``workspace`` (``tokens create`` prints the secret alone on stdout)."""
    args = ["tokens", "create", "--workspace", workspace, "--name", "client-tests"]
    token = quantd(data, *args, *(["--admin"] if admin else [])).strip()
    assert token.startswith("qdt_"), token
    return token


@dataclass
class Server:
    """A running ``quantd serve``."""

    url: str
    data: Path
    process: subprocess.Popen[str]
    log: Path
    #: An admin token of :data:`WORKSPACE`.
    admin_token: str
    #: A plain token of :data:`WORKSPACE`.
    token: str
    #: A token of :data:`OTHER_WORKSPACE`.
    other_token: str

    def client(self, token: str | None = None) -> Client:
        """A client of this server (the admin token unless told)."""
        return Client(self.url, token or self.admin_token)

    def log_tail(self, lines: int = 40) -> str:
        """The end of the server's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def start_server(data: Path, *extra: str) -> tuple[subprocess.Popen[str], str, Path]:
    """Starts ``quantd serve`` on port 0 and returns it with its URL once it listens (read from
    the line it prints when bound: nothing is polled)."""
    log = data / f"serve-{len(list(data.glob('serve-*.log')))}.log"
    env = {
        **os.environ,
        "QUANTD_LOG": "warn",
        "QUANTD_PYTHON": os.environ.get("QUANTD_PYTHON", sys.executable),
    }
    proc = subprocess.Popen(
        [quantd_bin(), "--data-dir", str(data), "serve", "--addr", "127.0.0.1:0", "--workers", "2", *extra],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stderr is not None
    seen = []
    url = None
    for line in proc.stderr:
        seen.append(line)
        m = re.search(r"quantd API on (http://\S+)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        proc.wait()
        pytest.fail("quantd serve ended before listening:\n" + "".join(seen), pytrace=False)

    def drain() -> None:
        with open(log, "a") as f:
            f.writelines(seen)
            for line in proc.stderr:  # type: ignore[union-attr]
                f.write(line)
                f.flush()

    threading.Thread(target=drain, daemon=True).start()
    return proc, url, log


def stop(proc: subprocess.Popen[str]) -> None:
    """Stops a server (SIGTERM, then SIGKILL after 15 s)."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the session, with packs ``demo`` (20 tickers × 260 days) and ``wide``
    (64 × 260: a ``close > 0`` scan gives 16,640 rows) and three tokens."""
    data = tmp_path_factory.mktemp("quantd-data")
    quantd(data, "data", "synth", "--name", "demo", "--tickers", "20", "--days", "260")
    quantd(data, "data", "synth", "--name", "wide", "--tickers", "64", "--days", "260")
    tokens = (
        new_token(data, WORKSPACE, admin=True),
        new_token(data, WORKSPACE),
        new_token(data, OTHER_WORKSPACE),
    )
    proc, url, log = start_server(data)
    srv = Server(url, data, proc, log, *tokens)
    yield srv
    stop(proc)


@pytest.fixture
def client(server: Server) -> Iterator[Client]:
    """A client with the admin token of the tests' workspace."""
    with server.client() as c:
        yield c


@pytest.fixture(autouse=True)
def _server_log_on_failure(request: pytest.FixtureRequest) -> Iterator[None]:
    """Prints the server log's tail when a test that used the server failed."""
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed and "server" in request.fixturenames:
        srv: Server = request.getfixturevalue("server")
        print("--- quantd serve log (tail)\n" + srv.log_tail())


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    rep = yield
    if rep.when == "call":
        item.rep_call = rep  # type: ignore[attr-defined]
    return rep

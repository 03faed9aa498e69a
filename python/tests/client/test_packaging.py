"""The client installs from python/ as ``quantd.client``, with the server's version, without
the sandbox harness."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from quantd.client import Client, __version__

from conftest import REPO


def test_the_wheel_has_the_client_and_its_extra(tmp_path: Path) -> None:
    # Built from a copy: setuptools leaves build/ and *.egg-info beside the sources.
    source = tmp_path / "python"
    shutil.copytree(REPO / "python", source, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("quantd-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("__init__", "_sync", "_async", "models", "sse", "errors", "frames"):
        assert f"quantd/client/{module}.py" in names
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    assert f"Version: {__version__}" in meta
    assert "Provides-Extra: client" in meta
    for dep in ("httpx", "tqdm", "pandas", "pyarrow"):
        assert re.search(rf"Requires-Dist: {dep}.*extra == .client.", meta), dep


def test_versioned_with_the_server(client: Client) -> None:
    cargo = (REPO / "Cargo.toml").read_text()
    workspace_version = re.search(r'^version = "([^"]+)"', cargo, flags=re.M).group(1)  # type: ignore[union-attr]
    pyproject = (REPO / "python" / "pyproject.toml").read_text()
    assert f'version = "{__version__}"' in pyproject
    assert __version__ == workspace_version == client.health().version


def test_import_leaves_the_sandbox_harness_alone() -> None:
    code = (
        "import sys, quantd.client\n"
        "bad = [m for m in ('quantd.harness', 'quantd._sandbox', 'quantd.zygote', 'quantd.validate',"
        " 'quantd.strategies', 'pandas', 'pyarrow') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True,
        env={"PYTHONPATH": str(REPO / "python"), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr

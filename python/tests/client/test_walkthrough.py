"""docs/client.md's walkthrough runs: its ``quantd data synth`` command against the server's
data directory, then its Python blocks in order as one script, which writes the equity plot."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import REPO, Server, quantd

DOC = REPO / "docs" / "client.md"


def blocks(language: str) -> list[str]:
    """The fenced code blocks of the walkthrough (up to the reference) in ``language``."""
    text = DOC.read_text().split("## Reference")[0]
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.S | re.M)


def test_the_walkthrough_runs_and_writes_its_plot(server: Server, tmp_path: Path) -> None:
    synth = [line for b in blocks("sh") for line in b.splitlines() if line.startswith("quantd data synth")]
    assert synth, "the walkthrough lost its synth step"
    for line in synth:
        quantd(server.data, *shlex.split(line)[1:])

    code = blocks("python")
    assert len(code) >= 5, "the walkthrough lost its Python blocks"
    script = tmp_path / "walkthrough.py"
    script.write_text("\n\n".join(code))
    env = {
        **os.environ,
        "QUANTD_URL": server.url,
        "QUANTD_TOKEN": server.admin_token,
        "MPLBACKEND": "Agg",
        "PYTHONPATH": str(REPO / "python"),
    }
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, f"the walkthrough failed:\n{out.stdout}\n{out.stderr}"
    assert "signals" in out.stdout and "line 1, column" in out.stdout

    plot = tmp_path / "equity.png"
    assert plot.exists(), "the walkthrough wrote no plot"
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plot.stat().st_size > 5_000

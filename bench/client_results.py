#!/usr/bin/env python3
"""Benchmark of the Python client's results (docs/PERFORMANCE.md, "Python client").

1. The reference full-market scan (5,000 tickers × 2,520 days, the scanner of bench/scan.sh:
   16,512 signals) runs on a live ``quantd serve``; then ``client.results(id)`` — the Parquet
   download and the DataFrame — is timed (best and median of ``--repeat``) once the server has
   the result.
2. A scan hitting every bar of a 1 M-bar pack (``close > 0``) gives a 1 M-row result, read in a
   child process with ``client.iter_results`` (streamed to a temporary file, read a record batch
   at a time) and, for comparison, whole with ``client.results``: the peak RSS over an idle
   child's and the Arrow pool's peak show what each holds.

Usage (the client's venv; the binary defaults to target/release/quantd):
    $(scripts/pyenv python/requirements-client.txt) bench/client_results.py [--quantd PATH]
        [--tickers 5000] [--days 2520] [--repeat 10] [--million-tickers 3847] [--million-days 260]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))

from quantd.client import Client  # noqa: E402

#: The reference scanner of bench/scan.sh (crates/quantd-bench/src/scan.rs).
SCANNER = "close < sma(close, 50) and rsi(close, 14) < 30 and volume > 2 * sma(volume, 20)"

#: What the child process of the memory measurement runs: MODE is idle, stream or whole.
CHILD = r"""
import json, resource, sys
sys.path.insert(0, sys.argv[4])
import pandas, pyarrow as pa
from quantd.client import Client
mode, url, token = sys.argv[1:4]
rows = 0
with Client(url, token) as c:
    ex = sys.argv[5]
    if mode == "stream":
        for df in c.iter_results(ex, batch_size=65536):
            rows += len(df)
    elif mode == "whole":
        rows = len(c.results(ex))
print(json.dumps({"rows": rows, "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "arrow_peak": pa.default_memory_pool().max_memory()}))
"""


def run(cmd: list[str], **kw) -> str:  # type: ignore[no-untyped-def]
    out = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return out.stdout


def serve(quantd: str, data: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "QUANTD_LOG": "warn"}
    proc = subprocess.Popen(
        [quantd, "--data-dir", str(data), "serve", "--addr", "127.0.0.1:0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )
    for line in proc.stderr:  # type: ignore[union-attr]
        m = re.search(r"quantd API on (http://\S+)", line)
        if m:
            return proc, m.group(1)
    sys.exit("quantd serve ended before listening")


def child(mode: str, url: str, token: str, ex: str) -> dict[str, int]:
    out = run([sys.executable, "-c", CHILD, mode, url, token, str(REPO / "python"), ex])
    return json.loads(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quantd", default=str(REPO / "target" / "release" / "quantd"))
    p.add_argument("--tickers", type=int, default=5000)
    p.add_argument("--days", type=int, default=2520)
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--million-tickers", type=int, default=3847)
    p.add_argument("--million-days", type=int, default=260)
    a = p.parse_args()

    with tempfile.TemporaryDirectory(prefix="quantd-bench-client-") as tmp:
        data = Path(tmp)
        q = [a.quantd, "--data-dir", str(data)]
        t = time.perf_counter()
        run([*q, "data", "synth", "--name", "bench", "--tickers", str(a.tickers), "--days", str(a.days)])
        run([*q, "data", "synth", "--name", "million", "--tickers", str(a.million_tickers), "--days", str(a.million_days)])
        print(f"synth: {time.perf_counter() - t:.1f} s", file=sys.stderr)
        token = run([*q, "tokens", "create", "--workspace", "bench"]).strip()
        proc, url = serve(a.quantd, data)
        try:
            with Client(url, token) as c:
                ex = c.start(kind="scan", expr=SCANNER, pack="bench")
                ex.wait(progress=False)
                rows = len(c.results(ex.id))  # warm: the server has the result, caches are hot
                times = []
                for _ in range(a.repeat):
                    t = time.perf_counter()
                    df = c.results(ex.id)
                    times.append(time.perf_counter() - t)
                assert len(df) == rows
                t = time.perf_counter()
                c.results_table(ex.id)
                table_s = time.perf_counter() - t

                big = c.start(kind="scan", expr="close > 0", pack="million")
                big.wait(progress=False)
                big_rows = big.refresh().rows
            idle = child("idle", url, token, big.id)
            stream = child("stream", url, token, big.id)
            whole = child("whole", url, token, big.id)
        finally:
            proc.terminate()
            proc.wait()

    mib = lambda kib: kib / 1024  # noqa: E731
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"reference scan: {a.tickers} tickers × {a.days} days, {rows} rows")
    print(
        f"client.results(id) → DataFrame: best {min(times) * 1000:.1f} ms, "
        f"median {statistics.median(times) * 1000:.1f} ms (of {a.repeat}); results_table {table_s * 1000:.1f} ms"
    )
    print(f"1 M-row result: {big_rows} rows")
    for name, m in (("iter_results (stream)", stream), ("results (whole)", whole)):
        assert m["rows"] == big_rows, (name, m, big_rows)
        print(
            f"  {name}: peak RSS {mib(m['maxrss_kib']):.0f} MiB "
            f"(+{mib(m['maxrss_kib'] - idle['maxrss_kib']):.0f} MiB over an idle client), "
            f"Arrow pool peak {m['arrow_peak'] / 2**20:.1f} MiB"
        )


if __name__ == "__main__":
    main()

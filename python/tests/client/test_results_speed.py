"""Results at speed and in bounded memory: a 16,640-row scan result (the size of the reference
full-market scan's 16,512 signals) as a DataFrame within 50 ms once the server has it, and a
larger result read batch by batch with the Arrow memory it holds bounded by a batch, not by
the result (bench/client_results.py measures the reference scan and a 1 M-row result)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pandas as pd

from quantd.client import Client

from conftest import REPO, Server, quantd

#: Every bar of ``wide`` (64 tickers × 260 days) is a hit.
EVERY_BAR = "close > 0"


def test_a_16k_row_result_as_a_dataframe_within_50_ms(client: Client) -> None:
    ex = client.start(kind="scan", expr=EVERY_BAR, pack="wide")
    rows = ex.wait(progress=False).rows
    assert rows == 64 * 260
    times = []
    for _ in range(7):
        t = time.perf_counter()
        df = client.results(ex.id)
        times.append(time.perf_counter() - t)
        assert len(df) == rows
    times.sort()
    median = times[len(times) // 2]
    assert median <= 0.050, f"client.results took {median * 1000:.1f} ms (median of 7: {times})"


#: Reads a result in a child process, streamed or whole, and prints the Arrow pool's peak.
CHILD = r"""
import json, sys
sys.path.insert(0, sys.argv[5])
import pyarrow as pa
from quantd.client import Client
mode, url, token, ex = sys.argv[1:5]
with Client(url, token) as c:
    if mode == "stream":
        sizes = [len(df) for df in c.iter_results(ex, batch_size=8192)]
    else:
        sizes = [len(c.results(ex))]
print(json.dumps({"sizes": sizes, "arrow_peak": pa.default_memory_pool().max_memory()}))
"""


def read_in_child(server: Server, mode: str, ex: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, mode, server.url, server.admin_token, ex, str(REPO / "python")],
        capture_output=True, text=True,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_iter_results_holds_a_batch_not_the_result(server: Server, client: Client) -> None:
    quantd(server.data, "data", "synth", "--name", "tall", "--tickers", "500", "--days", "260")
    ex = client.start(kind="scan", expr=EVERY_BAR, pack="tall")
    rows = ex.wait(progress=False).rows
    assert rows == 500 * 260

    stream = read_in_child(server, "stream", ex.id)
    whole = read_in_child(server, "whole", ex.id)
    assert sum(stream["sizes"]) == rows == whole["sizes"][0]
    assert max(stream["sizes"]) <= 8192 and len(stream["sizes"]) >= rows // 8192
    # Reading whole holds every row; streaming holds a record batch and the column chunks being
    # decoded: well under half of it.
    assert stream["arrow_peak"] < whole["arrow_peak"] / 2, (stream["arrow_peak"], whole["arrow_peak"])

    # The batches are the same rows as the whole result, in order.
    frames = pd.concat(list(client.iter_results(ex.id, batch_size=50_000)), ignore_index=True)
    pd.testing.assert_frame_equal(frames, client.results(ex.id))

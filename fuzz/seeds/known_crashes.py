"""Writes inputs that crash quantd at the commit this corpus was made on (review
adversarial-2026-12-02 and what the fuzzers found), one directory per target:

    $(scripts/pyenv) fuzz/seeds/known_crashes.py OUT_DIR
    scripts/fuzz --repro import_parquet OUT_DIR/import_parquet/date32_extremes.parquet

Crashes inside arrow-ipc's FileReader (malformed result files: buffer offsets past the end,
unwraps in reader.rs, alignment assertions) were found by the fuzzer as byte-level mutations and
are not generated here; scripts/fuzz python_result finds them within seconds.

They are kept out of fuzz/corpus/ (the corpus must pass `cargo test`). When a fix lands, its
inputs should stop crashing: move them into fuzz/corpus/<target>/ with the fix.
"""

import io
import json
import os
import sys

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

out = sys.argv[1] if len(sys.argv) > 1 else "known-crashes"


def put(target: str, name: str, data) -> None:
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def ipc_file(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue()


def bars(date) -> pa.Table:
    return pa.table({
        "ticker": ["AAA", "AAA", "BBB"],
        "date": date,
        "open": [10.0, 10.5, 20.0], "high": [11.0, 11.5, 21.0], "low": [9.0, 10.0, 19.0],
        "close": [10.5, 11.0, 20.5], "volume": [1e3, 1.2e3, 500.0],
    })


# D13: date32 at the ends of its range panics the importer (`NaiveDate + TimeDelta` overflowed).
put("import_parquet", "date32_extremes.parquet", parquet_bytes(bars(pa.array([2**31 - 1, -2**31, 0], pa.date32()))))
# D14: timestamp[s] of ±1e12 imports as years -29719 and 33658, whose CSV export does not import.
put("import_parquet", "timestamp_s_extremes.parquet", parquet_bytes(bars(pa.array([10**12, -10**12, 0], pa.timestamp("s")))))
# D10: a ticker with a comma is exported unquoted, so export -> import fails.
put("import_csv", "comma_ticker.csv", 'ticker,date,open,high,low,close,volume\n"BRK,A",2024-01-02,10,11,9,10.5,1000\n')


def result(**cols) -> pa.Table:
    base = {
        "ticker": pa.array(["SYN0001", "SYN0001", "SYN0002"]),
        "date": pa.array([18263, 18264, 18263], pa.date32()),
        "signal": pa.array([True, True, True]),
    }
    base.update(cols)
    return pa.table(base)


# S4: a forged result date (date32 = 2^31-1) panics the engine's summary.
put("python_result", "forged_date_max.arrow", ipc_file(result(date=pa.array([2**31 - 1] * 3, pa.date32()))))
# Dates far apart make the summary allocate one counter per day between them.
put("python_result", "dates_far_apart.arrow", ipc_file(result(date=pa.array([-2**31, 0, 2**31 - 1], pa.date32()))))
# E7: an indicator name longer than 65535 characters panics the Markdown/table formatter.
put("python_result", "huge_indicator_name.arrow", ipc_file(result(**{"x" * 70000: pa.array([1.0, 2.0, 3.0])})))

# H19: a sweep grid of 10^10 parameter sets makes the engine allocate terabytes.
put("submit_body", "sweep_grid_1e10.json", json.dumps({
    "kind": "sweep", "strategy": {"entry": "close > sma(close, $fast)", "exit": "close < sma(close, $slow)"},
    "grid": ["fast=1..100000:1", "slow=1..100000:1"], "pack": "demo", "tickers": ["SYN0001"],
}))

print("known crashing inputs written under", out, file=sys.stderr)

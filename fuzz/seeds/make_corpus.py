"""Writes the seed corpus of every fuzz target under fuzz/corpus/<target>/.

Run with the reference venv (it needs pyarrow):  $(scripts/pyenv) fuzz/seeds/make_corpus.py
Each seed is small and means something: a valid input of a kind users send, or a known way to
be wrong. Inputs that crash quantd today are NOT written here (the corpus must pass
`cargo test`); fuzz/seeds/known_crashes.py writes those elsewhere.
Re-running rewrites the seeds; inputs the fuzzer added (other names) are left alone.
"""

import io
import json
import os
import sys
from decimal import Decimal

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def put(target: str, name: str, data) -> None:
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- import_csv

H = "ticker,date,open,high,low,close,volume\n"
ROWS = [
    "AAA,2024-01-02,10,11,9,10.5,1000",
    "AAA,2024-01-03,10.5,11.5,10,11,1200",
    "BBB,2024-01-02,20,21,19,20.5,500",
    "BBB,2024-01-03,20.5,22,20,21.5,800",
]
CSV = {
    "valid.csv": H + "\n".join(ROWS) + "\n",
    "valid_no_newline.csv": H + "\n".join(ROWS),
    "one_row.csv": H + ROWS[0] + "\n",
    "symbol_column.csv": "Symbol,Date,Open,High,Low,Close,Volume\n" + "\n".join(ROWS) + "\n",
    "pandas_index.csv": ",ticker,open,high,low,close,volume\n2024-01-02,AAA,10,11,9,10.5,1000\n2024-01-03,AAA,10.5,11.5,10,11,1200\n",
    "datetime_suffix.csv": H + "AAA,2024-01-02 00:00:00,10,11,9,10.5,1000\nAAA,2024-01-03T00:00:00+00:00,10.5,11.5,10,11,1200\n",
    "extra_columns.csv": "ticker,date,open,high,low,close,volume,Adj Close,vwap\nAAA,2024-01-02,10,11,9,10.5,1000,10.4,\nAAA,2024-01-03,10.5,11.5,10,11,1200,10.9,10.8\n",
    "no_ticker_column.csv": "date,open,high,low,close,volume\n2024-01-02,10,11,9,10.5,1000\n2024-01-03,10.5,11.5,10,11,1200\n",
    "reordered.csv": "close,volume,date,ticker,low,high,open\n10.5,1000,2024-01-02,AAA,9,11,10\n",
    "unsorted.csv": H + ROWS[3] + "\n" + ROWS[0] + "\n" + ROWS[2] + "\n" + ROWS[1] + "\n",
    "bom.csv": "\ufeff" + H + ROWS[0] + "\n",
    "crlf.csv": (H + "\n".join(ROWS) + "\n").replace("\n", "\r\n"),
    "cr_only.csv": (H + "\n".join(ROWS) + "\n").replace("\n", "\r"),
    "quoted.csv": H + '"AAA","2024-01-02","10","11","9","10.5","1000"\n',
    "spaces.csv": "ticker , date , open , high , low , close , volume\n AAA , 2024-01-02 , 10 , 11 , 9 , 10.5 , 1000 \n",
    "blank_lines.csv": H + "\n" + ROWS[0] + "\n\n" + ROWS[1] + "\n\n",
    "old_and_future_dates.csv": H + "AAA,1900-01-01,1,1,1,1,0\nAAA,2199-12-31,1,1,1,1,0\n",
    "leap_day.csv": H + "AAA,2024-02-29,10,11,9,10.5,1000\n",
    "zero_volume.csv": H + "AAA,2024-01-02,10,10,10,10,0\n",
    "exponents.csv": H + "AAA,2024-01-02,1e1,1.1E1,9e0,10.5,1e3\n",
    # Refused inputs (clear errors, nothing written).
    "empty.csv": "",
    "header_only.csv": H,
    "missing_column.csv": "ticker,date,open,high,low,close\nAAA,2024-01-02,10,11,9,10.5\n",
    "duplicate_column.csv": "ticker,date,open,open,high,low,close,volume\nAAA,2024-01-02,10,10,11,9,10.5,1000\n",
    "duplicate_bar.csv": H + ROWS[0] + "\n" + ROWS[0] + "\n",
    "intraday.csv": H + "AAA,2024-01-02 09:30,10,11,9,10.5,1000\nAAA,2024-01-02 09:31,10,11,9,10.5,1000\n",
    "bad_date.csv": H + "AAA,2024-02-30,10,11,9,10.5,1000\nAAA,19/08/2004,10,11,9,10.5,1000\nAAA,2024-1-2,1,1,1,1,1\n",
    "non_finite.csv": H + "AAA,2024-01-02,NaN,11,9,10.5,1000\nAAA,2024-01-03,10,inf,9,10.5,1000\nAAA,2024-01-04,10,11,9,1e400,1000\nAAA,2024-01-05,10,11,9,-inf,1000\n",
    "hex_number.csv": H + "AAA,2024-01-02,0x10,11,9,10.5,1000\n",
    "negative_prices.csv": H + "AAA,2024-01-02,-10,11,9,10.5,1000\nAAA,2024-01-03,10,11,9,10.5,-5\n",
    "high_below_low.csv": H + "AAA,2024-01-02,10,8,9,10.5,1000\n",
    "empty_ticker.csv": H + ",2024-01-02,10,11,9,10.5,1000\n",
    "ragged.csv": H + "AAA,2024-01-02,10,11,9,10.5\nAAA,2024-01-03,10,11,9,10.5,1000,7\n",
    "unterminated_quote.csv": H + '"AAA,2024-01-02,10,11,9,10.5,1000\n',
    "tsv.csv": H.replace(",", "\t") + ROWS[0].replace(",", "\t") + "\n",
    "semicolon.csv": H.replace(",", ";") + ROWS[0].replace(",", ";") + "\n",
    "lenient_mix.csv": H + ROWS[0] + "\nAAA,2024-01-03,x,11,9,10.5,1000\n" + ROWS[2] + "\n",
}
for name, text in CSV.items():
    put("import_csv", name, text)
put("import_csv", "latin1.csv", (H + "AAA,2024-01-02,10,11,9,10.5,1000\n").encode() + b"\xe9t\xe9,2024-01-02,1,1,1,1,1\n")
put("import_csv", "nul_bytes.csv", H.encode() + b"AAA\x00,2024-01-02,10,11,9,10.5,1000\n")
put("import_csv", "binary.csv", bytes(range(256)))


# ---------------------------------------------------------------- import_parquet

def parquet_bytes(table: pa.Table, **kw) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, **kw)
    return sink.getvalue()


BASE = {
    "ticker": ["AAA", "AAA", "BBB"],
    "date": pa.array([19724, 19725, 19724], pa.date32()),
    "open": [10.0, 10.5, 20.0],
    "high": [11.0, 11.5, 21.0],
    "low": [9.0, 10.0, 19.0],
    "close": [10.5, 11.0, 20.5],
    "volume": [1000.0, 1200.0, 500.0],
}


def with_(**changes) -> pa.Table:
    cols = dict(BASE)
    for k, v in changes.items():
        if v is None:
            cols.pop(k)
        else:
            cols[k] = v
    return pa.table(cols)


PARQUET = {
    "valid.parquet": with_(),
    # Plain, uncompressed pages: byte mutations then change values, not the compression.
    "plain_uncompressed.parquet": (with_(), {"compression": "none", "use_dictionary": False}),
    "plain_timestamps.parquet": (with_(date=pa.array([1704153600, 1704240000, 1704153600], pa.timestamp("s"))), {"compression": "none", "use_dictionary": False}),
    "snappy.parquet": (with_(), {"compression": "snappy"}),
    "zstd.parquet": (with_(), {"compression": "zstd"}),
    "gzip.parquet": (with_(), {"compression": "gzip"}),
    "row_groups.parquet": (with_(), {"row_group_size": 1}),
    "dictionary_ticker.parquet": with_(ticker=pa.array(["AAA", "AAA", "BBB"]).dictionary_encode()),
    "large_string_ticker.parquet": with_(ticker=pa.array(["AAA", "AAA", "BBB"], pa.large_string())),
    "binary_ticker.parquet": with_(ticker=pa.array([b"AAA", b"AAA", b"\xff\xfe"], pa.binary())),
    "string_dates.parquet": with_(date=pa.array(["2024-01-02", "2024-01-03", "2024-01-02"])),
    "bad_string_dates.parquet": with_(date=pa.array(["2024-02-30", "x", None])),
    "timestamp_ns.parquet": with_(date=pa.array([1704153600 * 10**9, 1704240000 * 10**9, 1704153600 * 10**9], pa.timestamp("ns"))),
    "timestamp_ms_tz.parquet": with_(date=pa.array([1704153600000, 1704240000000, 1704153600000], pa.timestamp("ms", tz="UTC"))),
    "timestamp_us_intraday.parquet": with_(date=pa.array([1704187800 * 10**6, 1704187860 * 10**6, 1704187800 * 10**6], pa.timestamp("us"))),
    "date64.parquet": with_(date=pa.array([1704153600000, 1704240000000, 1704153600000], pa.date64())),
    "int_prices.parquet": with_(open=pa.array([10, 10, 20], pa.int64()), volume=pa.array([1000, 1200, 500], pa.uint64())),
    "float32_prices.parquet": with_(close=pa.array([10.5, 11.0, 20.5], pa.float32())),
    "decimal_prices.parquet": with_(open=pa.array([Decimal("10.00"), Decimal("10.50"), Decimal("20.00")], pa.decimal128(9, 2))),
    "string_price.parquet": with_(open=pa.array(["10", "x", "20"])),
    "null_prices.parquet": with_(close=pa.array([10.5, None, 20.5])),
    "nan_inf_prices.parquet": with_(close=pa.array([float("nan"), float("inf"), -float("inf")])),
    "null_ticker_and_date.parquet": with_(ticker=pa.array(["AAA", None, "BBB"]), date=pa.array([19724, None, 19724], pa.date32())),
    "extra_columns.parquet": with_(vwap=pa.array([10.4, None, 20.4]), flag=pa.array([True, False, None])),
    "extra_string_column.parquet": with_(note=pa.array(["a", "b", "c"])),
    "no_ticker.parquet": with_(ticker=None),
    "missing_close.parquet": with_(close=None),
    "duplicate_bar.parquet": with_(date=pa.array([19724, 19724, 19724], pa.date32())),
    "old_and_future_dates.parquet": with_(date=pa.array([-25567, 84000, 0], pa.date32())),
    "nested_column.parquet": with_(extra=pa.array([[1.0], [2.0, 3.0], []])),
    "empty_table.parquet": pa.table({k: pa.array([], v.type if isinstance(v, pa.Array) else pa.array(v).type) for k, v in BASE.items()}),
    "pandas_index.parquet": pa.table({"__index_level_0__": BASE["date"], **{k: v for k, v in BASE.items() if k != "date"}}),
}
for name, spec in PARQUET.items():
    table, kw = spec if isinstance(spec, tuple) else (spec, {})
    put("import_parquet", name, parquet_bytes(table, **kw))
valid = parquet_bytes(with_())
put("import_parquet", "truncated.parquet", valid[: len(valid) // 2])
put("import_parquet", "bad_leading_magic.parquet", b"PAR0" + valid[4:])
put("import_parquet", "bad_trailing_magic.parquet", valid[:-4] + b"PAR0")
put("import_parquet", "huge_footer_length.parquet", valid[:-8] + (2**31 - 1).to_bytes(4, "little") + b"PAR1")
put("import_parquet", "tiny.parquet", b"PAR1PAR1")
put("import_parquet", "empty.parquet", b"")
put("import_parquet", "csv_bytes.parquet", (H + ROWS[0] + "\n").encode())


# ---------------------------------------------------------------- expr

EXPR = {
    "compare.qd": "close > 10",
    "params.qd": "rsi(close, $period) < $level",
    "lets.qd": "# Oversold in an uptrend\nlet trend = sma(close, 200);\nlet r = rsi(close, 14);\nclose > trend and r < 30\n",
    "golden_cross.qd": "crosses_above(sma(close, 50), sma(close, 200))",
    "breakout.qd": "close > highest(high, 20)[1] and volume > 1.5 * sma(volume, 20)",
    "bbands.qd": "let bb_width = (bbands(close, 20, 2).upper - bbands(close, 20, 2).lower) / bbands(close, 20, 2).middle;\nbb_width[1] < 0.05 and close > bbands(close, 20, 2).upper",
    "macd.qd": "let hist = macd(close, 12, 26, 9).hist;\ncrosses_above(hist, 0) and close > ema(close, 100)",
    "rising.qd": "rising(close, 3) and rsi(close, 14) < $rsi_max and close * volume > 1e6",
    "stoch.qd": "stoch(high, low, close, 14, 3, 3).k < 20 and adx(high, low, close, 14) > 25",
    "all_functions.qd": "let a = wma(close, 5) + atr(high, low, close, 3) + natr(high, low, close, 3) + stddev(close, 4) + roc(close, 2) + mom(close, 2) + obv(close, volume) + cci(high, low, close, 5) + willr(high, low, close, 5) + lowest(low, 3) + shift(close, 2) + abs(open - close) + min(open, close) + max(open, close) + pct_change(close, 1);\nfalling(a, 2) or crosses_below(a, vwap) or not (a > 0)\n",
    "shared.qd": "let m = sma(close, 3); let n = sma(close, 3); m == n and m != 0 and m >= n and m <= n",
    "arith.qd": "(close - open) / (high - low) * 100 > -5 + 2 * 3 / 1e-3",
    "shift_condition.qd": "shift(close > open, 1) and (close > open)[2]",
    "windows.qd": "sma(close, 1) > sma(close, 100000)",
    "strategy_set.qd": "let fast = ema(close, $fast);\nlet slow = ema(close, $slow);\ncrosses_above(fast, slow)\n---\nlet fast = ema(close, $fast);\nlet slow = ema(close, $slow);\ncrosses_below(fast, slow)\n",
    "strategy_set_conflict.qd": "let x = sma(close, 3);\nclose > x\n---\nlet x = sma(close, 4);\nclose < x\n",
    "strategy_four.qd": "close > open\n---\nclose < open\n---\nclose < sma(close, 3)\n---\nclose > sma(close, 3)\n",
    # Refused code (diagnostics with line and column).
    "empty.qd": "",
    "unknown_function.qd": "smaa(close, 3) > 1",
    "unknown_column.qd": "clse > 1",
    "unknown_field.qd": "macd(close, 12, 26, 9).hsit > 0",
    "number_result.qd": "sma(close, 3)",
    "bad_count.qd": "sma(close, 0) > 1 and sma(close, 2.5) > 1 and sma(close, 100001) > 1 and sma(close, -1) > 1",
    "unused_let.qd": "let x = close;\nclose > 1",
    "redefined_let.qd": "let x = close; let x = open; x > 1",
    "missing_semicolon.qd": "let x = close\nx > 1",
    "unbalanced.qd": "((close > 1)",
    "trailing_op.qd": "close > ",
    "bad_chars.qd": "close > 1 && open @ 2 # é\t",
    "lonely_dollar.qd": "close > $",
    "deep_parens.qd": "(" * 70 + "close" + ")" * 70 + " > 1",
    "deep_not.qd": "not " * 70 + "close > 1",
    "long_let_name.qd": "let " + "x" * 300 + " = close;\n" + "x" * 300 + " > 0",
    "many_lets.qd": "".join(f"let v{i} = close + {i};\n" for i in range(60)) + "v59 > 0",
}
for name, text in EXPR.items():
    put("expr", name, text)
put("expr", "not_utf8.qd", b"close > \xff\xfe 1")


# ---------------------------------------------------------------- submit_body

SUBMIT = {
    "scan_expr.json": {"kind": "scan", "expr": "close > sma(close, 3)", "pack": "demo"},
    "scan_default_pack.json": {"kind": "scan", "expr": "close > 0"},
    "scan_stored.json": {"kind": "scan", "code": "up", "params": {"n": 5}, "tickers": ["SYN0001", "SYN0002"], "from": "2020-01-10", "to": "2020-03-01"},
    "scan_stored_version.json": {"kind": "scan", "code": "up@1", "params": {"n": 2}},
    "scan_reuse.json": {"kind": "scan", "expr": "close > open", "reuse": True, "options": {"max_attempts": 5, "on_shard_failure": "continue"}},
    "test.json": {"kind": "test", "expr": "close > open", "examples": [{"ticker": "SYN0001", "date": "2020-01-10"}, {"ticker": "SYN0002", "date": "2020-01-13", "expected": False}], "tolerance": 3},
    "backtest_inline.json": {"kind": "backtest", "strategy": {"entry": "close > sma(close, 5)", "exit": "close < sma(close, 5)"}, "tickers": ["SYN0000"]},
    "backtest_short.json": {"kind": "backtest", "strategy": {"entry": "close > open", "exit": "close < open", "short_entry": "close < open", "short_exit": "close > open"}, "config": {}},
    "backtest_stored.json": {"kind": "backtest", "code": "cross", "params": {"fast": 3, "slow": 8}},
    "sweep.json": {"kind": "sweep", "code": "cross", "grid": ["fast=2..6:2", "slow=8,12"], "constraint": "fast < slow"},
    "sweep_inline.json": {"kind": "sweep", "strategy": {"entry": "close > sma(close, $n)", "exit": "close < sma(close, $n)"}, "grid": ["n=2..4:1"]},
    "run.json": {"kind": "run", "script": "print(1)", "name": "bot", "args": ["--x", "1"], "timeout": 60},
    "run_default_timeout.json": {"kind": "run", "script": "print('QUANTD_RESULT {}')"},
    # Refused bodies (400 or 422 with the reason).
    "empty_object.json": {},
    "unknown_kind.json": {"kind": "paper", "expr": "close > 1"},
    "unknown_field.json": {"kind": "scan", "expr": "close > 1", "exprr": "x"},
    "both_code_and_expr.json": {"kind": "scan", "code": "up", "expr": "close > 1"},
    "neither.json": {"kind": "scan"},
    "bad_expr.json": {"kind": "scan", "expr": "close >"},
    "missing_param.json": {"kind": "scan", "code": "up"},
    "unknown_code.json": {"kind": "scan", "code": "nope@7"},
    "unknown_pack.json": {"kind": "scan", "expr": "close > 1", "pack": "nope"},
    "unknown_ticker.json": {"kind": "scan", "expr": "close > 1", "tickers": ["ZZZ"]},
    "run_fields_on_scan.json": {"kind": "scan", "expr": "close > 1", "timeout": 5},
    "run_without_script.json": {"kind": "run"},
    "run_zero_timeout.json": {"kind": "run", "script": "print(1)", "timeout": 0},
    "test_no_examples.json": {"kind": "test", "expr": "close > 1"},
    "bad_grid.json": {"kind": "sweep", "code": "cross", "grid": ["fast=1..", "slow=x"]},
    "grid_duplicate.json": {"kind": "sweep", "code": "cross", "grid": ["fast=1,2", "fast=3"]},
    "bad_config.json": {"kind": "backtest", "code": "cross", "params": {"fast": 3, "slow": 8}, "config": {"cash": -1}},
    "bad_dates.json": {"kind": "scan", "expr": "close > 1", "from": "2099-01-01", "to": "1900-01-01"},
    "zero_attempts.json": {"kind": "scan", "expr": "close > 1", "options": {"max_attempts": 0}},
    "wrong_types.json": {"kind": "scan", "expr": 5, "params": {"a": "b"}, "tickers": "SYN0001"},
}
for name, body in SUBMIT.items():
    put("submit_body", name, json.dumps(body))
put("submit_body", "not_json.json", "kind=scan&expr=close")
put("submit_body", "truncated.json", '{"kind":"scan","expr":"close > 1"')
put("submit_body", "whitespace.json", "  \n")
put("submit_body", "duplicate_keys.json", '{"kind":"scan","expr":"close>1","expr":"close<1"}')
put("submit_body", "huge_number.json", '{"kind":"scan","expr":"close > $x","params":{"x":1e999}}')
put("submit_body", "deep_nesting.json", '{"kind":"backtest","code":"cross","config":' + "[" * 200 + "]" * 200 + "}")


# ---------------------------------------------------------------- python_result

def ipc_file(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    with ipc.new_file(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue()


def ipc_batches(batches, schema) -> bytes:
    sink = io.BytesIO()
    with ipc.new_file(sink, schema) as w:
        for b in batches:
            w.write_batch(b)
    return sink.getvalue()


SCAN = {
    "ticker": pa.array(["SYN0001", "SYN0001", "SYN0002"], pa.string()),
    "date": pa.array([18263, 18264, 18263], pa.date32()),
    "signal": pa.array([True, True, True]),
}


def result(**changes) -> pa.Table:
    cols = dict(SCAN)
    for k, v in changes.items():
        if v is None:
            cols.pop(k)
        else:
            cols[k] = v
    return pa.table(cols)


RESULTS = {
    "scan.arrow": result(),
    "scan_values.arrow": result(v=pa.array([1.0, -1.0, 1e300])),
    "scan_indicators.arrow": result(rsi=pa.array([25.0, float("nan"), None]), trend=pa.array([1.0, 2.0, 3.0])),
    "scan_false_rows.arrow": result(signal=pa.array([False, True, None])),
    "strategy.arrow": result(signal=None, entries=pa.array([True, False, False]), exits=pa.array([False, True, False])),
    "empty_scan.arrow": pa.schema([("ticker", pa.string()), ("date", pa.date32()), ("signal", pa.bool_())]).empty_table(),
    "empty_strategy.arrow": pa.schema([("ticker", pa.string()), ("date", pa.date32()), ("entries", pa.bool_()), ("exits", pa.bool_())]).empty_table(),
    "unknown_ticker.arrow": result(ticker=pa.array(["ZZZ", "SYN0001", "AAA"])),
    "null_ticker_and_date.arrow": result(ticker=pa.array([None, "SYN0001", "BBB"]), date=pa.array([None, 18264, 18263], pa.date32())),
    "dictionary_ticker.arrow": result(ticker=pa.array(["SYN0001", "SYN0001", "SYN0002"]).dictionary_encode()),
    "large_string_ticker.arrow": result(ticker=pa.array(["SYN0001", "SYN0001", "SYN0002"], pa.large_string())),
    "int_ticker.arrow": result(ticker=pa.array([1, 2, 3])),
    "timestamp_dates.arrow": result(date=pa.array([1577836800 * 10**9, 1577923200 * 10**9, 1577836800 * 10**9], pa.timestamp("ns"))),
    "string_dates.arrow": result(date=pa.array(["2020-01-01", "2020-01-02", "x"])),
    "int_dates.arrow": result(date=pa.array([18263, 18264, 18263], pa.int32())),
    "old_and_future_dates.arrow": result(date=pa.array([-25567, 84000, 0], pa.date32())),
    "int_signal.arrow": result(signal=pa.array([1, 0, 2], pa.int64())),
    "string_signal.arrow": result(signal=pa.array(["true", "false", "x"])),
    "string_indicator.arrow": result(note=pa.array(["a", "b", "c"])),
    "float32_indicator.arrow": result(x=pa.array([1.5, 2.5, 3.5], pa.float32())),
    "duplicate_columns.arrow": pa.Table.from_arrays([SCAN["ticker"], SCAN["date"], SCAN["signal"], pa.array([1.0, 2.0, 3.0]), pa.array([4.0, 5.0, 6.0])], names=["ticker", "date", "signal", "x", "x"]),
    "no_ticker.arrow": result(ticker=None),
    "no_date.arrow": result(date=None),
    "columns_reordered.arrow": pa.table({"signal": SCAN["signal"], "ticker": SCAN["ticker"], "date": SCAN["date"], "v": pa.array([1.0, 2.0, 3.0])}),
    "nested_indicator.arrow": result(v=pa.array([[1.0], [], [2.0, 3.0]])),
    "unicode_names.arrow": result(**{"é ü \u202e": pa.array([1.0, 2.0, 3.0])}),
}
for name, table in RESULTS.items():
    put("python_result", name, ipc_file(table))
schema = result().schema
b1 = pa.record_batch([pa.array(["SYN0001"]), pa.array([18263], pa.date32()), pa.array([True])], schema=schema)
b2 = pa.record_batch([pa.array(["SYN0002", "AAA"]), pa.array([18264, 18265], pa.date32()), pa.array([True, False])], schema=schema)
put("python_result", "two_batches.arrow", ipc_batches([b1, b2], schema))
valid = ipc_file(result())
put("python_result", "truncated.arrow", valid[: len(valid) // 2])
put("python_result", "bad_magic.arrow", b"ARROX" + valid[5:])
sink = io.BytesIO()
with ipc.new_stream(sink, schema) as w:
    w.write_table(result())
put("python_result", "stream_format.arrow", sink.getvalue())
put("python_result", "empty.arrow", b"")
put("python_result", "parquet_bytes.arrow", parquet_bytes(result()))

print("corpus written under", os.path.normpath(ROOT), file=sys.stderr)

"""The worker side: run one entry point over one ticker's bars, or a batch of tickers, Arrow IPC
in and out.

    python -m quantd.harness --code /job/main.py --bars /job/bars.arrow --out /out/result.arrow \\
        [--entry NAME] [--params JSON] [--batch]

Input: an Arrow IPC *file* with a ``date`` column (timestamp or date32) and ``open high low close
volume`` (+ any extra columns). Output: an Arrow IPC file with the same ``date`` column and

- for a scanner: ``signal`` (bool) followed by the indicator columns the scanner returned;
- for a strategy: ``entries`` and ``exits`` (bool).

With ``--batch`` the input also has a ``ticker`` column (rows of one ticker contiguous, dates
ascending) and the entry point is called once per ticker; the output keeps only the rows where
something happened: ``ticker``, ``date``, then ``signal`` and the indicator columns (scanner, rows
where ``signal`` is true) or ``entries`` and ``exits`` (strategy, rows where either is true).

Contract violations raise :class:`quantd.ContractError` (a Python traceback: the host reports a
``runtime_error``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from types import ModuleType
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from quantd._sdk import ContractError, EntryPoint, Signals, entry_points

DATE_COLUMN = "date"


def load_module(path: str) -> ModuleType:
    """Executes the user's file as the module ``quantd_user``."""
    spec = importlib.util.spec_from_file_location("quantd_user", path)
    if spec is None or spec.loader is None:
        raise ContractError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["quantd_user"] = module
    spec.loader.exec_module(module)
    return module


def pick_entry(name: str | None) -> EntryPoint:
    eps = entry_points()
    if name is not None:
        if name not in eps:
            raise ContractError(
                f"no @qd.scanner or @qd.strategy named {name!r}; found: {', '.join(sorted(eps)) or '(none)'}"
            )
        return eps[name]
    if len(eps) != 1:
        raise ContractError(
            f"the code defines {len(eps)} entry points ({', '.join(sorted(eps)) or 'none'}); name one with --entry"
        )
    return next(iter(eps.values()))


def read_bars(path: str) -> tuple[pa.Table, pd.DataFrame]:
    """The Arrow table and the DataFrame user code sees (DatetimeIndex named ``date``)."""
    with pa.memory_map(path, "r") as source:
        table = pa.ipc.open_file(source).read_all()
    if DATE_COLUMN not in table.column_names:
        raise ContractError(f"bars have no {DATE_COLUMN!r} column: {table.column_names}")
    df = table.to_pandas()
    df.index = pd.DatetimeIndex(pd.to_datetime(df.pop(DATE_COLUMN)), name=DATE_COLUMN)
    return table, df


def _as_bool(values: Any, index: pd.Index, what: str) -> "np.ndarray":
    if not isinstance(values, pd.Series):
        raise ContractError(f"{what} must be a pandas Series on bars.index, not {type(values).__name__}")
    s = values.reindex(index)
    if not (pd.api.types.is_bool_dtype(s.dtype) or s.dtype == object or str(s.dtype) == "boolean"):
        raise ContractError(f"{what} must be boolean, not {s.dtype}")
    return s.fillna(False).astype(bool).to_numpy()


def entry_columns(ep: EntryPoint, bars: pd.DataFrame, params: Mapping[str, Any]) -> dict[str, "np.ndarray"]:
    """Calls the entry point on a copy of ``bars`` and checks what it returned: the signal columns
    (``signal``, or ``entries`` and ``exits``) as bool arrays, then a scanner's indicator columns as
    float64 arrays, each as long as ``bars``, in output order."""
    out = ep.func(bars.copy(), **ep.resolve_params(params))
    columns: dict[str, np.ndarray] = {}
    if ep.kind == "scanner":
        if isinstance(out, pd.DataFrame):
            if "signal" not in out.columns:
                raise ContractError(f"scanner {ep.name!r} returned a DataFrame without a 'signal' column")
            columns["signal"] = _as_bool(out["signal"], bars.index, "the 'signal' column")
            for name in out.columns:
                if name == "signal":
                    continue
                col = out[name].reindex(bars.index)
                if not pd.api.types.is_numeric_dtype(col.dtype):
                    raise ContractError(f"indicator column {name!r} must be numeric, not {col.dtype}")
                columns[str(name)] = col.to_numpy(dtype="float64")
        else:
            columns["signal"] = _as_bool(out, bars.index, f"scanner {ep.name!r}'s result")
    else:
        if not isinstance(out, Signals):
            raise ContractError(f"strategy {ep.name!r} must return qd.Signals(entries=..., exits=...), not {type(out).__name__}")
        columns["entries"] = _as_bool(out.entries, bars.index, "Signals.entries")
        columns["exits"] = _as_bool(out.exits, bars.index, "Signals.exits")
    return columns


def run_entry(
    ep: EntryPoint, table: pa.Table, bars: pd.DataFrame, params: Mapping[str, Any], dates: pa.Array | None = None
) -> pa.Table:
    """Calls the entry point and builds the output table."""
    if dates is None:
        dates = table.column(DATE_COLUMN).combine_chunks()
    columns: dict[str, pa.Array] = {DATE_COLUMN: dates}
    for name, values in entry_columns(ep, bars, params).items():
        columns[name] = pa.array(values, type=pa.bool_() if values.dtype == bool else pa.float64())
    return pa.table(columns)


TICKER_COLUMN = "ticker"


class Batch:
    """A batch table split by ticker: each ticker's name and rows, and the DataFrame user code sees
    (every ticker's rows, ``date`` as the index) with the ``date`` column as Arrow."""

    def __init__(self, table: pa.Table) -> None:
        import pyarrow.compute as pc

        if TICKER_COLUMN not in table.column_names:
            raise ContractError(f"a batch needs a {TICKER_COLUMN!r} column: {table.column_names}")
        tickers = table.column(TICKER_COLUMN).combine_chunks()
        if not pa.types.is_dictionary(tickers.type):
            tickers = pc.dictionary_encode(tickers)
        codes = tickers.indices.to_numpy(zero_copy_only=False)
        names = tickers.dictionary.to_pylist()
        starts = np.concatenate(([0], np.flatnonzero(codes[1:] != codes[:-1]) + 1, [len(codes)]))
        self.table = table.drop_columns([TICKER_COLUMN])
        df = self.table.to_pandas()
        df.index = pd.DatetimeIndex(pd.to_datetime(df.pop(DATE_COLUMN)), name=DATE_COLUMN)
        self.frame = df
        self.dates = self.table.column(DATE_COLUMN).combine_chunks()
        #: (name, first row, end row) of each ticker, in batch order.
        self.slices = [(names[codes[a]], int(a), int(b)) for a, b in zip(starts[:-1], starts[1:]) if b > a]


def run_class_batch(ep: EntryPoint, table: pa.Table, params: Mapping[str, Any], portfolio: bool = False) -> None:
    """Runs a class strategy over each ticker of a batch table — or, as a ``portfolio``, once
    over all of them with shared cash — its orders going to the host's broker over the job's
    channel (:mod:`quantd.strategies`); the host keeps the results."""
    from quantd.strategies import _Link, run, run_portfolio, ticker_bars

    link = _Link.from_env()
    resolved = ep.resolve_params(params)
    if portfolio:
        batch = Batch(table)
        run_portfolio(ep.func, batch.frame, batch.slices, resolved, link)
        return
    for name, data in ticker_bars(table):
        try:
            run(ep.func, data, resolved, link, name)
        except Exception as e:
            if hasattr(e, "add_note"):
                e.add_note(f"while running strategy {ep.name!r} on ticker {name!r}")
            raise


def run_batch(ep: EntryPoint, table: pa.Table, params: Mapping[str, Any]) -> pa.Table:
    """Runs the entry point once per ticker of a batch table; keeps the rows with a signal."""
    import pyarrow.compute as pc

    batch = Batch(table)
    bars_table, df, dates = batch.table, batch.frame, batch.dates
    keep = "signal" if ep.kind == "scanner" else None
    parts: list[pa.Table] = []
    for name, a, b in batch.slices:
        try:
            out = run_entry(ep, bars_table.slice(a, b - a), df.iloc[a:b], params, dates=dates.slice(a, b - a))
        except Exception as e:
            if hasattr(e, "add_note"):  # Python 3.11+
                e.add_note(f"while running {ep.kind} {ep.name!r} on ticker {name!r}")
            raise
        mask = out.column(keep) if keep else pc.or_(out.column("entries"), out.column("exits"))
        out = out.filter(mask)
        if out.num_rows:
            parts.append(out.add_column(0, TICKER_COLUMN, pa.array([name] * out.num_rows, pa.string())))
    if parts:
        return pa.concat_tables(parts, promote_options="default")
    schema = [pa.field(TICKER_COLUMN, pa.string()), pa.field(DATE_COLUMN, dates.type)]
    if ep.kind == "scanner":
        schema.append(pa.field("signal", pa.bool_()))
    else:
        schema += [pa.field("entries", pa.bool_()), pa.field("exits", pa.bool_())]
    return pa.schema(schema).empty_table()


def write_table(table: pa.Table, path: str) -> None:
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m quantd.harness")
    p.add_argument("--code", required=True)
    p.add_argument("--bars", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--entry")
    p.add_argument("--params", default="{}")
    p.add_argument("--batch", action="store_true", help="the bars hold many tickers (a 'ticker' column)")
    p.add_argument("--portfolio", action="store_true", help="run a class strategy once over all tickers, shared cash")
    a = p.parse_args(argv)
    load_module(a.code)
    ep = pick_entry(a.entry)
    params = json.loads(a.params)
    if a.batch:
        with pa.memory_map(a.bars, "r") as source:
            table = pa.ipc.open_file(source).read_all()
        if ep.style == "class":
            run_class_batch(ep, table, params, portfolio=a.portfolio)
            return 0
        if a.portfolio:
            raise ContractError(f"a portfolio backtest needs a class strategy (class X(qd.Strategy)); {ep.name!r} is a function")
        write_table(run_batch(ep, table, params), a.out)
        return 0
    table, bars = read_bars(a.bars)
    write_table(run_entry(ep, table, bars, params), a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

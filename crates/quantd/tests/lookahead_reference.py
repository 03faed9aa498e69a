"""Brute-force reference of the look-ahead tests: for each ticker, the scanner or strategy is run
on the bars cut after *every* possible bar (not a sample), and the first cut whose outputs differ
from the whole history's (at any row up to the cut, any column) gives the first offending bar: that
cut's first differing row. When no cut differs, the prices after 25 %, 50 % and 75 % of the history
are multiplied by 50 (volume by 2,500), then three bars of 50 times the last prices are appended:
the first run whose rows before the change differ gives the bar. Plain pandas; nothing of
quantd.lookahead is used.

    python lookahead_reference.py BARS.csv MIN_BARS FILE.py [FILE.py ...]   ->  JSON on stdout
    {"FILE.py": {"TICKER": "YYYY-MM-DD" or null}}
"""

import importlib.util
import json
import sys

import numpy as np
import pandas as pd


def entry(path):
    spec = importlib.util.spec_from_file_location(f"m{abs(hash(path))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    funcs = [f for f in vars(module).values() if hasattr(f, "__quantd__")]
    assert len(funcs) == 1, path
    return funcs[0], dict(funcs[0].__quantd__.params)


def outputs(func, params, bars):
    out = func(bars.copy(), **params)
    if hasattr(out, "entries"):
        frame = pd.DataFrame({"entries": out.entries, "exits": out.exits})
    elif isinstance(out, pd.DataFrame):
        frame = out
    else:
        frame = pd.DataFrame({"signal": out})
    frame = frame.reindex(bars.index)
    cols = {}
    for name in frame.columns:
        s = frame[name]
        if name in ("signal", "entries", "exits"):
            cols[name] = s.fillna(False).astype(bool).to_numpy()
        else:
            cols[name] = s.to_numpy(dtype="float64")
    return cols


def first_row(full, part, upto):
    rows = []
    for name, f in full.items():
        a, b = f[:upto], part[name][:upto]
        same = (a == b) if a.dtype == bool else np.isclose(b, a, rtol=1e-9, atol=1e-12, equal_nan=True)
        if not same.all():
            rows.append(int(np.argmin(same)))
    return min(rows) if rows else None


def perturbed(func, params, bars, full, min_bars):
    n = len(bars)
    prices = ["open", "high", "low", "close"]
    for f in (0.25, 0.5, 0.75):
        t = int(f * n)
        if t < min_bars - 1 or t >= n - 1:
            continue
        altered = bars.astype({c: "float64" for c in prices + ["volume"]})
        altered.iloc[t + 1 :, [altered.columns.get_loc(c) for c in prices]] *= 50.0
        altered.iloc[t + 1 :, altered.columns.get_loc("volume")] *= 2500.0
        row = first_row(full, outputs(func, params, altered), t + 1)
        if row is not None:
            return bars.index[row].strftime("%Y-%m-%d")
    step = bars.index[-1] - bars.index[-2]
    tail = bars.iloc[[-1, -1, -1]].astype("float64")
    tail.index = [bars.index[-1] + step * (i + 1) for i in range(3)]
    tail[prices] = tail[prices] * 50.0
    row = first_row(full, outputs(func, params, pd.concat([bars.astype("float64"), tail])), n)
    return None if row is None else bars.index[row].strftime("%Y-%m-%d")


def main():
    bars_path, min_bars, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    data = pd.read_csv(bars_path, parse_dates=["date"])
    result = {}
    for path in files:
        func, params = entry(path)
        per = {}
        for ticker, g in data.groupby("ticker", sort=True):
            bars = g.drop(columns="ticker").set_index("date")
            full = outputs(func, params, bars)
            found = None
            for c in range(min_bars - 1, len(bars) - 1):
                row = first_row(full, outputs(func, params, bars.iloc[: c + 1]), c + 1)
                if row is not None:
                    found = bars.index[row].strftime("%Y-%m-%d")
                    break
            if found is None:
                found = perturbed(func, params, bars, full, min_bars)
            per[ticker] = found
        result[path] = per
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()

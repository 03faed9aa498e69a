"""backtesting.py 0.6.6's results for quantd's class-strategy examples, run *unchanged*.

Each file in examples/strategies/ is written for quantd (``import quantd as qd``,
``class X(qd.Strategy)``). Here ``quantd`` is a stand-in module over backtesting.py: ``Strategy``
is backtesting.py's (with the ``params`` dict turned into class attributes), ``crossover`` is
backtesting.lib's, ``ta`` is quantd's indicator module (plain numpy, checked against TA-Lib by
its own test). So the same strategy code runs in both, and any difference is the engines'.

Usage: python strategy_reference.py OUT.json NAME=FILE[:KWARGS_JSON] ...
Writes {NAME: {"stats": {...}, "trades": [...]}} for backtesting.py on its GOOG sample.
"""

import importlib.util
import json
import math
import sys
import types
import warnings

import backtesting
import backtesting.lib
import numpy as np
import pandas as pd
from backtesting.test import GOOG

warnings.filterwarnings("ignore")


def shim(ta_path):
    spec = importlib.util.spec_from_file_location("quantd_ta", ta_path)
    ta = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ta)

    class Strategy(backtesting.Strategy):
        params = {}

        def __init_subclass__(cls, **kwargs):
            super().__init_subclass__(**kwargs)
            for k, v in cls.params.items():
                setattr(cls, k, v)

        def init(self):
            pass

    qd = types.ModuleType("quantd")
    qd.Strategy = Strategy
    qd.crossover = backtesting.lib.crossover
    qd.cross = backtesting.lib.cross
    qd.barssince = backtesting.lib.barssince
    qd.ta = ta
    sys.modules["quantd"] = qd


def load(path):
    spec = importlib.util.spec_from_file_location("example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [v for v in vars(module).values() if isinstance(v, type) and issubclass(v, backtesting.Strategy) and v.__module__ == "example"]
    assert len(classes) == 1, classes
    return classes[0]


def jsonable(v):
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d")
    if isinstance(v, pd.Timedelta):
        return v / pd.Timedelta(days=1)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    return v


def main():
    out_path, ta_path, *cases = sys.argv[1:]
    shim(ta_path)
    out = {}
    for case in cases:
        name, _, rest = case.partition("=")
        path, _, kwargs = rest.partition(":")
        kwargs = json.loads(kwargs or "{}")
        params = kwargs.pop("params", {})
        bt = Backtest = backtesting.Backtest(GOOG, load(path), cash=10_000, **kwargs)
        stats = bt.run(**params)
        trades = []
        for row in stats["_trades"].itertuples(index=False):
            trades.append({
                "Size": float(row.Size), "EntryBar": int(row.EntryBar), "ExitBar": int(row.ExitBar),
                "EntryPrice": float(row.EntryPrice), "ExitPrice": float(row.ExitPrice),
                "SL": jsonable(row.SL), "TP": jsonable(row.TP), "PnL": float(row.PnL),
                "Commission": float(row.Commission), "ReturnPct": float(row.ReturnPct),
            })
        out[name] = {
            "stats": {k: jsonable(v) for k, v in stats.items() if not k.startswith("_")},
            "trades": trades,
        }
    with open(out_path, "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()

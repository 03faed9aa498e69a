"""Peers of `quantd-bench scan`, measured on the same pack exported to Parquet.

talib: the reference scanner with TA-Lib called per ticker on arrays already in memory (compute only).
pandas: read the Parquet file, compute the scanner with pandas (groupby rolling / ewm), write hits to Parquet.
Prints one JSON object.
"""
import json, sys, time

import numpy as np
import pandas as pd
import talib

path, out_path = sys.argv[1], sys.argv[2]

df = pd.read_parquet(path)
groups = [(t, g["close"].to_numpy(), g["volume"].to_numpy()) for t, g in df.groupby("ticker", sort=True)]
t0 = time.perf_counter()
talib_hits = 0
for _, c, v in groups:
    mask = (c < talib.SMA(c, 50)) & (talib.RSI(c, 14) < 30) & (v > 2 * talib.SMA(v, 20))
    talib_hits += int(mask.sum())
talib_s = time.perf_counter() - t0
del df, groups

t0 = time.perf_counter()
df = pd.read_parquet(path)
g = df.groupby("ticker", sort=False)
sma50 = g["close"].rolling(50).mean().droplevel(0)
vsma20 = g["volume"].rolling(20).mean().droplevel(0)
delta = g["close"].diff()
up, down = delta.clip(lower=0), (-delta).clip(lower=0)
au = up.groupby(df["ticker"]).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean().droplevel(0)
ad = down.groupby(df["ticker"]).ewm(alpha=1 / 14, adjust=False, min_periods=14).mean().droplevel(0)
rsi = 100 - 100 / (1 + au / ad)
mask = (df["close"] < sma50) & (rsi < 30) & (df["volume"] > 2 * vsma20)
df.loc[mask, ["ticker", "date" if "date" in df.columns else "time"]].assign(r=rsi[mask]).to_parquet(out_path)
pandas_s = time.perf_counter() - t0

print(json.dumps({"talib_compute_s": talib_s, "talib_signals": talib_hits,
                  "pandas_read_scan_write_s": pandas_s, "pandas_signals": int(mask.sum()),
                  "versions": {"pandas": pd.__version__, "numpy": np.__version__, "talib": talib.__version__}}))

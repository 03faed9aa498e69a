"""Peers of `quantd-bench backtest` and `quantd-bench sweep`, in the same run.

backtest GOOG_CSV REPEAT  -> backtesting.py 0.6.6 README Quick Start (SmaCross 10/20, long/short, exclusive
                             orders, cash 10 000, commission 0.2 %) on the given bars, best of REPEAT.
sweep PARQUET            -> vectorbt: SMA fast/slow cross, long only, fast=5..50:5 x slow=20..200:20 with
                             fast < slow (90 sets), cash 10 000, fees 0.2 %, Sharpe per backtest; every
                             ticker of the file. numba is warmed up on a tiny input first.
Prints one JSON object.
"""
import json, resource, sys, time

mode = sys.argv[1]
if mode == "backtest":
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover
    from backtesting.test import SMA

    class SmaCross(Strategy):
        def init(self):
            self.ma1 = self.I(SMA, self.data.Close, 10)
            self.ma2 = self.I(SMA, self.data.Close, 20)

        def next(self):
            if crossover(self.ma1, self.ma2):
                self.position.close(); self.buy()
            elif crossover(self.ma2, self.ma1):
                self.position.close(); self.sell()

    df = pd.read_csv(sys.argv[2], index_col=0, parse_dates=True)
    best, stats = float("inf"), None
    for _ in range(int(sys.argv[3])):
        t = time.perf_counter()
        stats = Backtest(df, SmaCross, cash=10_000, commission=.002, exclusive_orders=True).run()
        best = min(best, time.perf_counter() - t)
    print(json.dumps({"backtesting_py_s": best, "return_pct": float(stats["Return [%]"]), "trades": int(stats["# Trades"])}))
elif mode == "sweep":
    import numpy as np
    import pandas as pd
    import vectorbt as vbt
    import gc

    import pyarrow.parquet as pq
    key = "date" if "date" in pq.read_schema(sys.argv[2]).names else "time"
    df = pd.read_parquet(sys.argv[2], columns=["ticker", key, "close"])
    close_df = df.pivot(index=key, columns="ticker", values="close")
    del df
    # The bars' spacing, for vectorbt's annualisation: the most common gap (daily: "1D").
    freq = close_df.index.to_series().diff().mode().iloc[0] if key == "time" else "1D"
    # argv[3]: only the first N tickers (a minute universe takes vectorbt minutes per 20 tickers;
    # the rate, backtests per second, is what is compared).
    if len(sys.argv) > 3:
        close_df = close_df.iloc[:, : int(sys.argv[3])]
    close = close_df.to_numpy()
    del close_df
    pairs = [(f, s) for f in range(5, 55, 5) for s in range(20, 220, 20) if f < s]

    def run(close):
        n = close.shape[1]
        fast = vbt.MA.run(close, window=[f for f, _ in pairs]).ma.to_numpy()
        slow = vbt.MA.run(close, window=[s for _, s in pairs]).ma.to_numpy()
        prev_f = np.roll(fast, 1, axis=0); prev_s = np.roll(slow, 1, axis=0)
        prev_f[0] = np.nan; prev_s[0] = np.nan
        entries = (fast > slow) & (prev_f <= prev_s)
        exits = (fast < slow) & (prev_f >= prev_s)
        pf = vbt.Portfolio.from_signals(np.tile(close, (1, len(pairs))), entries, exits,
                                        init_cash=10_000, fees=0.002, freq=freq)
        sharpe = pf.sharpe_ratio()
        return len(pairs) * n, float(np.nansum(np.asarray(sharpe))), int(np.isfinite(np.asarray(sharpe)).sum())

    run(close[:300, :2])  # numba JIT warm-up
    # All tickers at once up to 120 M (bar, set) cells (the daily universe, 2,520 bars × 90 sets ×
    # 500 tickers = 113 M, as before: 16 GiB); beyond, chunks of tickers of at most ~10 M cells
    # (one ticker of a minute year), so that a minute universe fits in memory.
    cells = close.shape[0] * len(pairs)
    chunk = close.shape[1] if cells * close.shape[1] <= 120e6 else max(1, int(10e6 // cells))
    t = time.perf_counter()
    backtests, total, finite = 0, 0.0, 0
    for i in range(0, close.shape[1], chunk):
        b, s, k = run(close[:, i:i + chunk])
        backtests, total, finite = backtests + b, total + s, finite + k
        gc.collect()
    mean_sharpe = total / max(finite, 1)
    secs = time.perf_counter() - t
    print(json.dumps({"vectorbt_s": secs, "backtests": backtests, "backtests_per_s": backtests / secs,
                      "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "mean_sharpe": mean_sharpe, "vectorbt": vbt.__version__}))

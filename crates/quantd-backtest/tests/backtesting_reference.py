"""Reference results from backtesting.py 0.6.6 for quantd-backtest's conformance test.

Runs the README Quick Start strategy (SmaCross: SMA 10/20 on Close, a long/short reversal) and a
few variants on the samples shipped inside the package (GOOG daily; GOOG resampled to weekly
bars; GOOG on every calendar day; BTCUSD monthly; EURUSD hourly), and writes one JSON document:
the bars of each data set and, per case, the stats, the closed trades and the equity curve.
Times are written `YYYY-MM-DD` at midnight, else `YYYY-MM-DD HH:MM:SS` (naive: UTC).

Usage: python backtesting_reference.py OUT.json
Nothing here is committed output: the Rust test runs this at test time.
"""

import json
import math
import sys
import warnings

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy
from backtesting.lib import crossover
from backtesting.test import BTCUSD, EURUSD, GOOG, SMA

warnings.filterwarnings("ignore")

OHLC = ["Open", "High", "Low", "Close"]


def calendar_days(df):
    """Every calendar day; days without a bar repeat the previous close as O/H/L/C."""
    days = pd.date_range(df.index[0], df.index[-1], freq="D")
    out = df[OHLC].reindex(days)
    close = out["Close"].ffill()
    for col in OHLC:
        out[col] = out[col].fillna(close)
    return out


DATASETS = {
    "GOOG": GOOG[OHLC],
    "GOOG_weekly": GOOG.resample("W-FRI").agg(
        {"Open": "first", "High": "max", "Low": "min", "Close": "last"}).dropna(),
    "GOOG_calendar": calendar_days(GOOG),
    "BTCUSD": BTCUSD[OHLC],
    "EURUSD": EURUSD[OHLC],
}


class SmaCross(Strategy):
    """README Quick Start: on a cross up close and buy, on a cross down close and sell."""

    fast = 10
    slow = 20
    long_only = False
    size = None          # None: backtesting.py's default (all available equity)
    sl_pct = None        # stop-loss, relative to the trade's entry price
    tp_pct = None        # take-profit, relative to the trade's entry price
    spread = 0.0
    on_close = False
    full = None          # the whole data set (for the reference's bracket levels)

    def init(self):
        price = self.data.Close
        self.ma1 = self.I(SMA, price, self.fast)
        self.ma2 = self.I(SMA, price, self.slow)

    def _brackets(self, is_long):
        """SL/TP prices relative to the price the market order will fill at (incl. spread)."""
        if self.sl_pct is None and self.tp_pct is None:
            return {}
        i = len(self.data) - 1
        if self.on_close:
            raw = self.full.Close.iloc[i]
        elif i + 1 < len(self.full):
            raw = self.full.Open.iloc[i + 1]   # the fill price, known to the reference only
        else:
            return {}                      # an order on the last bar never fills
        entry = raw * (1 + math.copysign(self.spread, 1 if is_long else -1))
        out = {}
        if self.sl_pct is not None:
            out["sl"] = entry * (1 - self.sl_pct) if is_long else entry * (1 + self.sl_pct)
        if self.tp_pct is not None:
            out["tp"] = entry * (1 + self.tp_pct) if is_long else entry * (1 - self.tp_pct)
        return out

    def _size(self):
        return {} if self.size is None else {"size": self.size}

    def _order(self, place, is_long):
        order = place(**self._size())
        # Attach the bracket after placement: backtesting.py checks SL < price < TP against the
        # signal bar's close, which a gap at the next open can violate; quantd's levels are
        # relative to the actual entry price, so the reference sets them on the order directly.
        brackets = self._brackets(is_long)
        if brackets:
            order._replace(sl_price=brackets.get("sl"), tp_price=brackets.get("tp"))

    def next(self):
        if crossover(self.ma1, self.ma2):
            self.position.close()
            self._order(self.buy, True)
        elif crossover(self.ma2, self.ma1):
            self.position.close()
            if not self.long_only:
                self._order(self.sell, False)


CASES = {
    # The README Quick Start, exactly.
    "quickstart": ("GOOG", dict(commission=.002, exclusive_orders=True), {}),
    # Stop-loss 4 % and take-profit 8 % from the entry price, spread 0.05 %.
    "sl_tp": ("GOOG", dict(commission=.002, spread=.0005, exclusive_orders=True),
              dict(sl_pct=.04, tp_pct=.08, spread=.0005)),
    # trade_on_close with a fixed + relative commission and a spread.
    "close_fill": ("GOOG", dict(commission=(3.0, .001), spread=.0003, exclusive_orders=True,
                                trade_on_close=True), dict(on_close=True)),
    # Long only, half the equity, exits on the cross down, not exclusive, fixed + relative fees.
    "long_half": ("GOOG", dict(commission=(5.0, .0015), exclusive_orders=False),
                  dict(long_only=True, size=.5)),
    # Fixed 25 units, trade_on_close, with stop-loss and take-profit, cash 20k.
    "units_close_sltp": ("GOOG", dict(cash=20_000, commission=.001, exclusive_orders=True,
                                      trade_on_close=True),
                         dict(size=25, sl_pct=.05, tp_pct=.12, on_close=True)),
    # 4:1 leverage (margin 25 %) on the Quick Start reversal.
    "leveraged": ("GOOG", dict(commission=.002, margin=.25, exclusive_orders=True), {}),
    # 10:1 leverage: the account is wiped out at bar 115 and the run stops.
    "wiped_out": ("GOOG", dict(commission=.002, margin=.1, exclusive_orders=True), {}),
    # Weekly bars: weekly returns, 52 periods a year.
    "weekly": ("GOOG_weekly", dict(commission=.002, exclusive_orders=True), {}),
    # Bars on weekends too: 365 periods a year.
    "calendar": ("GOOG_calendar", dict(commission=.002, exclusive_orders=True), {}),
    # Monthly bars: monthly returns, 12 periods a year; with stops.
    "monthly_sl_tp": ("BTCUSD", dict(cash=1_000_000, commission=.001, exclusive_orders=True),
                      dict(sl_pct=.2, tp_pct=.5)),
    # Hourly FX bars (5,000 of them, weekends closed): daily returns resampled from hours,
    # durations in hours.
    "hourly": ("EURUSD", dict(commission=.0002, exclusive_orders=True), {}),
    "hourly_sl_tp": ("EURUSD", dict(commission=.0002, spread=.0001, exclusive_orders=True),
                     dict(sl_pct=.004, tp_pct=.008, spread=.0001)),
    "hourly_close_fill": ("EURUSD", dict(cash=100_000, commission=(1.0, .0001), exclusive_orders=True,
                                         trade_on_close=True), dict(on_close=True)),
    "hourly_long_half": ("EURUSD", dict(commission=.0002, margin=.05, exclusive_orders=False),
                         dict(long_only=True, size=.5)),
}


def stamp(t):
    """A bar time: the date at midnight, else the date and time."""
    return t.strftime("%Y-%m-%d" if t == t.normalize() else "%Y-%m-%d %H:%M:%S")


def jsonable(v):
    if isinstance(v, pd.Timestamp):
        return stamp(v)
    if isinstance(v, pd.Timedelta):
        return v / pd.Timedelta(days=1)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if math.isnan(v) else float(v)
    return v


def run_case(data, bt_kwargs, params):
    kwargs = dict(cash=10_000)
    kwargs.update(bt_kwargs)
    bt = Backtest(data, SmaCross, **kwargs)
    stats = bt.run(full=data, **params)
    out_stats = {k: jsonable(v) for k, v in stats.items() if not k.startswith("_")}
    trades = []
    for row in stats["_trades"].itertuples(index=False):
        trades.append({
            "Size": float(row.Size), "EntryBar": int(row.EntryBar), "ExitBar": int(row.ExitBar),
            "EntryPrice": float(row.EntryPrice), "ExitPrice": float(row.ExitPrice),
            "SL": jsonable(row.SL), "TP": jsonable(row.TP),
            "PnL": float(row.PnL), "Commission": float(row.Commission),
            "ReturnPct": float(row.ReturnPct), "EntryTime": jsonable(row.EntryTime),
            "ExitTime": jsonable(row.ExitTime), "Duration": jsonable(row.Duration),
        })
    curve = stats["_equity_curve"]
    return {
        "stats": out_stats,
        "trades": trades,
        "equity": [float(x) for x in curve["Equity"]],
        "drawdown": [float(x) for x in curve["DrawdownPct"]],
    }


def main():
    out = {"datasets": {}, "cases": {}}
    for name, df in DATASETS.items():
        out["datasets"][name] = {
            "date": [stamp(d) for d in df.index],
            "open": df.Open.astype(float).tolist(),
            "high": df.High.astype(float).tolist(),
            "low": df.Low.astype(float).tolist(),
            "close": df.Close.astype(float).tolist(),
        }
    for name, (dataset, bt_kwargs, params) in CASES.items():
        out["cases"][name] = dict(dataset=dataset, **run_case(DATASETS[dataset], bt_kwargs, params))
    with open(sys.argv[1], "w") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()

"""A momentum-rotation portfolio (run with --portfolio): at the first bar of every month, hold
the `top` tickers with the best `lookback`-bar return, equal-weighted, with `cash_buffer` of the
equity kept in cash for the gap between the decision (at the close) and the fill (next open)."""

import numpy as np

import quantd as qd


class MomentumRotation(qd.Strategy):
    params = {"lookback": 126, "top": 10, "cash_buffer": 0.02}

    def init(self):
        # One row per ticker: the return over the last `lookback` bars.
        self.momentum = self.I(qd.ta.momentum, self.data.Close, self.lookback)
        self.month = self.data.index.month

    def next(self):
        i = len(self.data) - 1
        if self.month[i] == self.month[i - 1]:
            return  # rebalance on the first bar of a month only
        score = self.momentum[:, -1]
        ranked = [t for t in np.argsort(-score) if np.isfinite(score[t])][: self.top]
        if not ranked:
            return
        weight = (1 - self.cash_buffer) / len(ranked)
        self.rebalance({self.data.tickers[t]: weight for t in ranked})

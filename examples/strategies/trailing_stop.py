"""A trailing stop: long on a close above the 50-bar high; each bar the stop-loss follows the
close at `atr_mult` average true ranges below it, and never moves down."""

import quantd as qd


class TrailingStop(qd.Strategy):
    params = {"breakout": 50, "atr_n": 14, "atr_mult": 3.0}

    def init(self):
        d = self.data
        self.high = self.I(qd.ta.highest, d.High, self.breakout)
        self.atr = self.I(qd.ta.atr, d.High, d.Low, d.Close, self.atr_n)

    def next(self):
        close = self.data.Close[-1]
        for trade in self.trades:
            level = close - self.atr[-1] * self.atr_mult
            trade.sl = max(trade.sl or 0.0, level)
        if not self.position and close >= self.high[-2]:
            self.buy(size=0.5)

"""An SL/TP bracket: on a cross up of SMA(fast) over SMA(slow), buy with a stop-loss `sl_pct`
below and a take-profit `tp_pct` above the signal bar's close; the bracket closes the trade."""

import quantd as qd


class Bracket(qd.Strategy):
    params = {"fast": 10, "slow": 30, "sl_pct": 0.05, "tp_pct": 0.10}

    def init(self):
        self.a = self.I(qd.ta.sma, self.data.Close, self.fast)
        self.b = self.I(qd.ta.sma, self.data.Close, self.slow)

    def next(self):
        close = self.data.Close[-1]
        if not self.position and qd.crossover(self.a, self.b):
            self.buy(sl=close * (1 - self.sl_pct), tp=close * (1 + self.tp_pct))

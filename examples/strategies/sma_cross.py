"""backtesting.py's README strategy as a quantd class: on a cross up of SMA(fast) over SMA(slow)
close and go long, on a cross down close and go short (run with exclusive orders and a 0.2 %
commission to get its README figures)."""

import quantd as qd

class SmaCross(qd.Strategy):
    params = {"fast": 10, "slow": 20}

    def init(self):
        self.a = self.I(qd.ta.sma, self.data.Close, self.fast)
        self.b = self.I(qd.ta.sma, self.data.Close, self.slow)

    def next(self):
        if qd.crossover(self.a, self.b):
            self.position.close()
            self.buy()
        elif qd.crossover(self.b, self.a):
            self.position.close()
            self.sell()

"""Limit and stop orders: after a cross up, bid `dip` below the close with a limit order (it
waits until the price comes down to it, or the next cross cancels it); after a cross down, sell
short with a stop order `dip` below the close (it fills only if the fall goes on). Trades exit
on the opposite cross."""

import quantd as qd


class LimitStop(qd.Strategy):
    params = {"fast": 10, "slow": 20, "dip": 0.01}

    def init(self):
        self.a = self.I(qd.ta.sma, self.data.Close, self.fast)
        self.b = self.I(qd.ta.sma, self.data.Close, self.slow)

    def next(self):
        close = self.data.Close[-1]
        up, down = qd.crossover(self.a, self.b), qd.crossover(self.b, self.a)
        if up or down:
            for order in self.orders:
                if not order.is_contingent:
                    order.cancel()
            self.position.close()
        if up:
            self.buy(limit=close * (1 - self.dip), size=10)
        elif down:
            self.sell(stop=close * (1 - self.dip), size=10)

"""Clean: a moving-average crossover."""
import quantd as qd


@qd.strategy(params={"fast": 10, "slow": 30})
def sma_cross(bars, fast, slow):
    f = bars.close.rolling(fast).mean()
    s = bars.close.rolling(slow).mean()
    return qd.Signals(entries=(f > s) & (f.shift(1) <= s.shift(1)), exits=(f < s) & (f.shift(1) >= s.shift(1)))

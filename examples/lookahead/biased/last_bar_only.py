"""Planted bias that only shows on the last bar: the newest bar always fires (live scans would
flag every name), though no earlier row reads ahead."""
import quantd as qd


@qd.scanner
def crossed_up(bars):
    c = bars.close
    sma = c.rolling(20).mean()
    signal = (c > sma) & (c.shift(1) <= sma.shift(1))
    signal.iloc[-1] = True
    return signal

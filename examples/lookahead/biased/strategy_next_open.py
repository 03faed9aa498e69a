"""Planted look-ahead in a strategy: enters when tomorrow opens above today's high."""
import quantd as qd


@qd.strategy(params={"n": 10})
def gap_up_tomorrow(bars, n):
    entries = bars.open.shift(-1) > bars.high
    exits = bars.close < bars.close.rolling(n).mean()
    return qd.Signals(entries=entries, exits=exits)

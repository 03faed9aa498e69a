"""Clean: Wilder's ADX above 25 (smoothed twice: the slowest warm-up of the corpus)."""
import quantd as qd


@qd.scanner(params={"n": 14})
def strong_trend(bars, n):
    h, l, c = bars.high, bars.low, bars.close
    up, down = h.diff(), -l.diff()
    plus = up.where((up > down) & (up > 0), 0.0)
    minus = down.where((down > up) & (down > 0), 0.0)
    tr = (h - l).combine((h - c.shift(1)).abs(), max).combine((l - c.shift(1)).abs(), max)
    a = 1.0 / n
    atr = tr.ewm(alpha=a, adjust=False).mean()
    pdi = 100 * plus.ewm(alpha=a, adjust=False).mean() / atr
    mdi = 100 * minus.ewm(alpha=a, adjust=False).mean() / atr
    dx = 100 * (pdi - mdi).abs() / (pdi + mdi)
    adx = dx.ewm(alpha=a, adjust=False).mean()
    return bars.assign(signal=adx > 25, adx=adx)[["signal", "adx"]]

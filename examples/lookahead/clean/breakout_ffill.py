"""Clean: a 20-day breakout, with the last breakout level carried forward (`ffill`)."""
import quantd as qd


@qd.scanner
def above_last_breakout(bars):
    c = bars.close
    high = c.rolling(20).max().shift(1)
    level = c.where(c > high).ffill()
    return bars.assign(signal=(c > level * 1.01), level=level)[["signal", "level"]]

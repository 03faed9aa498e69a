"""Planted look-ahead: `bfill` fills a gap with a later value."""
import quantd as qd


@qd.scanner
def after_breakout(bars):
    c = bars.close
    breakout = c.where(c > c.rolling(20).max().shift(1))
    return c < breakout.bfill() * 0.97

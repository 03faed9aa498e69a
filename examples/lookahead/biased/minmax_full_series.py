"""Planted look-ahead: normalising by the whole series' minimum and maximum."""
import quantd as qd


@qd.scanner
def near_the_top(bars):
    c = bars.close
    scaled = (c - c.min()) / (c.max() - c.min())
    return scaled > 0.9

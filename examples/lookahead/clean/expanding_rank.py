"""Clean: normalising by the history so far (expanding min and max), not the whole series."""
import quantd as qd


@qd.scanner
def near_the_high_so_far(bars):
    c = bars.close
    lo, hi = c.expanding().min(), c.expanding().max()
    scaled = (c - lo) / (hi - lo)
    return bars.assign(signal=scaled > 0.95, scaled=scaled)[["signal", "scaled"]]

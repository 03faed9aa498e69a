"""Planted look-ahead: a weekly resample labelled at the week's end, spread back over its days."""
import quantd as qd


@qd.scanner
def weekly_up(bars):
    weekly = bars.close.resample("W").last()
    week_close = weekly.reindex(bars.index, method="bfill")
    return week_close > bars.close * 1.02

"""Clean: a weekly resample used only once the week has closed (the last completed week)."""
import quantd as qd


@qd.scanner
def above_last_week(bars):
    weekly = bars.close.resample("W-FRI").last()
    last_week = weekly.shift(1).reindex(bars.index, method="ffill")
    return bars.close > last_week * 1.02

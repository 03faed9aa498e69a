"""Planted look-ahead: tomorrow's close (`shift(-1)`), one bar ahead."""
import quantd as qd


@qd.scanner
def next_close_higher(bars):
    return bars.close.shift(-1) > bars.close

"""Planted look-ahead: a rarely firing signal that reads the close five bars ahead."""
import quantd as qd


@qd.scanner
def big_move_ahead(bars):
    ahead = bars.close.shift(-5) / bars.close - 1
    return ahead > 0.08

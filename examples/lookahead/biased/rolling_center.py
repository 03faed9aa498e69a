"""Planted look-ahead: a centred rolling window (`center=True`) reads the next bars."""
import quantd as qd


@qd.scanner(params={"n": 11})
def above_centred_mean(bars, n):
    mean = bars.close.rolling(n, center=True).mean()
    return bars.assign(signal=bars.close > mean, mean=mean)[["signal", "mean"]]

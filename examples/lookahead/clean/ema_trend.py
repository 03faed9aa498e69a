"""Clean: an EMA trend filter (a recursive indicator with a slow warm-up)."""
import quantd as qd


@qd.scanner(params={"span": 50})
def above_ema(bars, span):
    ema = bars.close.ewm(span=span, adjust=False).mean()
    return bars.assign(signal=bars.close > ema, ema=ema)[["signal", "ema"]]

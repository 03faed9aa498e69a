"""Clean: RSI below 30 in an uptrend."""
import quantd as qd


@qd.scanner(params={"n": 14, "rsi_max": 30})
def oversold_in_uptrend(bars, n, rsi_max):
    d = bars.close.diff()
    gain = d.clip(lower=0).ewm(alpha=1 / n, adjust=False).mean()
    loss = (-d).clip(lower=0).ewm(alpha=1 / n, adjust=False).mean()
    rsi = 100 - 100 / (1 + gain / loss)
    return (rsi < rsi_max) & (bars.close > bars.close.rolling(200).mean())

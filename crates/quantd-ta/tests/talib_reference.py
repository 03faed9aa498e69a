"""Computes TA-Lib's answers for the cases tests/talib.rs asks about.

Usage: talib_reference.py DIR

Reads DIR/cases.json (the series and the cases) and DIR/input.bin (the series' columns as
little-endian float64, at the offsets cases.json gives); writes DIR/output.bin (every output array,
little-endian float64, back to back) and DIR/results.json (per case: TA-Lib's error message, or the
offset and length of each output array in output.bin, and TA-Lib's lookback for the parameters).
Binary float64 both ways, so no value is ever rounded through text.
"""

import json
import sys
from pathlib import Path

import numpy as np
import talib
from talib import abstract


def compute(ind, p, o, h, l, c, v):
    """TA-Lib's outputs (a list of arrays) and its lookback for one case."""
    i = lambda k: int(p[k])
    if ind == "sma":
        return [talib.SMA(c, i(0))], ("SMA", dict(timeperiod=i(0)))
    if ind == "ema":
        return [talib.EMA(c, i(0))], ("EMA", dict(timeperiod=i(0)))
    if ind == "wma":
        return [talib.WMA(c, i(0))], ("WMA", dict(timeperiod=i(0)))
    if ind == "rsi":
        return [talib.RSI(c, i(0))], ("RSI", dict(timeperiod=i(0)))
    if ind == "atr":
        return [talib.ATR(h, l, c, i(0))], ("ATR", dict(timeperiod=i(0)))
    if ind == "natr":
        return [talib.NATR(h, l, c, i(0))], ("NATR", dict(timeperiod=i(0)))
    if ind == "macd":
        params = dict(fastperiod=i(0), slowperiod=i(1), signalperiod=i(2))
        return list(talib.MACD(c, **params)), ("MACD", params)
    if ind == "bbands":
        params = dict(timeperiod=i(0), nbdevup=float(p[1]), nbdevdn=float(p[2]), matype=0)
        return list(talib.BBANDS(c, **params)), ("BBANDS", params)
    if ind == "stddev":
        params = dict(timeperiod=i(0), nbdev=float(p[1]))
        return [talib.STDDEV(c, **params)], ("STDDEV", params)
    if ind == "roc":
        return [talib.ROC(c, i(0))], ("ROC", dict(timeperiod=i(0)))
    if ind == "mom":
        return [talib.MOM(c, i(0))], ("MOM", dict(timeperiod=i(0)))
    if ind == "max":
        return [talib.MAX(c, i(0))], ("MAX", dict(timeperiod=i(0)))
    if ind == "min":
        return [talib.MIN(c, i(0))], ("MIN", dict(timeperiod=i(0)))
    if ind == "obv":
        return [talib.OBV(c, v)], ("OBV", dict())
    if ind == "stoch":
        params = dict(fastk_period=i(0), slowk_period=i(1), slowk_matype=0,
                      slowd_period=i(2), slowd_matype=0)
        return list(talib.STOCH(h, l, c, **params)), ("STOCH", params)
    if ind == "adx":
        return [talib.ADX(h, l, c, i(0))], ("ADX", dict(timeperiod=i(0)))
    if ind == "cci":
        return [talib.CCI(h, l, c, i(0))], ("CCI", dict(timeperiod=i(0)))
    if ind == "willr":
        return [talib.WILLR(h, l, c, i(0))], ("WILLR", dict(timeperiod=i(0)))
    raise ValueError(f"talib_reference.py: unknown indicator {ind!r}")


def main():
    work = Path(sys.argv[1])
    manifest = json.loads((work / "cases.json").read_text())
    data = np.fromfile(work / "input.bin", dtype="<f8")
    series = {}
    for s in manifest["series"]:
        n, off = s["len"], s["offset"]
        series[s["name"]] = [np.ascontiguousarray(data[off + k * n: off + (k + 1) * n])
                             for k in range(5)]

    chunks, results, offset = [], [], 0
    for case in manifest["cases"]:
        o, h, l, c, v = series[case["series"]]
        result = {"id": case["id"], "error": None, "outputs": [], "lookback": None}
        try:
            outputs, (name, params) = compute(case["indicator"], case["params"], o, h, l, c, v)
        except Exception as e:  # TA-Lib refuses the parameters: the Rust side must refuse too
            result["error"] = str(e)
            results.append(result)
            continue
        fn = abstract.Function(name)
        fn.set_parameters(**params)
        result["lookback"] = int(fn.lookback)
        for out in outputs:
            out = np.asarray(out, dtype="<f8")
            result["outputs"].append([offset, len(out)])
            chunks.append(out)
            offset += len(out)
        results.append(result)

    blob = np.concatenate(chunks) if chunks else np.zeros(0, dtype="<f8")
    blob.astype("<f8").tofile(work / "output.bin")
    (work / "results.json").write_text(json.dumps({
        "talib_version": talib.__version__,
        "ta_lib_c_version": talib.__ta_version__.decode() if isinstance(talib.__ta_version__, bytes)
        else str(talib.__ta_version__),
        "results": results,
    }))


if __name__ == "__main__":
    main()

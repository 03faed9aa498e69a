"""Indicators for class strategies (``self.I(qd.ta.sma, self.data.Close, 20)``), with TA-Lib's
definitions and warm-up (NaN until the first full window), on numpy arrays or pandas Series.
They return float arrays of their input's shape; on a portfolio's 2-D arrays (one row per
ticker) they run along each row."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["sma", "ema", "rsi", "atr", "highest", "lowest", "momentum"]


def _arr(x: Any) -> np.ndarray:
    return np.asarray(x, dtype=float)


def _check(n: int) -> int:
    n = int(n)
    if n < 1:
        raise ValueError(f"the period must be at least 1, not {n}")
    return n


def _rows(f: Any) -> Any:
    """Runs a 1-D indicator along the last axis of 2-D input."""
    import functools

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> np.ndarray:
        arrays = [a for a in args if not isinstance(a, (int, float))]
        if arrays and np.ndim(arrays[0]) == 2:
            rows = len(arrays[0])
            return np.stack([f(*(_arr(a)[r] if not isinstance(a, (int, float)) else a for a in args), **kwargs) for r in range(rows)]) if rows else _arr(arrays[0]).copy()
        return f(*args, **kwargs)

    return wrapper


def sma(values: Any, n: int) -> np.ndarray:
    """Simple moving average of the last ``n`` values."""
    x, n = _arr(values), _check(n)
    out = np.full(x.shape, np.nan)
    if x.shape[-1] >= n:
        c = np.cumsum(np.concatenate([np.zeros(x.shape[:-1] + (1,)), x], axis=-1), axis=-1)
        out[..., n - 1 :] = (c[..., n:] - c[..., :-n]) / n
    return out


@_rows
def ema(values: Any, n: int) -> np.ndarray:
    """Exponential moving average, ``α = 2 / (n + 1)``, seeded with the first ``n`` values'
    mean (TA-Lib's EMA)."""
    x, n = _arr(values), _check(n)
    out = np.full(len(x), np.nan)
    if len(x) < n:
        return out
    a = 2.0 / (n + 1)
    v = x[:n].mean()
    out[n - 1] = v
    for i in range(n, len(x)):
        v = a * x[i] + (1 - a) * v
        out[i] = v
    return out


@_rows
def rsi(values: Any, n: int = 14) -> np.ndarray:
    """Wilder's relative strength index (TA-Lib's RSI), 0–100."""
    x, n = _arr(values), _check(n)
    out = np.full(len(x), np.nan)
    if len(x) <= n:
        return out
    d = np.diff(x)
    up, down = np.clip(d, 0, None), np.clip(-d, 0, None)
    g, l = up[:n].mean(), down[:n].mean()
    out[n] = 100 * g / (g + l) if g + l else 0.0
    for i in range(n, len(d)):
        g = (g * (n - 1) + up[i]) / n
        l = (l * (n - 1) + down[i]) / n
        out[i + 1] = 100 * g / (g + l) if g + l else 0.0
    return out


@_rows
def atr(high: Any, low: Any, close: Any, n: int = 14) -> np.ndarray:
    """Wilder's average true range (TA-Lib's ATR)."""
    h, lo, c, n = _arr(high), _arr(low), _arr(close), _check(n)
    out = np.full(len(c), np.nan)
    if len(c) <= n:
        return out
    tr = np.maximum(h[1:], c[:-1]) - np.minimum(lo[1:], c[:-1])
    v = tr[:n].mean()
    out[n] = v
    for i in range(n, len(tr)):
        v = (v * (n - 1) + tr[i]) / n
        out[i + 1] = v
    return out


def highest(values: Any, n: int) -> np.ndarray:
    """Highest of the last ``n`` values."""
    x, n = _arr(values), _check(n)
    out = np.full(x.shape, np.nan)
    if x.shape[-1] >= n:
        out[..., n - 1 :] = np.lib.stride_tricks.sliding_window_view(x, n, axis=-1).max(axis=-1)
    return out


def lowest(values: Any, n: int) -> np.ndarray:
    """Lowest of the last ``n`` values."""
    x, n = _arr(values), _check(n)
    out = np.full(x.shape, np.nan)
    if x.shape[-1] >= n:
        out[..., n - 1 :] = np.lib.stride_tricks.sliding_window_view(x, n, axis=-1).min(axis=-1)
    return out


def momentum(values: Any, n: int) -> np.ndarray:
    """Return over the last ``n`` bars, ``x[i] / x[i - n] - 1``."""
    x, n = _arr(values), _check(n)
    out = np.full(x.shape, np.nan)
    if x.shape[-1] > n:
        out[..., n:] = x[..., n:] / x[..., :-n] - 1
    return out

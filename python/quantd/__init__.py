"""The quantd Python SDK.

User code imports it as ``import quantd as qd`` and marks its entry points::

    @qd.scanner(params={"rsi_max": 30})
    def oversold(bars, rsi_max): ...          # -> bool Series, or DataFrame with 'signal'

    @qd.strategy(params={"fast": 10, "slow": 20})
    def sma_cross(bars, fast, slow): ...       # -> qd.Signals(entries=..., exits=...)

Class strategies place orders bar by bar, as in backtesting.py::

    class SmaCross(qd.Strategy):
        params = {"fast": 10, "slow": 20}
        def init(self): ...                    # indicators: self.I(qd.ta.sma, self.data.Close, self.fast)
        def next(self): ...                    # self.buy(), self.sell(), self.position.close()

Bot scripts report metrics with ``qd.result(**metrics)``. The worker side lives in
:mod:`quantd.harness` (running an entry point over Arrow IPC bars) and :mod:`quantd.validate`.
"""

from quantd._sdk import (
    ContractError,
    EntryPoint,
    Signals,
    entry_points,
    result,
    scanner,
    strategy,
)

__all__ = [
    "Order",
    "Position",
    "Strategy",
    "Trade",
    "barssince",
    "cross",
    "crossover",
    "ta",
    "ContractError",
    "EntryPoint",
    "Signals",
    "entry_points",
    "result",
    "scanner",
    "strategy",
]
__version__ = "0.1.0"

#: Names imported on first use, so that ``import quantd`` needs neither numpy nor pandas.
_LAZY = {
    "Order": "quantd.strategies",
    "Position": "quantd.strategies",
    "Strategy": "quantd.strategies",
    "Trade": "quantd.strategies",
    "barssince": "quantd.strategies",
    "cross": "quantd.strategies",
    "crossover": "quantd.strategies",
}


def __getattr__(name: str):  # PEP 562
    import importlib

    if name == "ta":
        value = importlib.import_module("quantd.ta")
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'quantd' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value
